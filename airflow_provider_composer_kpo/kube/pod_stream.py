"""The states of one pod as the API server reports them: the watch API instead of fixed-interval reads.

Upstream reads the pod every 1 to 5 s to notice that it started or ended, so a task learns of
either up to one interval late and costs the API server a request per interval. A
:class:`PodStream` holds one watch on the pod (a field selector on its name, from the
``resourceVersion`` the create or read returned) in a helper thread, and hands each new state to
the task's thread, which waits on a queue (Airflow's SIGTERM handler and ``execution_timeout``
still interrupt it).

A watch that ends (the server's timeout) or breaks (API-server restart, network) is resumed from
the last ``resourceVersion`` seen, so no state in between is lost; one the server no longer has
(410 Gone) starts again from a fresh read, whose state is the newest. Transient failures follow
the package's retry policy (:mod:`.retry`); past its deadline the error reaches the task. Where
RBAC allows ``get`` but not ``watch`` on pods (403), the stream reads the pod every
:data:`POLL_SECONDS` instead, and says so once in the task log.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Tuple

from kubernetes.client import CoreV1Api
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch

from .client import read_pod_or_none, with_own_connection
from .retry import RETRY_DEADLINE_SECONDS, FailureStreak

log = logging.getLogger(__name__)

#: Seconds one watch request lasts before the server ends it and the stream resumes (bounds how long
#: a forgotten stream's thread can outlive its task).
WATCH_SECONDS = 60
#: Seconds between reads when RBAC does not allow watching pods.
POLL_SECONDS = 2.0
#: Least seconds between two watch requests: a server that ends every watch at once is not hammered.
MIN_WATCH_INTERVAL_SECONDS = 1.0

#: One watch event: its type (ADDED, MODIFIED, DELETED) and the pod; the stream's resume point is
#: the pod's ``resourceVersion``.
WatchEvent = Tuple[str, k8s.V1Pod]  # typing's alias: this line runs on Python 3.8 too


@dataclass(frozen=True)
class PodState:
    """The pod as the API server last reported it; ``deleted`` once the pod is gone."""

    pod: k8s.V1Pod | None
    deleted: bool = False


class PodStream:
    """Follow one pod's states; :meth:`next` returns the newest one the server reported.

    :param read_pod: Return the pod as it is now, or None when the API server answers 404.
    :param watch_pod: Yield the pod's watch events from a ``resourceVersion``, for at most the
        given seconds; raise :class:`ApiException` 410 when that version is too old.
    :param resource_version: Where to start watching; None starts with a read.
    :param first: The pod as read at ``resource_version``, the state before any reported.
    """

    def __init__(
        self,
        *,
        pod_name: str,
        namespace: str,
        read_pod: Callable[[], k8s.V1Pod | None],
        watch_pod: Callable[[str, int], Iterable[WatchEvent]],
        resource_version: str | None = None,
        first: k8s.V1Pod | None = None,
        poll_seconds: float = POLL_SECONDS,
        watch_seconds: int = WATCH_SECONDS,
        retry_deadline_seconds: float = RETRY_DEADLINE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pod_name, self.namespace = pod_name, namespace
        self._read_pod = read_pod
        self._watch_pod = watch_pod
        self._resource_version = resource_version
        self._poll_seconds = poll_seconds
        self._watch_seconds = watch_seconds
        self._sleep, self._clock = sleep, clock
        self._states: queue.Queue[PodState | BaseException] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._failures = FailureStreak(deadline_seconds=retry_deadline_seconds, clock=clock)
        self._watch_started = float("-inf")
        self.watching = True
        #: The newest state handed out by :meth:`next` (``first`` before any).
        self.latest: PodState | None = PodState(first) if first is not None else None

    @classmethod
    def for_pod(cls, client: CoreV1Api, pod: k8s.V1Pod, **kwargs: Any) -> PodStream:
        """Return a stream of ``pod`` through a copy of ``client``, watching from the version ``pod`` was read at.

        The copy has its own connection: the stream's thread must not share the ApiClient an exec
        (XCom) on the task's thread swaps to websocket (:func:`~.client.with_own_connection`).
        """
        name, namespace = pod.metadata.name, pod.metadata.namespace
        client = with_own_connection(client)
        return cls(
            pod_name=name,
            namespace=namespace,
            # One try: the stream retries by its own policy.
            read_pod=functools.partial(read_pod_or_none, client, name, namespace, retry=False),
            watch_pod=functools.partial(watch_one_pod, client, name, namespace),
            resource_version=pod.metadata.resource_version,
            first=pod,
            **kwargs,
        )

    def start(self) -> PodStream:
        # A daemon thread: a task that ends without stop() leaves it to end with its watch request.
        self._thread = threading.Thread(target=self._run, name=f"pod-stream-{self.pod_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def next(self, timeout: float) -> PodState | None:
        """Return the newest state reported within ``timeout`` seconds, or None if the pod did not change.

        Raises the error that ended the stream (a non-transient API error, or a transient one past
        the retry deadline), at this call and every later one.
        """
        if self._error is not None:
            raise self._error
        try:
            item = self._states.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None
        while True:  # states queued meanwhile: only the newest matters
            if isinstance(item, BaseException):
                self._error = item
                raise item
            self.latest = item
            try:
                item = self._states.get_nowait()
            except queue.Empty:
                return self.latest

    def current(self) -> PodState | None:
        """Return the newest state reported so far, without waiting."""
        return self.next(0) or self.latest

    def _run(self) -> None:
        version = self._resource_version
        while not self._stop.is_set():
            try:
                if version is None or not self.watching:
                    pod = self._read_pod()
                    self._failures.recovered()
                    self._states.put(PodState(pod, deleted=pod is None))
                    if pod is None:
                        return
                    version = pod.metadata.resource_version
                    if not self.watching:
                        self._stop.wait(self._poll_seconds)
                        continue
                if self._stop.wait(MIN_WATCH_INTERVAL_SECONDS - (self._clock() - self._watch_started)):
                    return
                self._watch_started = self._clock()
                for kind, pod in self._watch_pod(version, self._watch_seconds):
                    self._failures.recovered()
                    version = pod.metadata.resource_version or version
                    self._states.put(PodState(pod, deleted=kind == "DELETED"))
                    if kind == "DELETED" or self._stop.is_set():
                        return
            except ApiException as error:
                if error.status == 410:  # the version is too old to resume from: read afresh
                    version = None
                elif error.status == 403 and self.watching:
                    log.warning(
                        "Cannot watch pod %s/%s (403: RBAC allows no 'watch' on pods); reading it every %.0f s "
                        "instead, which notices a start or an end later and costs more requests.",
                        self.namespace,
                        self.pod_name,
                        self._poll_seconds,
                    )
                    self.watching = False
                elif not self._retry_later(error):
                    return
            except Exception as error:
                if not self._retry_later(error):
                    return

    def _retry_later(self, error: Exception) -> bool:
        """Sleep before resuming after a transient failure and return True; hand any other error to the task."""
        delay = self._failures.delay(error, f"watch pod {self.namespace}/{self.pod_name}")
        if delay is None:
            self._states.put(error)
            return False
        self._sleep(delay)
        return True


def watch_one_pod(
    client: CoreV1Api, name: str, namespace: str, resource_version: str, seconds: int
) -> Iterator[WatchEvent]:
    """Yield the pod's watch events after ``resource_version`` for at most ``seconds``."""
    # The unwrapped list call: the stream retries by its own policy, and Watch reads its docstring.
    list_pods = functools.partial(CoreV1Api.list_namespaced_pod, client)
    watch = Watch(return_type="V1Pod")
    for event in watch.stream(
        list_pods,
        namespace,
        field_selector=f"metadata.name={name}",
        resource_version=resource_version,
        timeout_seconds=seconds,
        _request_timeout=(10, seconds + 15),
    ):
        if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
            yield event["type"], event["object"]
