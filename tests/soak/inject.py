"""Deliver the soak's faults (tests/soak/plan.py) to the local deployment and cluster, and watch the pods.

Faults reuse the fault suite's means (tests/faults/driver.py: a component's processes signalled and
started again with ``airflow-up.sh --restart``; tests/integration/cluster_control.py: kube-apiserver
and the kubelet stopped and started). PostgreSQL and Redis, which ``--restart`` does not start, are
started with airflow-up.sh's own functions. Like Kubernetes restarting a crashed container, the
runner starts again any component it finds dead between faults (e.g. a scheduler that exited on a
lost database); each such start is recorded beside the faults.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import watch as k8s_watch

from tests import cluster_lock
from tests.faults.driver import REPO, Airflow
from tests.integration.cluster_control import api_server_ready, restart_apiserver, start_component, stop_component
from tests.soak.plan import CLUSTER_WIDE, FaultEvent

AIRFLOW_UP = REPO / "dev/airflow/airflow-up.sh"
AIRFLOW_LIB = REPO / "dev/airflow/lib.sh"
#: Seconds a warm shutdown may take before SIGKILL (Kubernetes' default terminationGracePeriodSeconds is 30).
WARM_SHUTDOWN_GRACE = 60
#: The main container of a KubernetesPodOperator pod.
BASE_CONTAINER = "base"


def _epoch(value: Any) -> float | None:
    return value.timestamp() if value is not None else None


@dataclass
class PodRecord:
    """What the watch saw of one pod, the last word kept (an exit code once seen stays)."""

    uid: str
    name: str
    run_id: str
    try_number: int | None
    phase: str = "Pending"
    reason: str = ""
    exit_code: int | None = None
    finished_at: float | None = None
    running_since: float | None = None
    deleting: bool = False
    gone: bool = False


class PodWatch:
    """Every soak pod of the namespace, through the watch API; re-lists after a break (an API server restart)."""

    def __init__(self, core: k8s_client.CoreV1Api, namespace: str, selector: str) -> None:
        self.core, self.namespace, self.selector = core, namespace, selector
        self.pods: dict[str, PodRecord] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pod-watch")

    def __enter__(self) -> PodWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=70)

    def _run(self) -> None:
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    listed = self.core.list_namespaced_pod(
                        self.namespace, label_selector=self.selector, _request_timeout=30
                    )
                    live = set()
                    for pod in listed.items:
                        live.add(pod.metadata.uid)
                        self._update(pod)
                    with self._lock:
                        for uid, record in self.pods.items():
                            if uid not in live:
                                record.gone = True
                    version = listed.metadata.resource_version
                stream = k8s_watch.Watch().stream(
                    self.core.list_namespaced_pod,
                    self.namespace,
                    label_selector=self.selector,
                    resource_version=version,
                    timeout_seconds=20,
                    _request_timeout=40,
                )
                for event in stream:
                    if event["type"] == "ERROR":
                        version = None
                        break
                    pod = event["object"]
                    self._update(pod, deleted=event["type"] == "DELETED")
                    version = pod.metadata.resource_version
                    if self._stop.is_set():
                        return
            except Exception:  # the API server restarting, a 410 Gone: list again
                version = None
                self._stop.wait(1)

    def _update(self, pod: k8s_client.V1Pod, deleted: bool = False) -> None:
        labels = pod.metadata.labels or {}
        try_label = labels.get("try_number")
        with self._lock:
            record = self.pods.get(pod.metadata.uid)
            if record is None:
                record = PodRecord(
                    pod.metadata.uid,
                    pod.metadata.name,
                    labels.get("run_id", ""),
                    int(try_label) if try_label and try_label.isdigit() else None,
                )
                self.pods[pod.metadata.uid] = record
            status = pod.status
            record.phase = status.phase or record.phase
            record.reason = status.reason or record.reason
            record.deleting = record.deleting or pod.metadata.deletion_timestamp is not None
            record.gone = record.gone or deleted
            if record.phase == "Running" and record.running_since is None:
                record.running_since = time.time()
            for container in status.container_statuses or []:
                terminated = container.state.terminated if container.state else None
                if container.name == BASE_CONTAINER and terminated is not None:
                    record.exit_code = terminated.exit_code
                    record.finished_at = _epoch(terminated.finished_at)

    def snapshot(self) -> list[PodRecord]:
        with self._lock:
            return [PodRecord(**vars(r)) for r in self.pods.values()]

    def running_pod(self, run_id: str) -> PodRecord | None:
        for record in self.snapshot():
            if record.run_id == run_id and record.phase == "Running" and not record.deleting and not record.gone:
                return record
        return None


class ClusterLock:
    """The shared cluster's lock (tests/cluster_lock.py): shared for the run, exclusive for cluster-wide faults."""

    def __enter__(self) -> ClusterLock:
        self._held = cluster_lock.cluster()
        self._held.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.__exit__(None, None, None)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        # flock(2) locks are per open file: this process must let its shared lock go to have it alone.
        self._held.__exit__(None, None, None)
        try:
            with cluster_lock.cluster(exclusive=True):
                yield
        finally:
            self._held = cluster_lock.cluster()
            self._held.__enter__()


def start_service(name: str) -> None:
    """Start the deployment's ``postgres`` or ``redis`` again with airflow-up.sh's own function (its log kept)."""
    # $0 must not be airflow-up.sh's path: the script runs its main() when sourced as "$0" (a whole airflow-up).
    script = 'source "$1"; f="$LOG_DIR/$2.log"; if [[ -f $f ]]; then mv "$f" "$f.prev"; fi; "start_$2"'
    subprocess.run(
        ["bash", "-c", script, "soak-start-service", str(AIRFLOW_UP), name], check=True, capture_output=True, text=True
    )


def dead_components() -> list[str]:
    """The deployment's components that do not run (dev/airflow/lib.sh's own list and PID check)."""
    script = (
        'source "$0"; p=$(recorded_pair); for c in $(components "$p"); do pid_of "$c" >/dev/null || echo "$c"; done'
    )
    listed = subprocess.run(["bash", "-c", script, str(AIRFLOW_LIB)], capture_output=True, text=True)
    return listed.stdout.split()


def start_again(airflow: Airflow, name: str) -> None:
    if name in ("postgres", "redis"):
        start_service(name)
    else:
        airflow.start_component(name)


class Injector:
    """Delivers one fault at a time; returns when the disturbed component is back."""

    def __init__(
        self, airflow: Airflow, core: k8s_client.CoreV1Api, namespace: str, selector: str, lock: ClusterLock
    ) -> None:
        self.airflow, self.core, self.namespace, self.selector, self.lock = airflow, core, namespace, selector, lock

    def deliver(self, event: FaultEvent, dag: str | None = None, run_id: str | None = None, pod: str = "") -> str:
        """Deliver ``event``; return a note on what was done."""
        context = self.lock.exclusive() if event.kind in CLUSTER_WIDE else contextlib.nullcontext()
        with context:
            return getattr(self, event.kind)(event, dag, run_id, pod)

    # --- the Airflow deployment -----------------------------------------------------------------
    def _restart(self, component: str, signum: int, down: float, grace: float = 30) -> str:
        started = time.monotonic()
        if signum == signal.SIGKILL:
            self.airflow.kill_component(component, signal.SIGKILL)
        else:
            self.airflow.terminate_component(component, signum, grace)
        stopped = time.monotonic() - started
        time.sleep(down)
        start_again(self.airflow, component)
        return f"{component} stopped in {stopped:.0f} s, back {time.monotonic() - started:.0f} s after the signal"

    def worker_sigkill(self, event: FaultEvent, *_: Any) -> str:
        return self._restart("celery-worker", signal.SIGKILL, event.down_seconds)

    def worker_sigterm(self, event: FaultEvent, *_: Any) -> str:
        return self._restart("celery-worker", signal.SIGTERM, event.down_seconds, WARM_SHUTDOWN_GRACE)

    def triggerer_restart(self, event: FaultEvent, *_: Any) -> str:
        return self._restart("triggerer", signal.Signals[event.signal], event.down_seconds)

    def scheduler_restart(self, event: FaultEvent, *_: Any) -> str:
        return self._restart("scheduler", signal.Signals[event.signal], event.down_seconds)

    def postgres_restart(self, event: FaultEvent, *_: Any) -> str:
        return self._restart("postgres", signal.SIGINT, event.down_seconds)  # SIGINT: PostgreSQL's fast shutdown

    def redis_restart(self, event: FaultEvent, *_: Any) -> str:
        return self._restart("redis", signal.SIGTERM, event.down_seconds)

    def task_cleared(self, event: FaultEvent, dag: str | None, run_id: str | None, _pod: str) -> str:
        assert dag and run_id
        self.airflow.clear(dag, run_id)
        return f"cleared {run_id}"

    # --- the cluster ---------------------------------------------------------------------------------
    def apiserver_restart(self, event: FaultEvent, *_: Any) -> str:
        ready = restart_apiserver(
            event.down_seconds, lambda: api_server_ready(self.core.api_client), signum=signal.SIGKILL
        )
        return f"kube-apiserver SIGKILLed, down {event.down_seconds:.0f} s, ready {ready:.1f} s after its start"

    def kubelet_restart(self, event: FaultEvent, *_: Any) -> str:
        argv = stop_component("kubelet")
        time.sleep(event.down_seconds)
        start_component("kubelet", argv)
        ready = self._wait_node_ready(time.time())
        return f"kubelet down {event.down_seconds:.0f} s, node ready {ready}"

    def pod_evicted(self, event: FaultEvent, _dag: str | None, _run_id: str | None, pod: str) -> str:
        self._evict(pod)
        return f"evicted {pod}"

    def node_drain(self, event: FaultEvent, *_: Any) -> str:
        node = self._node()
        self.core.patch_node(node, {"spec": {"unschedulable": True}})
        try:
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector).items
            evicted = 0
            for pod in pods:
                if pod.metadata.deletion_timestamp is None and pod.status.phase in ("Pending", "Running"):
                    with contextlib.suppress(k8s_client.ApiException):
                        self._evict(pod.metadata.name)
                        evicted += 1
            time.sleep(event.down_seconds)
        finally:
            self._retry(lambda: self.core.patch_node(node, {"spec": {"unschedulable": False}}))
        return f"node {node} cordoned {event.down_seconds:.0f} s, {evicted} pod(s) evicted"

    def _evict(self, name: str) -> None:
        body = k8s_client.V1Eviction(metadata=k8s_client.V1ObjectMeta(name=name, namespace=self.namespace))
        self.core.create_namespaced_pod_eviction(name, self.namespace, body)

    def _node(self) -> str:
        return str(self.core.list_node().items[0].metadata.name)

    def _wait_node_ready(self, since: float, timeout: float = 60) -> str:
        while time.time() < since + timeout:
            with contextlib.suppress(Exception):
                node = self.core.read_node(self._node())
                for condition in node.status.conditions or []:
                    heartbeat = _epoch(condition.last_heartbeat_time) or 0
                    if condition.type == "Ready" and condition.status == "True" and heartbeat >= since - 1:
                        return f"{time.time() - since:.0f} s after the start"
            time.sleep(1)
        return f"not seen within {timeout:.0f} s"

    @staticmethod
    def _retry(call: Any, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return call()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
