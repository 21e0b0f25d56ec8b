"""PodStream: the pod's states from the watch API, resumed without losing one, polling without watch RBAC."""

from __future__ import annotations

import threading

import pytest
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ProtocolError

from airflow_provider_composer_kpo.exceptions import PodStartupError
from airflow_provider_composer_kpo.kube.pod_stream import PodStream
from airflow_provider_composer_kpo.lifecycle.running import PodDisruptedError, await_pod_state, streamed_pod
from airflow_provider_composer_kpo.lifecycle.startup import StartupWatch


def pod(version: str, phase: str = "Pending") -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace="ns", resource_version=version),
        status=k8s.V1PodStatus(phase=phase),
    )


class FakeApi:
    """Scripted watch requests: each entry is a list of events, or an exception raised at its end."""

    def __init__(self, watches, reads=()):
        self.watches = list(watches)
        self.reads = list(reads)
        self.watched_from: list[str] = []
        self.read_count = 0
        self.done = threading.Event()

    def watch_pod(self, version, seconds):
        self.watched_from.append(version)
        if not self.watches:
            self.done.set()
            threading.Event().wait(5)  # a quiet watch
            return
        script = self.watches.pop(0)
        for item in script:
            if isinstance(item, BaseException):
                raise item
            yield item

    def read_pod(self):
        self.read_count += 1
        item = self.reads.pop(0) if self.reads else pod(str(100 + self.read_count), "Running")
        if isinstance(item, BaseException):
            raise item
        return item


def stream_for(api: FakeApi, version: str | None = "1", **kwargs) -> PodStream:
    kwargs.setdefault("sleep", lambda seconds: None)
    return PodStream(
        pod_name="p",
        namespace="ns",
        read_pod=api.read_pod,
        watch_pod=api.watch_pod,
        resource_version=version,
        first=pod(version or "0"),
        **kwargs,
    ).start()


def states(stream: PodStream, count: int) -> list[str]:
    seen = []
    while len(seen) < count:
        state = stream.next(5)
        assert state is not None, f"no state after {seen}"
        seen.append(
            f"{state.pod.metadata.resource_version}:{state.pod.status.phase}{' deleted' if state.deleted else ''}"
        )
    return seen


def test_states_arrive_in_order_and_a_watch_that_ends_resumes_from_the_last_version(monkeypatch):
    monkeypatch.setattr("airflow_provider_composer_kpo.kube.pod_stream.MIN_WATCH_INTERVAL_SECONDS", 0)
    api = FakeApi([[("MODIFIED", pod("2"))], [("MODIFIED", pod("3", "Running")), ("MODIFIED", pod("4", "Succeeded"))]])
    stream = stream_for(api)
    api.done.wait(5)
    state = stream.next(5)  # 2, 3 and 4 queued meanwhile: the newest is handed out
    assert state.pod.status.phase == "Succeeded"
    assert api.watched_from == ["1", "2", "4"]
    assert api.read_count == 0  # no reads while watching
    stream.stop()


def test_a_broken_watch_resumes_from_the_last_version_after_the_retry_delay(monkeypatch):
    monkeypatch.setattr("airflow_provider_composer_kpo.kube.pod_stream.MIN_WATCH_INTERVAL_SECONDS", 0)
    delays = []
    api = FakeApi([[("MODIFIED", pod("2")), ProtocolError("Connection broken")], [("MODIFIED", pod("3", "Running"))]])
    stream = stream_for(api, sleep=delays.append)
    api.done.wait(5)
    assert states(stream, 1) == ["3:Running"]
    assert api.watched_from == ["1", "2", "3"]
    assert len(delays) == 1
    stream.stop()


def test_a_version_too_old_410_restarts_from_a_fresh_read(monkeypatch):
    monkeypatch.setattr("airflow_provider_composer_kpo.kube.pod_stream.MIN_WATCH_INTERVAL_SECONDS", 0)
    api = FakeApi([[ApiException(status=410, reason="Gone")]], reads=[pod("50", "Running")])
    stream = stream_for(api)
    api.done.wait(5)
    assert states(stream, 1) == ["50:Running"]
    assert api.watched_from == ["1", "50"]
    stream.stop()


def test_deletion_ends_the_stream_with_the_last_state():
    api = FakeApi([[("MODIFIED", pod("2", "Running")), ("DELETED", pod("3", "Succeeded"))]])
    stream = stream_for(api)
    assert states(stream, 1)[0] in ("2:Running", "3:Succeeded deleted")
    state = stream.current()
    assert state.deleted and state.pod.status.phase == "Succeeded"
    assert stream.next(0.2) is None  # nothing after a deletion


def test_without_watch_rbac_it_polls_and_says_so_once(caplog):
    api = FakeApi([[ApiException(status=403, reason="Forbidden")]])
    with caplog.at_level("WARNING"):
        stream = stream_for(api, poll_seconds=0.01)
        assert [s.split(":")[1] for s in states(stream, 3)] == ["Running"] * 3
    stream.stop()
    assert api.read_count >= 3
    assert [r.getMessage() for r in caplog.records].count(
        "Cannot watch pod ns/p (403: RBAC allows no 'watch' on pods); reading it every 0 s instead, which notices "
        "a start or an end later and costs more requests."
    ) == 1


def test_an_error_that_is_not_transient_reaches_the_task_and_stays():
    api = FakeApi([[ApiException(status=401, reason="Unauthorized")]])
    stream = stream_for(api)
    with pytest.raises(ApiException) as first:
        stream.next(5)
    with pytest.raises(ApiException) as again:
        stream.next(0)
    assert first.value.status == again.value.status == 401


def startup_watch(api: FakeApi, stream: PodStream) -> StartupWatch:
    return StartupWatch(
        pod_name="p",
        namespace="ns",
        read_pod=api.read_pod,
        list_events=lambda: [],
        schedule_timeout_seconds=60,
        startup_timeout_seconds=60,
        check_interval_seconds=0.05,
        stream=stream,
        first=pod("1"),
    )


def test_startup_follows_the_stream_from_the_created_pod():
    api = FakeApi([[("MODIFIED", pod("2")), ("MODIFIED", pod("3", "Running"))]])
    stream = stream_for(api)
    watch = startup_watch(api, stream)
    assert watch.wait().metadata.resource_version == "3"
    assert api.read_count == 0
    stream.stop()


def test_startup_names_a_pod_deleted_before_it_started():
    api = FakeApi([[("DELETED", pod("2"))]])
    stream = stream_for(api)
    watch = startup_watch(api, stream)
    with pytest.raises(PodStartupError, match="ns/p was deleted before it started") as err:
        watch.wait()
    assert err.value.reason == "Deleted"


def test_await_pod_state_returns_the_first_state_that_is_done():
    api = FakeApi([[("MODIFIED", pod("2", "Running")), ("MODIFIED", pod("3", "Succeeded"))]])
    stream = stream_for(api)
    ended = await_pod_state(stream, lambda now: now.status.phase == "Succeeded")
    assert ended.metadata.resource_version == "3"
    stream.stop()


def test_await_pod_state_fails_naming_a_deletion_before_the_end():
    api = FakeApi([[("MODIFIED", pod("2", "Running")), ("DELETED", pod("3", "Running"))]])
    stream = stream_for(api)
    with pytest.raises(PodDisruptedError, match="ns/p was deleted from outside the task"):
        await_pod_state(stream, lambda now: now.status.phase == "Succeeded")
    assert streamed_pod(stream) is None  # what RunningWatch judges: a 404


def test_the_streams_reads_are_not_swapped_to_websocket_by_an_exec_on_the_tasks_thread(mocker):
    # kubernetes.stream points the ApiClient's request at a websocket while an exec (the XCom read)
    # runs; the stream's thread reading through that same ApiClient then got a WSClient back.
    import json

    from kubernetes.client import ApiClient, CoreV1Api
    from kubernetes.client.rest import RESTClientObject, RESTResponse
    from kubernetes.stream import stream as kubernetes_stream
    from urllib3.response import HTTPResponse

    answer = json.dumps({"metadata": {"name": "p", "namespace": "ns", "resourceVersion": "7"}}).encode()
    mocker.patch.object(
        RESTClientObject,
        "request",
        side_effect=lambda *a, **k: RESTResponse(
            HTTPResponse(body=answer, status=200, headers={"content-type": "application/json"}, preload_content=True)
        ),
    )
    client = CoreV1Api(api_client=ApiClient())
    client.api_client.default_headers["X-Marker"] = "kept"
    stream = PodStream.for_pod(client, pod("1"))
    read_during_exec: list = []

    class Exec:  # a bound method whose __self__ carries the task's ApiClient, as connect_get_* does
        api_client = client.api_client

        def run(self, *args, **kwargs):
            read_during_exec.append(stream._read_pod())
            return ""

    kubernetes_stream(Exec().run, "p", "ns")
    assert read_during_exec[0].metadata.resource_version == "7"
    headers = RESTClientObject.request.call_args.kwargs["headers"]
    assert headers["X-Marker"] == "kept"
