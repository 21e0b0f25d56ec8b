"""Why a pod did not start, or why it failed: pure verdicts from the pod and its events.

Startup verdicts (:func:`startup_blocker`), first match wins:

==============================================  =========  ===============================================
what the pod shows                              verdict    why
==============================================  =========  ===============================================
container waiting ``CreateContainerConfigError``  fatal      a Secret/ConfigMap/key is missing; no retry fixes it
container waiting ``InvalidImageName``,          fatal      the image reference itself is wrong
``ErrImageNeverPull``
event ``FailedMount``: Secret/ConfigMap        fatal      a volume's Secret, ConfigMap or key is missing; the
(or its key) not found                                    pod would stay ContainerCreating forever
``ErrImagePull``/``ImagePullBackOff`` saying      fatal      the registry answered: the image or access is missing
not found / manifest unknown / denied /
unauthorized
other pull errors (timeouts, DNS, 5xx)          wait       may be a network hiccup; reported at the timeout
Unschedulable + autoscaler ``NotTriggerScaleUp``  fatal      GKE's autoscaler says no node it can add would fit
Unschedulable on node affinity/selector or      fatal      only a new node can fix it, and no scale-up was
taints, no ``TriggeredScaleUp`` within           after      triggered in that time (no autoscaler, or pool at
:data:`UNSCHEDULABLE_GRACE_SECONDS`             grace      its maximum)
Unschedulable for lack of CPU/memory            wait       running pods may finish and free the room
==============================================  =========  ===============================================

Nothing here calls the API; callers pass the pod and its events in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes.client import models as k8s

#: How long an Unschedulable pod may wait for the cluster autoscaler to act before we give up.
UNSCHEDULABLE_GRACE_SECONDS = 30

FATAL_WAITING_REASONS = frozenset({"CreateContainerConfigError", "InvalidImageName", "ErrImageNeverPull"})
PULL_WAITING_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
_PERMANENT_PULL_ERROR = re.compile(
    r"not found|manifest unknown|does not exist|pull access denied|unauthorized|denied|forbidden|"
    r"invalid reference format",
    re.IGNORECASE,
)
# Kubelet volume errors that only creating the missing object fixes.
_MISSING_VOLUME_SOURCE = re.compile(r"(secret|configmap) \"[^\"]+\" not found|couldn't find key", re.IGNORECASE)
# Scheduler messages that only a different node can fix.
_NODE_CONSTRAINT = re.compile(
    r"didn't match Pod's node affinity|didn't match node selector|untolerated taint|had taint", re.IGNORECASE
)
MAX_EVENTS_IN_MESSAGE = 5


@dataclass(frozen=True)
class StartupBlocker:
    """A reason the pod cannot start; ``fatal`` means waiting longer will not help."""

    reason: str
    message: str
    container: str | None = None
    fatal: bool = True

    def describe(self) -> str:
        where = f" (container {self.container!r})" if self.container else ""
        return f"{self.reason}: {self.message}{where}"


def startup_blocker(pod: k8s.V1Pod, events: Sequence[Any], *, pending_seconds: float) -> StartupBlocker | None:
    """Return what keeps a Pending pod from starting, or None if nothing is wrong (yet).

    :param events: the pod's events (``CoreV1Event``), any order.
    :param pending_seconds: how long the pod has been Pending, for the Unschedulable grace.
    """
    blockers = list(_container_blockers(pod))
    if blockers:
        return next((b for b in blockers if b.fatal), blockers[0])
    return _volume_blocker(events) or _scheduling_blocker(pod, events, pending_seconds)


def _volume_blocker(events: Sequence[Any]) -> StartupBlocker | None:
    for event in events:
        if getattr(event, "reason", None) == "FailedMount" and _MISSING_VOLUME_SOURCE.search(event.message or ""):
            return StartupBlocker("FailedMount", event.message.strip())
    return None


def _container_blockers(pod: k8s.V1Pod):
    status = pod.status
    statuses = [*(status.init_container_statuses or []), *(status.container_statuses or [])] if status else []
    for container_status in statuses:
        waiting = container_status.state.waiting if container_status.state else None
        if waiting is None or not waiting.reason:
            continue
        message = waiting.message or ""
        if waiting.reason in FATAL_WAITING_REASONS:
            yield StartupBlocker(waiting.reason, message, container_status.name)
        elif waiting.reason in PULL_WAITING_REASONS:
            yield StartupBlocker(
                waiting.reason, message, container_status.name, fatal=bool(_PERMANENT_PULL_ERROR.search(message))
            )


def _scheduling_blocker(pod: k8s.V1Pod, events: Sequence[Any], pending_seconds: float) -> StartupBlocker | None:
    condition = next((c for c in (pod.status.conditions or []) if c.type == "PodScheduled") if pod.status else (), None)
    if condition is None or condition.status != "False" or condition.reason != "Unschedulable":
        return None
    message = condition.message or ""
    reasons = {getattr(e, "reason", None) for e in events}
    if "NotTriggerScaleUp" in reasons:
        autoscaler = next(e.message for e in events if e.reason == "NotTriggerScaleUp")
        return StartupBlocker("Unschedulable", f"{message} The cluster autoscaler will not add a node: {autoscaler}")
    if "TriggeredScaleUp" in reasons:
        return StartupBlocker("Unschedulable", f"{message} (a scale-up was triggered)", fatal=False)
    if _NODE_CONSTRAINT.search(message) and pending_seconds >= UNSCHEDULABLE_GRACE_SECONDS:
        return StartupBlocker(
            "Unschedulable",
            f"{message} No node matches and no scale-up was triggered within {UNSCHEDULABLE_GRACE_SECONDS} s.",
        )
    return StartupBlocker("Unschedulable", message, fatal=False)


def format_events(events: Sequence[Any], limit: int = MAX_EVENTS_IN_MESSAGE) -> str:
    """Return the newest events, one per line, oldest first."""

    def when(event: Any) -> str:
        stamp = event.last_timestamp or getattr(event, "event_time", None) or event.first_timestamp
        return stamp.isoformat() if stamp else ""

    newest = sorted(events, key=when)[-limit:]
    return "\n".join(
        f"  {e.type or ''} {e.reason or ''}: {(e.message or '').strip()}"
        + (f" (x{e.count})" if (e.count or 1) > 1 else "")
        for e in newest
    )


def container_failure(pod: k8s.V1Pod | None, container: str) -> str | None:
    """Return one sentence on how ``container`` ended badly, or None if it did not."""
    if pod is None or pod.status is None:
        return None
    status = next((s for s in pod.status.container_statuses or [] if s.name == container), None)
    terminated = status.state.terminated if status and status.state else None
    if terminated is not None and terminated.exit_code == 0:
        return None
    # Evicted, DeadlineExceeded: the pod was ended from outside; the container's exit code (137
    # after an eviction) is the consequence, the pod's reason the cause.
    if pod.status.reason:
        return f"pod {pod.status.reason}: {(pod.status.message or '').strip().rstrip('.')}".rstrip(": ")
    if terminated is None:
        return None
    if terminated.reason == "OOMKilled":
        limit = _memory_limit(pod, container)
        limit_text = f" of {limit}" if limit else ""
        return (
            f"container {container!r} was killed for exceeding its memory limit{limit_text} "
            f"(OOMKilled, exit code {terminated.exit_code})"
        )
    detail = f"; {terminated.message.strip()}" if terminated.message else ""
    return f"container {container!r} exited with code {terminated.exit_code} ({terminated.reason or 'Error'}){detail}"


def stopped_while_running(pod: k8s.V1Pod | None, *, pod_kept: bool) -> str:
    """Return why a task whose ``on_kill`` ran is a failure, whatever its pod's state says.

    Upstream's cleanup returns early after ``on_kill`` (cncf-kubernetes 8+), so a SIGTERM'd task
    would otherwise end as a success (apache/airflow#71202).
    """
    name = f"{pod.metadata.namespace}/{pod.metadata.name}" if pod is not None and pod.metadata else "(none yet)"
    fate = "kept (on_kill_action)" if pod_kept else "deleted"
    return (
        f"The task was stopped while pod {name} was running (SIGTERM from a worker shutting down, "
        f"execution_timeout, or marked failed); the pod was {fate} and its work did not finish."
    )


def pod_outcome(pod: k8s.V1Pod, container: str) -> str:
    """Return one line on how the pod ended: phase and the main container's exit code."""
    status = next((s for s in pod.status.container_statuses or [] if s.name == container), None)
    terminated = status.state.terminated if status and status.state else None
    ending = f"exit code {terminated.exit_code}" if terminated else "did not run"
    name = f"{pod.metadata.namespace}/{pod.metadata.name}"
    return f"pod {name} ended in phase {pod.status.phase}, container {container!r} {ending}"


def _memory_limit(pod: k8s.V1Pod, container: str) -> str | None:
    for spec in pod.spec.containers if pod.spec else []:
        if spec.name == container and spec.resources and spec.resources.limits:
            return spec.resources.limits.get("memory")
    return None


def workload_ended(pod: k8s.V1Pod, container: str) -> bool:
    """Return True once the pod ended, or its ``container`` did (sidecars such as XCom's may still run)."""
    if pod.status is None:
        return False
    if pod.status.phase in ("Succeeded", "Failed"):
        return True
    status = next((s for s in pod.status.container_statuses or [] if s.name == container), None)
    return bool(status and status.state and status.state.terminated)
