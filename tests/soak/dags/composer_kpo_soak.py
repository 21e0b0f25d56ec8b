"""The soak's tasks (tests/soak): one DAG per (task kind, mode), one task ``pod``, one DAG run per task.

The runner (tests/soak/run.py) triggers a run with the conf ``{"token": ..., "seconds": ..., "lines":
...}``; the run id is the token, so the pod's labels (``dag_id``, ``run_id``, ``try_number``) name the
task and try without a lookup. Every pod appends to its task's ledger on the node (a hostPath, the
same machine as the runner on the local cluster): ``start <pod> <try> <time>`` first, and ``end <pod>
<try> <time> <exit code>`` as its script's last step before the last log line, the pods' own record
of the work that ran, beside what Kubernetes says.

Pods run in their own namespace per Airflow major (both majors' deployments may share the cluster).
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator
from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS
from tests.soak.plan import MODES, TASK_KINDS

NAMESPACE = f"composer-kpo-soak-af{3 if AIRFLOW_V_3_PLUS else 2}"
IMAGE = "busybox:1.36"  # already on the local cluster's node: no registry needed
#: The pods' ledger on the node: one file per task token.
LEDGER_DIR = f"/var/tmp/composer-kpo-soak-ledger/{NAMESPACE}"
#: A label every soak pod carries, so the runner finds them all (and deletes them at the end).
SOAK_LABEL = "composer-kpo-soak"
PAD = "x" * 30  # big_log lines: about 70 bytes, 110 in the kubelet's file (see tests/soak/plan.py)

_TICKS = 'i=0; while [ "$i" -lt "$WORK_SECONDS" ]; do i=$((i+1)); echo "tick $i"; sleep 1; done; '
_BODY = {
    "succeed": _TICKS,
    "slow": _TICKS,
    "fail": _TICKS,
    "xcom": _TICKS + 'mkdir -p /airflow/xcom; echo "{\\"token\\": \\"$TOKEN\\"}" > /airflow/xcom/return.json; ',
    "big_log": (
        'per=$(( (LOG_LINES + WORK_SECONDS - 1) / WORK_SECONDS )); i=0; while [ "$i" -lt "$LOG_LINES" ]; do '
        f'i=$((i+1)); echo "soak-line $i $TOKEN {PAD}"; if [ $((i % per)) = 0 ]; then sleep 1; fi; done; '
    ),
}


def script(kind: str) -> str:
    """The pod's ``sh -c`` script for a task kind."""
    begin = 'echo "start $HOSTNAME $TRY $(date +%s)" >> "/ledger/$TOKEN"; echo "soak-begin $TOKEN try $TRY"; '
    code = 3 if kind == "fail" else 0
    end = f'echo "end $HOSTNAME $TRY $(date +%s) {code}" >> "/ledger/$TOKEN"; '
    last = f'echo "soak-failing $TOKEN"; exit {code}' if code else 'echo "soak-done $TOKEN"'
    return begin + _BODY[kind] + end + last


def dag_id(kind: str, mode: str) -> str:
    return f"composer_kpo_soak_{kind}_{mode}"


for _kind in TASK_KINDS:
    for _mode in MODES:
        with DAG(
            dag_id=dag_id(_kind, _mode),
            start_date=datetime.datetime(2024, 1, 1),
            schedule=None,
            catchup=False,
            max_active_runs=64,
            max_active_tasks=64,
            tags=["composer-kpo-soak"],
        ) as dag:
            ComposerPodOperator(
                task_id="pod",
                name=f"soak-{_kind.replace('_', '-')}",
                namespace=NAMESPACE,
                image=IMAGE,
                cmds=["sh", "-c"],
                arguments=[script(_kind)],
                env_vars={
                    "TOKEN": "{{ dag_run.conf['token'] }}",
                    "TRY": "{{ ti.try_number }}",
                    "WORK_SECONDS": "{{ dag_run.conf['seconds'] }}",
                    "LOG_LINES": "{{ dag_run.conf.get('lines', 0) }}",
                },
                labels={SOAK_LABEL: "1"},
                volumes=[
                    k8s.V1Volume(
                        name="ledger",
                        host_path=k8s.V1HostPathVolumeSource(path=LEDGER_DIR, type="DirectoryOrCreate"),
                    )
                ],
                volume_mounts=[k8s.V1VolumeMount(name="ledger", mount_path="/ledger")],
                do_xcom_push=_kind == "xcom",
                deferrable=_mode == "deferrable",
                startup_timeout_seconds=300,
                retries=1,
                retry_delay=datetime.timedelta(seconds=5),
            )
        globals()[dag.dag_id] = dag
