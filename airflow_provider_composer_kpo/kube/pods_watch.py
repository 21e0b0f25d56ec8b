"""The pods of one namespace as the API server reports them: one watch shared by every follower in a process.

A triggerer runs the triggers of many deferred tasks in one process; each reading its own pod every
few seconds costs the API server a request per trigger per interval, growing with the number of
deferred tasks. A :class:`PodsWatch` lists the namespace's pod-operator pods once (label
``kubernetes_pod_operator=True``, which stock KPO's and ours carry) and then watches them from that
``resourceVersion``, with bookmarks, in one helper thread; each follower waits for its own pod's
changes (:meth:`Follower.changed`) and reads its state from memory (:meth:`PodsWatch.state_of`).
The watch keeps the followed pods and the pods that have not ended (a namespace may hold thousands
of ended pods kept by ``on_finish_action``, but only as many live ones as the cluster runs), so a
follower that joins an open watch, usually moments after its task created the pod, finds it there
without a request of its own. One that does not (its pod ended before it joined, or the pod's
ADDED event is still on the way) reads it once and hands it over (:meth:`PodsWatch.remember`); the
watch's events keep it current from then on.

A watch that ends (the server's timeout) or breaks (API-server restart, network) resumes from the
last version seen, bookmarks included, so no change in between is lost; a version the server no
longer has (410 Gone) lists afresh. While the watch is not in sync (before the first list, after a
drop) :meth:`PodsWatch.state_of` answers None and the follower reads its pod itself, as it would
without a watch; a pod the watch has not seen (created after the list, its ADDED event still on the
way) is read the same way. Where RBAC allows no ``list``/``watch`` on pods (403), or the API server
refuses the watch, :attr:`PodsWatch.unavailable` says why, once, and every follower reads.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Tuple

from kubernetes.client import CoreV1Api
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch

from .pod_stream import MIN_WATCH_INTERVAL_SECONDS, PodState
from .retry import RETRY_DEADLINE_SECONDS, FailureStreak

log = logging.getLogger(__name__)

#: The label the pod operators put on every pod they create: the watch sees no other pod.
OPERATOR_POD_SELECTOR = "kubernetes_pod_operator=True"
#: Seconds one watch request lasts before the server ends it and the watch resumes (with bookmarks,
#: at no cost); also bounds how long a silently stalled connection could hold stale states.
WATCH_SECONDS = 60
#: Seconds a watch nobody follows any more stays open, for the next trigger of the same namespace.
IDLE_SECONDS = 60.0

#: One watch event: its type (ADDED, MODIFIED, DELETED, BOOKMARK), the pod (None for a bookmark)
#: and the ``resourceVersion`` to resume from.
WatchEvent = Tuple[str, "k8s.V1Pod | None", str]  # typing's alias: this line runs on Python 3.8 too
#: Phases after which a pod nobody follows is not kept.
_ENDED_PHASES = frozenset({"Succeeded", "Failed"})


def _live(pod: k8s.V1Pod) -> bool:
    """Return True for a pod that has not ended: one a follower may join (see the module)."""
    return pod.status is None or pod.status.phase not in _ENDED_PHASES


class Follower:
    """One pod's follower: woken on the event loop it was made on whenever the watch reports its pod."""

    def __init__(self, watch: PodsWatch, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.watch, self.name = watch, name
        self._loop = loop
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Wake the follower (from the watch's thread)."""
        try:
            self._loop.call_soon_threadsafe(self._changed.set)
        except RuntimeError:  # its event loop has closed: a follower that ended without close()
            self.close()

    async def changed(self, timeout: float) -> bool:
        """Return True once the pod changed (or the watch lost sync) since the last call, False after ``timeout`` s."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max(timeout, 0))
        except asyncio.TimeoutError:
            return False
        self._changed.clear()
        return True

    def close(self) -> None:
        self.watch.unfollow(self)


class PodsWatch:
    """Follow the pod-operator pods of one namespace through one list and watch.

    :param list_pods: Return the namespace's pods and the list's ``resourceVersion``.
    :param watch_pods: Yield watch events from a ``resourceVersion`` for at most the given seconds;
        raise :class:`ApiException` 410 when that version is too old.
    """

    def __init__(
        self,
        *,
        namespace: str,
        list_pods: Callable[[], tuple[list[k8s.V1Pod], str]],
        watch_pods: Callable[[str, int], Iterable[WatchEvent]],
        watch_seconds: int = WATCH_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        retry_deadline_seconds: float = RETRY_DEADLINE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = namespace
        self._list_pods, self._watch_pods = list_pods, watch_pods
        self._watch_seconds, self._idle_seconds = watch_seconds, idle_seconds
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._pods: dict[str, k8s.V1Pod] = {}
        self._deleted: set[str] = set()
        self._followers: dict[str, set[Follower]] = {}
        self._in_sync = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle_since: float | None = None
        self._failures = FailureStreak(deadline_seconds=retry_deadline_seconds, clock=clock)
        #: Why this process's followers read their pods instead (RBAC, a refused watch); None while it works.
        self.unavailable: str | None = None
        #: Lists and watch requests made, for the benchmark (benchmarks/deferred_scale.py).
        self.requests = 0

    # -- the followers' side (any thread, usually the triggerer's event loop)

    def follow(self, name: str) -> Follower:
        """Return a follower of pod ``name``, woken on the running event loop; starts the watch if it is not running."""
        follower = Follower(self, name, asyncio.get_running_loop())
        with self._lock:
            self._followers.setdefault(name, set()).add(follower)
            self._idle_since = None
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name=f"pods-watch-{self.namespace}", daemon=True)
                self._thread.start()
        return follower

    def unfollow(self, follower: Follower) -> None:
        with self._lock:
            followers = self._followers.get(follower.name, set())
            followers.discard(follower)
            if not followers:
                self._followers.pop(follower.name, None)
                self._deleted.discard(follower.name)
                pod = self._pods.get(follower.name)
                if pod is not None and not _live(pod):
                    del self._pods[follower.name]
            if not self._followers:
                self._idle_since = self._clock()

    def remember(self, pod: k8s.V1Pod) -> None:
        """Keep a followed pod as its follower read it, until the watch reports a change (it had no state)."""
        name = pod.metadata.name
        with self._lock:
            if name in self._followers and name not in self._pods and name not in self._deleted:
                self._pods[name] = pod

    def state_of(self, name: str) -> PodState | None:
        """Return the pod as the watch last saw it, or None when the caller must read it (see the module)."""
        with self._lock:
            if not self._in_sync or self.unavailable is not None:
                return None
            if name in self._deleted:
                return PodState(None, deleted=True)
            pod = self._pods.get(name)
            return PodState(pod) if pod is not None else None

    @property
    def in_sync(self) -> bool:
        """True while :meth:`state_of` answers from the watch (listed, not dropped, not unavailable)."""
        with self._lock:
            return self._in_sync and self.unavailable is None

    @property
    def following(self) -> int:
        with self._lock:
            return sum(len(f) for f in self._followers.values())

    def stop(self) -> None:
        self._stop.set()

    # -- the watch's thread

    def _run(self) -> None:
        version: str | None = None
        started = float("-inf")
        while not self._stop.is_set() and not self._idle_too_long():
            try:
                if version is None:
                    self.requests += 1
                    pods, version = self._list_pods()
                    self._replace(pods)
                    self._failures.recovered()
                if self._stop.wait(MIN_WATCH_INTERVAL_SECONDS - (self._clock() - started)):
                    break
                started = self._clock()
                self.requests += 1
                for kind, pod, event_version in self._watch_pods(version, self._watch_seconds):
                    self._failures.recovered()
                    version = event_version or version
                    if pod is not None:
                        self._apply(kind, pod)
                    if self._stop.is_set():
                        break
            except ApiException as error:
                if error.status == 410:  # too old to resume from: list afresh
                    version = None
                elif error.status in (401, 403, 405):
                    self._give_up(f"{error.status} {error.reason}")
                    return
                elif not self._retry_later(error):
                    return
            except Exception as error:
                if not self._retry_later(error):
                    return
        with self._lock:
            self._in_sync = False

    def _idle_too_long(self) -> bool:
        with self._lock:
            return self._idle_since is not None and self._clock() - self._idle_since > self._idle_seconds

    def _replace(self, pods: list[k8s.V1Pod]) -> None:
        """Take a fresh list: the live and the followed pods' states from it; a followed pod not in it was deleted."""
        listed = {pod.metadata.name: pod for pod in pods}
        with self._lock:
            self._pods = {name: pod for name, pod in listed.items() if _live(pod)}
            for name in self._followers:
                if name in listed:
                    self._pods[name] = listed[name]
                    self._deleted.discard(name)
                else:
                    self._pods.pop(name, None)
                    self._deleted.add(name)
            self._in_sync = True
            waiting = [f for followers in self._followers.values() for f in followers]
        for follower in waiting:
            follower.notify()

    def _apply(self, kind: str, pod: k8s.V1Pod) -> None:
        name = pod.metadata.name
        with self._lock:
            if name not in self._followers:  # kept while live only: a namespace may hold thousands of ended pods
                if kind != "DELETED" and _live(pod):
                    self._pods[name] = pod
                else:
                    self._pods.pop(name, None)
                return
            if kind == "DELETED":
                self._pods.pop(name, None)
                self._deleted.add(name)
            else:
                self._pods[name] = pod
                self._deleted.discard(name)
            waiting = list(self._followers[name])
        for follower in waiting:
            follower.notify()

    def _lose_sync(self) -> None:
        with self._lock:
            self._in_sync = False
            waiting = [f for followers in self._followers.values() for f in followers]
        for follower in waiting:  # they read their pods themselves until the watch is back
            follower.notify()

    def _give_up(self, why: str) -> None:
        log.warning(
            "Cannot list and watch pods in %s (%s); each deferred task's trigger reads its own pod instead, "
            "which costs the API server a request per task every few seconds.",
            self.namespace,
            why,
        )
        self.unavailable = why
        self._lose_sync()

    def _retry_later(self, error: Exception) -> bool:
        """Sleep before resuming after a transient failure; give up (followers read) on any other error."""
        self._lose_sync()
        delay = self._failures.delay(error, f"watch pods in {self.namespace}")
        if delay is None:
            self._give_up(f"{type(error).__name__}: {str(error)[:200]}")
            return False
        self._sleep(delay)
        return True


def list_operator_pods(client: CoreV1Api, namespace: str) -> tuple[list[k8s.V1Pod], str]:
    """Return the namespace's pod-operator pods and the list's ``resourceVersion``."""
    listed = CoreV1Api.list_namespaced_pod(client, namespace, label_selector=OPERATOR_POD_SELECTOR, _request_timeout=60)
    return list(listed.items or []), listed.metadata.resource_version


def watch_operator_pods(client: CoreV1Api, namespace: str, resource_version: str, seconds: int) -> Iterator[WatchEvent]:
    """Yield the namespace's pod-operator pods' watch events after ``resource_version``, bookmarks included."""
    list_pods = functools.partial(CoreV1Api.list_namespaced_pod, client)
    watch = Watch(return_type="V1Pod")
    for event in watch.stream(
        list_pods,
        namespace,
        label_selector=OPERATOR_POD_SELECTOR,
        resource_version=resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=seconds,
        _request_timeout=(10, seconds + 15),
    ):
        kind = event["type"]
        if kind == "BOOKMARK":
            yield kind, None, _version_of(event.get("raw_object"))
        elif kind in ("ADDED", "MODIFIED", "DELETED"):
            pod = event["object"]
            yield kind, pod, pod.metadata.resource_version


def _version_of(raw: Any) -> str:
    return str(((raw or {}).get("metadata") or {}).get("resourceVersion") or "")


#: (cluster configuration key, namespace) -> the process's watch.
_watches: dict[tuple[Any, str], PodsWatch] = {}
_watches_lock = threading.Lock()


def shared_watch(key: Any, namespace: str, client: CoreV1Api) -> PodsWatch:
    """Return this process's watch of ``namespace`` on the cluster ``key`` names, made with ``client`` if new."""
    with _watches_lock:
        watch = _watches.get((key, namespace))
        if watch is None:
            watch = PodsWatch(
                namespace=namespace,
                list_pods=functools.partial(list_operator_pods, client, namespace),
                watch_pods=functools.partial(watch_operator_pods, client, namespace),
            )
            _watches[(key, namespace)] = watch
        return watch
