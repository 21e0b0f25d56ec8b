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


def pytest_collection_modifyitems(items) -> None:
    """Tests that disturb the whole cluster last in their session: they wait for every other
    suite's tests to leave the cluster (tests/cluster_lock.py), which holds no other test up."""
    items.sort(key=lambda item: item.get_closest_marker("disrupts_cluster") is not None)


_session_status = [1]


def pytest_sessionfinish(session, exitstatus) -> None:
    _session_status[0] = int(exitstatus)


def pytest_unconfigure(config) -> None:
    from tests.exit_watch import watch_exit

    watch_exit(_session_status[0])


def pytest_terminal_summary(terminalreporter) -> None:
    from tests import cluster_lock

    waited = cluster_lock.waited_summary()
    if waited:
        terminalreporter.write_line(waited)


@pytest.fixture
def cluster_shared():
    """Hold the shared cluster's lock shared for the test (tests/cluster_lock.py)."""
    from tests import cluster_lock

    with cluster_lock.cluster():
        yield


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
