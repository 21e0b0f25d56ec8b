"""ComposerPodOperator(deferrable=True) against the real local cluster: the synchronous path's guarantees.

Each test runs the task as Airflow would: the worker creates the pod and defers, the trigger
(re-created from its serialized keywords) follows the pod, a fresh copy of the task resumes from
the trigger's event. The fail-fast cases are the synchronous suite's, with the same reasons and
messages; `no_leaked_pods` proves no pod is left behind.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from datetime import timedelta

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator, PodFailedError, PodStartupError, PodStartupTimeout
from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS, HAS_DEFERRABLE, AirflowTaskTimeout

from .operator_harness import BUSYBOX, MEMORY_HOG, make_dag, run, run_deferred

pytestmark = [
    pytest.mark.integration,
    pytest.mark.usefixtures("composer_environment", "no_leaked_pods"),
    pytest.mark.skipif(not HAS_DEFERRABLE, reason="deferrable KPO needs cncf-kubernetes 6.0+"),
]

#: The trigger's own behaviour (no provider code in it) is the same on every pair: it runs on the
#: newest; the fault matrix runs deferred tasks on Airflow 2.10's real triggerer too.
trigger_only = pytest.mark.skipif(not AIRFLOW_V_3_PLUS, reason="the trigger alone; run on the newest pair")

TICKING = "i=0; while [ $i -lt 12 ]; do echo tick-$i; i=$((i+1)); sleep 1; done; echo work-finished"


def deferred_pod(**kwargs) -> ComposerPodOperator:
    kwargs.setdefault("task_id", f"d-{uuid.uuid4().hex[:6]}")
    kwargs.setdefault("image", BUSYBOX)
    return ComposerPodOperator(dag=make_dag(), deferrable=True, **kwargs)


def output(capfd, caplog) -> str:
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def pods_of(core_v1, namespace, op) -> list[k8s.V1Pod]:
    return core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={op.task_id}").items


def test_deferred_pod_succeeds_with_its_log_and_xcom(capfd, caplog):
    script = (
        "echo hello-from-a-deferred-pod; mkdir -p /airflow/xcom; echo '{\"answer\": 42}' > /airflow/xcom/return.json"
    )
    result, ti = run_deferred(deferred_pod(cmds=["sh", "-c", script], do_xcom_push=True))
    assert result == {"answer": 42}
    assert "hello-from-a-deferred-pod" in output(capfd, caplog)
    assert ti.pushed.get("pod_name")


def _verdict(message: str) -> str:
    """The message without pod names, and without its recent events: their counts depend on when they were read."""
    return re.sub(r"composer-user-workloads/\S+", "<pod>", message.split("\nRecent events:", 1)[0])


@pytest.mark.parametrize(
    ("case", "kwargs", "error", "reason"),
    [
        ("exit code", {"cmds": ["sh", "-c", "echo about to fail; exit 3"]}, PodFailedError, None),
        pytest.param(
            "missing Secret, preflight off",
            {
                "cmds": ["sh", "-c", "true"],
                "preflight": "off",
                "env_from": [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name="no-such-secret"))],
            },
            PodStartupError,
            "CreateContainerConfigError",
            marks=trigger_only,
        ),
        pytest.param(
            "bad image name",
            {"image": "Busybox:1.36", "cmds": ["sh", "-c", "true"]},
            PodStartupError,
            "InvalidImageName",
            marks=trigger_only,
        ),
        (
            "OOMKilled",
            {
                "cmds": ["sh", "-c", MEMORY_HOG],
                "container_resources": k8s.V1ResourceRequirements(
                    limits={"memory": "32Mi"}, requests={"memory": "32Mi"}
                ),
            },
            PodFailedError,
            None,
        ),
    ],
)
def test_deferred_fails_like_the_synchronous_path(case, kwargs, error, reason):
    """Same exception, reason and message (pod names and event counts aside) in both modes.

    Neither waits out a timeout (the seconds, beside stock KPO's, are in benchmarks/fail_fast.py --deferrable).
    """
    errors = {}
    for mode in ("sync", "deferred"):
        with pytest.raises(error) as raised:
            if mode == "sync":
                run(
                    ComposerPodOperator(
                        dag=make_dag(), task_id=f"s-{uuid.uuid4().hex[:6]}", **{"image": BUSYBOX, **kwargs}
                    )
                )
            else:
                run_deferred(deferred_pod(**kwargs))
        errors[mode] = raised.value
    assert not isinstance(errors["deferred"], PodStartupTimeout)
    if reason is not None:
        assert errors["deferred"].reason == errors["sync"].reason == reason
    deferred, sync = _verdict(str(errors["deferred"])), _verdict(str(errors["sync"]))
    if case == "OOMKilled":
        # The log tail is each pod's own output: the shell prints "Killed" only when the kernel's OOM
        # kill took its child and not the shell as well, which varies from pod to pod (seen in two CI
        # runs). The verdict before it must be the same.
        deferred, sync = (text.split("\nLast ", 1)[0] for text in (deferred, sync))
    assert deferred == sync, case


@trigger_only
def test_deferred_unschedulable_pod_fails_with_the_scheduler_reason():
    from airflow_provider_composer_kpo import gke_node_pool_affinity

    op = deferred_pod(cmds=["sh", "-c", "true"], affinity=gke_node_pool_affinity("pool-0"))
    with pytest.raises(PodStartupError) as err:
        run_deferred(op)
    assert not isinstance(err.value, PodStartupTimeout)
    assert err.value.reason == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in str(err.value)


@trigger_only
def test_pod_deleted_while_deferred_fails_naming_it(core_v1, namespace):
    op = deferred_pod(cmds=["sh", "-c", TICKING])

    def delete_when_running(trigger) -> None:
        def delete() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pod = core_v1.read_namespaced_pod(trigger.pod_name, namespace)
                if pod.status.phase == "Running":
                    core_v1.delete_namespaced_pod(trigger.pod_name, namespace)
                    return
                time.sleep(0.5)

        threading.Thread(target=delete, daemon=True).start()

    with pytest.raises(PodFailedError, match="was deleted from outside the task"):
        run_deferred(op, on_deferred=delete_when_running)


def test_task_process_stopped_after_it_deferred_leaves_the_pod_to_the_trigger(capfd, caplog):
    """Airflow 3 SIGTERMs a deferred process slow to exit, which runs ``on_kill``: the pod must run on."""
    op = deferred_pod(cmds=["sh", "-c", TICKING])
    run_deferred(op, on_deferred=lambda trigger: op.on_kill())
    log = output(capfd, caplog)
    assert "is left to its trigger and to the resumed task" in log
    assert "work-finished" in log


@trigger_only
def test_trigger_restart_resumes_and_the_task_succeeds_with_one_pod(core_v1, namespace, capfd, caplog):
    """A triggerer stopped mid-wait: a new trigger from the same keywords follows the same pod."""
    op = deferred_pod(cmds=["sh", "-c", TICKING], on_finish_action="keep_pod")

    def running() -> bool:
        pods = pods_of(core_v1, namespace, op)
        return bool(pods) and pods[0].status.phase == "Running"

    try:
        run_deferred(op, restart_trigger_when=running)
        assert "work-finished" in output(capfd, caplog)
        assert len(pods_of(core_v1, namespace, op)) == 1
    finally:
        for pod in pods_of(core_v1, namespace, op):
            core_v1.delete_namespaced_pod(pod.metadata.name, namespace)


def test_execution_timeout_while_deferred_deletes_the_pod_and_says_so(core_v1, namespace):
    # The shell exits on SIGTERM, so the deletion does not wait out the 30 s grace period.
    script = "trap 'exit 143' TERM; sleep 300 & wait"
    op = deferred_pod(cmds=["sh", "-c", script], execution_timeout=timedelta(seconds=15))
    with pytest.raises(
        AirflowTaskTimeout, match=r"execution_timeout \(0:00:15\) reached while pod .* running; the pod was deleted"
    ):
        run_deferred(op)


@trigger_only
@pytest.mark.disrupts_cluster
def test_trigger_survives_api_server_down_for_15_seconds(core_v1, namespace, api_client, capfd, caplog, monkeypatch):
    """Transient API failures in the trigger are retried by the synchronous path's policy: one pod, success.

    The restart also drops the triggerer's pod watch, and the restarted API server no longer has the
    version it would resume from (its watch cache starts afresh): 410 Gone, then a list.
    """
    from airflow_provider_composer_kpo.kube import list_watch

    from .cluster_control import restart_apiserver_when_running

    monkeypatch.setattr(list_watch, "_registry", {})  # this test's watches only
    op = deferred_pod(cmds=["sh", "-c", "for i in $(seq 1 30); do sleep 1; done; echo still-here"])
    selector = f"task_id={op.task_id}"
    restarter = restart_apiserver_when_running(core_v1, api_client, namespace, selector, restarts=1, down_seconds=15)
    try:
        run_deferred(op)
    finally:
        restarter.join()
    assert len(restarter.results) == 1, "the API server was not restarted as planned"
    assert "still-here" in output(capfd, caplog)
    (watch,) = [w for key, w in list_watch._registry.items() if key[0] == "pods"]
    assert watch.gone >= 1 and watch.unavailable is None, (watch.gone, watch.unavailable)


def test_init_container_logs_reach_the_task_log_when_deferred(capfd, caplog):
    """Upstream's deferred path ignores init_container_logs; the resumed synchronous ending honours them."""
    init = k8s.V1Container(name="prepare", image=BUSYBOX, command=["sh", "-c", "echo init-container-was-here"])
    run_deferred(deferred_pod(cmds=["sh", "-c", "true"], init_containers=[init], init_container_logs=True))
    assert "init-container-was-here" in output(capfd, caplog)


@trigger_only
def test_triggers_of_one_triggerer_share_one_watch_and_read_no_pod(monkeypatch, capfd, caplog):
    """Six deferred tasks followed at once, as in one triggerer, then a seventh that joins the open
    watch: one list and watch for all, no pod read, every one succeeds.

    Reading each pod every 2 s, as before, would have cost about six reads per task (each pod runs 12 s).
    """
    import asyncio

    from airflow_provider_composer_kpo.compat import TaskDeferred
    from airflow_provider_composer_kpo.kube import list_watch
    from airflow_provider_composer_kpo.triggers import composer_pod as trigger_module

    from .operator_harness import TaskInstanceStandIn, _context

    reads = []
    read = trigger_module.read_pod_or_none
    monkeypatch.setattr(trigger_module, "read_pod_or_none", lambda *a, **k: reads.append(a[1]) or read(*a, **k))
    monkeypatch.setattr(list_watch, "_registry", {})  # this test's watches only
    # The seventh runs longer: still live when the first six have ended.
    operators = [deferred_pod(cmds=["sh", "-c", TICKING]) for _ in range(6)]
    operators.append(deferred_pod(cmds=["sh", "-c", TICKING.replace("-lt 12", "-lt 40")]))
    deferred = []
    for op in operators:
        context = _context(op, TaskInstanceStandIn(op.dag_id, op.task_id), None)
        op.render_template_fields(context)
        with pytest.raises(TaskDeferred) as raised:
            op.execute(context)
        deferred.append((op, context, raised.value))

    async def events_of(some):
        async def first(trigger):
            async for event in trigger.run():
                return event.payload
            raise AssertionError("no event")

        triggers = [type(d.trigger)(**d.trigger.serialize()[1]) for _, _, d in some]
        return await asyncio.gather(*(first(t) for t in triggers))

    events = asyncio.run(events_of(deferred[:6]))
    assert [e["status"] for e in events] == ["ended"] * 6, events
    (watch,) = [w for key, w in list_watch._registry.items() if key[0] == "pods"]
    assert watch.unavailable is None
    # The seventh task's pod, created a while ago and followed by nobody, is kept while it is live:
    # its trigger joins the open watch and finds it there.
    late = deferred[6][2].trigger.pod_name
    assert watch.in_sync
    assert watch.state_of(late) is not None, "the watch keeps live pods nobody follows yet"
    events += asyncio.run(events_of(deferred[6:]))
    assert events[-1]["status"] == "ended", events[-1]
    assert watch.requests <= 8, watch.requests  # one list, then a watch request a minute at most (and resumes)
    assert reads == [], reads  # every state came from the watch
    for (op, context, d), event in zip(deferred, events):
        getattr(op, d.method_name)(context, event=event)
    assert output(capfd, caplog).count("work-finished") >= 7
