"""Startup and schedule timeouts: our defaults and the bounds we accept.

Upstream's 120 s startup timeout is tuned for small images on warm nodes. On Composer a pod may
wait for the autoscaler to add a node (Composer 2) or for a VM to boot (Composer 3), then pull a
multi-gigabyte image; both take minutes. Ten minutes covers that with room to spare, and pods that
can never start are caught within seconds by the startup diagnosis, so a long timeout does not
mean a long wait for a hopeless pod.
"""

from __future__ import annotations

DEFAULT_STARTUP_TIMEOUT_SECONDS = 600
DEFAULT_SCHEDULE_TIMEOUT_SECONDS = 600

#: Below this, an image pull on a fresh GKE node alone would time out.
MIN_TIMEOUT_SECONDS = 30
#: Above this a pod that cannot start holds a worker slot for hours; use a sensor or deferral.
MAX_TIMEOUT_SECONDS = 3 * 60 * 60


def timeout_problem(parameter: str, value: object) -> str | None:
    """Return what is wrong with a timeout value, and the fix; None when it is a whole number within bounds."""
    # bool is an int subclass; True would silently mean one second.
    if isinstance(value, bool) or not isinstance(value, int):
        return (
            f"{parameter}={value!r} is not a whole number of seconds; "
            f"pass an int, e.g. {parameter}={DEFAULT_STARTUP_TIMEOUT_SECONDS}."
        )
    if not MIN_TIMEOUT_SECONDS <= value <= MAX_TIMEOUT_SECONDS:
        return (
            f"{parameter}={value} is outside {MIN_TIMEOUT_SECONDS}..{MAX_TIMEOUT_SECONDS} s; "
            f"use a value in that range (default {DEFAULT_STARTUP_TIMEOUT_SECONDS})."
        )
    return None


def timeouts_problem(startup_timeout_seconds: object, schedule_timeout_seconds: object) -> str | None:
    """Return what is wrong with the first bad timeout (and the fix); None when both are usable.

    ``schedule_timeout_seconds`` may be None: it then follows the startup timeout.
    """
    problem = timeout_problem("startup_timeout_seconds", startup_timeout_seconds)
    if problem is None and schedule_timeout_seconds is not None:
        problem = timeout_problem("schedule_timeout_seconds", schedule_timeout_seconds)
    return problem


def resolve_schedule_timeout(startup_timeout_seconds: int, schedule_timeout_seconds: int | None) -> int:
    """Return the schedule timeout: the startup timeout when not given. Both as :func:`timeouts_problem` accepts."""
    return startup_timeout_seconds if schedule_timeout_seconds is None else schedule_timeout_seconds
