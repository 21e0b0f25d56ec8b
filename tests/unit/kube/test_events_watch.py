"""kube/events_watch.py: one list and watch of a namespace's pod events, read by pod from memory."""

from __future__ import annotations

import asyncio
import threading

from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.kube import events_watch, list_watch
from airflow_provider_composer_kpo.kube.events_watch import EventsWatch


def event(pod: str, uid: str, reason: str, count: int = 1) -> k8s.CoreV1Event:
    return k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name=f"{pod}.{uid}", uid=uid, resource_version=uid),
        involved_object=k8s.V1ObjectReference(kind="Pod", name=pod),
        reason=reason,
        count=count,
    )


def reasons(events) -> list[tuple[str, int]]:
    return [(e.reason, e.count) for e in events]


def test_a_pods_events_come_from_the_list_then_the_watch(monkeypatch):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    go = threading.Event()

    def watch_events(version, seconds):
        assert version == "5"
        go.wait(5)
        yield ("ADDED", event("p", "6", "FailedMount"), "6")
        yield ("MODIFIED", event("p", "1", "FailedScheduling", count=3), "7")  # seen again: to the end
        yield ("DELETED", event("q", "2", "Scheduled"), "8")  # its time to live ended
        threading.Event().wait(2)

    listed = [event("p", "1", "FailedScheduling"), event("q", "2", "Scheduled"), event("p", "3", "Pulling")]
    watch = EventsWatch(namespace="team", list_objects=lambda: (listed, "5"), watch_objects=watch_events)

    async def run():
        assert watch.events_of("p") is None  # not listed yet: the caller lists
        follower = watch.follow("p")
        assert await follower.changed(timeout=5)
        assert reasons(watch.events_of("p")) == [("FailedScheduling", 1), ("Pulling", 1)]
        assert reasons(watch.events_of("q")) == [("Scheduled", 1)]  # every pod's, followed or not
        go.set()
        for _ in range(50):
            if len(watch.events_of("p")) == 3 and watch.events_of("q") == []:
                break
            await asyncio.sleep(0.1)
        assert reasons(watch.events_of("p")) == [("Pulling", 1), ("FailedMount", 1), ("FailedScheduling", 3)]
        assert watch.events_of("q") == [] and watch.events_of("never") == []
        follower.close()
        watch.stop()

    asyncio.run(run())


def test_at_most_the_latest_events_per_pod_are_kept(monkeypatch):
    monkeypatch.setattr(events_watch, "EVENTS_PER_POD", 3)
    watch = EventsWatch(namespace="team", list_objects=lambda: ([], "1"), watch_objects=lambda v, s: iter(()))
    with watch._lock:
        watch._replace([event("p", str(i), f"R{i}") for i in range(5)])
        watch._in_sync = True
    assert [e.reason for e in watch.events_of("p")] == ["R2", "R3", "R4"]


def test_one_events_watch_per_cluster_and_namespace_apart_from_the_pods_watch():
    from airflow_provider_composer_kpo.kube.pods_watch import shared_watch

    first = events_watch.shared_events_watch(("conn",), "team-events", client=None)
    assert events_watch.shared_events_watch(("conn",), "team-events", client=None) is first
    assert shared_watch(("conn",), "team-events", client=None) is not first
