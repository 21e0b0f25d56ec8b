"""The Airflow UI's pages as a user goes through them: Airflow 2.10's web server and Airflow 3.3's React UI.

Both classes offer the same steps, found by what a person sees (labels, button texts), not by
generated ids: log in, open the connection form, pick the type, fill fields, press Test, save,
trigger a DAG, open a task's log and details.
"""

from __future__ import annotations

import contextlib
import time
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.browser import Browser

CONN_TYPE = "composer_kubernetes"
CONN_TYPE_LABEL = "Kubernetes (Cloud Composer)"
STANDARD_LABELS = ("Host", "Schema", "Login", "Password", "Port")


class AirflowUI:
    """Steps common to both UIs."""

    major = 0

    def __init__(self, browser: Browser, root: str) -> None:
        self.browser, self.driver, self.root = browser, browser.driver, root.rstrip("/")
        # A React page re-renders under the test's feet: an element found a moment ago may be gone.
        gone = (NoSuchElementException, StaleElementReferenceException)
        self.wait = WebDriverWait(self.driver, 30, poll_frequency=0.3, ignored_exceptions=gone)
        # A server-rendered page after a POST: Airflow 2 sends the DAG list (every DAG of the
        # deployment) after Save, which took over 30 s while make test's unit suites held both cores.
        self.page_wait = WebDriverWait(self.driver, 120, poll_frequency=0.5, ignored_exceptions=gone)

    def click_button(self, text: str, within: str = "") -> None:
        """Click the visible button whose text (or aria-label) is ``text``."""

        def find(_: object):
            for button in self.driver.find_elements(By.CSS_SELECTOR, f"{within} button".strip()):
                label = (button.text or button.get_attribute("aria-label") or "").strip()
                if label == text and button.is_displayed() and button.is_enabled():
                    return button
            return False

        self.wait.until(find, message=f"no button {text!r} on {self.driver.current_url}").click()

    def log_in(self, user: str, password: str) -> None:
        """Open the UI, which asks for a login, and sign in as ``user`` (both UIs: one form)."""
        self.driver.get(self.root + "/")
        secret = self.wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "input[type=password]")),
            message=f"no login form at {self.driver.current_url}",
        )
        name = next(
            box
            for box in self.driver.find_elements(By.CSS_SELECTOR, "input[type=text], input:not([type])")
            if box.is_displayed()
        )
        name.send_keys(user)
        secret.send_keys(password)
        self.browser.shot("login")
        secret.send_keys(Keys.ENTER)
        self.wait.until(
            lambda d: not any(box.is_displayed() for box in d.find_elements(By.CSS_SELECTOR, "input[type=password]")),
            message="the login was refused",
        )

    def click_link(self, text: str) -> None:
        """Click the link whose text is ``text``, inside a shadow root too (as a user's click)."""
        clicked = self.driver.execute_script(
            """
            const find = (root) => {
              for (const element of root.querySelectorAll('*')) {
                if (element.tagName === 'A' && element.innerText.trim() === arguments[0]) return element;
                if (element.shadowRoot) { const inner = find(element.shadowRoot); if (inner) return inner; }
              }
              return null;
            };
            const link = find(document);
            if (link) link.click();
            return link !== null;
            """,
            text,
        )
        assert clicked, f"no link {text!r} on {self.driver.current_url}"

    def standard_labels_shown(self) -> list[str]:
        """Return the standard fields' labels (Host, Login, ...) the form shows."""
        return [label for label in self.visible_labels() if label in STANDARD_LABELS]

    def field(self, name: str):
        raise NotImplementedError

    def fill(self, name: str, value: str) -> None:
        box = self.field(name)
        box.clear()
        box.send_keys(value)

    def visible_labels(self) -> list[str]:
        return [
            label.text.strip().rstrip("*").strip()
            for label in self.driver.find_elements(By.CSS_SELECTOR, "label")
            if label.is_displayed() and label.text.strip()
        ]


class Airflow2UI(AirflowUI):
    """Airflow 2's Flask AppBuilder pages; the grid view is React inside a shadow root."""

    major = 2

    def open_new_connection(self, conn_id: str) -> None:
        self.driver.get(self.root + "/connection/add")
        self.wait.until(ec.visibility_of_element_located((By.ID, "conn_id"))).send_keys(conn_id)
        self.driver.find_element(By.CSS_SELECTOR, "[aria-labelledby=select2-conn_type-container]").click()
        search = self.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".select2-search__field")))
        search.send_keys(CONN_TYPE_LABEL)
        search.send_keys(Keys.ENTER)
        self.wait.until(ec.visibility_of_element_located((By.ID, self._field_id("kube_config_path"))))
        # The form's script shows the chosen type's fields, then hides the others': on a busy machine
        # stock Kubernetes' fields (the same labels) were still shown when the labels were read.
        self.wait.until(ec.invisibility_of_element_located((By.ID, "extra__kubernetes__kube_config_path")))

    @staticmethod
    def _field_id(name: str) -> str:
        return f"extra__{CONN_TYPE}__{name}"

    def field(self, name: str):
        return self.driver.find_element(By.ID, self._field_id(name))

    def placeholder(self, name: str) -> str:
        return self.field(name).get_attribute("placeholder") or ""

    def test_in_form(self) -> str:
        """Press Test on the form; return the message the page shows."""
        alert = self.driver.find_element(By.CSS_SELECTOR, ".container .row .alert")
        before = alert.text
        self.click_button("Test")
        self.wait.until(lambda _: alert.text != before and alert.is_displayed(), message="Test showed nothing")
        self.driver.execute_script("window.scrollTo(0, 0)")
        return alert.text.replace("\u00d7", "").strip()  # the close button's sign

    def save(self) -> None:
        self.click_button("Save")
        self.page_wait.until(lambda d: "/connection/add" not in d.current_url, message="saving the connection failed")
        assert "Added Row" in self.driver.find_element(By.CSS_SELECTOR, ".alert").text

    def trigger(self, dag_id: str) -> str:
        self.driver.get(f"{self.root}/dags/{dag_id}/grid")
        self.wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.trigger-dropdown-btn"))).click()
        self.wait.until(lambda d: "dag_run_id=" in d.current_url, message="the trigger did not start a run")
        return parse_qs(urlparse(self.driver.current_url).query)["dag_run_id"][0]

    def open_task(self, dag_id: str, run_id: str, task_id: str, *, logs: bool) -> None:
        query = {"dag_run_id": run_id, "task_id": task_id, **({"tab": "logs"} if logs else {})}
        self.driver.get(f"{self.root}/dags/{dag_id}/grid?{urlencode(query)}")

    def open_rendered_templates(self, dag_id: str, run_id: str, task_id: str, logical_date: str) -> None:
        query = {"dag_id": dag_id, "task_id": task_id, "execution_date": logical_date}
        self.driver.get(f"{self.root}/rendered-templates?{urlencode(query)}")

    def open_connection(self, conn_id: str) -> None:
        """Open the connection's edit form."""
        self.driver.get(f"{self.root}/connection/list/?{urlencode({'_flt_0_conn_id': conn_id})}")
        edit = self.wait.until(
            lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, "a[href*='/connection/edit/']")), False),
            message=f"no edit link for {conn_id}",
        )
        self.driver.get(edit.get_attribute("href"))
        self.wait.until(ec.visibility_of_element_located((By.ID, self._field_id("kube_config_path"))))

    def open_extra_json(self) -> None:
        """Nothing to unfold: the raw extra is a hidden field of the page (read by Browser.everything)."""


class Airflow3UI(AirflowUI):
    """Airflow 3's React UI: a dialog for the connection, Test on the connection's row."""

    major = 3

    def open_new_connection(self, conn_id: str) -> None:
        self.driver.get(self.root + "/connections")
        self.click_button("Add Connection")
        self.wait.until(ec.visibility_of_element_located((By.NAME, "connection_id"))).send_keys(conn_id)
        # The type selector is an input once the connection types have loaded (a spinner before;
        # Airflow 3.1 builds them from every hook's form widgets, which takes seconds).
        kind = self.wait.until(
            lambda d: next(
                (
                    box
                    for box in d.find_elements(By.CSS_SELECTOR, "[role=dialog] input")
                    if box.is_displayed() and box.get_attribute("name") != "connection_id"
                ),
                False,
            ),
            message="the connection type selector never appeared",
        )
        kind.click()
        kind.send_keys(CONN_TYPE_LABEL)
        time.sleep(0.5)  # the options list filters as one types
        kind.send_keys(Keys.ENTER)
        self.click_button("Extra Fields", within="[role=dialog]")
        self.wait.until(ec.visibility_of_element_located((By.NAME, "element_kube_config_path")))

    def field(self, name: str):
        return self.driver.find_element(By.NAME, f"element_{name}")

    def standard_labels_shown(self) -> list[str]:
        self.click_button("Standard Fields", within="[role=dialog]")  # one section unfolds at a time
        time.sleep(0.5)
        shown = super().standard_labels_shown()
        self.click_button("Extra Fields", within="[role=dialog]")
        self.wait.until(ec.visibility_of_element_located((By.NAME, "element_kube_config_path")))
        return shown

    def save(self) -> None:
        self.click_button("Save", within="[role=dialog]")
        self.wait.until(
            lambda d: not any(x.is_displayed() for x in d.find_elements(By.CSS_SELECTOR, "[role=dialog]")),
            message="saving the connection failed",
        )

    def test_saved(self, conn_id: str) -> str:
        """Press Test on the connection's row in the list; return the notice's title and text."""
        self.driver.get(self.root + "/connections")
        row = self.wait.until(
            lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "tr") if conn_id in r.text), False),
            message=f"no row for {conn_id}",
        )
        row.find_element(By.CSS_SELECTOR, "button[aria-label='Test Connection']").click()
        toast = self.wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-scope=toast][data-part=root]")),
            message="Test showed no notice",
        )
        # The title ("Test Connection Successful") can show a moment before the hook's message.
        with contextlib.suppress(TimeoutException):
            self.wait.until(lambda _: toast.find_element(By.CSS_SELECTOR, "[data-part=description]").text.strip())
        return toast.text.strip()

    def trigger(self, dag_id: str) -> str:
        self.driver.get(f"{self.root}/dags/{dag_id}")
        self.click_button("Trigger")
        self.click_button("Trigger", within="[role=dialog]")
        self.wait.until(lambda d: "/runs/" in d.current_url, message="the trigger did not start a run")
        return unquote(urlparse(self.driver.current_url).path.split("/runs/", 1)[1].split("/", 1)[0])

    def open_task(self, dag_id: str, run_id: str, task_id: str, *, logs: bool) -> None:
        tab = "" if logs else "/details"
        self.driver.get(f"{self.root}/dags/{dag_id}/runs/{quote(run_id, safe=':+')}/tasks/{task_id}{tab}")

    def open_rendered_templates(self, dag_id: str, run_id: str, task_id: str, logical_date: str) -> None:
        path = f"/dags/{dag_id}/runs/{quote(run_id, safe=':+')}/tasks/{task_id}/rendered_templates"
        self.driver.get(self.root + path)

    def open_connection(self, conn_id: str) -> None:
        """Open the connection's edit dialog at its extra fields."""
        self.driver.get(self.root + "/connections")
        row = self.wait.until(
            lambda d: next((r for r in d.find_elements(By.CSS_SELECTOR, "tr") if conn_id in r.text), False),
            message=f"no row for {conn_id}",
        )
        row.find_element(By.CSS_SELECTOR, "button[aria-label*='Edit']").click()
        self.wait.until(ec.visibility_of_element_located((By.NAME, "connection_id")))
        # The dialog opens with one section unfolded, not always the same; it shows the extra
        # fields the connection's extra holds.
        with contextlib.suppress(TimeoutException):
            WebDriverWait(self.driver, 5).until(ec.visibility_of_element_located((By.NAME, "element_kube_config")))
            return
        self.click_button("Extra Fields", within="[role=dialog]")
        self.wait.until(ec.visibility_of_element_located((By.NAME, "element_kube_config")))

    def open_extra_json(self) -> None:
        """Unfold the dialog's raw extra (Extra Fields JSON)."""
        self.click_button("Extra Fields JSON", within="[role=dialog]")
        self.browser.wait_for_text('"kube_config"')
