"""The fault matrix: each case's fault, delivered as Composer delivers it (see driver.py).

A fault function runs right after the trigger; it returns the monotonic time the fault happened
(None when the case has no fault), and may note what it saw in ``run.notes``.
"""

from __future__ import annotations

import datetime
import signal
import time

from tests.faults.dags.composer_kpo_faults import NAMESPACE, QUIET_START_SECONDS
from tests.faults.driver import CaseRun, Fault, signal_task_process
from tests.integration.cluster_control import api_server_ready, restart_apiserver, start_component, stop_component

#: Task states of a try still in progress; a deferred task waits in the triggerer.
IN_PROGRESS = frozenset({"running", "deferred", "queued", "scheduled", None})
#: Seconds the pod keeps running before a fault, so the operator is following its logs.
SETTLE_SECONDS = 5
#: The longest the node stays lost: the node controller's 50 s grace, then time to give up.
NODE_LOST_SECONDS = 150


def _wait_running(run: CaseRun) -> bool:
    if run.recorder.wait_running(run.deadline):
        time.sleep(SETTLE_SECONDS)
        return True
    run.notes.append("the pod never ran")
    return False


def _note_pods_gone(run: CaseRun, since: float, timeout: float = 60) -> None:
    """Note how long the task's pods took to go (or start going) after ``since``."""
    while time.monotonic() < since + timeout:
        if all(p.gone or "deleting" in p.phase for p in run.recorder.seen.values()):
            run.notes.append(f"pod deleted {time.monotonic() - since:.1f} s after the fault")
            return
        time.sleep(0.5)
    run.notes.append(f"pod still there {timeout:.0f} s after the fault")


def sigterm(run: CaseRun) -> float | None:
    return signal_task_process(run, signal.SIGTERM, after_running=SETTLE_SECONDS)


def sigkill(run: CaseRun) -> float | None:
    return signal_task_process(run, signal.SIGKILL, after_running=SETTLE_SECONDS)


def execution_timeout(run: CaseRun) -> float | None:
    """No fault to deliver: Airflow's own timer fires 25 s after the task started."""
    if not run.recorder.wait_running(run.deadline):
        run.notes.append("the pod never ran")
        return None
    ti = run.airflow.task_instance(run.dag, run.run_id)
    started = datetime.datetime.fromisoformat(ti["start_date"].replace("Z", "+00:00"))
    fires = started + datetime.timedelta(seconds=25)
    return time.monotonic() - (datetime.datetime.now(datetime.timezone.utc) - fires).total_seconds()


def _mark(state: str) -> Fault:
    def mark(run: CaseRun) -> float | None:
        if not _wait_running(run):
            return None
        run.airflow.set_state(run.dag, run.run_id, state)
        at = time.monotonic()
        _note_pods_gone(run, at)
        return at

    mark.__name__ = f"mark_{state}"
    return mark


def pod_deleted(run: CaseRun) -> float | None:
    """kubectl delete pod, with the default grace period, as preemption or a user would."""
    if not _wait_running(run):
        return None
    for pod in list(run.recorder.seen.values()):
        if pod.phase == "Running" and not pod.gone:
            run.cluster.core.delete_namespaced_pod(pod.name, NAMESPACE)
            return time.monotonic()
    return None


def evicted(run: CaseRun) -> float | None:
    """The kubelet evicts the pod for writing past its ephemeral-storage limit: wait for it."""
    while time.monotonic() < run.deadline:
        if any(p.reason == "Evicted" for p in run.recorder.seen.values()):
            return time.monotonic()
        ti = run.airflow.task_instance(run.dag, run.run_id)
        if ti.get("state") not in IN_PROGRESS or int(ti.get("try_number") or 1) > 1:
            # The pod was evicted and deleted between two polls: the try's end stands in for it.
            run.notes.append("eviction not seen by the pod poll; timed from the first try's end")
            return time.monotonic()
        time.sleep(0.5)
    return None


def cleared_keep_pod(run: CaseRun) -> float | None:
    """Let the task succeed (its pod kept), then clear it as from the UI: it must run a new pod."""
    first = run.airflow.wait_final(run.dag, run.run_id, run.deadline)
    run.notes.append(f"first run: {first.get('state')}")
    # Clear only a finished run, as a user would: a clear racing the scheduler's own finishing of
    # the run can leave the cleared task unscheduled (Airflow, not the operator).
    while run.airflow.dag_run_state(run.dag, run.run_id) not in ("success", "failed"):
        time.sleep(0.5)
    run.airflow.clear(run.dag, run.run_id)
    at = time.monotonic()
    while run.airflow.task_instance(run.dag, run.run_id).get("state") in ("success",) and time.monotonic() < at + 30:
        time.sleep(0.5)  # the clear is asynchronous on some versions
    return at


def node_lost(run: CaseRun) -> float | None:
    """Stop the node's kubelet (the node goes NotReady, as when its VM is lost) until the try ends.

    The kubelet comes back once the task stopped waiting on the pod (or after NODE_LOST_SECONDS),
    so that a retry has a node to run on.
    """
    if not _wait_running(run):
        return None
    argv = stop_component("kubelet")
    at = time.monotonic()
    try:
        while time.monotonic() < at + NODE_LOST_SECONDS:
            if run.airflow.task_instance(run.dag, run.run_id).get("state") not in IN_PROGRESS:
                run.notes.append(f"try 1 ended {time.monotonic() - at:.1f} s after the kubelet stopped")
                break
            time.sleep(1)
        else:
            run.notes.append(f"try 1 still running {NODE_LOST_SECONDS} s after the kubelet stopped")
    finally:
        start_component("kubelet", argv)
    return at


def worker_killed(run: CaseRun) -> float | None:
    """SIGKILL every process of the Celery worker, as when Composer loses a worker pod, then start a new one.

    Nothing tells Airflow: the scheduler finds the task by its missing heartbeat (the deployment's
    timeout is 60 s, Composer's 300 s) and schedules the retry on the new worker.
    """
    if not _wait_running(run):
        return None
    at = run.airflow.kill_component("celery-worker")
    run.airflow.start_component("celery-worker")
    return at


def worker_killed_final(run: CaseRun) -> float | None:
    """The whole Celery worker SIGKILLed on the task's only try, then how long its pod stayed after the fault."""
    at = worker_killed(run)
    if at is not None:
        _note_pods_gone(run, at, timeout=240)
    return at


def triggerer_restarts(run: CaseRun) -> float | None:
    """While the task is deferred: SIGTERM the triggerer (a shutdown), start it; later SIGKILL it (a crash), start it.

    The trigger must resume on the new triggerer each time, and the pod run to its end once.
    """
    if not _wait_running(run):
        return None
    at = None
    for signum in (signal.SIGTERM, signal.SIGKILL):
        stopped = run.airflow.kill_component("triggerer", signum)
        at = at or stopped
        run.airflow.start_component("triggerer")
        run.notes.append(f"triggerer back {time.monotonic() - stopped:.1f} s after {signal.Signals(signum).name}")
        time.sleep(SETTLE_SECONDS)
    return at


def apiserver_restart(run: CaseRun) -> float | None:
    """Crash kube-apiserver (SIGKILL, down 5 s) while the pod prints fast, cutting the log stream.

    A graceful stop would keep serving the open log stream while it drains: no break to test.
    """
    if not run.recorder.wait_running(run.deadline):
        run.notes.append("the pod never ran")
        return None
    time.sleep(QUIET_START_SECONDS + 5)  # mid-stream: the pod has printed for about 5 s
    at = time.monotonic()
    ready = restart_apiserver(5, lambda: api_server_ready(run.cluster.core.api_client), signum=signal.SIGKILL)
    run.notes.append(f"API server ready {ready:.1f} s after its restart")
    return at


def no_fault(run: CaseRun) -> float | None:
    return None


#: Cases whose fault hits every task (the node, the API server, the worker): run alone, after the others.
RUN_ALONE = frozenset(
    {"node_lost", "log_apiserver_restart", "worker_killed", "worker_killed_final", "deferred_node_lost"}
)
#: Of those, the ones whose fault hits every pod on the cluster, whichever suite or deployment
#: runs it: they hold the shared cluster's lock exclusive (tests/cluster_lock.py).
CLUSTER_WIDE = frozenset({"node_lost", "log_apiserver_restart", "deferred_node_lost"})
#: Cases benchmarks/faults.py measures but `make test` does not run: the deferred node loss (the
#: trigger's verdict is interruption.py's, tested with the synchronous case; a run alone costs
#: minutes per major) and the deferred log rotation (a documented limit: the log is read once, at
#: the resume, and the kubelet serves only its current file).
MEASURED_ONLY = frozenset({"deferred_node_lost", "deferred_log_rotation"})
#: Cases `make test` runs on one Airflow major only (case -> major; `make fault-table` runs both): five
#: silent minutes follow the same log stream code on either, and would make up half the stage.
ONE_MAJOR_ONLY = {"silent": 3}
#: Cases that restart a component only deferred tasks use: beside the other cases (whose deferred
#: tasks then live through the restarts too), but one operator's run at a time.
ONE_OPERATOR_AT_A_TIME = frozenset({"deferred_triggerer_restarts"})

#: case -> (fault, what ComposerPodOperator must do); the numbers are the issue's table rows.
FAULTS: dict[str, tuple[Fault, str]] = {
    "sigterm": (sigterm, "1. SIGTERM to the task process: fail naming the termination, pod deleted"),
    "sigkill_retry": (sigkill, "2. SIGKILL to the task process, retry: reattach, the work runs once"),
    "worker_killed": (worker_killed, "2. whole Celery worker SIGKILLed, retry on a new worker: reattach, once"),
    "worker_killed_final": (
        worker_killed_final,
        "2. whole Celery worker SIGKILLed on the final try: failed, the pod deleted (no retry reattaches)",
    ),
    "execution_timeout": (execution_timeout, "3. execution_timeout: fail naming it, pod deleted"),
    "mark_failed": (_mark("failed"), "4. marked failed: pod deleted within seconds, state stays failed"),
    "mark_success": (_mark("success"), "4. marked success: pod deleted within seconds, state stays success"),
    "pod_deleted": (pod_deleted, "5. pod deleted from outside: fail naming it, the retry runs one new pod"),
    "evicted": (evicted, "7. pod evicted: fail naming Evicted and the limit, the retry runs a new pod"),
    "node_lost": (node_lost, "6. node lost (kubelet stopped): fail naming it in bounded time, the retry runs"),
    "cleared_keep_pod": (cleared_keep_pod, "8. cleared after success with keep_pod: a new pod runs"),
    "log_rotation": (no_fault, "9. log rotated while followed (30000 lines): each line once, or the gap named"),
    "log_apiserver_restart": (
        apiserver_restart,
        "9. API server restarted mid-stream (30000 lines): each line once, or the gap named",
    ),
    "silent": (no_fault, "10. silent for 300 s: success, no reconnect storm"),
    # deferrable=True: the trigger follows the pod, the task resumes on a worker.
    "deferred_triggerer_restarts": (
        triggerer_restarts,
        "11. deferred, triggerer SIGTERMed then SIGKILLed and restarted: success, one pod",
    ),
    "deferred_pod_deleted": (pod_deleted, "11. deferred, pod deleted: fail naming it, the retry runs one new pod"),
    "deferred_evicted": (evicted, "11. deferred, pod evicted: fail naming Evicted and the limit, the retry runs"),
    "deferred_node_lost": (node_lost, "11. deferred, node lost: fail naming it in bounded time, the retry runs"),
    "deferred_log_rotation": (no_fault, "11. deferred, 30000 lines rotated before the resume: what the task log holds"),
}
