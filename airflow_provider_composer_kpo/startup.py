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
from dataclasses import dataclass
from typing import Any

from kubernetes.client import models as k8s

from .diagnosis import StartupBlocker, format_events, startup_blocker
from .exceptions import PodStartupError, PodStartupTimeout

log = logging.getLogger(__name__)

#: Events are read only when the pod shows a problem, and at most this often, to spare the API.
EVENTS_EVERY_SECONDS = 5.0
#: A scheduled pod still creating its containers after this long may be stuck on a volume mount,
#: which only events reveal.
CREATING_SUSPICIOUS_AFTER_SECONDS = 10.0


@dataclass
class StartupWatch:
    """Poll one pod until it leaves Pending; raise :class:`PodStartupError` when it cannot."""

    pod_name: str
    namespace: str
    read_pod: Callable[[], k8s.V1Pod]
    list_events: Callable[[], Sequence[Any]]
    schedule_timeout_seconds: int
    startup_timeout_seconds: int
    check_interval_seconds: float = 2.0
    #: For a pod that left Pending: why it has still not started (a Composer 3 placeholder whose
    #: VM is being created), or None once it has.
    still_starting: Callable[[k8s.V1Pod], StartupBlocker | None] = lambda pod: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def wait(self) -> k8s.V1Pod:
        """Return the pod once it is no longer Pending."""
        started = self.clock()
        scheduled_at: float | None = None
        events: Sequence[Any] = ()
        events_read_at = float("-inf")
        while True:
            pod = self.read_pod()
            now = self.clock()
            if pod.status is None or pod.status.phase != "Pending":
                blocker = self.still_starting(pod)
                if blocker is None:
                    return pod
                scheduled_at = now if scheduled_at is None else scheduled_at
            else:
                if scheduled_at is None and _is_scheduled(pod):
                    scheduled_at = now
                    log.info("Pod %s/%s scheduled on %s", self.namespace, self.pod_name, pod.spec.node_name)
                creating_long = scheduled_at is not None and now - scheduled_at >= CREATING_SUSPICIOUS_AFTER_SECONDS
                if (creating_long or _shows_problem(pod)) and now - events_read_at >= EVENTS_EVERY_SECONDS:
                    events, events_read_at = self.list_events(), now
                blocker = startup_blocker(pod, events, pending_seconds=now - started)
            if blocker is not None and blocker.fatal:
                raise PodStartupError(
                    self._message(f"cannot start: {blocker.describe()}", events), reason=blocker.reason
                )
            self._check_timeouts(pod, now, started, scheduled_at, blocker)
            self.sleep(self.check_interval_seconds)

    def _check_timeouts(self, pod, now, started, scheduled_at, blocker) -> None:
        if scheduled_at is None:
            limit, elapsed, what = self.schedule_timeout_seconds, now - started, "was not scheduled"
            parameter = "schedule_timeout_seconds"
        else:
            limit, elapsed, what = self.startup_timeout_seconds, now - scheduled_at, "did not start"
            parameter = "startup_timeout_seconds"
        if elapsed < limit:
            return
        last = blocker.describe() if blocker else _last_state(pod)
        raise PodStartupTimeout(
            self._message(f"{what} within {limit} s ({parameter}); last state: {last}", self.list_events()),
            reason=blocker.reason if blocker else "Timeout",
        )

    def _message(self, what: str, events: Sequence[Any]) -> str:
        text = f"Pod {self.namespace}/{self.pod_name} {what}"
        if events:
            text += "\nRecent events:\n" + format_events(events)
        return text


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
