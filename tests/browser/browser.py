"""Debian's Chromium, headless, driven by Selenium through Debian's chromedriver.

No driver or browser is downloaded (this machine reaches package registries only): both paths are
given, and Selenium Manager is told to stay offline. Chromium's own background connections are
switched off; on a closed network they fail by the dozen and slow every start.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

#: Every element's text and every link, inside shadow roots too (Airflow 2's React views live in one).
_COLLECT = """
const texts = [], links = [];
const walk = (root) => {
  if (root.body) texts.push(root.body.innerText);
  root.querySelectorAll('*').forEach((element) => {
    if (element.shadowRoot) { texts.push(element.shadowRoot.textContent); walk(element.shadowRoot); }
    if (element.tagName === 'A' && element.href) links.push([element.innerText.trim(), element.href]);
  });
};
walk(document);
return [texts.join('\\n'), links];
"""

#: Everything a page holds: its HTML, its shadow roots' and the values of its fields (which a React
#: form sets as properties, not attributes).
_EVERYTHING = """
const parts = [document.documentElement.outerHTML];
const walk = (root) => {
  root.querySelectorAll('*').forEach((element) => {
    if (element.shadowRoot) { parts.push(element.shadowRoot.innerHTML); walk(element.shadowRoot); }
    if (typeof element.value === 'string') parts.push(element.value);
  });
};
walk(document);
return parts.join('\\n');
"""


def missing() -> str | None:
    """Return why no browser can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: apt-get install chromium chromium-driver (make test does)"
    return None


class Browser:
    """One headless Chromium, with the page's text, links and screenshots as the tests need them."""

    def __init__(self, shots: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        os.environ["SE_OFFLINE"] = "true"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='composer-kpo-chromium-')}")
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.shots = shots
        self.shots.mkdir(parents=True, exist_ok=True)
        self._taken = 0

    def quit(self) -> None:
        self.driver.quit()

    def shot(self, name: str) -> Path:
        """Save a screenshot of the page as ``NN-name.png``, numbered in the order taken."""
        self._taken += 1
        path = self.shots / f"{self._taken:02d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        self.driver.save_screenshot(str(path))
        return path

    def text_and_links(self) -> tuple[str, dict[str, str]]:
        """Return all text on the page and its links by their text."""
        text, links = self.driver.execute_script(_COLLECT)
        return text, {label: href for label, href in links if label}

    def everything(self) -> str:
        """Return all the page holds, shown or not: HTML, shadow roots, field values."""
        return str(self.driver.execute_script(_EVERYTHING))

    def wait_for_text(self, wanted: str, timeout: float = 30) -> str:
        """Return the page's text once it contains ``wanted``."""
        from selenium.webdriver.support.ui import WebDriverWait

        found: dict[str, Any] = {}

        def has_it(_: object) -> bool:
            found["text"] = self.text_and_links()[0]
            return wanted in found["text"]

        WebDriverWait(self.driver, timeout, poll_frequency=0.5).until(
            has_it, message=f"{wanted!r} never appeared on {self.driver.current_url}"
        )
        return found["text"]
