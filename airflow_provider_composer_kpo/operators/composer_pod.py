"""ComposerPodOperator: KubernetesPodOperator with Cloud Composer's defaults and guard rails.

This module only wires the package's policies into upstream's operator; each rule lives in its
own module (kubeconfig, entrypoint, timeouts, resources, finish_action, preflight, startup,
diagnosis).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from airflow.exceptions import AirflowException
from kubernetes.client import AuthorizationV1Api
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from ..compat import (
    AIRFLOW_V_3_PLUS,
    CNCF_KUBERNETES_VERSION,
    HAS_DEFERRABLE,
    HAS_ON_FINISH_ACTION,
    HAS_SCHEDULE_TIMEOUT,
    AirflowTaskTimeout,
    KubernetesPodOperator,
    TaskDeferred,
    base_container_name,
)
from ..exceptions import (
    ComposerPlatformWarning,
    ComposerPodArgumentWarning,
    ComposerPodConfigError,
    PodFailedError,
    PodKilledError,
    PodPreflightError,
    PodStartupError,
)
from ..hooks.composer_kubernetes import ComposerKubernetesHook
from ..kube.client import pod_log_text
from ..kube.kubeconfig import Origin
from ..kube.pod_stream import PodStream
from ..kube.retry import error_gist
from ..lifecycle.deferral import Event, deferred_failure
from ..lifecycle.diagnosis import (
    container_failure,
    creation_refusal,
    pod_outcome,
    stopped_while_running,
    workload_ended,
)
from ..lifecycle.interruption import execution_timeout_message, pod_disruption
from ..lifecycle.log_replay import LogReplay, widen_resumed_read
from ..lifecycle.running import (
    STREAMED_CHECK_INTERVAL_SECONDS,
    PodDisruptedError,
    RunningWatch,
    await_pod_state,
    streamed_pod,
)
from ..lifecycle.startup import StartupWatch
from ..lifecycle.task_header import describe_preflight, describe_preflight_mode, start_block
from ..platform.composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE, composer_major_version
from ..platform.console_links import pod_place
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
from ..platform.rules import describe_peer_vm, platform_findings, pod_findings
from ..pod.entrypoint import ErrexitPolicy, apply_errexit_policy
from ..pod.finish_action import resolve_on_finish_action, should_delete_pod
from ..pod.mode_arguments import unhonoured_arguments
from ..pod.resources import resolve_container_resources
from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS, resolve_timeouts
from ..pod.validation import validate_static_arguments
from ..preflight.checks import PreflightMode, format_problems, run_preflight
from ..triggers.composer_pod import ComposerPodTrigger
from .links import POD_PLACE_XCOM_KEY, PodLogsLink, WorkloadLink

if TYPE_CHECKING:
    from airflow.utils.context import Context

#: Log lines of the failed container quoted in the exception.
FAILURE_LOG_TAIL_LINES = 20
_ENDED = frozenset({"Succeeded", "Failed"})
#: PodManager methods that wait on a running pod (the names on every provider version since 5.0).
_RUNNING_POD_FOLLOWERS = ("fetch_requested_container_logs", "fetch_container_logs", "await_container_completion")
#: Seconds past ``execution_timeout`` after which Airflow ends a deferral the trigger did not end itself.
DEFER_TIMEOUT_MARGIN_SECONDS = 60


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()


class ComposerPodOperator(KubernetesPodOperator):
    """Run a pod on Cloud Composer's cluster, with Composer's defaults and safe behaviour.

    Takes every ``KubernetesPodOperator`` argument; the ones below differ from upstream, the same
    way on every supported cncf-kubernetes version.

    .. seealso:: The README's table "What we change versus stock KPO".

    :param errexit_policy: What to do when ``cmds``/``arguments`` run a shell script without
        errexit: ``"inject"`` adds ``set -e`` (``set -eo pipefail`` for bash), ``"require"`` fails
        the task (at DAG parse time when the script is not templated), ``"off"`` sends it unchanged.
        Entrypoints that are not a shell, and scripts that are one ``&&`` list, are never touched.
    :param preflight: Checks before the pod is created (namespace, Secrets and their keys,
        ConfigMaps, service account, node labels, permissions): ``"fail"`` stops the task on a
        problem that would keep the pod from starting, ``"warn"`` only logs it, ``"off"`` skips.
    :param config_file: The kubeconfig. Not given: the connection's source if it has one, else
        ``$COMPOSER_KPO_KUBECONFIG``, else Composer's ``/home/airflow/composer_kube_config`` if it
        exists, else upstream's chain. Given explicitly, it always wins; ``None`` skips the
        Composer fallbacks. (templated)
    :param namespace: Namespace for the pod; ``composer-user-workloads``, as Composer 3 requires. (templated)
    :param kubernetes_conn_id: The connection; ``kubernetes_default`` on every provider version,
        and a missing ``kubernetes_default`` is not an error. (templated)
    :param startup_timeout_seconds: Seconds for the pod to start once scheduled; 600 by default
        (upstream: 120), whole seconds between 30 and 10800. A pod that can never start (missing
        Secret, bad image, no node) fails within seconds with the reason instead.
    :param schedule_timeout_seconds: Seconds for the pod to be scheduled; defaults to
        ``startup_timeout_seconds``. Honoured on every provider version (in deferrable mode
        only where the provider has it, 10.5+).
    :param container_resources: Requests and limits of the base container.
    :param resources: Deprecated pre-5.0 dict (``limit_memory``, ``request_cpu``, ...); translated
        to ``container_resources`` with a warning. Unknown keys are an error.
    :param on_finish_action: ``"delete_pod"`` (default), ``"delete_succeeded_pod"`` or ``"keep_pod"``,
        on every provider version.
    :param is_delete_operator_pod: Deprecated; ``True`` means ``on_finish_action="delete_pod"``,
        ``False`` means ``"keep_pod"``.
    :param deferrable: Wait for the pod in the triggerer (:class:`~..triggers.composer_pod.ComposerPodTrigger`)
        instead of a worker slot, with the same checks, verdicts and messages as the synchronous
        path (cncf-kubernetes 6.0+; on 5.x ``True`` is an error at DAG parse time).
    """

    #: Logs Explorer and the GKE console for the task's pod, on Composer (operators/links.py).
    operator_extra_links = (PodLogsLink(), WorkloadLink())

    def __init__(
        self,
        *,
        errexit_policy: str = ErrexitPolicy.INJECT.value,
        preflight: str = PreflightMode.FAIL.value,
        config_file: str | None = NOTSET,
        namespace: str | None = COMPOSER_USER_WORKLOADS_NAMESPACE,
        kubernetes_conn_id: str | None = ComposerKubernetesHook.default_conn_name,
        startup_timeout_seconds: int = DEFAULT_STARTUP_TIMEOUT_SECONDS,
        schedule_timeout_seconds: int | None = None,
        container_resources: k8s.V1ResourceRequirements | None = None,
        resources: dict[str, str] | None = None,
        on_finish_action: str | None = None,
        is_delete_operator_pod: bool | None = None,
        **kwargs: Any,
    ) -> None:
        task_id = str(kwargs.get("task_id", "<no task_id>"))
        if kwargs.get("deferrable") and not HAS_DEFERRABLE:
            raise ComposerPodConfigError(
                f"Task {task_id!r}: deferrable=True needs apache-airflow-providers-cncf-kubernetes 6.0 or newer; "
                f"{CNCF_KUBERNETES_VERSION} is installed. Remove deferrable=True (the task then holds a worker "
                "slot while its pod runs) or upgrade the provider."
            )
        self.errexit_policy = ErrexitPolicy.parse(errexit_policy, task_id=task_id)
        self.preflight = PreflightMode.parse(preflight, task_id=task_id)
        validate_static_arguments(
            {**kwargs, "namespace": namespace, "container_resources": container_resources}, task_id=task_id
        )
        # Fail at DAG parse time when a static script breaks the policy; templated ones are
        # checked after rendering, in build_pod_request_obj.
        apply_errexit_policy(
            kwargs.get("cmds") or [],
            kwargs.get("arguments") or [],
            self.errexit_policy,
            task_id=task_id,
            allow_templates=True,
        )

        schedule_timeout_seconds = resolve_timeouts(startup_timeout_seconds, schedule_timeout_seconds, task_id=task_id)
        if HAS_SCHEDULE_TIMEOUT:
            kwargs["schedule_timeout_seconds"] = schedule_timeout_seconds

        container_resources = resolve_container_resources(container_resources, resources, task_id=task_id)
        # What Composer will change, ignore or refuse; templated values wait for the task log.
        for finding in platform_findings(
            composer_major=composer_major_version(),
            namespace=namespace,
            container_resources=container_resources,
            affinity=kwargs.get("affinity"),
            node_selector=kwargs.get("node_selector"),
            tolerations=kwargs.get("tolerations"),
        ):
            warnings.warn(f"Task {task_id!r}: {finding}", ComposerPlatformWarning, stacklevel=2)

        finish_action = resolve_on_finish_action(on_finish_action, is_delete_operator_pod, task_id=task_id)
        if HAS_ON_FINISH_ACTION:
            kwargs["on_finish_action"] = finish_action
        else:
            kwargs["is_delete_operator_pod"] = finish_action != "keep_pod"

        self._config_file_explicit = config_file is not NOTSET
        # config_file=None given explicitly skips the Composer fallbacks, here and in the trigger.
        self._use_composer_kubeconfig = not (self._config_file_explicit and config_file is None)
        super().__init__(
            config_file=COMPOSER_KUBECONFIG_PATH if config_file is NOTSET else config_file,
            namespace=namespace,
            kubernetes_conn_id=kubernetes_conn_id,
            startup_timeout_seconds=startup_timeout_seconds,
            container_resources=container_resources,
            **kwargs,
        )
        self.schedule_timeout_seconds = schedule_timeout_seconds
        # After upstream's __init__: deferrable may come from [operators] default_deferrable.
        for message in unhonoured_arguments(
            kwargs, deferrable=bool(getattr(self, "deferrable", False)), task_id=task_id
        ):
            warnings.warn(message, ComposerPodArgumentWarning, stacklevel=2)
        if not HAS_ON_FINISH_ACTION:
            self.on_finish_action = finish_action
        self._preflight_error: PodPreflightError | None = None
        self._startup_error: PodStartupError | None = None
        self._creation_refused: PodStartupError | None = None
        self._vm_snapshot: VmSnapshot | None = None
        self._stopped_by_on_kill = False
        self._watching = False
        self._log_replays: dict[tuple[str, str, str], LogReplay] = {}
        self._resumed_pod: k8s.V1Pod | None = None
        self._pod_stream: PodStream | None = None
        self._created_pod: k8s.V1Pod | None = None

    @cached_property
    def hook(self) -> ComposerKubernetesHook:
        """Return the hook; the operator's config attributes are set to what the hook chose."""
        hook = ComposerKubernetesHook(
            conn_id=self.kubernetes_conn_id,
            in_cluster=self.in_cluster,
            config_file=self.config_file if self._config_file_explicit else None,
            cluster_context=self.cluster_context,
            use_composer_kubeconfig=self._use_composer_kubeconfig,
        )
        hook.announce_config = False  # the task log's header block says it (lifecycle/task_header.py)
        choice = hook.client_config_choice
        # Deferrable mode hands these attributes to the trigger; keep them equal to the choice.
        if choice.origin is not Origin.CONNECTION:
            self.config_file = choice.config_file
            self.in_cluster = choice.in_cluster
        return hook

    @cached_property
    def pod_manager(self) -> Any:
        """Return upstream's PodManager, wrapped on this instance only, so Google's Composer 3 patches keep working.

        Its followers of a running pod run under a :class:`~..lifecycle.running.RunningWatch` (a pod taken
        away fails the task at once); a resumed log read drops the lines already logged
        (:mod:`~..lifecycle.log_replay`); on a Composer 3 placeholder the VM is read before it shuts down.
        Its waits for a container's or the pod's end follow the pod's watch (:attr:`_pod_stream`) instead
        of reading it every 1-2 s, except on a Composer 3 placeholder, where Google's patched waits run.
        """
        manager = super().pod_manager
        manager.read_pod_logs = self._without_replays(manager.read_pod_logs)
        create_pod = manager.create_pod

        def create_and_keep(*args: Any, **kwargs: Any) -> Any:
            try:
                created = create_pod(*args, **kwargs)
            except ApiException as error:
                self._creation_refused = self._refusal(error, kwargs.get("pod", args[0] if args else None))
                if self._creation_refused is None:
                    raise
                raise self._creation_refused from error
            # Upstream returns its request object; the answer carries the resourceVersion to watch from.
            self._created_pod = created if isinstance(created, k8s.V1Pod) else None
            return created

        manager.create_pod = create_and_keep
        if hasattr(manager, "await_container_completion"):
            manager.await_container_completion = self._streamed_container_completion(manager.await_container_completion)
        for method in _RUNNING_POD_FOLLOWERS:
            if hasattr(manager, method):
                setattr(manager, method, self._watched(getattr(manager, method)))
        await_completion = manager.await_pod_completion

        def await_pod_completion(pod: k8s.V1Pod, *args: Any, **kwargs: Any) -> Any:
            if self._vm_snapshot is None:  # a resumed task read it first thing (resume_from_trigger)
                self._vm_snapshot = self._read_peer_vm(pod)
            stream = self._stream_of(pod)
            if stream is None:
                return await_completion(pod, *args, **kwargs)
            # Upstream's signature: (pod) on 5.x, (pod, istio_enabled=False, container_name="base") later.
            istio_enabled = kwargs.get("istio_enabled", args[0] if args else False)
            container = kwargs.get("container_name", args[1] if len(args) > 1 else base_container_name(self))
            return await_pod_state(
                stream,
                lambda now: (
                    now.status is not None
                    and (now.status.phase in _ENDED or (istio_enabled and workload_ended(now, container)))
                ),
            )

        manager.await_pod_completion = await_pod_completion
        return manager

    def _stream_of(self, pod: k8s.V1Pod | None) -> PodStream | None:
        """Return the watch following ``pod``, or None where upstream's own reads must run (Composer 3)."""
        stream = self._pod_stream
        if stream is None or pod is None or pod.metadata is None or may_become_placeholder(pod):
            return None
        return stream if (stream.namespace, stream.pod_name) == (pod.metadata.namespace, pod.metadata.name) else None

    def _streamed_container_completion(self, upstream: Callable[..., Any]) -> Callable[..., Any]:
        """Return upstream's ``await_container_completion``, waiting on the pod's watch when there is one."""

        def await_container_completion(pod: k8s.V1Pod, container_name: str, *args: Any, **kwargs: Any) -> Any:
            stream = self._stream_of(pod)
            if stream is None:
                return upstream(pod, container_name, *args, **kwargs)
            await_pod_state(stream, lambda now: workload_ended(now, container_name))
            return None

        return await_container_completion

    def _watched(self, follow: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``follow`` run under a RunningWatch; calls it makes itself run unwatched."""

        def watched(*args: Any, **kwargs: Any) -> Any:
            pod = kwargs.get("pod", args[0] if args else None)
            if self._watching or getattr(pod, "metadata", None) is None:
                return follow(*args, **kwargs)
            name, namespace = pod.metadata.name, pod.metadata.namespace
            self._watching = True
            stream = self._pod_stream
            if stream is not None and (stream.namespace, stream.pod_name) != (namespace, name):
                stream = None
            try:
                return RunningWatch(
                    pod_name=name,
                    namespace=namespace,
                    read_pod=(
                        (lambda: streamed_pod(stream))
                        if stream is not None
                        else (lambda: _read_or_none(self.client, name, namespace))
                    ),
                    stopped=lambda: self._stopped_by_on_kill,
                    on_stopped=lambda: self._killed_error(pod),
                    **({"check_interval_seconds": STREAMED_CHECK_INTERVAL_SECONDS} if stream is not None else {}),
                ).run(lambda: follow(*args, **kwargs))
            finally:
                self._watching = False

        return watched

    def _without_replays(self, read_pod_logs: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``read_pod_logs`` whose timestamped reads go through the container's LogReplay."""

        def read(pod: k8s.V1Pod, container_name: str, *args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("timestamps") or getattr(pod, "metadata", None) is None:
                return read_pod_logs(pod, container_name, *args, **kwargs)
            name, namespace = pod.metadata.name, pod.metadata.namespace
            replay = self._log_replays.get((namespace, name, container_name))
            if replay is None:
                replay = self._log_replays[(namespace, name, container_name)] = LogReplay(
                    on_gap=lambda gap: self.log.warning("%s", gap.message(f"{namespace}/{name}", container_name)),
                    on_dropped=lambda count: self.log.info(
                        "Resumed the log stream of container %r: left out %d line(s) already logged",
                        container_name,
                        count,
                    ),
                )
            kwargs["since_seconds"], since = widen_resumed_read(kwargs.get("since_seconds"))
            return replay.read(read_pod_logs(pod, container_name, *args, **kwargs), since)

        return read

    def _read_peer_vm(self, pod: k8s.V1Pod) -> VmSnapshot | None:
        """Return the VM's container states and log tail if ``pod`` is a Composer 3 placeholder."""
        if not may_become_placeholder(pod):
            return None  # no extra API call for pods off Composer 3
        try:
            remote_pod = self.client.read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
        except Exception as error:
            self.log.warning("Could not read pod %s to check for a Composer 3 peer VM: %s", pod.metadata.name, error)
            return None
        if not is_placeholder(remote_pod):
            return None
        return snapshot_vm(
            remote_pod,
            base_container_name(self),
            run_exec=exec_in_placeholder(self.hook.api_client, remote_pod),
            tail_lines=FAILURE_LOG_TAIL_LINES,
        )

    def build_pod_request_obj(self, context: Context | None = None) -> k8s.V1Pod:
        """Return upstream's pod with the errexit policy applied to the rendered base container."""
        pod = super().build_pod_request_obj(context)
        for container in pod.spec.containers:
            if container.name == base_container_name(self):
                result = apply_errexit_policy(
                    container.command or [], container.args or [], self.errexit_policy, task_id=self.task_id
                )
                container.command = result.cmds or None
                container.args = result.arguments or None
                self._errexit_outcome = f"{result.outcome.value} (errexit_policy={self.errexit_policy.value})"
        return pod

    def get_or_create_pod(self, pod_request_obj: k8s.V1Pod, context: Context) -> k8s.V1Pod:
        """Log what Composer will do with the pod, run the preflight checks, then find or create it."""
        if self._resumed_pod is not None:
            return self._resumed_pod  # a deferred task resumes with the pod its trigger followed
        self._run_preflight(pod_request_obj)
        pod = super().get_or_create_pod(pod_request_obj, context)
        self._push_pod_place(pod, context)
        return pod

    def _push_pod_place(self, pod: k8s.V1Pod, context: Context) -> None:
        """On Airflow 2 on Composer, keep where the pod runs for the web server's extra links."""
        if AIRFLOW_V_3_PLUS:  # links are made in the worker, from self.pod (operators/links.py)
            return
        place = pod_place(os.environ, pod.metadata.namespace, pod.metadata.name)
        ti = context.get("ti") if context else None
        if place is not None and ti is not None:
            ti.xcom_push(key=POD_PLACE_XCOM_KEY, value=place.as_dict())

    def _log_platform_rules(self, pod: k8s.V1Pod) -> None:
        major = composer_major_version()
        if major is not None and major >= 3:
            self.log.info("%s", describe_peer_vm(self.container_resources))
        # Google's pod_mutation_hook has already cleared the first container's resources on Composer 3.
        for finding in pod_findings(pod, composer_major=major, container_resources=self.container_resources):
            self.log.warning("Composer %s: %s", major, finding)

    def _log_start(self, pod: k8s.V1Pod) -> None:
        """Log the header block (lifecycle/task_header.py), then what Composer will do with the pod.

        Nothing here builds an API client, so the block is in the log even when the kubeconfig fails.
        """
        containers = pod.spec.containers or []
        base = next((c for c in containers if c.name == base_container_name(self)), None)
        block = start_block(
            task_id=self.task_id,
            namespace=pod.metadata.namespace,
            pod_name=pod.metadata.name,
            image=base.image if base else None,
            kubeconfig=self.hook.client_config_choice.describe(self.hook.conn_id),
            environ=os.environ,
            timeouts=(("startup", self.startup_timeout_seconds), ("schedule", self.schedule_timeout_seconds)),
            errexit=getattr(self, "_errexit_outcome", "not applied"),
            preflight=describe_preflight_mode(self.preflight.value),
        )
        self.log.info("%s", block)
        self._log_platform_rules(pod)

    def _run_preflight(self, pod: k8s.V1Pod) -> None:
        self._log_start(pod)
        if self.preflight is PreflightMode.OFF:
            return
        # Secret("volume", path, name, key): the key is not in the pod spec, but the fix can name it.
        file_hints = {
            (secret.secret, secret.deploy_target): (secret.key,)
            for secret in self.secrets or []
            if secret.deploy_type == "volume" and secret.key
        }
        problems = run_preflight(
            pod,
            self.client,
            AuthorizationV1Api(self.hook.api_client),
            need_exec=bool(self.do_xcom_push),
            file_hints=file_hints,
        )
        fatal = sum(1 for p in problems if p.fatal)
        self.log.info("Preflight: %s", describe_preflight(self.preflight.value, fatal, len(problems) - fatal))
        if not problems:
            return
        report = format_problems(problems, task_id=self.task_id, namespace=pod.metadata.namespace)
        if self.preflight is PreflightMode.FAIL and any(p.fatal for p in problems):
            self._preflight_error = PodPreflightError(report, problems=problems)
            raise self._preflight_error
        self.log.warning("%s", report)

    def await_pod_start(self, pod: k8s.V1Pod) -> None:
        """Wait for the pod to leave Pending; fail within seconds when it never will.

        From here on the pod is followed through the watch API (:class:`~..kube.pod_stream.PodStream`),
        which the waits for its end use too; :meth:`cleanup` stops it.
        """
        name, namespace = pod.metadata.name, pod.metadata.namespace
        created = self._created_pod
        if created is not None and created.metadata is not None and created.metadata.name == name:
            pod = created  # as the API server answered the create: its resourceVersion and status
        self._stop_pod_stream()
        self._pod_stream = PodStream.for_pod(self.client, pod).start()
        watch = StartupWatch(
            pod_name=name,
            namespace=namespace,
            read_pod=lambda: self.client.read_namespaced_pod(name, namespace),
            list_events=lambda: (
                self.client.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
            ),
            schedule_timeout_seconds=self.schedule_timeout_seconds,
            startup_timeout_seconds=self.startup_timeout_seconds,
            # The judge's timers, checked on the last state the watch reported: no request each.
            check_interval_seconds=STREAMED_CHECK_INTERVAL_SECONDS,
            still_starting=vm_start_blocker,
            stream=self._pod_stream,
            first=pod,
        )
        try:
            watch.wait()
        except PodStartupError as error:
            self._startup_error = error
            raise

    def invoke_defer_method(self, last_log_time: Any = None, context: Context | None = None) -> None:
        """Defer to :class:`ComposerPodTrigger`, which judges the pod as the synchronous path does.

        Replaces upstream's trigger on every provider version (6.0+); ``last_log_time`` is
        upstream's and unused: the log is written once, when the task resumes.
        """
        self.hook  # noqa: B018 - resolves config_file and in_cluster by the package's rule
        deadline = None
        if self.execution_timeout is not None:
            # From the task's start, as Airflow counts it; providers before 10.2x call this without the context.
            started = getattr(context.get("ti"), "start_date", None) if context else None
            start = started.timestamp() if started is not None else time.time()
            deadline = start + self.execution_timeout.total_seconds()
        trigger = ComposerPodTrigger(
            pod_name=self.pod.metadata.name,
            pod_namespace=self.pod.metadata.namespace,
            trigger_start_time=time.time(),
            base_container_name=base_container_name(self),
            kubernetes_conn_id=self.kubernetes_conn_id,
            config_file=self.config_file,
            in_cluster=self.in_cluster,
            cluster_context=self.cluster_context,
            use_composer_kubeconfig=self._use_composer_kubeconfig,
            schedule_timeout_seconds=self.schedule_timeout_seconds,
            startup_timeout_seconds=self.startup_timeout_seconds,
            startup_check_interval_seconds=getattr(self, "startup_check_interval_seconds", 2),
            poll_interval=self.poll_interval,
            execution_deadline=deadline,
        )
        timeout = None
        if deadline is not None:
            timeout = timedelta(seconds=max(0.0, deadline - time.time()) + DEFER_TIMEOUT_MARGIN_SECONDS)
        self.defer(trigger=trigger, method_name="resume_from_trigger", timeout=timeout)

    def resume_from_trigger(self, context: Context, event: Event) -> Any:
        """Finish a deferred task from its trigger's event, as the synchronous path would have."""
        name, namespace = event["name"], event["namespace"]
        self.log.info("Resumed: pod %s/%s %s", namespace, name, event["status"])
        failure = deferred_failure(event)
        remote_pod = _read_or_none(self.client, name, namespace)
        if failure is None and remote_pod is None:
            failure = self._ended_pod_gone(event)
            if failure is None:
                return None
        if failure is None:
            if hasattr(self, "_set_name"):  # 10.x names the pod in execute(), which a resume skips
                self.name = self._set_name(self.name)
            self._resumed_pod = remote_pod
            # A peer VM serves its state for a short while after its containers end; Google's log
            # fetch on resume can take longer than that, so read the VM before it.
            self._vm_snapshot = self._read_peer_vm(remote_pod)
            return self.execute_sync(context)
        if isinstance(failure, PodStartupError):
            self._startup_error = failure
        if remote_pod is None:
            raise failure
        try:
            raise failure
        finally:  # as in upstream's synchronous path: the pod is deleted or kept, the verdict goes on
            self.cleanup(remote_pod, remote_pod)

    def _ended_pod_gone(self, event: Event) -> BaseException | None:
        """Return the error for a pod that ended and was deleted before the task resumed, or None."""
        where = f"Pod {event['namespace']}/{event['name']}"
        gone = "was deleted before the task resumed"
        if event.get("message"):
            return PodFailedError(f"{where} failed: {event['message']}. It {gone}; its log is gone.")
        if self.do_xcom_push:
            return PodFailedError(f"{where} succeeded but {gone}; its XCom result is gone.")
        self.log.warning("%s succeeded and %s; its log is gone", where, gone)
        return None

    def _stop_pod_stream(self) -> None:
        if self._pod_stream is not None:
            self._pod_stream.stop()
            self._pod_stream = None

    def cleanup(self, pod: k8s.V1Pod, remote_pod: k8s.V1Pod, *args: Any, **kwargs: Any) -> None:
        """Delete or keep the pod as upstream does, then raise an error that says what went wrong."""
        self._stop_pod_stream()
        if self._preflight_error is not None:
            raise self._preflight_error  # no pod was created; nothing to clean up
        if self._creation_refused is not None:
            raise self._creation_refused from None  # likewise: read now, the pod would look deleted
        # Called from upstream's `finally`: an error here means the task stopped before the pod ended.
        interrupted = sys.exc_info()[1]
        if self._startup_error is not None or self._stopped_by_on_kill or isinstance(interrupted, TaskDeferred):
            interrupted = None
        if not HAS_ON_FINISH_ACTION:
            self.is_delete_operator_pod = should_delete_pod(
                self.on_finish_action, remote_pod, task_stopped=interrupted is not None
            )
        # Upstream passes the pod as read at creation when the task stopped early: no outcome to tell.
        if remote_pod is not None and remote_pod.status is not None and remote_pod.status.phase in _ENDED:
            container = base_container_name(self)
            outcome = (
                vm_outcome(remote_pod, self._vm_snapshot, container)
                if is_placeholder(remote_pod)
                else pod_outcome(remote_pod, container)
            )
            self.log.info("Task %s: %s", self.task_id, outcome)
        failure = None if self._startup_error or interrupted else self._describe_failure(remote_pod)
        # Judged before upstream's cleanup deletes the pod: read after, an evicted pod reads as deleted.
        disruption = self._disruption_of(interrupted, pod) if interrupted is not None else None
        try:
            super().cleanup(pod, remote_pod, *args, **kwargs)
        except AirflowException as upstream_error:
            if self._stopped_by_on_kill:
                raise self._killed_error(pod) from upstream_error
            if type(upstream_error) is not AirflowException:  # skip, or another deliberate error
                raise
            if self._startup_error is not None:
                raise self._startup_error from None
            if interrupted is not None:
                self._raise_interruption(interrupted, pod, disruption)
                return  # no verdict: the error that stopped the task goes on, not upstream's stale one
            if failure is not None:
                raise PodFailedError(failure) from None
            if placeholder_succeeded(remote_pod):
                # Upstream looked for the base container on the placeholder; Composer 3 runs it on the VM.
                self.log.info("Composer 3: the placeholder pod succeeded, so its peer VM's containers did")
                return
            raise
        if self._stopped_by_on_kill:
            raise self._killed_error(pod)
        if interrupted is not None:
            self._raise_interruption(interrupted, pod, disruption)

    @staticmethod
    def _refusal(error: ApiException, pod: k8s.V1Pod | None) -> PodStartupError | None:
        """The error for a pod the API server refused to create (invalid spec, RBAC, quota), if it was that."""
        meta = pod.metadata if isinstance(pod, k8s.V1Pod) and pod.metadata else k8s.V1ObjectMeta()
        refusal = creation_refusal(error.status, error.body, namespace=meta.namespace or "?", name=meta.name or "?")
        return PodStartupError(refusal[1], reason=refusal[0]) if refusal else None

    def _disruption_of(self, error: BaseException, pod: k8s.V1Pod | None) -> str | None:
        """Return what took the pod away while the task followed it, from the pod as it is now."""
        if pod is None or pod.metadata is None or isinstance(error, (PodFailedError, AirflowTaskTimeout)):
            return None  # our own verdict already, or a timeout: nothing to read
        name, namespace = pod.metadata.name, pod.metadata.namespace
        try:
            now = _read_or_none(self.client, name, namespace)
        except Exception as read_error:
            self.log.warning("Could not read pod %s/%s after the task stopped: %s", namespace, name, read_error)
            return None
        return pod_disruption(now, name=name, namespace=namespace)

    def _raise_interruption(self, error: BaseException, pod: k8s.V1Pod | None, disruption: str | None) -> None:
        """Raise what stopped the task before its pod ended, naming what became of the pod.

        Upstream's stale "Pod ... returned a failure" would hide the real cause.
        """
        if pod is None or pod.metadata is None:
            return  # the original error goes on
        if isinstance(error, PodFailedError):
            raise error from None  # our own verdict, already naming what happened; not upstream's stale error
        if isinstance(error, AirflowTaskTimeout):
            deleted, delete_error = self._delete_stopped_pod(pod)
            message = execution_timeout_message(
                pod, timeout=self.execution_timeout, pod_deleted=deleted, delete_error=delete_error
            )
            raise AirflowTaskTimeout(message) from error
        if disruption is not None:
            raise PodDisruptedError.from_verdict(disruption) from error

    def _delete_stopped_pod(self, pod: k8s.V1Pod) -> tuple[bool, str | None]:
        """Delete a pod its task gave up on, unless the user keeps pods.

        Return whether it is gone, and why deleting it failed (None when kept on purpose).
        """
        action = str(getattr(self.on_finish_action, "value", self.on_finish_action))
        if not should_delete_pod(action, None, task_stopped=True):
            return False, None
        try:
            self.pod_manager.delete_pod(pod)
        except Exception as error:
            if getattr(error, "status", None) != 404:
                return False, error_gist(error)
        return True, None

    def on_kill(self) -> None:
        """Delete the pod as upstream does; the task then fails instead of ending as a success."""
        self._stopped_by_on_kill = True
        self._stop_pod_stream()
        super().on_kill()

    def _killed_error(self, pod: k8s.V1Pod | None) -> PodKilledError:
        kept = str(getattr(getattr(self, "on_kill_action", None), "value", "")) == "keep_pod"
        return PodKilledError(stopped_while_running(pod, pod_kept=kept))

    def _describe_failure(self, remote_pod: k8s.V1Pod | None) -> str | None:
        """Return the failure message for a failed pod: reason, exit code, last log lines."""
        container = base_container_name(self)
        if is_placeholder(remote_pod):
            return self._describe_vm_failure(remote_pod, container)
        summary = container_failure(remote_pod, container)
        if summary is None:
            return None
        name, namespace = remote_pod.metadata.name, remote_pod.metadata.namespace
        message = f"Pod {namespace}/{name} failed: {summary}."
        try:  # read before upstream's cleanup deletes the pod
            tail = pod_log_text(self.client, name, namespace, container=container, tail_lines=FAILURE_LOG_TAIL_LINES)
        except Exception as error:
            self.log.warning("Could not read the failed container's log: %s", error)
            return message
        return message + _log_tail_text(container, tail.rstrip("\n").splitlines() if tail else [])

    def _describe_vm_failure(self, remote_pod: k8s.V1Pod, container: str) -> str | None:
        """Return the failure message for a Composer 3 placeholder, from what its VM said."""
        summary = vm_failure(remote_pod, self._vm_snapshot, container)
        if summary is None:
            return None
        name, namespace = remote_pod.metadata.name, remote_pod.metadata.namespace
        tail = list(self._vm_snapshot.log_tail) if self._vm_snapshot else []
        return f"Pod {namespace}/{name} failed: {summary}." + _log_tail_text(container, tail)


def _log_tail_text(container: str, lines: list[str]) -> str:
    if not lines:
        return ""
    return f"\nLast {len(lines)} log lines of {container!r}:\n" + "\n".join(f"  {line}" for line in lines)


def _read_or_none(client: Any, name: str, namespace: str) -> k8s.V1Pod | None:
    """Return the pod as it is now, or None if the API server says it no longer exists."""
    try:
        return client.read_namespaced_pod(name, namespace)
    except Exception as error:
        if getattr(error, "status", None) == 404:
            return None
        raise
