"""Resumed log streams: deliver each container log line once, and say where lines were lost.

When a log stream breaks (API-server restart, network blip), upstream's PodManager reads the
container log again with ``since_seconds`` rounded up to whole seconds, so the kubelet replays up
to a second of lines already logged. The kubelet serves only the current log file, so when it
rotated the file (``containerLogMaxSize``) while the stream was down, the lines in the rotated file
are not replayed at all. :class:`LogReplay` sits between the kubelet's lines and upstream's
follower: it drops the replayed lines and reports the gap; upstream's loop runs unchanged.

Lines are compared by the kubelet's timestamp (``timestamps=True``), and lines with the same
timestamp by how many of them were already delivered, so the rule holds at any output rate.

Upstream resumes a broken stream only while the container still runs. When the container ends
while the stream is down (a kubelet restart), upstream stops there and the log's last lines are
never read: :func:`cut_short` says when that happened, from when the followed stream ended. And
upstream's reader reads a container's log only up to ``post_termination_timeout`` (120 s) after
the container ended: a deferred task resumed later than that (its worker busy or restarting)
logged nothing of its pod; :func:`post_termination_window` widens it to cover the delay. What
the kubelet rotated away before a first read (a deferred task reads the log only when it resumes;
a reattached one from the start) no one can read back; :func:`late_start` says when a log begins
so long after its container started that this may have happened, and :func:`empty_log` when the
kubelet serves nothing at all of a container that ran that long (rotated as it ended).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


class Instant(NamedTuple):
    """A point in time to the nanosecond, as the kubelet stamps log lines; ordered."""

    seconds: datetime.datetime  # whole seconds, UTC
    nanos: int


#: Seconds a resumed read reaches further back than upstream asks, so that the kubelet's window
#: surely covers the last line delivered (request latency, clock skew): a later first line is then
#: a real gap, and the extra lines are dropped as replays.
REPLAY_MARGIN_SECONDS = 5
#: Of that margin, what request latency and clock skew may eat before a gap is reported.
_LATENCY_ALLOWANCE_SECONDS = 2


def widen_resumed_read(
    since_seconds: int | None, now: datetime.datetime | None = None
) -> tuple[int | None, Instant | None]:
    """Return the ``since_seconds`` to request instead, and the window's start to judge gaps by.

    A read without ``since_seconds`` reads the log from its start: unchanged, and no window.
    """
    if not since_seconds:
        return since_seconds, None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(seconds=since_seconds + REPLAY_MARGIN_SECONDS - _LATENCY_ALLOWANCE_SECONDS)
    return since_seconds + REPLAY_MARGIN_SECONDS, Instant(start.replace(microsecond=0), start.microsecond * 1000)


def parse_instant(text: str) -> Instant | None:
    """Return the instant of an RFC 3339 timestamp as the kubelet writes it, or None if it is not one."""
    try:
        stamp, zone = (text[:-1], "+00:00") if text.endswith("Z") else (text[:-6], text[-6:])
        whole, _, fraction = stamp.partition(".")
        if not fraction.isdigit() and fraction:
            return None
        seconds = datetime.datetime.fromisoformat(whole + zone).astimezone(datetime.timezone.utc)
        return Instant(seconds, int((fraction + "000000000")[:9] or 0))
    except ValueError:
        return None


def line_instant(raw: bytes) -> Instant | None:
    """Return the timestamp a ``timestamps=True`` log line starts with, or None (a continuation)."""
    head = raw[:40].split(b" ", 1)[0]
    return parse_instant(head.decode("ascii", errors="replace")) if head else None


@dataclass(frozen=True)
class LogGap:
    """Lines between ``after`` (the last line delivered) and ``before`` (the first one replayed) are gone."""

    after: Instant
    before: Instant

    def message(self, pod: str, container: str) -> str:
        return (
            f"Log lines of container {container!r} in pod {pod} written between {_text(self.after)} and "
            f"{_text(self.before)} are missing from this log: the kubelet rotated the container's log file "
            "(containerLogMaxSize) while the log stream was broken, and it serves only the current file. "
            "The complete log is in Cloud Logging."
        )


def resume_gap(last: Instant | None, since: Instant | None, first: Instant | None) -> LogGap | None:
    """Return the gap in a resumed read, or None when it replays from the last delivered line on.

    ``last``: the last line delivered; ``since``: the start of the resumed read's window; ``first``:
    the first line it returned. A window that covers ``last`` must return it again; if its first line
    is later, ``last`` and whatever followed it in the rotated file are not served any more.
    """
    if last is None or since is None or first is None or since > last:
        return None
    return LogGap(after=last, before=first) if first > last else None


@dataclass(frozen=True)
class StreamEnd:
    """When a followed log stream ended (UTC, this machine's clock), and whether an error ended it."""

    at: datetime.datetime
    errored: bool


def cut_short(end: StreamEnd | None, finished_at: datetime.datetime | None) -> bool:
    """Return True if the followed stream ``end`` ended before its container did: its last lines were not read.

    The kubelet ends a followed stream once the container has ended; one that ended before the
    container's ``finished_at`` (the kubelet's clock, whole seconds) was cut, cleanly when the
    kubelet restarted, with an error when the connection broke.
    """
    if end is None:
        return False
    return end.errored or (finished_at is not None and end.at < finished_at)


def post_termination_window(asked: int, finished_at: datetime.datetime | None, now: datetime.datetime) -> int:
    """Return the ``post_termination_timeout`` for a log read at ``now`` of a container that ended at
    ``finished_at`` (None: still running), so that the read gets the ``asked`` seconds after now."""
    if finished_at is None:
        return asked
    return max(asked, math.ceil((now - finished_at).total_seconds()) + asked)


#: A log whose first line comes this many seconds after its container started may have lost lines.
LATE_START_SECONDS = 5


@dataclass(frozen=True)
class LateStart:
    """A log read from its start whose first line (``first``) came long after the container ``started``."""

    started: datetime.datetime
    first: Instant

    def message(self, pod: str, container: str) -> str:
        late = int((self.first.seconds - self.started).total_seconds())
        return (
            f"The log of container {container!r} in pod {pod} begins at {_text(self.first)}, {late} s after "
            f"the container started ({self.started:%Y-%m-%dT%H:%M:%S}Z): if it wrote anything before, the "
            "kubelet had rotated those lines away (containerLogMaxSize) before they were read, and the "
            "complete log is in Cloud Logging."
        )


def late_start(
    first: Instant | None, started_at: datetime.datetime | None, slack_seconds: int = LATE_START_SECONDS
) -> LateStart | None:
    """Return the late start of a log read from its start, or None if its first line came in time.

    ``started_at`` is the container's start (the kubelet's clock, whole seconds); None: unknown.
    """
    if first is None or started_at is None:
        return None
    started = started_at.astimezone(datetime.timezone.utc)
    return LateStart(started, first) if (first.seconds - started).total_seconds() > slack_seconds else None


@dataclass(frozen=True)
class EmptyLog:
    """A log read from its start that served no line of a container that ran from ``started`` to ``finished``."""

    started: datetime.datetime
    finished: datetime.datetime

    def message(self, pod: str, container: str) -> str:
        ran = int((self.finished - self.started).total_seconds())
        return (
            f"The kubelet served no log line of container {container!r} in pod {pod}, which ran {ran} s "
            f"({self.started:%Y-%m-%dT%H:%M:%S}Z to {self.finished:%H:%M:%S}Z): if it wrote anything, the "
            "kubelet had rotated those lines away (containerLogMaxSize) before they were read, and the "
            "complete log is in Cloud Logging."
        )


def empty_log(
    started_at: datetime.datetime | None,
    finished_at: datetime.datetime | None,
    slack_seconds: int = LATE_START_SECONDS,
) -> EmptyLog | None:
    """Return the notice for a read from the start that served no line, or None if there is nothing to say.

    A container that ended within ``slack_seconds`` of its start (or whose run is unknown) may well
    have written nothing; one that ran longer may have had its whole log rotated away as it ended
    (the kubelet rotates a file it still sees as written to, and serves only the new, empty one).
    """
    if started_at is None or finished_at is None:
        return None
    started, finished = (t.astimezone(datetime.timezone.utc) for t in (started_at, finished_at))
    return EmptyLog(started, finished) if (finished - started).total_seconds() > slack_seconds else None


#: Seconds after a container's end before its log is surely whole: the runtime copies the last lines
#: to the log file after it reports the exit, and ``finishedAt`` has whole seconds.
LOG_SETTLE_SECONDS = 2.0


def log_settle_wait(finished_at: datetime.datetime | None, now: datetime.datetime) -> float:
    """Return the seconds to wait before reading a just-ended container's last lines (0: read now)."""
    if finished_at is None:
        return 0.0
    since_end = (now - finished_at.astimezone(datetime.timezone.utc)).total_seconds()
    return max(0.0, min(LOG_SETTLE_SECONDS, LOG_SETTLE_SECONDS - since_end))


class LogReplay:
    """One container's log stream across reads: passes new lines, drops what a resumed read replays."""

    def __init__(
        self,
        on_gap: Callable[[LogGap], None],
        on_dropped: Callable[[int], None],
        on_rotated_away: Callable[[LateStart | EmptyLog], None] = lambda notice: None,
    ) -> None:
        self.last: Instant | None = None
        self.delivered_at_last = 0  # lines delivered with the timestamp ``last``
        #: How the last followed read ended; None before one ended.
        self.stream_end: StreamEnd | None = None
        self._on_gap = on_gap
        self._on_dropped = on_dropped
        self._on_rotated_away = on_rotated_away

    def last_time(self) -> datetime.datetime | None:
        """Return when the last line delivered was written (to the microsecond), or None before one."""
        if self.last is None:
            return None
        return self.last.seconds + datetime.timedelta(microseconds=self.last.nanos // 1000)

    def read(
        self,
        lines: Iterable[bytes],
        since: Instant | None,
        *,
        follow: bool = False,
        started_at: datetime.datetime | None = None,
        finished_at: datetime.datetime | None = None,
    ) -> Iterator[bytes]:
        """Yield the lines of one read; ``since`` is None for a read from the start of the log.

        A ``follow`` read's end is kept in :attr:`stream_end` (not when its reader stopped early).
        ``started_at``, ``finished_at``: the run of a container that ended before a read from the
        start, to judge what the kubelet no longer served (:func:`late_start`, :func:`empty_log`).
        """
        if since is None:
            self.last, self.delivered_at_last = None, 0
        last, replayed_at_last, dropped = self.last, 0, 0
        first, dropping, errored = True, False, False
        try:
            for raw in lines:
                instant = line_instant(raw)
                if instant is None:  # a continuation goes with its line
                    if dropping:
                        dropped += 1
                    else:
                        yield raw
                    continue
                if first:
                    first = False
                    gap = resume_gap(last, since, instant)
                    if gap is not None:
                        self._on_gap(gap)
                    late = late_start(instant, started_at) if since is None else None
                    if late is not None:
                        self._on_rotated_away(late)
                if last is not None and (
                    instant < last or (instant == last and replayed_at_last < self.delivered_at_last)
                ):
                    replayed_at_last += instant == last
                    dropped, dropping = dropped + 1, True
                    continue
                dropping = False
                if instant == self.last:
                    self.delivered_at_last += 1
                else:
                    self.last, self.delivered_at_last = instant, 1
                yield raw
            empty = empty_log(started_at, finished_at) if first and since is None else None
            if empty is not None:
                self._on_rotated_away(empty)
        except GeneratorExit:
            follow = False  # the reader stopped, not the stream
            raise
        except Exception:
            errored = True
            raise
        finally:
            if follow:
                self.stream_end = StreamEnd(datetime.datetime.now(datetime.timezone.utc), errored)
            if dropped:
                self._on_dropped(dropped)


def _text(instant: Instant) -> str:
    return f"{instant[0]:%Y-%m-%dT%H:%M:%S}.{instant[1]:09d}Z"
