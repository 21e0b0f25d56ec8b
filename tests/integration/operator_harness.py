"""Run a KubernetesPodOperator (ours or stock) in-process against the local cluster.

``airflow dags test`` needs a serialized DAG on Airflow 3, so these tests call ``execute`` with
the parts of a task context the operator reads. Everything the operator does with the cluster
is real; only the task instance is a stand-in that keeps pushed XComs in a dict.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

BUSYBOX = "busybox:1.36"
DEBIAN = "debian:bookworm-slim"
PERL = "perl:5.36"

#: The local cluster has no registry: the XCom sidecar must use an image the node already has.
CONNECTION = json.dumps({"conn_type": "kubernetes", "extra": {"xcom_sidecar_container_image": BUSYBOX}})


class TaskInstanceStandIn:
    """What KubernetesPodOperator reads from ``context["ti"]``; XComs land in ``pushed``."""

    def __init__(self, dag_id: str, task_id: str, try_number: int = 1) -> None:
        self.dag_id, self.task_id = dag_id, task_id
        self.try_number, self.map_index = try_number, -1
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.pushed[key] = value


def make_dag(dag_id: str | None = None):
    from airflow import DAG

    return DAG(
        dag_id or f"it_{uuid.uuid4().hex[:8]}",
        start_date=datetime.datetime(2024, 1, 1),
        schedule=None,
    )


def run(operator, *, run_id: str | None = None, try_number: int = 1) -> tuple[Any, TaskInstanceStandIn]:
    """Render and execute ``operator`` like a worker would; return (result, task instance)."""
    ti = TaskInstanceStandIn(operator.dag_id, operator.task_id, try_number)
    context: dict[str, Any] = {
        "ti": ti,
        "task_instance": ti,
        "dag": operator.dag,
        "task": operator,
        "run_id": run_id or f"manual__{uuid.uuid4().hex[:8]}",
        "ds": "2024-05-01",
        "params": {},
    }
    operator.render_template_fields(context)
    return operator.execute(context), ti
