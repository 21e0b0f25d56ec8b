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
#: ~200 MB held by `sort` (a child of the shell) against a 32 MiB limit: the OOM killer always picks
#: sort, so the shell lives to print "Killed" and exit 137. Holding it in a shell variable instead
#: let the kernel kill either process, and the log tail differed from run to run.
MEMORY_HOG = "head -c 200000000 /dev/zero | tr '\\0' a | sort >/dev/null; echo survived"

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
    context = _context(operator, ti, run_id)
    operator.render_template_fields(context)
    return operator.execute(context), ti


def run_deferred(
    operator,
    *,
    run_id: str | None = None,
    on_deferred: Any = None,
    restart_trigger_when: Any = None,
    json_round_trip: bool = True,
) -> tuple[Any, TaskInstanceStandIn]:
    """Run a deferrable ``operator`` as worker, triggerer and worker again; return (result, task instance).

    The trigger is re-created from its serialized keywords after a JSON round trip, as a
    triggerer does. ``on_deferred(trigger)`` runs once the task has deferred. With
    ``restart_trigger_when`` (a callable taking nothing), the first trigger is cancelled as soon
    as it returns True, like a triggerer stopped mid-wait, and a new one from the same keywords
    follows the pod to its end. The resume runs on a fresh copy of the task, as a new worker would.
    ``json_round_trip=False`` for triggers whose keywords need Airflow's serializer (stock KPO's).
    """
    import asyncio
    import copy

    from airflow_provider_composer_kpo.compat import TaskDeferred

    fresh = copy.deepcopy(operator)
    ti = TaskInstanceStandIn(operator.dag_id, operator.task_id)
    context = _context(operator, ti, run_id)
    operator.render_template_fields(context)
    try:
        operator.execute(context)
    except TaskDeferred as deferred:
        trigger, method_name = deferred.trigger, deferred.method_name
    else:
        raise AssertionError(f"{operator.task_id} did not defer")
    if on_deferred is not None:
        on_deferred(trigger)
    classpath, kwargs = trigger.serialize()
    if json_round_trip:
        kwargs = json.loads(json.dumps(kwargs))
    event = asyncio.run(_trigger_event(classpath, kwargs, restart_trigger_when))
    fresh.render_template_fields(context)
    return getattr(fresh, method_name)(context, event=event.payload), ti


async def _trigger_event(classpath: str, kwargs: dict[str, Any], restart_when: Any) -> Any:
    import asyncio
    import importlib

    module, _, name = classpath.rpartition(".")
    trigger_type = getattr(importlib.import_module(module), name)

    async def first_event() -> Any:
        async for event in trigger_type(**kwargs).run():
            return event
        raise AssertionError("the trigger ended without an event")

    if restart_when is not None:
        first = asyncio.ensure_future(first_event())
        while not restart_when():
            if first.done():
                raise AssertionError(f"the trigger ended before the restart: {first.result()!r}")
            await asyncio.sleep(0.5)
        first.cancel()
    return await first_event()


def _context(operator, ti: TaskInstanceStandIn, run_id: str | None) -> dict[str, Any]:
    return {
        "ti": ti,
        "task_instance": ti,
        "dag": operator.dag,
        "task": operator,
        "run_id": run_id or f"manual__{uuid.uuid4().hex[:8]}",
        "ds": "2024-05-01",
        "params": {},
    }
