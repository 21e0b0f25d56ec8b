"""Follow a task's pod through upstream's PodManager: the watch, the watchdog, the log, the Composer 3 VM.

Upstream's operator drives its pod through a PodManager object, and Google's Composer 3 patches
replace PodManager methods on the class. :class:`PodFollower` sets its wrappers on the instance
the operator uses, from one table (:data:`WRAPPERS`), so upstream's own calls and Google's
patched methods both pass through them, on every provider version since 5.0:

======================================  ==================================================================
PodManager method                       wrapped so that
======================================  ==================================================================
``create_pod``                          the API server's answer is kept (its resourceVersion starts the
                                        watch); a refused create is a :class:`PodStartupError`
``read_pod_logs``                       a resumed timestamped read drops the lines already logged
                                        (:class:`~.log_replay.LogReplay`, one per container); a container
                                        that ended long ago is read all the same
                                        (:func:`~.log_replay.post_termination_window`)
``await_container_completion``,         they wait on the pod's watch (:class:`~..kube.pod_stream.PodStream`)
``await_pod_completion``                instead of reading the pod every 1-2 s, except on a Composer 3
                                        placeholder, where Google's patched waits run; a placeholder's VM
                                        is read before the pod's end is awaited (it shuts down soon after)
``fetch_container_logs``                a followed log stream cut before the container ended (a kubelet
                                        restart) is read on to its end (:func:`~.log_replay.cut_short`)
``fetch_container_logs``,               they run under a :class:`~.running.RunningWatch`: a pod taken
``fetch_requested_container_logs``,     away, or ``on_kill``, fails the task at once
``await_container_completion``
======================================  ==================================================================

The follower is handed what it needs from the operator as callables (its client, the base
container's name, whether ``on_kill`` ran, its logger), read when needed, never the operator.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import replace
from typing import Any, Callable, Protocol, cast

from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from ..exceptions import PodStartupError
from ..kube.client import pod_log_text, read_pod_or_none
from ..kube.pod_stream import PodStream
from ..platform.peer_vm import (
    VmSnapshot,
    is_placeholder,
    may_become_placeholder,
    placeholder_succeeded,
    vm_failure,
    vm_outcome,
    vm_start_blocker,
)
from ..platform.peer_vm_client import exec_in_placeholder, snapshot_vm
from .diagnosis import (
    container_failure,
    creation_refusal,
    pod_outcome,
    terminated_state,
    workload_ended,
)
from .ending import EndingFacts, failure_message
from .interruption import pod_disruption
from .log_replay import LogReplay, cut_short, log_settle_wait, post_termination_window, widen_resumed_read
from .running import STREAMED_CHECK_INTERVAL_SECONDS, RunningWatch, await_pod_state, streamed_pod
from .startup import StartupWatch

#: Log lines of the failed container quoted in the exception.
FAILURE_LOG_TAIL_LINES = 20
_ENDED = frozenset({"Succeeded", "Failed"})

#: PodManager method -> the follower's wrapper of it, innermost first. A method the installed
#: provider version lacks is skipped; the names are those of every provider version since 5.0.
WRAPPERS = (
    ("create_pod", "_keeping_created"),
    ("read_pod_logs", "_without_replays"),
    ("await_container_completion", "_streamed_container_completion"),
    ("await_pod_completion", "_streamed_pod_completion"),
    ("fetch_container_logs", "_caught_up"),
    ("fetch_requested_container_logs", "_watched"),
    ("fetch_container_logs", "_watched"),
    ("await_container_completion", "_watched"),
)


def upstream_argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], name: str, position: int, default: Any = None
) -> Any:
    """Return the argument ``name`` of a PodManager call: by keyword, else ``args[position]``, else ``default``.

    The one decoding of upstream's arguments: its signatures differ per provider version
    (``await_pod_completion(pod)`` on 5.x, ``(pod, istio_enabled=False, container_name="base")`` later).
    """
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else default


class _TaskLog(Protocol):
    """What the follower writes to: the operator's ``log`` (``logging.Logger``; on Airflow 3 the task SDK's)."""

    def info(self, __msg: str, *args: Any) -> Any: ...

    def warning(self, __msg: str, *args: Any) -> Any: ...


class PodFollower:
    """Follow one task's pod: what the operator asks of it once the PodManager is wrapped (:meth:`install`).

    :param client: Return the CoreV1Api to read the pod and its log with.
    :param api_client: Return the ApiClient for an exec into a Composer 3 placeholder.
    :param base_container: Return the name of the container that runs the task's command.
    :param stopped: Return True once the task's ``on_kill`` ran.
    :param on_stopped: Return the error for a task stopped while following ``pod``.
    :param log: Return the logger to write to (the operator's: the task log).
    """

    def __init__(
        self,
        *,
        client: Callable[[], Any],
        api_client: Callable[[], Any],
        base_container: Callable[[], str],
        stopped: Callable[[], bool],
        on_stopped: Callable[[k8s.V1Pod | None], BaseException],
        log: Callable[[], _TaskLog],
    ) -> None:
        self._client, self._api_client, self._base_container = client, api_client, base_container
        self._stopped, self._on_stopped, self._log = stopped, on_stopped, log
        #: The pod as the API server answered its creation: its resourceVersion starts the watch.
        self.created_pod: k8s.V1Pod | None = None
        #: Why the API server refused to create the pod, when it did (no pod exists then).
        self.creation_refused: PodStartupError | None = None
        #: What a Composer 3 placeholder's VM said before it shut down.
        self.vm_snapshot: VmSnapshot | None = None
        #: The task resumed from a trigger the moment its pod ended: no log stream has read the
        #: container to its end, so its last lines may still be on their way to the log file.
        self.resumed = False
        #: The watch on the pod, from :meth:`await_start` until :meth:`stop`.
        self.stream: PodStream | None = None
        self._watching = False
        self._log_replays: dict[tuple[str, str, str], LogReplay] = {}

    def install(self, manager: Any) -> Any:
        """Return ``manager`` with the wrappers of :data:`WRAPPERS` set on it (the instance, not its class)."""
        for method, wrapper in WRAPPERS:
            if hasattr(manager, method):
                setattr(manager, method, getattr(self, wrapper)(getattr(manager, method)))
        return manager

    def await_start(self, pod: k8s.V1Pod, *, schedule_timeout_seconds: int, startup_timeout_seconds: int) -> None:
        """Start watching ``pod`` (:class:`~..kube.pod_stream.PodStream`), then wait on the watch for it to start.

        Raises :class:`PodStartupError` within seconds when it never will (:class:`~.startup.StartupWatch`).
        """
        name, namespace = pod.metadata.name, pod.metadata.namespace
        created = self.created_pod
        if created is not None and created.metadata is not None and created.metadata.name == name:
            pod = created  # as the API server answered the create: its resourceVersion and status
        self.stop()
        client = self._client()
        self.stream = PodStream.for_pod(client, pod).start()
        StartupWatch(
            pod_name=name,
            namespace=namespace,
            read_pod=lambda: client.read_namespaced_pod(name, namespace),
            list_events=lambda: (
                client.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
            ),
            schedule_timeout_seconds=schedule_timeout_seconds,
            startup_timeout_seconds=startup_timeout_seconds,
            # The judge's timers, checked on the last state the watch reported: no request each.
            check_interval_seconds=STREAMED_CHECK_INTERVAL_SECONDS,
            still_starting=vm_start_blocker,
            stream=self.stream,
            first=pod,
        ).wait()

    def stop(self) -> None:
        """Stop the watch, if one runs."""
        if self.stream is not None:
            self.stream.stop()
            self.stream = None

    # --- what the pod said: read at its end, before upstream's cleanup deletes it -----------------

    def snapshot_vm(self, pod: k8s.V1Pod) -> None:
        """Read a Composer 3 placeholder's VM now, before it shuts down, and keep what it said."""
        self.vm_snapshot = self.read_peer_vm(pod)

    def read_peer_vm(self, pod: k8s.V1Pod) -> VmSnapshot | None:
        """Return the VM's container states and log tail if ``pod`` is a Composer 3 placeholder."""
        if not may_become_placeholder(pod):
            return None  # no extra API call for pods off Composer 3
        try:
            remote_pod = self._client().read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
        except Exception as error:
            self._log().warning("Could not read pod %s to check for a Composer 3 peer VM: %s", pod.metadata.name, error)
            return None
        if not is_placeholder(remote_pod):
            return None
        return snapshot_vm(
            remote_pod,
            self._base_container(),
            run_exec=exec_in_placeholder(self._api_client(), remote_pod),
            tail_lines=FAILURE_LOG_TAIL_LINES,
        )

    def log_outcome(self, remote_pod: k8s.V1Pod | None, task_id: str) -> None:
        """Log how the pod (or a placeholder's VM) ended; nothing if it has not ended."""
        # Upstream passes the pod as read at creation when the task stopped early: no outcome to tell.
        if remote_pod is None or remote_pod.status is None or remote_pod.status.phase not in _ENDED:
            return
        container = self._base_container()
        if is_placeholder(remote_pod):
            outcome = vm_outcome(remote_pod, self.vm_snapshot, container)
        else:
            outcome = pod_outcome(remote_pod, container)
        self._log().info("Task %s: %s", task_id, outcome)

    def failure(self, remote_pod: k8s.V1Pod | None) -> str | None:
        """Return the message for a failed pod (reason, exit code, last log lines), or None if it did not fail."""
        container = self._base_container()
        if is_placeholder(remote_pod):
            summary = vm_failure(remote_pod, self.vm_snapshot, container)
            tail = tuple(self.vm_snapshot.log_tail) if self.vm_snapshot else ()
        else:
            summary = container_failure(remote_pod, container)
            tail = self._log_tail(remote_pod, container) if summary is not None else ()
        if summary is None:
            return None
        pod = cast("k8s.V1Pod", remote_pod)  # not None: both verdicts are None without a pod
        place = f"{pod.metadata.namespace}/{pod.metadata.name}"
        return failure_message(place, summary, container, tail)

    def _log_tail(self, pod: k8s.V1Pod, container: str) -> tuple[str, ...]:
        ended = terminated_state(pod, container) if self.resumed else None
        wait = log_settle_wait(ended.finished_at if ended else None, datetime.datetime.now(datetime.timezone.utc))
        if wait:  # resumed the moment the container ended (the trigger's watch is that fast)
            time.sleep(wait)
        try:
            text = pod_log_text(
                self._client(),
                pod.metadata.name,
                pod.metadata.namespace,
                container=container,
                tail_lines=FAILURE_LOG_TAIL_LINES,
            )
        except Exception as error:
            self._log().warning("Could not read the failed container's log: %s", error)
            return ()
        return tuple(text.rstrip("\n").splitlines() if text else [])

    def ending_evidence(self, facts: EndingFacts, pod: k8s.V1Pod | None, remote_pod: k8s.V1Pod | None) -> EndingFacts:
        """Return ``facts`` with what the pod says about the task's end; the reads ``facts`` asks for only."""
        return replace(
            facts,
            failure=self.failure(remote_pod) if facts.judges_failure else None,
            # Read before upstream's cleanup deletes the pod: read after, an evicted pod reads as deleted.
            disruption=self.disruption(pod) if facts.reads_disruption else None,
            placeholder_succeeded=placeholder_succeeded(remote_pod),
        )

    def disruption(self, pod: k8s.V1Pod) -> str | None:
        """Return what took the pod away while the task followed it, from the pod as it is now."""
        name, namespace = pod.metadata.name, pod.metadata.namespace
        try:
            now = read_pod_or_none(self._client(), name, namespace)
        except Exception as read_error:
            self._log().warning("Could not read pod %s/%s after the task stopped: %s", namespace, name, read_error)
            return None
        return pod_disruption(now, name=name, namespace=namespace)

    # --- the wrappers of WRAPPERS -----------------------------------------------------------------

    def _stream_of(self, pod: k8s.V1Pod | None) -> PodStream | None:
        """Return the watch following ``pod``, or None where upstream's own reads must run (Composer 3)."""
        stream = self.stream
        if stream is None or pod is None or pod.metadata is None or may_become_placeholder(pod):
            return None
        return stream if (stream.namespace, stream.pod_name) == (pod.metadata.namespace, pod.metadata.name) else None

    def _keeping_created(self, create_pod: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``create_pod`` keeping the API server's answer, and naming a refusal."""

        def create_and_keep(*args: Any, **kwargs: Any) -> Any:
            try:
                created = create_pod(*args, **kwargs)
            except ApiException as error:
                self.creation_refused = _refusal(error, upstream_argument(args, kwargs, "pod", 0))
                if self.creation_refused is None:
                    raise
                raise self.creation_refused from error
            # Upstream returns its request object; the answer carries the resourceVersion to watch from.
            self.created_pod = created if isinstance(created, k8s.V1Pod) else None
            return created

        return create_and_keep

    def _without_replays(self, read_pod_logs: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``read_pod_logs`` whose timestamped reads go through the container's LogReplay."""

        def read(pod: k8s.V1Pod, container_name: str, *args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("timestamps") or getattr(pod, "metadata", None) is None:
                return read_pod_logs(pod, container_name, *args, **kwargs)
            name, namespace = pod.metadata.name, pod.metadata.namespace
            replay = self._log_replays.get((namespace, name, container_name))
            if replay is None:
                replay = self._log_replays[(namespace, name, container_name)] = LogReplay(
                    on_gap=lambda gap: self._log().warning("%s", gap.message(f"{namespace}/{name}", container_name)),
                    on_dropped=lambda count: self._log().info(
                        "Resumed the log stream of container %r: left out %d line(s) already logged",
                        container_name,
                        count,
                    ),
                    on_rotated_away=lambda notice: self._log().warning(
                        "%s", notice.message(f"{namespace}/{name}", container_name)
                    ),
                )
            kwargs["since_seconds"], since = widen_resumed_read(kwargs.get("since_seconds"))
            ended = terminated_state(self._watched_pod(pod), container_name)
            if "post_termination_timeout" in kwargs:  # cncf-kubernetes 6+ passes it; 5.x reads 120 s
                kwargs["post_termination_timeout"] = post_termination_window(
                    kwargs["post_termination_timeout"],
                    ended.finished_at if ended is not None else None,
                    datetime.datetime.now(datetime.timezone.utc),
                )
            return replay.read(
                read_pod_logs(pod, container_name, *args, **kwargs),
                since,
                follow=kwargs.get("follow", True),  # upstream's read_pod_logs follows unless told not to
                # Only a container that ended before its first read can have lost lines that way.
                started_at=ended.started_at if ended is not None else None,
                finished_at=ended.finished_at if ended is not None else None,
            )

        return read

    def _caught_up(self, fetch_container_logs: Callable[..., Any]) -> Callable[..., Any]:
        """Return upstream's ``fetch_container_logs``, reading on where its followed stream was cut."""

        def fetch(pod: k8s.V1Pod, container_name: str, *args: Any, **kwargs: Any) -> Any:
            status = fetch_container_logs(pod, container_name, *args, **kwargs)
            # cncf-kubernetes 7-8 return None once the container ended, later versions a status.
            if not kwargs.get("follow") or getattr(status, "running", False) or may_become_placeholder(pod):
                return status  # a placeholder's log is Google's patched read of the VM: left to it
            replay = self._log_replays.get((pod.metadata.namespace, pod.metadata.name, container_name))
            end = replay.stream_end if replay is not None else None
            # An error cut it for certain; a clean end, if it came before the container's.
            if end is None or not cut_short(end, None if end.errored else self._finished_at(pod, container_name)):
                return status
            self._log().warning(
                "The log stream of container %r broke before the container ended: reading the rest of its log",
                container_name,
            )
            # Upstream's own read, once, from the last line logged; the LogReplay drops what it repeats.
            last = getattr(status, "last_log_time", None) or (replay.last_time() if replay is not None else None)
            kwargs.update(follow=False, since_time=last)
            return fetch_container_logs(pod, container_name, *args, **kwargs)

        return fetch

    def _watched_pod(self, pod: k8s.V1Pod) -> k8s.V1Pod | None:
        """Return ``pod`` as its watch last reported it, without waiting; None without a watch."""
        stream = self._stream_of(pod)
        try:
            return streamed_pod(stream) if stream is not None else None
        except Exception:  # the watch ended with an error: no state to go by
            return None

    def _finished_at(self, pod: k8s.V1Pod, container: str) -> datetime.datetime | None:
        """Return when ``container`` ended: as the pod's watch saw it, else (no watch, or one that
        trails upstream's read that found the container ended) as the API server says now. Never waits."""
        ended = terminated_state(self._watched_pod(pod), container)
        if ended is None:
            try:
                now = read_pod_or_none(self._client(), pod.metadata.name, pod.metadata.namespace)
            except Exception as error:
                self._log().warning(
                    "Could not read pod %s to see if its log was read whole: %s", pod.metadata.name, error
                )
                return None
            ended = terminated_state(now, container)
        return ended.finished_at if ended is not None else None

    def _streamed_container_completion(self, upstream: Callable[..., Any]) -> Callable[..., Any]:
        """Return upstream's ``await_container_completion``, waiting on the pod's watch when there is one."""

        def await_container_completion(pod: k8s.V1Pod, container_name: str, *args: Any, **kwargs: Any) -> Any:
            stream = self._stream_of(pod)
            if stream is None:
                return upstream(pod, container_name, *args, **kwargs)
            await_pod_state(stream, lambda now: workload_ended(now, container_name))
            return None

        return await_container_completion

    def _streamed_pod_completion(self, upstream: Callable[..., Any]) -> Callable[..., Any]:
        """Return upstream's ``await_pod_completion``, reading a placeholder's VM first, waiting on the watch."""

        def await_pod_completion(pod: k8s.V1Pod, *args: Any, **kwargs: Any) -> Any:
            if self.vm_snapshot is None:  # a resumed task read it first thing
                self.snapshot_vm(pod)
            stream = self._stream_of(pod)
            if stream is None:
                return upstream(pod, *args, **kwargs)
            istio_enabled = upstream_argument(args, kwargs, "istio_enabled", 0, False)
            container = upstream_argument(args, kwargs, "container_name", 1, self._base_container())
            return await_pod_state(
                stream,
                lambda now: (
                    now.status is not None
                    and (now.status.phase in _ENDED or (istio_enabled and workload_ended(now, container)))
                ),
            )

        return await_pod_completion

    def _watched(self, follow: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``follow`` run under a RunningWatch; calls it makes itself run unwatched."""

        def watched(*args: Any, **kwargs: Any) -> Any:
            pod = upstream_argument(args, kwargs, "pod", 0)
            if self._watching or getattr(pod, "metadata", None) is None:
                return follow(*args, **kwargs)
            name, namespace = pod.metadata.name, pod.metadata.namespace
            self._watching = True
            stream = self.stream
            if stream is not None and (stream.namespace, stream.pod_name) != (namespace, name):
                stream = None
            try:
                return RunningWatch(
                    pod_name=name,
                    namespace=namespace,
                    read_pod=(
                        (lambda: streamed_pod(stream))
                        if stream is not None
                        else (lambda: read_pod_or_none(self._client(), name, namespace))
                    ),
                    stopped=self._stopped,
                    on_stopped=lambda: self._on_stopped(pod),
                    **({"check_interval_seconds": STREAMED_CHECK_INTERVAL_SECONDS} if stream is not None else {}),
                ).run(lambda: follow(*args, **kwargs))
            finally:
                self._watching = False

        return watched


def _refusal(error: ApiException, pod: k8s.V1Pod | None) -> PodStartupError | None:
    """Return the error for a pod the API server refused to create (invalid spec, RBAC, quota), if it was that."""
    meta = pod.metadata if isinstance(pod, k8s.V1Pod) and pod.metadata else k8s.V1ObjectMeta()
    refusal = creation_refusal(error.status, error.body, namespace=meta.namespace or "?", name=meta.name or "?")
    return PodStartupError(refusal[1], reason=refusal[0]) if refusal else None
