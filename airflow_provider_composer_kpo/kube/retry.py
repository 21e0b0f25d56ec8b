"""One retry policy for transient Kubernetes API failures.

A GKE control-plane upgrade shows up as "connection refused" for a minute or so; 429 and 5xx
answers come and go. These are retried with jittered exponential backoff (honouring
``Retry-After`` on 429) for at most :data:`RETRY_DEADLINE_SECONDS`; anything else is raised at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as Urllib3HTTPError

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_DEADLINE_SECONDS = 120.0
BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 15.0


def is_transient(error: BaseException) -> bool:
    """Return True for failures worth retrying: no connection, a 429/5xx answer, or a log the
    node does not serve yet."""
    if isinstance(error, ApiException):
        # status 0: the client never got an answer (it wraps some connection errors this way)
        return error.status in TRANSIENT_STATUSES or not error.status or log_not_served_yet(error)
    return isinstance(error, (Urllib3HTTPError, ConnectionError, TimeoutError))


def log_not_served_yet(error: ApiException) -> bool:
    """Return True for the 404 of a pod's log (not of the pod) that a just-restarted kubelet answers
    until it has synced its pods; a deleted pod's 404 names the pod (``details.kind`` ``pods``)."""
    if error.status != 404:
        return False
    try:
        details = json.loads(error.body or "{}").get("details") or {}
    except (TypeError, ValueError, AttributeError):
        return False
    return isinstance(details, dict) and details.get("kind") == "pods/log"


def retry_after_seconds(error: BaseException) -> float | None:
    """Return the server's Retry-After in seconds, if it sent one."""
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def backoff_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Return the delay before retry ``attempt`` (1-based): full jitter under an exponential cap."""
    cap: float = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** (attempt - 1))  # int ** int is Any to mypy
    return rng() * cap


def retry_delay(
    error: Exception, *, description: str, attempt: int, elapsed: float, deadline_seconds: float
) -> float | None:
    """Return the seconds to wait before retry ``attempt`` (1-based) after ``error``, or None to give up."""
    if not is_transient(error):
        return None
    delay = retry_after_seconds(error) or backoff_delay(attempt)
    if elapsed + delay > deadline_seconds:
        return None
    log.warning(
        "Kubernetes API call %s failed transiently (%s); retry %d in %.1f s",
        description,
        error_gist(error),
        attempt,
        delay,
    )
    return delay


class FailureStreak:
    """The transient failures in a row of one long-lived call (a watch): how long to wait before the next attempt."""

    def __init__(self, *, deadline_seconds: float, clock: Callable[[], float]) -> None:
        self._deadline, self._clock = deadline_seconds, clock
        self._since: float | None = None
        self._attempt = 0

    def recovered(self) -> None:
        """The call answered: the next failure starts a new streak."""
        self._since, self._attempt = None, 0

    def delay(self, error: Exception, description: str) -> float | None:
        """Return the seconds to wait before the next attempt after ``error``, or None to give up."""
        now = self._clock()
        self._since = now if self._since is None else self._since
        self._attempt += 1
        return retry_delay(
            error,
            description=description,
            attempt=self._attempt,
            elapsed=now - self._since,
            deadline_seconds=self._deadline,
        )


def call_with_retry(
    call: Callable[[], T],
    *,
    description: str,
    deadline_seconds: float = RETRY_DEADLINE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Return ``call()``, retrying transient failures until ``deadline_seconds`` have passed."""
    started = clock()
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            attempt += 1
            elapsed = clock() - started
            delay = retry_delay(
                error, description=description, attempt=attempt, elapsed=elapsed, deadline_seconds=deadline_seconds
            )
            if delay is None:
                raise
            sleep(delay)


async def call_with_retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    description: str,
    deadline_seconds: float = RETRY_DEADLINE_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """:func:`call_with_retry` for a coroutine: the same policy, waiting without blocking the event loop."""
    started = clock()
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as error:
            attempt += 1
            elapsed = clock() - started
            delay = retry_delay(
                error, description=description, attempt=attempt, elapsed=elapsed, deadline_seconds=deadline_seconds
            )
            if delay is None:
                raise
            await sleep(delay)


def error_gist(error: BaseException) -> str:
    """Return an API error as a log line wants it: ``403 Forbidden``, or the exception's type and text."""
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return f"{type(error).__name__}: {str(error)[:200]}"
