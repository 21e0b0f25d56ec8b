"""Wait for a pod to start, and fail fast with the reason when it never will.

Replaces upstream's wait, which (up to cncf-kubernetes 10.25) fails early only on a few image
errors and otherwise ends with "Pod took too long to start". Same timers: the schedule timeout
runs until the pod is scheduled, then the startup timeout starts (on providers before 10.5 the
operator passes one budget for both).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import models as k8s

from ..exceptions import PodStartupError, PodStartupTimeout
from ..kube.pod_stream import PodStream
from ..verdicts import StartupBlocker
from .diagnosis import (
    PULL_WAITING_REASONS,
    format_events,
    pull_error_grace,
    pull_error_kind,
    startup_blocker,
)

log = logging.getLogger(__name__)

#: Events are read only when the pod shows a problem, and at most this often, to spare the API.
EVENTS_EVERY_SECONDS = 5.0
#: A scheduled pod still creating its containers after this long may be stuck on a volume mount,
#: which only events reveal.
CREATING_SUSPICIOUS_AFTER_SECONDS = 10.0


@dataclass
class StartupJudge:
    """Judge one pod, observation by observation, until it leaves Pending; no API calls.

    Drivers feed it: :meth:`observe` a pod read, :meth:`record_events` when it asks for events,
    then :meth:`verdict`. :class:`StartupWatch` drives it with blocking calls, the deferrable
    trigger with awaits, so both paths fail on the same verdicts with the same messages.
    """

    pod_name: str
    namespace: str
    schedule_timeout_seconds: int
    startup_timeout_seconds: int
    #: The clock reading when the wait began (a resumed trigger passes the task's first one).
    started_at: float
    #: For a pod that left Pending: why it has still not started (a Composer 3 placeholder whose
    #: VM is being created), or None once it has.
    still_starting: Callable[[k8s.V1Pod], StartupBlocker | None] = lambda pod: None
    scheduled_at: float | None = None
    events: Sequence[Any] = ()
    events_read_at: float = float("-inf")
    #: Per container, when it was first seen failing to pull its image (the pull graces run from it).
    pull_failing_since: dict[str, float] = field(default_factory=dict)
    _pull_logged: set[tuple[str, int]] = field(default_factory=set, repr=False)
    _pod: k8s.V1Pod | None = field(default=None, repr=False)
    _now: float = 0.0
    _blocker: StartupBlocker | None = None

    def observe(self, pod: k8s.V1Pod, now: float) -> bool:
        """Take the pod as read at ``now``; return True when events should be read before the verdict."""
        self._pod, self._now = pod, now
        if pod.status is None or pod.status.phase != "Pending":
            self._blocker = self.still_starting(pod)
            if self._blocker is None:
                return False
            self.scheduled_at = now if self.scheduled_at is None else self.scheduled_at
            return self._timed_out()
        if self.scheduled_at is None and _is_scheduled(pod):
            self.scheduled_at = now
            log.info("Pod %s/%s scheduled on %s", self.namespace, self.pod_name, pod.spec.node_name)
        creating_long = self.scheduled_at is not None and now - self.scheduled_at >= CREATING_SUSPICIOUS_AFTER_SECONDS
        worth_reading = (creating_long or _shows_problem(pod)) and now - self.events_read_at >= EVENTS_EVERY_SECONDS
        return worth_reading or self._timed_out()

    def record_events(self, events: Sequence[Any], now: float) -> None:
        """Take the pod's events, read at ``now``."""
        self.events, self.events_read_at = events, now

    def verdict(self) -> k8s.V1Pod | None:
        """Return the pod once it has started, None while it may still start; raise when it cannot."""
        pod, now = self._pod, self._now
        if pod is None:
            return None
        if pod.status is not None and pod.status.phase == "Pending":
            self._blocker = startup_blocker(
                pod,
                self.events,
                pending_seconds=now - self.started_at,
                pull_failing_seconds=self._pull_failing_seconds(pod, now),
            )
            self._log_pull_error(self._blocker)
        elif self._blocker is None:
            return pod
        blocker = self._blocker
        if blocker is not None and blocker.fatal:
            raise PodStartupError(self._message(f"cannot start: {blocker.describe()}"), reason=blocker.reason)
        if self._timed_out():
            limit, parameter, what = self._limit()
            last = blocker.describe() if blocker else _last_state(pod)
            raise PodStartupTimeout(
                self._message(f"{what} within {limit} s ({parameter}); last state: {last}"),
                reason=blocker.reason if blocker else "Timeout",
            )
        return None

    def _pull_failing_seconds(self, pod: k8s.V1Pod, now: float) -> dict[str, float]:
        for status in [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]:
            waiting = status.state.waiting if status.state else None
            if waiting is not None and waiting.reason in PULL_WAITING_REASONS:
                self.pull_failing_since.setdefault(status.name, now)
        return {name: now - since for name, since in self.pull_failing_since.items()}

    def _log_pull_error(self, blocker: StartupBlocker | None) -> None:
        """Put a pull error in the task log when it first appears (and again only if its kind changes)."""
        if blocker is None or blocker.fatal or blocker.reason not in PULL_WAITING_REASONS:
            return
        grace = pull_error_grace(blocker.message)
        if (blocker.container or "", grace) in self._pull_logged:
            return
        self._pull_logged.add((blocker.container or "", grace))
        log.warning(
            "Pod %s/%s: container %r cannot pull its image yet: %s. Kubernetes retries; the task fails if "
            "this lasts %d s (the pull grace for %s).",
            self.namespace,
            self.pod_name,
            blocker.container,
            blocker.message,
            grace,
            pull_error_kind(grace),
        )

    def _limit(self) -> tuple[int, str, str]:
        if self.scheduled_at is None:
            return self.schedule_timeout_seconds, "schedule_timeout_seconds", "was not scheduled"
        return self.startup_timeout_seconds, "startup_timeout_seconds", "did not start"

    def _timed_out(self) -> bool:
        limit = self._limit()[0]
        since = self.started_at if self.scheduled_at is None else self.scheduled_at
        return self._now - since >= limit

    def _message(self, what: str) -> str:
        text = f"Pod {self.namespace}/{self.pod_name} {what}"
        if self.events:
            text += "\nRecent events:\n" + format_events(self.events)
        return text


@dataclass
class StartupWatch:
    """Follow one pod until it leaves Pending; raise :class:`PodStartupError` when it cannot.

    With a ``stream`` (:class:`~..kube.pod_stream.PodStream`, the watch API) each state the API
    server reports is judged as it arrives, starting from ``first`` (the pod as created), and the
    judge's timers are checked every ``check_interval_seconds`` without a request. Without one the
    pod is read every ``check_interval_seconds``.
    """

    pod_name: str
    namespace: str
    read_pod: Callable[[], k8s.V1Pod]
    list_events: Callable[[], Sequence[Any]]
    schedule_timeout_seconds: int
    startup_timeout_seconds: int
    check_interval_seconds: float = 2.0
    still_starting: Callable[[k8s.V1Pod], StartupBlocker | None] = lambda pod: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stream: PodStream | None = None
    first: k8s.V1Pod | None = None

    def wait(self) -> k8s.V1Pod:
        """Return the pod once it is no longer Pending."""
        judge = StartupJudge(
            pod_name=self.pod_name,
            namespace=self.namespace,
            schedule_timeout_seconds=self.schedule_timeout_seconds,
            startup_timeout_seconds=self.startup_timeout_seconds,
            started_at=self.clock(),
            still_starting=self.still_starting,
        )
        streamed = self.stream is not None and self.first is not None and self.first.status is not None
        pod = self.first if streamed else self.read_pod()
        while True:
            if judge.observe(pod, self.clock()):
                judge.record_events(self.list_events(), self.clock())
            started = judge.verdict()
            if started is not None:
                return started
            pod = self._next(pod)

    def _next(self, pod: k8s.V1Pod) -> k8s.V1Pod:
        if self.stream is None:
            self.sleep(self.check_interval_seconds)
            return self.read_pod()
        state = self.stream.next(self.check_interval_seconds)
        if state is None:
            return pod  # unchanged: the judge checks its timers on the same state
        if state.deleted:
            raise PodStartupError(
                f"Pod {self.namespace}/{self.pod_name} was deleted before it started (from outside the task: "
                "kubectl delete, preemption or a node drain)",
                reason="Deleted",
            )
        return state.pod


def _is_scheduled(pod: k8s.V1Pod) -> bool:
    return any(c.type == "PodScheduled" and c.status == "True" for c in pod.status.conditions or [])


def _shows_problem(pod: k8s.V1Pod) -> bool:
    if not _is_scheduled(pod):
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in pod.status.conditions or [])
    statuses = [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]
    return any(
        s.state and s.state.waiting and s.state.waiting.reason not in (None, "ContainerCreating", "PodInitializing")
        for s in statuses
    )


def _last_state(pod: k8s.V1Pod) -> str:
    for status in [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]:
        waiting = status.state.waiting if status.state else None
        if waiting and waiting.reason:
            return f"container {status.name!r} waiting: {waiting.reason} {waiting.message or ''}".strip()
    condition = next((c for c in pod.status.conditions or [] if c.status == "False" and c.message), None)
    return f"{condition.reason}: {condition.message}" if condition else f"phase {pod.status.phase}"
