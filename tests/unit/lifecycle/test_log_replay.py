from __future__ import annotations

import datetime

import pytest
from kubernetes.client import models as k8s
from urllib3.exceptions import ProtocolError

from airflow_provider_composer_kpo import ComposerPodOperator
from airflow_provider_composer_kpo.lifecycle.log_replay import (
    REPLAY_MARGIN_SECONDS,
    EmptyLog,
    Instant,
    LateStart,
    LogGap,
    LogReplay,
    StreamEnd,
    cut_short,
    empty_log,
    late_start,
    line_instant,
    parse_instant,
    post_termination_window,
    resume_gap,
    widen_resumed_read,
)

T0 = datetime.datetime(2026, 11, 27, 16, 0, 0, tzinfo=datetime.timezone.utc)


def at(second: int, nanos: int = 0) -> tuple[datetime.datetime, int]:
    return T0 + datetime.timedelta(seconds=second), nanos


def line(second: int, text: str, nanos: int = 0) -> bytes:
    return f"{T0 + datetime.timedelta(seconds=second):%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z {text}\n".encode()


def replay() -> tuple[LogReplay, list[LogGap], list[int]]:
    gaps: list[LogGap] = []
    dropped: list[int] = []
    return LogReplay(on_gap=gaps.append, on_dropped=dropped.append), gaps, dropped


def test_timestamps_parse_as_the_kubelet_writes_them():
    assert parse_instant("2026-11-27T16:00:01.000000042Z") == at(1, 42)
    assert parse_instant("2026-11-27T17:00:01.5+01:00") == at(1, 500_000_000)
    assert parse_instant("tick") is None
    assert line_instant(b"not a timestamp at all") is None
    assert line_instant(line(3, "x", 7)) == at(3, 7)


def test_a_resumed_read_leaves_out_what_was_logged_and_keeps_what_is_new():
    stream, gaps, dropped = replay()
    first = list(stream.read([line(1, "a"), line(2, "b"), line(3, "c")], since=None))
    resumed = list(stream.read([line(2, "b"), line(3, "c"), line(4, "d")], since=at(1)))
    assert first + resumed == [line(1, "a"), line(2, "b"), line(3, "c"), line(4, "d")]
    assert (gaps, dropped) == ([], [2])


def test_lines_with_the_same_timestamp_are_counted_not_merged():
    stream, _, dropped = replay()
    list(stream.read([line(1, "a"), line(2, "b1"), line(2, "b2")], since=None))
    resumed = list(stream.read([line(2, "b1"), line(2, "b2"), line(2, "b3"), line(3, "c")], since=at(0)))
    assert resumed == [line(2, "b3"), line(3, "c")]
    assert dropped == [2]


def test_a_continuation_goes_with_its_line():
    stream, _, _ = replay()
    list(stream.read([line(1, "a"), b"  a continued\n"], since=None))
    resumed = list(stream.read([line(1, "a"), b"  a continued\n", line(2, "b"), b"  b continued\n"], since=at(0)))
    assert resumed == [line(2, "b"), b"  b continued\n"]


def test_a_read_from_the_start_is_passed_whole():
    stream, gaps, dropped = replay()
    list(stream.read([line(1, "a"), line(2, "b")], since=None))
    assert list(stream.read([line(1, "a"), line(2, "b")], since=None)) == [line(1, "a"), line(2, "b")]
    assert (gaps, dropped) == ([], [])


def test_a_resumed_read_that_no_longer_has_the_last_line_reports_the_gap():
    stream, gaps, _ = replay()
    list(stream.read([line(1, "a"), line(2, "b")], since=None))
    assert list(stream.read([line(9, "j")], since=at(1))) == [line(9, "j")]
    assert gaps == [LogGap(after=at(2), before=at(9))]
    message = gaps[0].message("ns/p", "base")
    assert "between 2026-11-27T16:00:02.000000000Z and 2026-11-27T16:00:09.000000000Z" in message
    assert "containerLogMaxSize" in message and "Cloud Logging" in message


def test_no_gap_when_the_window_starts_after_the_last_line_or_nothing_came():
    assert resume_gap(at(2), since=at(3), first=at(9)) is None  # upstream skipped ahead on purpose
    assert resume_gap(at(2), since=at(1), first=None) is None
    assert resume_gap(None, since=at(1), first=at(9)) is None
    assert resume_gap(at(2), since=at(1), first=at(2)) is None


def test_a_resumed_read_reaches_back_by_the_margin():
    now = T0 + datetime.timedelta(seconds=100)
    seconds, since = widen_resumed_read(3, now=now)
    assert seconds == 3 + REPLAY_MARGIN_SECONDS
    assert at(97 - REPLAY_MARGIN_SECONDS) < since <= at(97)
    assert widen_resumed_read(None) == (None, None)


# The wiring, through upstream's own log follower (whatever the installed provider version).


def running_pod() -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p-1", namespace="ns"),
        status=k8s.V1PodStatus(phase="Running"),
    )


def broken_then_resumed(reads: list[dict]):
    """A read_pod_logs that breaks after the first read's lines, then replays with the second."""
    streams = [
        [line(1, "one"), line(2, "two"), line(3, "three")],
        [line(2, "two"), line(3, "three"), line(4, "four"), line(5, "five")],
    ]

    def read_pod_logs(pod, container_name, *args, **kwargs):
        reads.append(kwargs)
        lines = streams[len(reads) - 1]

        def generate():
            yield from lines
            if len(reads) == 1:
                raise ProtocolError("Connection broken: the API server restarted")

        return generate()

    return read_pod_logs


def follow_with_upstream(mocker, read_pod_logs, running: list[bool], finished_at: datetime.datetime):
    """Run upstream's own ``fetch_container_logs`` (whatever the installed provider version) on the
    operator's PodManager, with ``read_pod_logs`` as the kubelet's reads, ``running`` as upstream's
    successive container checks and a container that ended at ``finished_at``.

    Return the messages logged at INFO (the pod's lines among them) and the warnings.
    """
    op = ComposerPodOperator(task_id="t", image="busybox", cmds=["echo"])
    manager_class = type(op.pod_manager)
    # Airflow 3 logs through structlog, which caplog does not see; watch both loggers.
    logs = [
        mocker.patch.object(cls, "log", new_callable=mocker.PropertyMock).return_value
        for cls in (manager_class, type(op))
    ]
    # Patched on the class, as Google's Composer 3 patches are: ours wraps whatever is there.
    mocker.patch.object(manager_class, "read_pod_logs", side_effect=read_pod_logs, autospec=False)
    del op.pod_manager
    checks = iter(running)
    mocker.patch.object(manager_class, "container_is_running", side_effect=lambda *a, **k: next(checks))
    client = mocker.MagicMock()
    client.read_namespaced_pod.return_value = ended_pod(finished_at)
    mocker.patch.object(type(op), "client", new_callable=mocker.PropertyMock, return_value=client)
    mocker.patch("time.sleep")
    op.pod_manager.fetch_container_logs(pod=running_pod(), container_name="base", follow=True)
    calls = [(c.args[0], c.args[1:]) for log in logs for c in log.info.call_args_list]
    calls += [(c.args[1], c.args[2:]) for log in logs for c in log.log.call_args_list]  # log(level, msg)
    warned = [str(c.args[0]) % c.args[1:] for log in logs for c in log.warning.call_args_list]
    return [str(message) % args for message, args in calls], warned


@pytest.mark.usefixtures("local_kubeconfig")
def test_upstreams_follower_logs_every_line_once_across_a_broken_stream(mocker):
    reads: list[dict] = []
    # The container ended before the resumed stream did: nothing to read on after it.
    logged, _ = follow_with_upstream(
        mocker, broken_then_resumed(reads), [True, False], datetime.datetime.now(datetime.timezone.utc)
    )
    for word in ("one", "two", "three", "four", "five"):
        assert sum(m.endswith(word) for m in logged) == 1, (word, logged)
    assert reads[0].get("since_seconds") is None
    assert reads[1]["since_seconds"] >= REPLAY_MARGIN_SECONDS
    assert any("left out 2 line(s) already logged" in m for m in logged)


# A stream cut before its container ended (a kubelet restart): read on to the end.

NOW = datetime.datetime(2026, 12, 4, 17, 5, 4, 100000, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("end", "finished_at", "expected"),
    [
        (None, NOW, False),  # no followed stream ended
        (StreamEnd(NOW, errored=False), None, False),  # the container's end unknown: nothing to go by
        (StreamEnd(NOW, errored=False), NOW.replace(microsecond=0), False),  # ended in the same second
        (StreamEnd(NOW, errored=False), NOW.replace(microsecond=0) + datetime.timedelta(seconds=5), True),
        (StreamEnd(NOW, errored=False), NOW - datetime.timedelta(seconds=5), False),  # ended after it: whole
        (StreamEnd(NOW, errored=True), NOW - datetime.timedelta(seconds=5), True),  # an error cut it
        (StreamEnd(NOW, errored=True), None, True),
    ],
)
def test_cut_short(end, finished_at, expected):
    assert cut_short(end, finished_at) is expected


def test_a_followed_read_keeps_how_it_ended():
    log, _, _ = replay()
    assert list(log.read([line(1, "one")], None, follow=True)) == [line(1, "one")]
    assert log.stream_end is not None and not log.stream_end.errored

    def broken():
        yield line(2, "two")
        raise ProtocolError("Connection broken")

    with pytest.raises(ProtocolError):
        list(log.read(broken(), None, follow=True))
    assert log.stream_end.errored

    log, _, _ = replay()
    reader = log.read(iter([line(1, "one"), line(2, "two")]), None, follow=True)
    next(reader)
    reader.close()  # the reader stopped: says nothing about the stream
    list(log.read([line(3, "three")], None))  # not followed
    assert log.stream_end is None


def ended_pod(finished_at: datetime.datetime) -> k8s.V1Pod:
    terminated = k8s.V1ContainerStateTerminated(exit_code=0, finished_at=finished_at)
    status = k8s.V1ContainerStatus(
        name="base",
        image="busybox",
        image_id="",
        ready=False,
        restart_count=0,
        state=k8s.V1ContainerState(terminated=terminated),
    )
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p-1", namespace="ns"),
        status=k8s.V1PodStatus(phase="Succeeded", container_statuses=[status]),
    )


@pytest.mark.usefixtures("local_kubeconfig")
@pytest.mark.parametrize(("finished_in_seconds", "read_on"), [(30, True), (-30, False)])
def test_upstreams_follower_reads_on_when_the_container_ended_while_the_stream_was_cut(
    mocker, finished_in_seconds, read_on
):
    """The kubelet restarts: the followed stream ends cleanly, the container ends meanwhile, and
    upstream, finding it ended, stops; the lines written after the cut are read all the same."""
    reads: list[dict] = []
    whole = [line(1, "one"), line(2, "two"), line(3, "three"), line(4, "four")]

    def read_pod_logs(pod, container_name, *args, **kwargs):
        reads.append(kwargs)
        return iter(whole[:2] if len(reads) == 1 else whole)

    now = datetime.datetime.now(datetime.timezone.utc)
    logged, warned = follow_with_upstream(
        mocker, read_pod_logs, [False, False], now + datetime.timedelta(seconds=finished_in_seconds)
    )
    if read_on:
        for word in ("one", "two", "three", "four"):
            assert sum(m.endswith(word) for m in logged) == 1, (word, logged)
        assert [r.get("follow") for r in reads] == [True, False]
        assert reads[1]["since_seconds"] >= REPLAY_MARGIN_SECONDS  # from the last line logged on
        assert any("broke before the container ended" in w for w in warned)
    else:  # the stream ended after the container: it was whole, no second read
        assert len(reads) == 1 and not warned
        assert not any(m.endswith("three") for m in logged)


@pytest.mark.parametrize(
    ("asked", "finished_ago", "expected"),
    [(120, None, 120), (120, 10.0, 130), (120, 170.2, 291), (300, 0.0, 300)],
)
def test_post_termination_window(asked, finished_ago, expected):
    finished_at = None if finished_ago is None else NOW - datetime.timedelta(seconds=finished_ago)
    assert post_termination_window(asked, finished_at, NOW) == expected


@pytest.mark.parametrize(
    ("first_second", "late"),
    [(None, False), (0, False), (5, False), (6, True), (600, True)],  # T0 + seconds; started at T0
)
def test_late_start(first_second, late):
    first = None if first_second is None else at(first_second)
    found = late_start(Instant(*first) if first else None, T0)
    assert (found is not None) is late
    if late:
        assert f"{first_second} s after the container started" in found.message("ns/p", "base")
    assert late_start(Instant(*at(600)), None) is None  # the start unknown: nothing to go by


def test_only_a_read_from_the_start_is_judged_late():
    late: list[LateStart] = []
    log = LogReplay(on_gap=lambda gap: None, on_dropped=lambda n: None, on_rotated_away=late.append)
    assert list(log.read([line(60, "done")], None, started_at=T0)) == [line(60, "done")]
    assert [entry.first for entry in late] == [Instant(*at(60))]
    late.clear()
    list(log.read([line(60, "done"), line(61, "more")], Instant(*at(55)), started_at=T0))  # a resumed read
    list(log.read([line(1, "early")], None, started_at=T0))  # in time
    assert late == []


@pytest.mark.parametrize(
    ("ran_seconds", "notice"),
    [(None, False), (0, False), (5, False), (6, True), (600, True)],  # started at T0, ended T0 + seconds
)
def test_empty_log(ran_seconds, notice):
    finished = None if ran_seconds is None else T0 + datetime.timedelta(seconds=ran_seconds)
    found = empty_log(T0, finished)
    assert (found is not None) is notice
    if notice:
        text = found.message("ns/p", "base")
        assert f"container 'base' in pod ns/p, which ran {ran_seconds} s" in text
        assert "the kubelet had rotated those lines away" in text  # the words the soak's judge knows
    assert empty_log(None, T0 + datetime.timedelta(seconds=60)) is None  # the start unknown


def test_a_read_from_the_start_that_serves_nothing_of_a_long_run_says_so():
    """The kubelet rotates a file it still sees written to just as the container ends: the file it
    serves then is new and empty, and the whole log is in the rotated one."""
    notices: list[LateStart | EmptyLog] = []
    log = LogReplay(on_gap=lambda gap: None, on_dropped=lambda n: None, on_rotated_away=notices.append)
    ended = T0 + datetime.timedelta(seconds=10)
    assert list(log.read([], None, started_at=T0, finished_at=ended)) == []
    assert notices == [EmptyLog(T0, ended)]
    notices.clear()
    list(log.read([line(1, "written")], None, started_at=T0, finished_at=ended))  # served: nothing to say
    list(log.read([], None, started_at=T0, finished_at=T0 + datetime.timedelta(seconds=2)))  # a short run
    list(log.read([], None))  # the container still runs (or its run is unknown)
    list(log.read([], Instant(*at(5)), started_at=T0, finished_at=ended))  # a resumed read: nothing new
    assert notices == []


@pytest.mark.parametrize(
    ("ended_ago", "wait"),
    [(None, 0.0), (0.0, 2.0), (0.5, 1.5), (1.9, 0.1), (2.0, 0.0), (300.0, 0.0), (-1.0, 2.0)],
)
def test_a_just_ended_container_s_last_lines_are_read_after_they_settle(ended_ago, wait):
    import datetime as dt

    from airflow_provider_composer_kpo.lifecycle.log_replay import log_settle_wait

    now = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.timezone.utc)
    finished = None if ended_ago is None else now - dt.timedelta(seconds=ended_ago)
    assert log_settle_wait(finished, now) == pytest.approx(wait)
