"""While the pod runs: follow it as upstream does, and notice when it is taken away.

Upstream follows a running pod by streaming its log (or polling its container) and nothing else,
so a pod deleted from outside keeps the task waiting out its grace period, a lost node keeps it
waiting for a stream that never ends (apache/airflow#65202), and on Airflow 3 a task whose
``on_kill`` ran waits for the pod to die. :class:`RunningWatch` runs upstream's follower in a
helper thread, unchanged (Google's Composer 3 patches of it included), while the task's own thread
reads the pod every few seconds and judges it with :class:`~.interruption.DisruptionJudge`.

The task's thread stays the one that waits, so Airflow's SIGTERM handler and ``execution_timeout``
(both signals) still interrupt it at once.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, TypeVar

from kubernetes.client import models as k8s

from ..exceptions import PodFailedError
from ..kube.pod_stream import PodStream
from .interruption import DisruptionJudge, pod_disruption

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between reads of a running pod; a pod that ends sooner costs no read.
RUNNING_CHECK_INTERVAL_SECONDS = 5.0
#: Seconds between looks at a running pod's state when a PodStream (the watch API) delivers it: no request each.
STREAMED_CHECK_INTERVAL_SECONDS = 1.0


class PodDisruptedError(PodFailedError):
    """The running pod was deleted, evicted or lost with its node; its work did not finish."""

    @classmethod
    def from_verdict(cls, verdict: str) -> PodDisruptedError:
        """Return the error for a :func:`~.interruption.pod_disruption` verdict."""
        return cls(f"{verdict}; its work did not finish.")


class RunningWatch:
    """Run ``follow`` (upstream's log follower) and fail fast if the pod is taken away meanwhile.

    :param read_pod: Return the pod as it is now, or None when the API server answers 404.
    :param stopped: Return True once the task's ``on_kill`` ran; the wait then ends at once.
    :param on_stopped: Return the error to raise when ``stopped`` turns True.
    """

    def __init__(
        self,
        *,
        pod_name: str,
        namespace: str,
        read_pod: Callable[[], k8s.V1Pod | None],
        stopped: Callable[[], bool],
        on_stopped: Callable[[], BaseException],
        check_interval_seconds: float = RUNNING_CHECK_INTERVAL_SECONDS,
    ) -> None:
        self.pod_name, self.namespace = pod_name, namespace
        self._read_pod = read_pod
        self._stopped = stopped
        self._on_stopped = on_stopped
        self._interval = check_interval_seconds
        self._judge_reads = DisruptionJudge(name=pod_name, namespace=namespace)

    def run(self, follow: Callable[[], T]) -> T:
        """Return what ``follow`` returns, or raise what it raised, or why the pod went away."""
        outcome: dict[str, object] = {}

        def target() -> None:
            try:
                outcome["result"] = follow()
            except BaseException as error:  # handed to the task's thread below
                outcome["error"] = error

        # A daemon thread: when the pod is gone we stop waiting for it; its stream ends with the pod.
        thread = threading.Thread(target=target, name=f"follow-{self.pod_name}", daemon=True)
        thread.start()
        while True:
            thread.join(self._interval)
            if not thread.is_alive():
                break
            if self._stopped():
                raise self._on_stopped()
            verdict = self._judge()
            if verdict is not None:
                raise PodDisruptedError.from_verdict(verdict)
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome.get("result")  # type: ignore[return-value]

    def _judge(self) -> str | None:
        try:
            pod = self._read_pod()
        except Exception as error:  # the follower meets the same API server; let it decide
            log.debug("Could not read pod %s/%s while it runs: %s", self.namespace, self.pod_name, error)
            return None
        return self._judge_reads.judge(pod)


def streamed_pod(stream: PodStream) -> k8s.V1Pod | None:
    """Return the pod as ``stream`` last reported it, None once it was deleted (a read's 404)."""
    state = stream.current()
    return None if state is None or state.deleted else state.pod


def await_pod_state(stream: PodStream, done: Callable[[k8s.V1Pod], bool]) -> k8s.V1Pod:
    """Return the pod once ``done(pod)`` holds for a state ``stream`` reports (upstream polls every 1-2 s).

    A pod deleted before that fails the task with :class:`PodDisruptedError`, unless its last state
    already was done.
    """
    state = stream.current()
    while True:
        if state is not None and state.pod is not None and done(state.pod):
            return state.pod
        if state is not None and state.deleted:
            verdict = pod_disruption(None, name=stream.pod_name, namespace=stream.namespace)
            raise PodDisruptedError.from_verdict(verdict or f"Pod {stream.namespace}/{stream.pod_name} was deleted")
        # Blocks until the pod changes; the timeout only bounds one wait (signals interrupt it anyway).
        state = stream.next(60.0) or state
