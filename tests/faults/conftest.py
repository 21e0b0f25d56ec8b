"""The fault suite needs the local Airflow deployment (``make airflow-up``) and the local cluster.

Run it with the deployment's exports in the environment (``eval "$(make -s airflow-up | grep
'^export ')"``); without them every test is skipped with the reason, unless
``COMPOSER_KPO_REQUIRE_AIRFLOW=1`` (CI), then they fail.

All ComposerPodOperator cases run at once, in one session fixture, on the real scheduler and
Celery worker (the silent case alone takes five minutes, on one major), then the ones whose fault
hits every task alone; each test then asserts on its case. The cluster is shared with other suites
(tests/cluster_lock.py): the cases hold its lock shared, those that stop the kubelet or the API
server hold it exclusive.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import cluster_lock
from tests.faults.cases import CLUSTER_WIDE, FAULTS, MEASURED_ONLY, ONE_MAJOR_ONLY, RUN_ALONE

#: Between two cases' triggers: fifteen task processes starting in the same second (each an
#: Airflow start-up) would hold the CPU for everything else on the machine.
STAGGER_SECONDS = 2


def pytest_collection_modifyitems(items) -> None:
    """Tests that need no fault case first, while the cluster is free: at the end of a ``make test``
    run they would wait for other suites' cluster-wide tests (tests/cluster_lock.py)."""
    items.sort(key=lambda item: "outcomes" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def canary_run(airflow_api):
    """The secrets canary's DAG run (tests/faults/test_secrets_masked.py), going on in a thread."""
    from tests.faults.canary import CanaryRun

    return CanaryRun(airflow_api)


@pytest.fixture(scope="session")
def outcomes(airflow_api, canary_run):
    """Every case's outcome; the canary run (started first) goes on beside the cases."""
    from tests.faults.dags.composer_kpo_faults import dag_id
    from tests.faults.driver import Cluster, run_case

    airflow, cluster = airflow_api, Cluster()
    cluster.ensure_namespace()
    cases = [
        case
        for case in FAULTS
        if case not in MEASURED_ONLY and ONE_MAJOR_ONLY.get(case, airflow.major) == airflow.major
    ]
    for case in cases:
        airflow.wait_for_dag(dag_id(case, "composer"))
    together = [case for case in cases if case not in RUN_ALONE]
    with cluster_lock.cluster(), ThreadPoolExecutor(max_workers=len(together)) as pool:
        futures = {}
        for case in together:
            futures[case] = pool.submit(run_case, airflow, cluster, case, "composer", FAULTS[case][0])
            time.sleep(STAGGER_SECONDS)
        results = {case: future.result() for case, future in futures.items()}
    # Alone: their fault would disturb the others (this deployment's, or every suite's on the cluster).
    for case in sorted(RUN_ALONE & set(cases), key=lambda case: case in CLUSTER_WIDE):
        with cluster_lock.cluster(exclusive=case in CLUSTER_WIDE):
            results[case] = run_case(airflow, cluster, case, "composer", FAULTS[case][0])
    for outcome in results.values():  # a readable record in the pytest output
        print(
            f"{outcome.case}: {outcome.state}, try {outcome.try_number}, pods {outcome.pods_text()}, "
            f"{outcome.seconds_to_final} s, {outcome.error}; {'; '.join(outcome.notes)}"
        )
    yield results
    for outcome in results.values():  # keep_pod cases leave their pods on purpose
        cluster.delete_all(dag_id(outcome.case, "composer"))
