"""Test session set-up shared by unit and integration tests.

Airflow reads its configuration on first import, so the environment is prepared here, before any
test module imports Airflow: a throw-away AIRFLOW_HOME, no example DAGs.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="composer-kpo-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


def _missing_deployment() -> str | None:
    if not os.environ.get("COMPOSER_KPO_AIRFLOW_API"):
        return "no local Airflow deployment in the environment (make airflow-up, then eval its exports)"
    return None


@pytest.fixture(scope="session")
def airflow_api():
    """The local Airflow deployment's REST API (tests/faults/driver.py), for the fault and browser suites.

    Skipped without one, or failed when ``COMPOSER_KPO_REQUIRE_AIRFLOW=1`` (CI).
    """
    missing = _missing_deployment()
    if missing:
        if os.environ.get("COMPOSER_KPO_REQUIRE_AIRFLOW") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    from tests.faults.driver import Airflow

    return Airflow()
