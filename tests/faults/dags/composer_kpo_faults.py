"""The fault matrix's tasks: one DAG per (case, operator), for tests/faults and benchmarks/faults.py.

Each DAG has one task, ``pod``, run by the local Airflow deployment's Celery worker; the driver
(tests/faults/driver.py) triggers it, delivers the case's fault and records what happened. The
same case runs with ComposerPodOperator (``__composer``) and with stock KubernetesPodOperator
(``__stock``), with the same arguments. Pods run in their own namespace so each case counts only
its own pods (label ``dag_id``); one namespace per Airflow major, since dev/test.sh runs both
majors' deployments at once on the one cluster.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator
from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS, KubernetesPodOperator

NAMESPACE = f"composer-kpo-faults-af{3 if AIRFLOW_V_3_PLUS else 2}"
IMAGE = "busybox:1.36"  # already on the local cluster's node: no registry needed
OPERATORS = {"composer": ComposerPodOperator, "stock": KubernetesPodOperator}


def ticks(seconds: int, before: str = "", after: str = "") -> str:
    """A script that prints one numbered line per second, so the log shows where it was stopped."""
    return f"{before}i=0; while [ $i -lt {seconds} ]; do i=$((i+1)); echo tick $i; sleep 1; done; {after}echo done"


#: Lines the log cases print, fast enough that the kubelet rotates the log file (the local
#: cluster's containerLogMaxSize is 256Ki) several times while the task follows it.
NUMBERED_LINES = 30000
#: The log cases print nothing at first, so that the task follows the log before the first
#: rotation: lines rotated away before anyone reads them are in no task log, whichever operator.
QUIET_START_SECONDS = 10


def numbered(total: int, per_second: int = 1000) -> str:
    """A script that prints ``line 1 x..`` to ``line <total> x..`` (100 bytes each), ``per_second`` a second."""
    pad = "x" * 80
    return (
        f'sleep {QUIET_START_SECONDS}; i=0; while [ $i -lt {total} ]; do i=$((i+1)); echo "line $i {pad}"; '
        f"if [ $((i % {per_second})) = 0 ]; then sleep 1; fi; done"
    )


#: case -> operator arguments. What each case's fault is, and what ComposerPodOperator must do,
#: is in tests/faults/cases.py.
CASES: dict[str, dict[str, Any]] = {
    "sigterm": {"script": ticks(90)},
    # 90 s: the retry must find the pod still running even when a busy worker takes its time to
    # start it (after a finished pod, upstream's retry deletes it and runs the work again).
    "sigkill_retry": {"script": ticks(90, before="echo work started; ", after="echo work finished; "), "retries": 1},
    # Long enough to outlive the heartbeat timeout (60 s) and the retry's start on a new worker.
    "worker_killed": {"script": ticks(150, before="echo work started; ", after="echo work finished; "), "retries": 1},
    # No retry: nothing reattaches, and the pod would run on to its end and stay, but for the failure
    # callback Airflow runs after the heartbeat timeout.
    "worker_killed_final": {"script": ticks(300, before="echo work started; ")},
    "execution_timeout": {"script": ticks(120), "execution_timeout": datetime.timedelta(seconds=25)},
    "mark_failed": {"script": ticks(90), "retries": 1},
    "mark_success": {"script": ticks(90), "retries": 1},
    "pod_deleted": {"script": ticks(40), "retries": 1},
    # Only the first try writes past the limit: a retry that reattached to the evicted pod, instead
    # of starting a new one, could never succeed.
    "evicted": {
        "script": 'if [ "$TRY" = 1 ]; then dd if=/dev/zero of=/tmp/fill bs=1M count=64; fi; ' + ticks(40),
        "env_vars": {"TRY": "{{ ti.try_number }}"},
        "container_resources": k8s.V1ResourceRequirements(limits={"ephemeral-storage": "16Mi"}),
        "retries": 1,
    },
    "node_lost": {"script": ticks(60), "retries": 1},
    "cleared_keep_pod": {"script": ticks(3), "on_finish_action": "keep_pod"},
    "silent": {"script": "sleep 300; echo after 300 silent seconds"},
    "log_rotation": {"script": numbered(NUMBERED_LINES)},
    "log_apiserver_restart": {"script": numbered(NUMBERED_LINES)},
    "deferred_triggerer_restarts": {"script": ticks(60), "deferrable": True},
}
# benchmarks/worker_slots.py: how long a 60-second pod holds a worker slot, without a fault.
CASES["slots_60s"] = {"script": ticks(60)}
CASES["slots_60s_deferred"] = {"script": ticks(60), "deferrable": True}
# The cases that make sense for a deferred task, with the same pod and fault.
for _case in ("pod_deleted", "evicted", "node_lost", "log_rotation"):
    CASES[f"deferred_{_case}"] = {**CASES[_case], "deferrable": True}
#: Cases whose task log must hold every numbered line once (or say which were lost).
LOG_CASES = frozenset({"log_rotation", "log_apiserver_restart", "deferred_log_rotation"})


def dag_id(case: str, operator: str) -> str:
    return f"composer_kpo_fault_{case}__{operator}"


for _case, _args in CASES.items():
    for _operator, _cls in OPERATORS.items():
        args = dict(_args)
        script = args.pop("script")
        with DAG(
            dag_id=dag_id(_case, _operator),
            start_date=datetime.datetime(2024, 1, 1),
            schedule=None,
            catchup=False,
            max_active_runs=1,
            tags=["composer-kpo-faults"],
        ) as dag:
            _cls(
                task_id="pod",
                name=f"fault-{_case.replace('_', '-')}",
                namespace=NAMESPACE,
                image=IMAGE,
                cmds=["sh", "-c", script],
                startup_timeout_seconds=120,
                retry_delay=datetime.timedelta(seconds=2),
                **{"retries": 0, **args},
            )
        globals()[dag.dag_id] = dag
