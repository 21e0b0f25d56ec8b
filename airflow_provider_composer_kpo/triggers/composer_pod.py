"""ComposerPodTrigger: follow a deferred task's pod in the triggerer, with the synchronous path's verdicts.

=====================  ======================================================================
while the pod ...      the trigger
=====================  ======================================================================
waits to start         feeds each read to :class:`~..lifecycle.startup.StartupJudge` (diagnosis.py):
                       the same fatal reasons, events and timeouts as the synchronous wait
runs                   judges each state with :class:`~..lifecycle.interruption.DisruptionJudge`
ended                  sends ``ended``; the resumed task ends it as the synchronous path does.
                       On Composer 3 that is when the peer VM reports the main container
                       TERMINATED, read every 5 s as Google's patches read it: the VM still
                       answers then, so the resumed task gets its log, state and XCom (the
                       placeholder itself ends only after the VM shut down)
=====================  ======================================================================

The pod's states come from one watch of its namespace per triggerer process, shared by every
trigger there (:mod:`~..kube.pods_watch`): API requests do not grow with the number of deferred
tasks. While that watch is out of sync, or where RBAC or the API server does not allow it, each
trigger reads its pod every interval instead, with the same verdicts.

API calls are made by the synchronous client of :class:`~..hooks.composer_kubernetes.ComposerKubernetesHook`
(the package's kubeconfig rule, and the client Google patches on Composer 3), one call at a time
in a small thread pool, so none blocks the triggerer's event loop; transient failures are retried
with :mod:`~..kube.retry`'s policy, waiting with ``asyncio.sleep``.

Compatibility: :meth:`serialize` writes plain data only (no kubeconfig content, no secrets). A
triggerer may run another version of this package than the worker that deferred: keyword
arguments are only ever added, an unknown one is ignored with a warning, a missing one takes its
default. A triggerer restart re-creates the trigger from these keywords; the timers go on from
``trigger_start_time``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent
from kubernetes.client import CoreV1Api
from kubernetes.client import models as k8s

from ..exceptions import PodStartupError, PodStartupTimeout
from ..kube.client import read_pod_or_none
from ..kube.events_watch import EventsWatch, shared_events_watch
from ..kube.list_watch import Follower
from ..kube.pods_watch import PodsWatch, shared_watch
from ..kube.retry import call_with_retry_async
from ..lifecycle.deferral import API_ERROR, CANNOT_START, DISRUPTED, ENDED, TIMED_OUT, Event, pod_event
from ..lifecycle.diagnosis import container_failure, workload_ended
from ..lifecycle.interruption import DisruptionJudge, killed_by_deletion
from ..lifecycle.startup import StartupJudge
from ..platform.peer_vm import is_placeholder, parse_container_states, vm_container_ended, vm_start_blocker
from ..platform.peer_vm_client import exec_in_placeholder
from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Threads shared by every ComposerPodTrigger of a triggerer; each call holds one for a request.
API_THREADS = 8
#: Seconds one API request may take before it counts as a (transient) failure.
REQUEST_TIMEOUT_SECONDS = 30
#: Seconds a trigger waits for its triggerer's new watch to list the pods before reading its own.
WATCH_SYNC_WAIT_SECONDS = 5.0
#: Composer 3: seconds between reads of the peer VM's container states (an exec into the placeholder).
VM_STATES_EVERY_SECONDS = 5.0

_executor: ThreadPoolExecutor | None = None


async def _in_airflow_thread(call: Callable[[], T]) -> T:
    """Return ``call()`` run where Airflow's triggerer expects blocking work that may read connections."""
    try:
        from asgiref.sync import sync_to_async  # Airflow's own dependency, as upstream's async hook uses it
    except ImportError:  # pragma: no cover - every supported Airflow has asgiref
        return await asyncio.get_running_loop().run_in_executor(_api_executor(), call)
    return await sync_to_async(call)()


def _api_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="composer-kpo-trigger")
    return _executor


class ComposerPodTrigger(BaseTrigger):
    """Wait for a pod to start, run and end; send one event that says how (see :mod:`~..lifecycle.deferral`).

    :param pod_name: The pod.
    :param pod_namespace: Its namespace.
    :param trigger_start_time: When the task deferred, in seconds since the epoch; the schedule
        timeout counts from it, across triggerer restarts.
    :param base_container_name: The container that runs the task's command.
    :param kubernetes_conn_id: The connection the hook reads (None: none).
    :param config_file: A kubeconfig path the worker resolved, read on the triggerer.
    :param in_cluster: Use the in-cluster configuration.
    :param cluster_context: The kubeconfig context.
    :param use_composer_kubeconfig: Let the hook fall back to Composer's kubeconfig.
    :param schedule_timeout_seconds: Seconds to be scheduled, as the operator's parameter.
    :param startup_timeout_seconds: Seconds to start once scheduled, as the operator's parameter.
    :param startup_check_interval_seconds: Seconds between reads while the pod starts.
    :param poll_interval: Seconds between reads while the pod runs.
    :param execution_deadline: The task's ``execution_timeout`` as seconds since the epoch, or None.
    """

    #: Follow the pod, and its events while it starts, through the triggerer's one watch of its
    #: namespace's pods and one of their events (kube/pods_watch.py, kube/events_watch.py), reading
    #: them only while a watch is out of sync or unavailable; False reads them every interval.
    share_pod_watch = True

    def __init__(
        self,
        *,
        pod_name: str,
        pod_namespace: str,
        trigger_start_time: float,
        base_container_name: str = "base",
        kubernetes_conn_id: str | None = None,
        config_file: str | None = None,
        in_cluster: bool | None = None,
        cluster_context: str | None = None,
        use_composer_kubeconfig: bool = True,
        schedule_timeout_seconds: int = DEFAULT_STARTUP_TIMEOUT_SECONDS,
        startup_timeout_seconds: int = DEFAULT_STARTUP_TIMEOUT_SECONDS,
        startup_check_interval_seconds: float = 2.0,
        poll_interval: float = 2.0,
        execution_deadline: float | None = None,
        **unknown: Any,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger's is unannotated
        if unknown:
            log.warning("ComposerPodTrigger: ignoring arguments this version does not know: %s", sorted(unknown))
        self.pod_name = pod_name
        self.pod_namespace = pod_namespace
        self.trigger_start_time = float(trigger_start_time)
        self.base_container_name = base_container_name
        self.kubernetes_conn_id = kubernetes_conn_id
        self.config_file = config_file
        self.in_cluster = in_cluster
        self.cluster_context = cluster_context
        self.use_composer_kubeconfig = use_composer_kubeconfig
        self.schedule_timeout_seconds = int(schedule_timeout_seconds)
        self.startup_timeout_seconds = int(startup_timeout_seconds)
        self.startup_check_interval_seconds = float(startup_check_interval_seconds)
        self.poll_interval = float(poll_interval)
        self._disruption = DisruptionJudge(name=pod_name, namespace=pod_namespace)
        self.execution_deadline = float(execution_deadline) if execution_deadline is not None else None
        self._client: CoreV1Api | None = None
        self._follower: Follower[PodsWatch] | None = None
        self._events_follower: Follower[EventsWatch] | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the import path and the plain keyword arguments that re-create this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "pod_name": self.pod_name,
                "pod_namespace": self.pod_namespace,
                "trigger_start_time": self.trigger_start_time,
                "base_container_name": self.base_container_name,
                "kubernetes_conn_id": self.kubernetes_conn_id,
                "config_file": self.config_file,
                "in_cluster": self.in_cluster,
                "cluster_context": self.cluster_context,
                "use_composer_kubeconfig": self.use_composer_kubeconfig,
                "schedule_timeout_seconds": self.schedule_timeout_seconds,
                "startup_timeout_seconds": self.startup_timeout_seconds,
                "startup_check_interval_seconds": self.startup_check_interval_seconds,
                "poll_interval": self.poll_interval,
                "execution_deadline": self.execution_deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Send one event once the pod ended, cannot start, was taken away, or the task ran out of time."""
        try:
            event = await self._follow()
        except Exception as error:  # not transient, or transient past the retry policy's deadline
            event = self._event(
                API_ERROR,
                f"Lost track of pod {self.pod_namespace}/{self.pod_name}: the Kubernetes API failed "
                f"({type(error).__name__}: {str(error)[:300]})",
            )
        log.info("Pod %s/%s: %s %s", self.pod_namespace, self.pod_name, event["status"], event["message"])
        yield TriggerEvent(event)

    async def _follow(self) -> Event:
        watch = await self._pods_watch()
        self._follower = watch.follow(self.pod_name) if watch is not None else None
        try:  # also when the trigger is cancelled (a triggerer stopping, a task cleared)
            if self._follower is not None and not self._follower.watch.in_sync:
                await self._follower.changed(WATCH_SYNC_WAIT_SECONDS)  # its first list, instead of a read of our own
            return await self._follow_pod()
        finally:
            for follower in (self._follower, self._events_follower):
                if follower is not None:
                    follower.close()

    def _cluster_key(self) -> tuple[Any, ...]:
        """What names the cluster configuration: triggers with the same key share watches."""
        return (
            self.kubernetes_conn_id,
            self.config_file,
            self.in_cluster,
            self.cluster_context,
            self.use_composer_kubeconfig,
        )

    async def _pods_watch(self) -> PodsWatch | None:
        """Return this triggerer's shared watch of the pod's namespace (kube/pods_watch.py), or None to read."""
        if not self.share_pod_watch:
            return None
        return shared_watch(self._cluster_key(), self.pod_namespace, await self._api())

    async def _events_watch(self) -> EventsWatch | None:
        """Return this triggerer's shared watch of the namespace's pod events, following this pod's; None to list."""
        if not self.share_pod_watch:
            return None
        if self._events_follower is None:  # from the first time the startup verdicts ask for events
            watch = shared_events_watch(self._cluster_key(), self.pod_namespace, await self._api())
            self._events_follower = watch.follow(self.pod_name)
            if not watch.in_sync:
                await self._events_follower.changed(WATCH_SYNC_WAIT_SECONDS)  # its first list
        return self._events_follower.watch

    async def _wait(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the shared watch reports a change of the pod."""
        if self._follower is None or self._follower.watch.unavailable is not None:
            await asyncio.sleep(seconds)
        else:
            await self._follower.changed(seconds)

    async def _follow_pod(self) -> Event:
        judge = StartupJudge(
            pod_name=self.pod_name,
            namespace=self.pod_namespace,
            schedule_timeout_seconds=self.schedule_timeout_seconds,
            startup_timeout_seconds=self.startup_timeout_seconds,
            started_at=self.trigger_start_time,
            still_starting=vm_start_blocker,
        )
        while True:  # until the pod has started
            pod = await self._read_pod()
            stop = self._final_event(pod)
            if stop is not None:
                return stop
            if judge.observe(pod, time.time()):
                judge.record_events(await self._list_events(), time.time())
            try:
                if judge.verdict() is not None:
                    break
            except PodStartupError as error:
                timeout = isinstance(error, PodStartupTimeout)
                return self._event(CANNOT_START, str(error), reason=error.reason, timeout=timeout)
            await self._wait(self.startup_check_interval_seconds)
        log.info("Pod %s/%s started; following it every %s s", self.pod_namespace, self.pod_name, self.poll_interval)
        if self._events_follower is not None:  # the verdicts on its start are over
            self._events_follower.close()
            self._events_follower = None
        vm_read_at = float("-inf")
        while True:  # until it ends; `pod` went through _final_event already
            if is_placeholder(pod) and time.monotonic() - vm_read_at >= VM_STATES_EVERY_SECONDS:
                vm_read_at = time.monotonic()
                if await self._vm_container_ended(pod):
                    return self._event(ENDED)
            await self._wait(self.poll_interval)
            pod = await self._read_pod()
            stop = self._final_event(pod)
            if stop is not None:
                return stop

    def _ended(self, pod: k8s.V1Pod) -> Event:
        # The failure travels with the event: the pod may be deleted before the task resumes.
        return self._event(ENDED, container_failure(pod, self.base_container_name) or "")

    def _final_event(self, pod: k8s.V1Pod | None) -> Event | None:
        """Return the event that ends the wait (the pod ended, was taken away, or time ran out), else None."""
        # A pod that finished its work and is then deleted (a TTL, a cleanup job) was not disrupted;
        # an evicted one was, whatever its phase says.
        # One that ended only because its deletion killed it was disrupted too.
        if pod is not None and workload_ended(pod, self.base_container_name) and pod.status.reason != "Evicted":
            verdict = killed_by_deletion(pod, self.base_container_name)
            if verdict is None:
                return self._ended(pod)
        else:
            verdict = self._disruption.judge(pod)
        if verdict is not None:
            return self._event(DISRUPTED, f"{verdict}; its work did not finish.")
        if self.execution_deadline is not None and time.time() >= self.execution_deadline:
            return self._event(TIMED_OUT)
        return None

    def _event(self, status: str, message: str = "", *, reason: str | None = None, timeout: bool = False) -> Event:
        return pod_event(
            status, name=self.pod_name, namespace=self.pod_namespace, message=message, reason=reason, timeout=timeout
        )

    async def _read_pod(self) -> k8s.V1Pod | None:
        """Return the pod as it is now (as the shared watch last saw it, else read), or None once it is gone."""
        state = self._follower.watch.state_of(self.pod_name) if self._follower is not None else None
        if state is not None:
            return state.pod
        client = await self._api()
        read = functools.partial(
            read_pod_or_none, client, self.pod_name, self.pod_namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
        )
        pod = await self._call(read, f"read pod {self.pod_namespace}/{self.pod_name}")
        if pod is not None and self._follower is not None:
            self._follower.watch.remember(pod)  # the watch's events take it from here
        return pod

    async def _vm_container_ended(self, pod: k8s.V1Pod) -> bool:
        """Return True once the Composer 3 peer VM reports the main container TERMINATED."""
        client = await self._api()
        run = exec_in_placeholder(client.api_client, pod)
        try:
            answer = await asyncio.get_running_loop().run_in_executor(
                _api_executor(), run, ["placeholder-pod", "container-statuses"]
            )
            return vm_container_ended(parse_container_states(answer), self.base_container_name)
        except Exception as error:  # the VM may not answer yet; the placeholder's phase still decides
            log.debug("Pod %s/%s: peer VM states not read: %s", self.pod_namespace, self.pod_name, error)
            return False

    async def _list_events(self) -> list[Any]:
        """Return the pod's events: from the shared events watch, else listed."""
        watch = await self._events_watch()
        events = watch.events_of(self.pod_name) if watch is not None else None
        if events is not None:
            return events
        client = await self._api()
        selector = f"involvedObject.name={self.pod_name}"
        listed = await self._call(
            functools.partial(
                client.list_namespaced_event,
                self.pod_namespace,
                field_selector=selector,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            ),
            f"list events of pod {self.pod_namespace}/{self.pod_name}",
        )
        return list(listed.items or [])

    async def _api(self) -> CoreV1Api:
        if self._client is None:
            # Reading the connection talks to the triggerer's supervisor on Airflow 3. From a thread of
            # our own pool Airflow 3.1 answers it on a second event loop, and the replies to
            # concurrent triggers cross ("Response read out of order!"): the triggerer exits and every
            # deferred task waits. asgiref's thread hands the request back to the triggerer's loop.
            self._client = await call_with_retry_async(
                lambda: _in_airflow_thread(self._make_client),
                description="load the Kubernetes client configuration",
            )
        return self._client

    def _make_client(self) -> CoreV1Api:
        from ..hooks.composer_kubernetes import ComposerKubernetesHook

        hook = ComposerKubernetesHook(
            conn_id=self.kubernetes_conn_id,
            config_file=self.config_file,
            in_cluster=self.in_cluster,
            cluster_context=self.cluster_context,
            use_composer_kubeconfig=self.use_composer_kubeconfig,
        )
        return CoreV1Api(hook.api_client)

    async def _call(self, call: Callable[[], T], description: str) -> T:
        """Return ``call()`` run in the API thread pool, with transient failures retried."""
        loop = asyncio.get_running_loop()
        return await call_with_retry_async(lambda: loop.run_in_executor(_api_executor(), call), description=description)
