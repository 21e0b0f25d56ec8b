"""The browser suite: Airflow's UI in headless Chromium, on the local Airflow deployment.

`make test` starts the deployment for it with the variables Composer sets on its workers
(tests/browser/composer2.env on Airflow 2.10, composer3.env on 3.3), so the task's extra links
have something to point at. Screenshots go to ``$COMPOSER_KPO_ARTIFACTS/browser/airflow-N``
(default ``artifacts/`` in the repository), numbered in the order taken.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.browser import Browser, missing

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ui(airflow_api):
    """The deployment's UI (pages.Airflow2UI or Airflow3UI) in one browser for the module's steps."""
    absent = missing()
    if absent:
        if os.environ.get("COMPOSER_KPO_REQUIRE_AIRFLOW") == "1":
            pytest.fail(absent)
        pytest.skip(absent)
    from tests.browser.pages import Airflow2UI, Airflow3UI

    artifacts = Path(os.environ.get("COMPOSER_KPO_ARTIFACTS") or REPO / "artifacts")
    browser = Browser(artifacts / "browser" / f"airflow-{airflow_api.major}")
    root = airflow_api.base_url.rsplit("/api/", 1)[0]
    yield (Airflow3UI if airflow_api.major == 3 else Airflow2UI)(browser, root)
    browser.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep a screenshot of the page a failed step left behind."""
    outcome = yield
    report = outcome.get_result()
    ui = item.funcargs.get("ui") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and ui is not None:
        ui.browser.shot(f"failed {item.name}")
