"""What a deferred pod's trigger tells the task when it resumes: plain-data events, and the error each means.

The trigger judges the pod with the same verdicts as the synchronous path (startup diagnosis,
disruption, execution timeout); an event carries the verdict's message, and :func:`deferred_failure`
turns it back into the exception the synchronous path raises, so both modes fail alike.

==================  =====================================  ==============================================
``status``          when                                   on resume
==================  =====================================  ==============================================
``ended``           the base container or the pod ended    the synchronous path's ending: logs, XCom,
                                                           outcome, failure message, pod deletion
``cannot_start``    a startup verdict or timeout            :class:`PodStartupError` / ``...Timeout``
``disrupted``       deleted, evicted, node lost             :class:`~.running.PodDisruptedError`
``timed_out``       ``execution_timeout`` reached           ``AirflowTaskTimeout``, pod deleted
``api_error``       the API failed past the retry policy    :class:`PodFailedError` naming the API error
==================  =====================================  ==============================================
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict

from ..compat import AirflowTaskTimeout
from ..exceptions import PodFailedError, PodStartupError, PodStartupTimeout
from .running import PodDisruptedError

ENDED = "ended"
CANNOT_START = "cannot_start"
DISRUPTED = "disrupted"
TIMED_OUT = "timed_out"
API_ERROR = "api_error"

Event = Dict[str, Any]  # typing's alias: this line runs on Python 3.8 too

#: Seconds past ``execution_timeout`` after which Airflow ends a deferral the trigger did not end itself.
DEFER_TIMEOUT_MARGIN_SECONDS = 60


def execution_deadline(timeout: timedelta | None, task_start: datetime | None, now: float) -> float | None:
    """Return when ``execution_timeout`` runs out, in seconds since the epoch, or None without one.

    Counted from the task's start, as Airflow counts it (``now`` when the start is not known).
    """
    if timeout is None:
        return None
    start = task_start.timestamp() if task_start is not None else now
    return start + timeout.total_seconds()


def deferral_timeout(deadline: float | None, now: float) -> timedelta | None:
    """Return the deferral's timeout: past the deadline by a margin, so the trigger's own verdict comes first."""
    if deadline is None:
        return None
    return timedelta(seconds=max(0.0, deadline - now) + DEFER_TIMEOUT_MARGIN_SECONDS)


def pod_event(
    status: str, *, name: str, namespace: str, message: str = "", reason: str | None = None, timeout: bool = False
) -> Event:
    """Return the event a trigger sends for the pod ``namespace/name`` (JSON-safe)."""
    return {
        "status": status,
        "name": name,
        "namespace": namespace,
        "message": message,
        "reason": reason,
        "timeout": timeout,
    }


def left_to_trigger(deferred_pod: str | None) -> str | None:
    """Return why ``on_kill`` leaves the pod alone, or None when it deletes it as upstream does.

    ``deferred_pod``: the pod (``namespace/name``) this task process handed to its trigger, None if it
    did not defer. A process that deferred may still be stopped with SIGTERM while it exits (Airflow
    3's ``task_success_overtime``, a worker shutting down); its pod is the trigger's and the resumed
    task's by then, and deleting it would fail a task whose work goes on, or lose its log.
    """
    if deferred_pod is None:
        return None
    return (
        f"Task process stopped after it deferred: pod {deferred_pod} is left to its trigger and to the "
        "resumed task, which end it."
    )


def deferred_failure(event: Event) -> BaseException | None:
    """Return the error the resumed task raises for ``event``, or None when the pod ended and the task goes on."""
    status, message = event.get("status"), str(event.get("message") or "")
    if status == ENDED:
        return None
    if status == CANNOT_START:
        error_type = PodStartupTimeout if event.get("timeout") else PodStartupError
        return error_type(message, reason=event.get("reason") or "Unknown")
    if status == DISRUPTED:
        return PodDisruptedError(message)
    if status == TIMED_OUT:
        return AirflowTaskTimeout(message)
    if status == API_ERROR:
        return PodFailedError(message)
    return PodFailedError(f"The pod's trigger sent an event this version does not know: {event!r}")
