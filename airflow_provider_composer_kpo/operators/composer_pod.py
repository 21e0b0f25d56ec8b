"""ComposerPodOperator: KubernetesPodOperator with Cloud Composer's defaults and guard rails.

This module only wires the package's policies into upstream's operator; each rule lives in its
own module (kubeconfig, entrypoint, timeouts, resources, finish_action, preflight, startup,
diagnosis). Following the running pod is :class:`~..lifecycle.follow.PodFollower`'s, and how the
task ends is decided by :func:`~..lifecycle.ending.decide_ending`, for the synchronous and the
resumed path alike; the operator gathers the facts and raises what it decides.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from airflow.exceptions import AirflowException
from kubernetes.client import AuthorizationV1Api
from kubernetes.client import models as k8s

from ..compat import (
    CALLBACK_LISTS,
    HAS_ON_FINISH_ACTION,
    XCOM_SIDECAR,
    AirflowTaskTimeout,
    KubernetesPodOperator,
    base_container_name,
)
from ..exceptions import PodFailedError, PodKilledError, PodPreflightError, PodStartupError
from ..hooks.composer_kubernetes import ComposerKubernetesHook
from ..kube.client import is_gone, read_pod_or_none
from ..kube.retry import error_gist
from ..lifecycle.deferral import Event, deferral_timeout, deferred_failure, execution_deadline, left_to_trigger
from ..lifecycle.diagnosis import stopped_while_running
from ..lifecycle.ending import (
    EndingFacts,
    EndingKind,
    Interruption,
    UpstreamError,
    decide_ending,
    failure_message,
)
from ..lifecycle.follow import PodFollower
from ..lifecycle.interruption import execution_timeout_message
from ..lifecycle.orphans import with_callback
from ..lifecycle.reattach import being_deleted, result_already_taken
from ..lifecycle.running import PodDisruptedError
from ..lifecycle.task_header import describe_preflight, describe_preflight_mode, start_block
from ..platform.composer import COMPOSER_USER_WORKLOADS_NAMESPACE, composer_major_version
from ..platform.rules import describe_peer_vm, pod_findings
from ..pod.entrypoint import ErrexitPolicy
from ..pod.finish_action import should_delete_pod
from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS
from ..preflight.checks import PreflightMode, format_problems, run_preflight
from ..triggers.composer_pod import ComposerPodTrigger
from .arguments import NOTSET, apply_errexit, resolve_arguments, warn_unhonoured
from .links import PodLogsLink, WorkloadLink, push_pod_place
from .orphan_cleanup import CLEANED_UP_HERE, DeleteOrphanedPods

if TYPE_CHECKING:
    from airflow.sdk import Context  # upstream's annotation on the Airflow 3 mypy checks against


class ComposerPodOperator(KubernetesPodOperator):
    """Run a pod on Cloud Composer's cluster, with Composer's defaults and safe behaviour.

    Takes every ``KubernetesPodOperator`` argument; the ones below differ from upstream, the same
    way on every supported cncf-kubernetes version.

    .. seealso:: The operator guide (docs/operator.md): every default we change, and why.

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
        resolved = resolve_arguments(
            errexit_policy=errexit_policy,
            preflight=preflight,
            config_file=config_file,
            namespace=namespace,
            kubernetes_conn_id=kubernetes_conn_id,
            startup_timeout_seconds=startup_timeout_seconds,
            schedule_timeout_seconds=schedule_timeout_seconds,
            container_resources=container_resources,
            resources=resources,
            on_finish_action=on_finish_action,
            is_delete_operator_pod=is_delete_operator_pod,
            kwargs=kwargs,
        )
        self.errexit_policy, self.preflight = resolved.errexit_policy, resolved.preflight
        self._config_file_explicit = resolved.config_file_explicit
        self._use_composer_kubeconfig = resolved.use_composer_kubeconfig
        super().__init__(**resolved.upstream)
        self.schedule_timeout_seconds = resolved.schedule_timeout_seconds
        warn_unhonoured(kwargs, deferrable=bool(getattr(self, "deferrable", False)))
        if not HAS_ON_FINISH_ACTION:
            self.on_finish_action = resolved.finish_action  # type: ignore[assignment]  # an OnFinishAction from 7.2
        # A final try whose worker died leaves its pod to this callback (lifecycle/orphans.py).
        self.on_failure_callback = with_callback(self.on_failure_callback, DeleteOrphanedPods(), lists=CALLBACK_LISTS)
        # What the ending (lifecycle/ending.py) needs beside what the pod follower knows.
        self._preflight_error: PodPreflightError | None = None
        self._startup_error: PodStartupError | None = None
        self._stopped_by_on_kill = False
        self._resumed_pod: k8s.V1Pod | None = None
        self._deferred_pod: str | None = None  # "namespace/name" once this process handed it to a trigger
        self._errexit_outcome = "not applied"

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
        # Deferrable mode hands these attributes to the trigger, whose hook applies the same rule:
        # keep them equal to the choice. A connection's source leaves both unset, so that the
        # trigger reads the connection too (Composer's default path passed on would beat it).
        self.config_file = choice.config_file
        self.in_cluster = choice.in_cluster
        return hook

    def convert_config_file_to_dict(self) -> None:
        """Read no kubeconfig for the trigger: upstream loads ``config_file`` here for its own trigger
        (and fails when there is none: a connection's inline kubeconfig); ours resolves the client
        on the triggerer by the hook's rule, so no credential is serialized into the trigger row."""
        self._config_dict = None

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as upstream does, the connection's kubeconfig credentials registered first.

        A template may put them into a field (``{{ conn.<id>.extra }}``); Airflow stores and shows
        rendered fields masked by what is registered by then, before the hook loads the kubeconfig.
        """
        try:
            ComposerKubernetesHook(conn_id=self.kubernetes_conn_id).mask_connection_credentials()
        except Exception as error:  # a connection that cannot be read fails the task later, with its own error
            self.log.debug("Connection %r not read before rendering: %s", self.kubernetes_conn_id, type(error).__name__)
        super().render_template_fields(context, jinja_env)

    @cached_property
    def pod_follower(self) -> PodFollower:
        """Return what follows this task's pod (lifecycle/follow.py); built at first use, on the running copy."""
        return PodFollower(
            client=lambda: self.client,
            api_client=lambda: self.hook.api_client,
            base_container=lambda: base_container_name(self),
            stopped=lambda: self._stopped_by_on_kill,
            on_stopped=self._killed_error,
            log=lambda: self.log,
        )

    @cached_property
    def pod_manager(self) -> Any:
        """Return upstream's PodManager, its methods wrapped on this instance only (:meth:`PodFollower.install`).

        On the instance, so upstream's own calls and Google's Composer 3 patches (on the class) both
        pass through the wrappers.
        """
        return self.pod_follower.install(super().pod_manager)

    def build_pod_request_obj(self, context: Context | None = None, **kwargs: Any) -> k8s.V1Pod:
        """Return upstream's pod with the errexit policy applied to the rendered base container.

        ``kwargs``: upstream's own (``dry_run=True`` from :meth:`dry_run` on cncf-kubernetes 10.2x).
        """
        pod = super().build_pod_request_obj(context, **kwargs)
        for container in pod.spec.containers:
            if container.name == base_container_name(self):
                result = apply_errexit(
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
        if pod is not pod_request_obj:
            deleting = being_deleted(pod)
            taken = result_already_taken(pod, do_xcom_push=self.do_xcom_push, sidecar=XCOM_SIDECAR)
            if deleting or taken:
                self.log.warning("%s", deleting or taken)
                self._put_aside(pod, deleting=bool(deleting))
                self.pod_manager.create_pod(pod=pod_request_obj)
                pod = pod_request_obj
        push_pod_place(pod, context)
        return pod

    def _put_aside(self, pod: k8s.V1Pod, *, deleting: bool = False) -> None:
        """Delete an earlier try's pod this try will not use, or, with ``keep_pod``, mark it so no retry finds it.

        A pod already being deleted is only marked: it may be gone by then, which is what was wanted.
        """
        action = str(getattr(self.on_finish_action, "value", self.on_finish_action))
        if deleting:
            try:
                self.patch_already_checked(pod)
            except Exception as refused:  # marking is a courtesy to later tries; this try goes on either way
                if not is_gone(refused):
                    name = f"{pod.metadata.namespace}/{pod.metadata.name}"
                    self.log.warning("Could not mark pod %s: %s", name, error_gist(refused))
        elif should_delete_pod(action, pod, task_stopped=True):
            _, error = self._delete_stopped_pod(pod)
            if error:
                self.log.warning("Could not delete pod %s/%s: %s", pod.metadata.namespace, pod.metadata.name, error)
        else:
            self.patch_already_checked(pod)

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
            errexit=self._errexit_outcome,
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
        try:
            self.pod_follower.await_start(
                pod,
                schedule_timeout_seconds=self.schedule_timeout_seconds,
                startup_timeout_seconds=self.startup_timeout_seconds,
            )
        except PodStartupError as error:
            self._startup_error = error
            raise

    def invoke_defer_method(self, last_log_time: Any = None, context: Context | None = None) -> None:
        """Defer to :class:`ComposerPodTrigger`, which judges the pod as the synchronous path does.

        Replaces upstream's trigger on every provider version (6.0+); ``last_log_time`` is
        upstream's and unused: the log is written once, when the task resumes.
        """
        self.hook  # noqa: B018 - resolves config_file and in_cluster by the package's rule
        # Providers before 10.2x call this without the context: the deadline then counts from now.
        started = getattr(context.get("ti"), "start_date", None) if context else None
        deadline = execution_deadline(self.execution_timeout, started, time.time())
        trigger = ComposerPodTrigger(
            pod_name=cast("k8s.V1Pod", self.pod).metadata.name,  # execute() made it before deferring
            pod_namespace=cast("k8s.V1Pod", self.pod).metadata.namespace,
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
        self._deferred_pod = f"{trigger.pod_namespace}/{trigger.pod_name}"
        self.defer(trigger=trigger, method_name="resume_from_trigger", timeout=deferral_timeout(deadline, time.time()))

    def resume_from_trigger(self, context: Context, event: Event) -> Any:
        """Finish a deferred task from its trigger's event, as the synchronous path would have."""
        setattr(self, CLEANED_UP_HERE, True)
        self.pod_follower.resumed = True
        name, namespace = event["name"], event["namespace"]
        self.log.info("Resumed: pod %s/%s %s", namespace, name, event["status"])
        failure = deferred_failure(event)
        remote_pod = read_pod_or_none(self.client, name, namespace)
        if failure is None and remote_pod is not None:
            if hasattr(self, "_set_name"):  # 10.x names the pod in execute(), which a resume skips
                self.name = self._set_name(self.name)
            self._resumed_pod = remote_pod
            # A peer VM serves its state for a short while after its containers end; Google's log
            # fetch on resume can take longer than that, so read the VM before it.
            self.pod_follower.snapshot_vm(remote_pod)
            return self.execute_sync(context)
        if isinstance(failure, PodStartupError):
            self._startup_error = failure
        if remote_pod is not None:
            try:
                raise cast(BaseException, failure)  # not None: a pod that ended well resumed above
            finally:  # as in upstream's synchronous path: the pod is deleted or kept, the verdict goes on
                self.cleanup(remote_pod, remote_pod)
        # The pod is gone: nothing to clean up; the ending is decided on what the trigger sent.
        place = f"{namespace}/{name}"
        facts = self._ending_facts(failure, None, pod_gone=True, xcom_expected=bool(self.do_xcom_push), name=place)
        if event.get("message"):
            facts = replace(facts, failure=failure_message(place, event["message"]))
        self._end(facts, None, failure)
        if failure is not None:
            raise failure
        return None

    def cleanup(self, pod: k8s.V1Pod, remote_pod: k8s.V1Pod, *args: Any, **kwargs: Any) -> None:
        """Delete or keep the pod as upstream does, then raise an error that says what went wrong."""
        setattr(self, CLEANED_UP_HERE, True)
        follower = self.pod_follower
        follower.stop()
        # Called from upstream's `finally`: an error here means the task stopped before the pod ended.
        error = sys.exc_info()[1]
        facts = self._ending_facts(error, pod)
        if facts.no_pod_created:
            self._end(facts, pod, error)  # raises: no pod was created, nothing to clean up
        if not HAS_ON_FINISH_ACTION:
            self.is_delete_operator_pod = should_delete_pod(
                self.on_finish_action, remote_pod, task_stopped=facts.interrupted
            )
        follower.log_outcome(remote_pod, self.task_id)
        facts = follower.ending_evidence(facts, pod, remote_pod)  # before upstream's cleanup deletes the pod
        try:
            super().cleanup(pod, remote_pod, *args, **kwargs)
        except AirflowException as upstream_error:
            raised = UpstreamError.PLAIN if type(upstream_error) is AirflowException else UpstreamError.OTHER
            self._end(replace(facts, upstream_error=raised), pod, error, upstream_error)
            return  # the error in flight goes on, not upstream's stale one
        self._end(facts, pod, error)

    def _ending_facts(self, error: BaseException | None, pod: k8s.V1Pod | None, **more: Any) -> EndingFacts:
        """Return what the task knows about its ending before upstream's cleanup runs."""
        known = pod is not None and pod.metadata is not None
        seen = cast("k8s.V1Pod", pod)  # read only when known
        return EndingFacts(
            preflight_failed=self._preflight_error is not None,
            creation_refused=self.pod_follower.creation_refused is not None,
            startup_failed=self._startup_error is not None,
            stopped_by_on_kill=self._stopped_by_on_kill,
            interruption=Interruption.of(error),
            pod_known=known,
            **cast("dict[str, Any]", {"name": f"{seen.metadata.namespace}/{seen.metadata.name}"} if known else {}),
            **more,
        )

    def _end(
        self,
        facts: EndingFacts,
        pod: k8s.V1Pod | None,
        error: BaseException | None,
        upstream_error: AirflowException | None = None,
    ) -> None:
        """Raise or log the ending :func:`decide_ending` chose; return when the error in flight, if any, goes on."""
        ending = decide_ending(facts)
        kind = ending.kind
        if kind is EndingKind.PREFLIGHT:
            raise cast(PodPreflightError, self._preflight_error)
        if kind is EndingKind.REFUSED:
            # Read now, the pod would look deleted.
            raise cast(PodStartupError, self.pod_follower.creation_refused) from None
        if kind is EndingKind.KILLED:
            if upstream_error is None:
                raise self._killed_error(pod)
            raise self._killed_error(pod) from upstream_error
        if kind is EndingKind.STARTUP:
            raise cast(PodStartupError, self._startup_error) from None
        if kind is EndingKind.OWN_VERDICT:
            raise cast(BaseException, error) from None  # already naming what happened; not upstream's stale error
        if kind is EndingKind.TIMED_OUT:
            deleted, delete_error = self._delete_stopped_pod(pod)
            message = execution_timeout_message(
                pod, timeout=self.execution_timeout, pod_deleted=deleted, delete_error=delete_error
            )
            raise AirflowTaskTimeout(message) from error
        if kind is EndingKind.DISRUPTED:
            raise PodDisruptedError.from_verdict(cast(str, ending.message)) from error
        if kind is EndingKind.FAILED:
            raise PodFailedError(ending.message) from None
        if kind is EndingKind.UPSTREAM:
            raise cast(AirflowException, upstream_error)
        if kind is EndingKind.PLACEHOLDER_SUCCEEDED:
            self.log.info("%s", ending.message)
        elif kind is EndingKind.GONE:
            self.log.warning("%s", ending.message)

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
            if not is_gone(error):
                return False, error_gist(error)
        return True, None

    def on_kill(self) -> None:
        """Delete the pod as upstream does; the task then fails instead of ending as a success.

        Not once this process deferred (:func:`~..lifecycle.deferral.left_to_trigger`).
        """
        left = left_to_trigger(self._deferred_pod)
        if left is not None:
            self.log.warning("%s", left)
            return
        self._stopped_by_on_kill = True
        self.pod_follower.stop()
        super().on_kill()

    def _killed_error(self, pod: k8s.V1Pod | None) -> PodKilledError:
        kept = str(getattr(getattr(self, "on_kill_action", None), "value", "")) == "keep_pod"
        return PodKilledError(stopped_while_running(pod, pod_kept=kept))
