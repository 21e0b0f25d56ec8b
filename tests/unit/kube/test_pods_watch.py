"""kube/pods_watch.py: one list and watch of a namespace's pods, shared by the followers of many pods."""

from __future__ import annotations

import asyncio
import threading

from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo.kube import list_watch, pods_watch
from airflow_provider_composer_kpo.kube.pods_watch import PodsWatch


def pod(name: str, phase: str, version: str) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, namespace="team", resource_version=version),
        status=k8s.V1PodStatus(phase=phase),
    )


class Script:
    """The API server as a script: each list answers the next listing, each watch request the next batch."""

    def __init__(self, listings, batches) -> None:
        self.listings, self.batches = list(listings), list(batches)
        self.watched_from: list[str] = []
        self.done = threading.Event()

    def list_pods(self):
        answer = self.listings.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def watch_pods(self, version, seconds):
        self.watched_from.append(version)
        if not self.batches:
            self.done.set()
            threading.Event().wait(2)  # the server holds the watch open
            return
        batch = self.batches.pop(0)
        if isinstance(batch, BaseException):
            raise batch
        yield from batch

    def watch(self, **kwargs) -> PodsWatch:
        return PodsWatch(
            namespace="team", list_objects=self.list_pods, watch_objects=self.watch_pods, sleep=lambda s: None, **kwargs
        )


def follow(watch: PodsWatch, name: str, until=lambda state: False):
    """Follow ``name``, reading its state at each wake-up, until ``until(state)`` or 5 s without one."""

    async def run():
        follower = watch.follow(name)
        seen = []
        try:
            while await follower.changed(timeout=5):
                seen.append(watch.state_of(name))
                if until(seen[-1]):
                    break
            return seen
        finally:
            follower.close()
            watch.stop()

    return asyncio.run(run())


def phase(state):
    return None if state is None or state.pod is None else state.pod.status.phase


def test_the_list_then_each_change_of_the_followed_pod_reaches_its_follower(monkeypatch):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    script = Script(
        [([pod("a", "Pending", "10"), pod("b", "Running", "11")], "12")],
        [[("MODIFIED", pod("b", "Succeeded", "13"), "13"), ("MODIFIED", pod("a", "Running", "14"), "14")]],
    )
    watch = script.watch()
    seen_b = []
    states = follow(
        watch, "a", until=lambda state: phase(state) == "Running" and seen_b.append(watch.state_of("b")) is None
    )
    assert phase(states[0]) in ("Pending", "Running") and phase(states[-1]) == "Running"
    assert seen_b[-1] is None  # b ended while nobody followed it: the watch keeps no state of it
    assert script.watched_from[0] == "12"  # one list, then the watch from its version
    assert watch.requests >= 2


def test_a_deleted_pod_is_reported_deleted_not_unknown(monkeypatch):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    script = Script([([pod("a", "Running", "10")], "10")], [[("DELETED", pod("a", "Running", "11"), "11")]])
    states = follow(script.watch(), "a", until=lambda state: state is not None and state.deleted)
    assert states[-1].deleted and states[-1].pod is None


def test_410_lists_afresh_and_a_pod_gone_meanwhile_counts_as_deleted(monkeypatch):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    script = Script(
        [([pod("a", "Running", "10")], "10"), ([], "30")],
        [ApiException(status=410, reason="Gone")],
    )
    watch = script.watch()
    # Deleted, and (before the follower stops the watch) watched again from the new list's version.
    states = follow(watch, "a", until=lambda state: state is not None and state.deleted and script.done.wait(5))
    assert states[-1].deleted  # the list after the 410 no longer has it
    assert script.watched_from[:2] == ["10", "30"]
    assert watch.gone == 1


def test_a_bookmark_moves_the_resume_point_without_a_change(monkeypatch):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    script = Script([([pod("a", "Running", "10")], "10")], [[("BOOKMARK", None, "55")], []])
    watch = script.watch()

    async def run():
        follower = watch.follow("a")
        await asyncio.get_running_loop().run_in_executor(None, script.done.wait, 5)  # every batch served
        follower.close()
        watch.stop()

    asyncio.run(run())
    assert script.watched_from[:2] == ["10", "55"]


def test_a_pod_the_watch_has_not_seen_is_read_by_its_follower(monkeypatch):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    script = Script([([pod("a", "Running", "10")], "10")], [])
    watch = script.watch()
    follow(watch, "a", until=lambda state: phase(state) == "Running")
    assert watch.state_of("created-after-the-list") is None


def test_without_rbac_for_watch_the_followers_read_and_it_is_said_once(monkeypatch, caplog):
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    script = Script([([pod("a", "Running", "10")], "10")], [ApiException(status=403, reason="Forbidden")])
    watch = script.watch()
    follow(watch, "a", until=lambda state: watch.unavailable is not None)
    assert watch.unavailable == "403 Forbidden"
    assert watch.state_of("a") is None
    assert caplog.text.count("Cannot list and watch pods in team (403 Forbidden)") == 1


def test_one_watch_per_cluster_and_namespace():
    first = pods_watch.shared_watch(("conn", None), "team-shared", client=None)
    assert pods_watch.shared_watch(("conn", None), "team-shared", client=None) is first
    assert pods_watch.shared_watch(("other", None), "team-shared", client=None) is not first


def test_a_follower_joining_an_open_watch_finds_a_live_pod_and_reads_only_an_ended_one(monkeypatch):
    """Triggers join a watch that is open already, moments after their tasks created the pods: the
    watch keeps every live pod, so they make no request; an ended pod nobody followed is not kept."""
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    later = threading.Event()

    class Late(Script):
        def watch_pods(self, version, seconds):
            self.watched_from.append(version)
            yield ("ADDED", pod("new", "Pending", "13"), "13")  # created after the list, nobody follows it yet
            yield ("MODIFIED", pod("gone", "Succeeded", "14"), "14")  # ended unfollowed: no longer kept
            later.wait(5)  # the joined pods' changes come once they are followed
            yield ("MODIFIED", pod("late", "Succeeded", "20"), "20")
            threading.Event().wait(2)

    listed = [
        pod("a", "Running", "10"),
        pod("late", "Running", "11"),
        pod("done", "Succeeded", "9"),
        pod("gone", "Running", "8"),
    ]
    script = Late([(listed, "12")], [])
    watch = script.watch()

    async def run():
        first = watch.follow("a")
        await first.changed(timeout=5)  # listed: in sync
        for _ in range(50):  # the watch's first events (no follower to wake)
            if watch.state_of("new") is not None and watch.state_of("gone") is None:
                break
            await asyncio.sleep(0.1)
        joined = watch.follow("late")
        assert phase(watch.state_of("late")) == "Running"  # kept since the list: no read
        assert phase(watch.state_of("new")) == "Pending"  # kept since its ADDED event
        assert watch.state_of("gone") is None  # ended while unfollowed: dropped
        ended = watch.follow("done")
        assert watch.state_of("done") is None  # listed ended: the follower reads it ...
        watch.remember(pod("done", "Succeeded", "9"))
        assert phase(watch.state_of("done")) == "Succeeded"  # ... and hands it over
        later.set()
        assert await joined.changed(timeout=5)
        assert phase(watch.state_of("late")) == "Succeeded"
        for follower in (joined, ended, first):
            follower.close()
        assert watch.state_of("late") is None and phase(watch.state_of("a")) == "Running"  # ended ones go
        watch.stop()

    asyncio.run(run())
