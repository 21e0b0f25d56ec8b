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
pull error: unknown registry host, refused or   fatal      kubelet retries with back-off; a blip passes within a
timed-out connection, TLS failure               after      few retries, a registry the nodes cannot reach (private
                                                 30 s       IP without NAT) never answers
pull error: 429, 5xx, anything else              fatal      the registry answered and may recover: a longer grace
                                                 after
                                                 180 s
Unschedulable + autoscaler ``NotTriggerScaleUp``  fatal      GKE's autoscaler says no node it can add would fit
Unschedulable on node affinity/selector or      fatal      only a new node can fix it, and no scale-up was
taints, no ``TriggeredScaleUp`` within           after      triggered in that time (no autoscaler, or pool at
:data:`UNSCHEDULABLE_GRACE_SECONDS`             grace      its maximum)
Unschedulable for lack of CPU/memory            wait       running pods may finish and free the room
==============================================  =========  ===============================================

Nothing here calls the API; callers pass the pod and its events in, and for pull errors how long
each container has been failing to pull (the graces run from the first failure seen).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from kubernetes.client import models as k8s

from ..verdicts import StartupBlocker

#: How long an Unschedulable pod may wait for the cluster autoscaler to act before we give up.
UNSCHEDULABLE_GRACE_SECONDS = 30

FATAL_WAITING_REASONS = frozenset({"CreateContainerConfigError", "InvalidImageName", "ErrImageNeverPull"})
PULL_WAITING_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
_PERMANENT_PULL_ERROR = re.compile(
    r"not found|manifest unknown|does not exist|pull access denied|unauthorized|denied|forbidden|"
    r"invalid reference format",
    re.IGNORECASE,
)
#: How long a pull error may last before the pod is judged unable to start, by what it says
#: (:func:`pull_error_grace`). Kubelet retries a failed pull after 10, 20, 40 ... s.
PULL_UNREACHABLE_GRACE_SECONDS = 30
PULL_THROTTLED_GRACE_SECONDS = 180
# The nodes cannot reach the registry: name resolution, connection, TLS.
_UNREACHABLE_PULL_ERROR = re.compile(
    r"no such host|server misbehaving|connection refused|i/o timeout|network is unreachable|no route to host|"
    r"connection reset|dial tcp|tls:|x509:|certificate|handshake|context deadline exceeded",
    re.IGNORECASE,
)
# The registry answered but would not serve now (rate limit, overload, outage).
_THROTTLED_PULL_ERROR = re.compile(
    r"\b429\b|too ?many ?requests|\b50[0-4]\b|internal server error|bad gateway|service unavailable|gateway timeout",
    re.IGNORECASE,
)
_PULL_BACKOFF_ONLY = re.compile(r'^Back-off pulling image "[^"]*"\.?$')
# Kubelet volume errors that only creating the missing object fixes.
_MISSING_VOLUME_SOURCE = re.compile(r"(secret|configmap) \"[^\"]+\" not found|couldn't find key", re.IGNORECASE)
# Scheduler messages that only a different node can fix.
_NODE_CONSTRAINT = re.compile(
    r"didn't match Pod's node affinity|didn't match node selector|untolerated taint|had taint", re.IGNORECASE
)
MAX_EVENTS_IN_MESSAGE = 5
# The kubelet's Secret/ConfigMap cache had not synced yet (a busy node, an API server blip): not a
# verdict on the object; the kubelet's next attempt says whether it exists.
_CACHE_NOT_SYNCED = re.compile(r"failed to sync (secret|configmap) cache", re.IGNORECASE)


def startup_blocker(
    pod: k8s.V1Pod,
    events: Sequence[Any],
    *,
    pending_seconds: float,
    pull_failing_seconds: Mapping[str, float] | None = None,
) -> StartupBlocker | None:
    """Return what keeps a Pending pod from starting, or None if nothing is wrong (yet).

    :param events: the pod's events (``CoreV1Event``), any order.
    :param pending_seconds: how long the pod has been Pending, for the Unschedulable grace.
    :param pull_failing_seconds: per container, how long it has been failing to pull its image.
    """
    blockers = list(_container_blockers(pod, events, pull_failing_seconds or {}))
    if blockers:
        return next((b for b in blockers if b.fatal), blockers[0])
    return _volume_blocker(events) or _scheduling_blocker(pod, events, pending_seconds)


def _volume_blocker(events: Sequence[Any]) -> StartupBlocker | None:
    for event in events:
        if getattr(event, "reason", None) == "FailedMount" and _MISSING_VOLUME_SOURCE.search(event.message or ""):
            return StartupBlocker("FailedMount", event.message.strip())
    return None


def pull_error_grace(message: str) -> int:
    """Seconds a pull error saying ``message`` may last before the pod is judged unable to start.

    0 when the registry answered that the image or access is missing; a short grace when the
    registry cannot be reached; a longer one when it answered "not now" or we cannot tell.
    """
    if _PERMANENT_PULL_ERROR.search(message):
        return 0
    if _THROTTLED_PULL_ERROR.search(message):
        return PULL_THROTTLED_GRACE_SECONDS
    if _UNREACHABLE_PULL_ERROR.search(message):
        return PULL_UNREACHABLE_GRACE_SECONDS
    return PULL_THROTTLED_GRACE_SECONDS


def pull_error_kind(grace: int) -> str:
    """What a pull grace is for, in words (messages and the task log)."""
    if grace == PULL_UNREACHABLE_GRACE_SECONDS:
        return "a registry the nodes cannot reach (DNS, connection, TLS)"
    return "a registry error (429, 5xx, or not recognised)"


def pull_error_message(waiting: k8s.V1ContainerStateWaiting, events: Sequence[Any], container: str) -> str:
    """The registry's own error for ``container``: ``ImagePullBackOff`` may say only "Back-off pulling
    image", while the kubelet's ``Failed`` event keeps what the registry answered."""
    message = (waiting.message or "").strip()
    if message and not _PULL_BACKOFF_ONLY.match(message):
        return message
    failed = [
        e
        for e in events
        if getattr(e, "reason", None) == "Failed"
        and "pull" in (e.message or "").lower()
        and container in (getattr(getattr(e, "involved_object", None), "field_path", None) or "")
    ]
    return max(failed, key=_event_time).message.strip() if failed else message


def _container_blockers(
    pod: k8s.V1Pod, events: Sequence[Any], pull_failing_seconds: Mapping[str, float]
) -> Iterator[StartupBlocker]:
    status = pod.status
    statuses = [*(status.init_container_statuses or []), *(status.container_statuses or [])] if status else []
    for container_status in statuses:
        waiting = container_status.state.waiting if container_status.state else None
        if waiting is None or not waiting.reason:
            continue
        message = waiting.message or ""
        if waiting.reason in FATAL_WAITING_REASONS:
            yield StartupBlocker(
                waiting.reason, message, container_status.name, fatal=not _CACHE_NOT_SYNCED.search(message)
            )
        elif waiting.reason in PULL_WAITING_REASONS:
            message = pull_error_message(waiting, events, container_status.name)
            grace = pull_error_grace(message)
            failing = pull_failing_seconds.get(container_status.name, 0.0)
            if grace and failing >= grace:
                kind = pull_error_kind(grace)
                message += f" (still failing after {failing:.0f} s; the pull grace for {kind} is {grace} s)"
            yield StartupBlocker(waiting.reason, message, container_status.name, fatal=failing >= grace)


def _scheduling_blocker(pod: k8s.V1Pod, events: Sequence[Any], pending_seconds: float) -> StartupBlocker | None:
    condition = next(
        (c for c in (pod.status.conditions or []) if c.type == "PodScheduled") if pod.status else iter(()), None
    )
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

    newest = sorted(events, key=_event_time)[-limit:]
    return "\n".join(
        f"  {e.type or ''} {e.reason or ''}: {(e.message or '').strip()}"
        + (f" (x{e.count})" if (e.count or 1) > 1 else "")
        for e in newest
    )


def _event_time(event: Any) -> str:
    stamp = event.last_timestamp or getattr(event, "event_time", None) or event.first_timestamp
    return stamp.isoformat() if stamp else ""


def container_failure(pod: k8s.V1Pod | None, container: str) -> str | None:
    """Return one sentence on how ``container`` ended badly, or None if it did not."""
    if pod is None or pod.status is None:
        return None
    terminated = terminated_state(pod, container)
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


#: Answers to a pod creation that mean the API server made no pod, and would not if asked again:
#: a malformed or invalid spec (400, 422), no permission or an exhausted quota (403), no such
#: namespace (404). Retries (429, 5xx) and 409 (the pod exists) are not refusals.
REFUSED_CREATION_STATUSES = frozenset({400, 403, 404, 422})


def creation_refusal(status: int | None, body: Any, *, namespace: str, name: str) -> tuple[str, str] | None:
    """Return (reason, message) for a pod the API server refused to create, or None for another answer.

    ``body`` is the answer's text, a Kubernetes ``Status`` as JSON: its ``message`` is the server's
    own account (``spec.containers[0].image: Required value``), its ``reason`` one word (``Invalid``).
    """
    if status not in REFUSED_CREATION_STATUSES:
        return None
    reason, detail = _status_of(body)
    reason = reason or {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 422: "Invalid"}[status]
    return reason, (
        f"Kubernetes refused to create pod {namespace}/{name} ({status} {reason}): {detail or 'no reason given'}. "
        "No pod was created."
    )


def _status_of(body: Any) -> tuple[str, str]:
    """(reason, message) of a Kubernetes Status answer; the text itself when it is not one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        status = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        status = None
    if isinstance(status, dict):
        return str(status.get("reason") or ""), str(status.get("message") or "").strip().rstrip(".")
    return "", str(body or "").strip()[:500]


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
    terminated = terminated_state(pod, container)
    ending = f"exit code {terminated.exit_code}" if terminated else "did not run"
    name = f"{pod.metadata.namespace}/{pod.metadata.name}"
    return f"pod {name} ended in phase {pod.status.phase}, container {container!r} {ending}"


def _memory_limit(pod: k8s.V1Pod, container: str) -> str | None:
    for spec in pod.spec.containers if pod.spec else []:
        if spec.name == container and spec.resources and spec.resources.limits:
            return cast("str | None", spec.resources.limits.get("memory"))
    return None


def workload_ended(pod: k8s.V1Pod, container: str) -> bool:
    """Return True once the pod ended, or its ``container`` did (sidecars such as XCom's may still run)."""
    if pod.status is None:
        return False
    if pod.status.phase in ("Succeeded", "Failed"):
        return True
    return terminated_state(pod, container) is not None


def terminated_state(pod: k8s.V1Pod | None, container: str) -> k8s.V1ContainerStateTerminated | None:
    """Return how ``container`` ended, or None while it has not (or the pod is unknown)."""
    state = _container_state(pod, container)
    return state.terminated if state is not None else None


def _container_state(pod: k8s.V1Pod | None, container: str) -> k8s.V1ContainerState | None:
    statuses = pod.status.container_statuses if pod is not None and pod.status is not None else None
    status = next((s for s in statuses or [] if s.name == container), None)
    return status.state if status is not None else None
