"""One list and watch of a namespace's objects, in one helper thread, shared by the followers of many pods.

A triggerer runs the triggers of many deferred tasks in one process; each reading its own objects
every few seconds costs the API server a request per trigger per interval, growing with the number
of deferred tasks. A :class:`ListWatch` lists the namespace's objects once, then watches them from
that ``resourceVersion`` with bookmarks; each follower waits for its own pod's changes
(:meth:`Follower.changed`) and reads them from memory (the subclasses: :mod:`.pods_watch`,
:mod:`.events_watch`).

A watch that ends (the server's timeout) or breaks (API-server restart, network) resumes from the
last version seen, bookmarks included, so no change in between is lost; a version the server no
longer has (410 Gone) lists afresh. While the watch is not in sync (before the first list, after a
drop) the followers read for themselves, as they would without a watch. Where RBAC allows no
``list``/``watch`` (403), or the API server refuses the watch, :attr:`ListWatch.unavailable` says
why, once, and every follower reads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Hashable, Tuple, TypeVar

from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch

from .pod_stream import MIN_WATCH_INTERVAL_SECONDS
from .retry import RETRY_DEADLINE_SECONDS, FailureStreak

log = logging.getLogger(__name__)

#: Seconds one watch request lasts before the server ends it and the watch resumes (with bookmarks,
#: at no cost); also bounds how long a silently stalled connection could hold stale states.
WATCH_SECONDS = 60
#: Seconds a watch nobody follows any more stays open, for the next trigger of the same namespace.
IDLE_SECONDS = 60.0

T = TypeVar("T")
W = TypeVar("W", bound="ListWatch[Any]")
#: One watch event: its type (ADDED, MODIFIED, DELETED, BOOKMARK), the object (None for a bookmark)
#: and the ``resourceVersion`` to resume from. typing's alias: this line runs on Python 3.8 too.
WatchEvent = Tuple[str, Any, str]


class Follower(Generic[W]):
    """One pod's follower: woken on the event loop it was made on whenever the watch reports on its pod."""

    def __init__(self, watch: W, name: str, loop: asyncio.AbstractEventLoop) -> None:
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
        """Return True once its pod changed (or the watch lost sync) since the last call, False after ``timeout`` s."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max(timeout, 0))
        except asyncio.TimeoutError:
            return False
        self._changed.clear()
        return True

    def close(self) -> None:
        self.watch.unfollow(self)


class ListWatch(Generic[T]):
    """List then watch one namespace's objects; subclasses keep what their followers ask for.

    :param what: What is watched, for messages ("pods", "pod events").
    :param list_objects: Return the namespace's objects and the list's ``resourceVersion``.
    :param watch_objects: Yield watch events from a ``resourceVersion`` for at most the given
        seconds; raise :class:`ApiException` 410 when that version is too old.
    """

    def __init__(
        self,
        *,
        namespace: str,
        what: str,
        list_objects: Callable[[], tuple[list[T], str]],
        watch_objects: Callable[[str, int], Iterable[WatchEvent]],
        watch_seconds: int = WATCH_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        retry_deadline_seconds: float = RETRY_DEADLINE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace, self.what = namespace, what
        self._list_objects, self._watch_objects = list_objects, watch_objects
        self._watch_seconds, self._idle_seconds = watch_seconds, idle_seconds
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._followers: dict[str, set[Follower[Any]]] = {}
        self._in_sync = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle_since: float | None = None
        self._failures = FailureStreak(deadline_seconds=retry_deadline_seconds, clock=clock)
        #: Why this process's followers read for themselves (RBAC, a refused watch); None while it works.
        self.unavailable: str | None = None
        #: Lists and watch requests made, for the benchmark (benchmarks/deferred_scale.py).
        self.requests = 0
        #: Watches the API server ended with 410 Gone (a version it no longer has), each followed by a list.
        self.gone = 0

    # -- the followers' side (any thread, usually the triggerer's event loop)

    def follow(self: W, name: str) -> Follower[W]:
        """Return a follower of pod ``name``, woken on the running event loop; starts the watch if it is not running."""
        follower = Follower(self, name, asyncio.get_running_loop())
        self._add(follower)
        return follower

    def _add(self, follower: Follower[Any]) -> None:
        with self._lock:
            self._followers.setdefault(follower.name, set()).add(follower)
            self._idle_since = None
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name=f"watch-{self.what}-{self.namespace}", daemon=True
                )
                self._thread.start()

    def unfollow(self, follower: Follower[Any]) -> None:
        with self._lock:
            followers = self._followers.get(follower.name, set())
            followers.discard(follower)
            if not followers:
                self._followers.pop(follower.name, None)
                self._forget(follower.name)
            if not self._followers:
                self._idle_since = self._clock()

    @property
    def in_sync(self) -> bool:
        """True while the followers may answer from the watch (listed, not dropped, not unavailable)."""
        with self._lock:
            return self._in_sync and self.unavailable is None

    @property
    def following(self) -> int:
        with self._lock:
            return sum(len(f) for f in self._followers.values())

    def stop(self) -> None:
        self._stop.set()

    # -- what subclasses keep (called with the lock held)

    def _replace(self, objects: list[T]) -> None:
        """Take a fresh list of the namespace's objects."""
        raise NotImplementedError

    def _apply(self, kind: str, obj: T) -> str | None:
        """Take one watch event; return the pod whose followers to wake, if any."""
        raise NotImplementedError

    def _forget(self, name: str) -> None:
        """Nobody follows pod ``name`` any more."""

    # -- the watch's thread

    def _run(self) -> None:
        version: str | None = None
        started = float("-inf")
        while not self._stop.is_set() and not self._idle_too_long():
            try:
                if version is None:
                    self.requests += 1
                    objects, version = self._list_objects()
                    with self._lock:
                        self._replace(objects)
                        self._in_sync = True
                    self._wake_all()
                    self._failures.recovered()
                if self._stop.wait(MIN_WATCH_INTERVAL_SECONDS - (self._clock() - started)):
                    break
                started = self._clock()
                self.requests += 1
                for kind, obj, event_version in self._watch_objects(version, self._watch_seconds):
                    self._failures.recovered()
                    version = event_version or version
                    if obj is not None:
                        with self._lock:
                            name = self._apply(kind, obj)
                            waiting = list(self._followers.get(name, ())) if name is not None else []
                        for follower in waiting:
                            follower.notify()
                    if self._stop.is_set():
                        break
            except ApiException as error:
                if error.status == 410:  # too old to resume from: list afresh
                    self.gone += 1
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

    def _wake_all(self) -> None:
        with self._lock:
            waiting = [f for followers in self._followers.values() for f in followers]
        for follower in waiting:
            follower.notify()

    def _lose_sync(self) -> None:
        with self._lock:
            self._in_sync = False
        self._wake_all()  # they read for themselves until the watch is back

    def _give_up(self, why: str) -> None:
        log.warning(
            "Cannot list and watch %s in %s (%s); each deferred task's trigger reads its own instead, "
            "which costs the API server a request per task every few seconds.",
            self.what,
            self.namespace,
            why,
        )
        self.unavailable = why
        self._lose_sync()

    def _retry_later(self, error: Exception) -> bool:
        """Sleep before resuming after a transient failure; give up (followers read) on any other error."""
        self._lose_sync()
        delay = self._failures.delay(error, f"watch {self.what} in {self.namespace}")
        if delay is None:
            self._give_up(f"{type(error).__name__}: {str(error)[:200]}")
            return False
        self._sleep(delay)
        return True


def list_namespaced(list_call: Callable[..., Any], namespace: str, **selector: str) -> tuple[list[Any], str]:
    """Return what ``list_call`` (a CoreV1Api ``list_namespaced_*``) lists and the list's ``resourceVersion``."""
    listed = list_call(namespace, _request_timeout=60, **selector)
    return list(listed.items or []), listed.metadata.resource_version


def watch_namespaced(
    list_call: Callable[..., Any],
    return_type: str,
    namespace: str,
    resource_version: str,
    seconds: int,
    **selector: str,
) -> Iterator[WatchEvent]:
    """Yield the watch events of what ``list_call`` lists after ``resource_version``, bookmarks included."""
    for event in Watch(return_type=return_type).stream(
        list_call,
        namespace,
        resource_version=resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=seconds,
        _request_timeout=(10, seconds + 15),
        **selector,
    ):
        kind = event["type"]
        if kind == "BOOKMARK":
            yield kind, None, _version_of(event.get("raw_object"))
        elif kind in ("ADDED", "MODIFIED", "DELETED"):
            obj = event["object"]
            yield kind, obj, obj.metadata.resource_version


def _version_of(raw: Any) -> str:
    """Return the ``resourceVersion`` of a raw watch object (a bookmark's), or ''."""
    return str(((raw or {}).get("metadata") or {}).get("resourceVersion") or "")


_registry: dict[Hashable, ListWatch[Any]] = {}
_registry_lock = threading.Lock()


def shared(key: Hashable, make: Callable[[], ListWatch[Any]]) -> ListWatch[Any]:
    """Return this process's watch under ``key``, made by ``make()`` if there is none yet."""
    with _registry_lock:
        watch = _registry.get(key)
        if watch is None:
            watch = _registry[key] = make()
        return watch
