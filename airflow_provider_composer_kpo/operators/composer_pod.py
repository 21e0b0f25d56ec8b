"""ComposerPodOperator: KubernetesPodOperator with Cloud Composer's defaults and guard rails.

This module only wires the package's policies into upstream's operator; each rule lives in its
own module (kubeconfig, entrypoint, timeouts, resources, finish_action).
"""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kubernetes.client import models as k8s

from ..compat import (
    HAS_ON_FINISH_ACTION,
    HAS_SCHEDULE_TIMEOUT,
    KubernetesPodOperator,
    ProviderDeprecationWarning,
    base_container_name,
)
from ..composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE
from ..entrypoint import ErrexitPolicy, apply_errexit_policy
from ..exceptions import ComposerPodConfigError
from ..finish_action import resolve_on_finish_action, should_delete_pod
from ..hooks.composer_kubernetes import ComposerKubernetesHook
from ..kubeconfig import Origin
from ..resources import legacy_resources_to_requirements
from ..timeouts import (
    DEFAULT_STARTUP_TIMEOUT_SECONDS,
    startup_budget_without_schedule_timeout,
    validate_timeout,
)

if TYPE_CHECKING:
    from airflow.utils.context import Context


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


NOTSET: Any = _NotSet()


class ComposerPodOperator(KubernetesPodOperator):
    """Run a pod on Cloud Composer's cluster, with Composer's defaults and safe behaviour.

    Takes every ``KubernetesPodOperator`` argument. Defaults that differ from upstream, the same on
    every supported cncf-kubernetes version:

    .. seealso:: The README's table "What we change versus stock KPO".

    :param errexit_policy: What to do when ``cmds``/``arguments`` run a shell script without
        errexit: ``"inject"`` adds ``set -e`` (``set -eo pipefail`` for bash), ``"require"`` fails
        the task (at DAG parse time when the script is not templated), ``"off"`` sends it unchanged.
        Entrypoints that are not a shell are never touched.
    :param config_file: The kubeconfig. Not given: the connection's source if it has one, else
        ``$COMPOSER_KPO_KUBECONFIG``, else Composer's ``/home/airflow/composer_kube_config`` if it
        exists, else upstream's chain. Given explicitly, it always wins; ``None`` skips the
        Composer fallbacks. (templated)
    :param namespace: Namespace for the pod; ``composer-user-workloads``, as Composer 3 requires. (templated)
    :param kubernetes_conn_id: The connection; ``kubernetes_default`` on every provider version,
        and a missing ``kubernetes_default`` is not an error. (templated)
    :param startup_timeout_seconds: Seconds for the pod to start once scheduled; 600 by default
        (upstream: 120), whole seconds between 30 and 10800.
    :param schedule_timeout_seconds: Seconds for the pod to be scheduled; defaults to
        ``startup_timeout_seconds``. On cncf-kubernetes before 10.5, which has one timer for both,
        a value given here is added to ``startup_timeout_seconds``.
    :param container_resources: Requests and limits of the base container.
    :param resources: Deprecated pre-5.0 dict (``limit_memory``, ``request_cpu``, ...); translated
        to ``container_resources`` with a warning. Unknown keys are an error.
    :param on_finish_action: ``"delete_pod"`` (default), ``"delete_succeeded_pod"`` or ``"keep_pod"``,
        on every provider version.
    :param is_delete_operator_pod: Deprecated; ``True`` means ``on_finish_action="delete_pod"``,
        ``False`` means ``"keep_pod"``.
    """

    def __init__(
        self,
        *,
        errexit_policy: str = ErrexitPolicy.INJECT.value,
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
        self.errexit_policy = ErrexitPolicy.parse(errexit_policy, task_id=task_id)
        # Fail at DAG parse time when a static script breaks the policy; templated ones are
        # checked after rendering, in build_pod_request_obj.
        apply_errexit_policy(
            kwargs.get("cmds") or [],
            kwargs.get("arguments") or [],
            self.errexit_policy,
            task_id=task_id,
            allow_templates=True,
        )

        validate_timeout("startup_timeout_seconds", startup_timeout_seconds, task_id=task_id)
        if schedule_timeout_seconds is not None:
            validate_timeout("schedule_timeout_seconds", schedule_timeout_seconds, task_id=task_id)
        if HAS_SCHEDULE_TIMEOUT:
            kwargs["schedule_timeout_seconds"] = schedule_timeout_seconds or startup_timeout_seconds
        elif schedule_timeout_seconds is not None:
            startup_timeout_seconds = startup_budget_without_schedule_timeout(
                startup_timeout_seconds, schedule_timeout_seconds
            )

        if resources is not None:
            if container_resources is not None:
                raise ComposerPodConfigError(
                    f"Task {task_id!r}: both resources and container_resources were given; "
                    f"keep only container_resources."
                )
            container_resources = legacy_resources_to_requirements(resources, task_id=task_id)
            warnings.warn(
                "The `resources` dict is deprecated since cncf-kubernetes 5.0; pass "
                "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...}) instead. "
                "airflow-provider-composer-kpo will stop translating it in its 1.0 release.",
                ProviderDeprecationWarning,
                stacklevel=2,
            )

        finish_action = resolve_on_finish_action(on_finish_action, is_delete_operator_pod, task_id=task_id)
        if HAS_ON_FINISH_ACTION:
            kwargs["on_finish_action"] = finish_action
        else:
            kwargs["is_delete_operator_pod"] = finish_action != "keep_pod"

        self._config_file_explicit = config_file is not NOTSET
        super().__init__(
            config_file=COMPOSER_KUBECONFIG_PATH if config_file is NOTSET else config_file,
            namespace=namespace,
            kubernetes_conn_id=kubernetes_conn_id,
            startup_timeout_seconds=startup_timeout_seconds,
            container_resources=container_resources,
            **kwargs,
        )
        if not HAS_ON_FINISH_ACTION:
            self.on_finish_action = finish_action
        if not HAS_SCHEDULE_TIMEOUT:
            self.schedule_timeout_seconds = schedule_timeout_seconds

    @cached_property
    def hook(self) -> ComposerKubernetesHook:
        """Return the hook; the operator's config attributes are set to what the hook chose."""
        hook = ComposerKubernetesHook(
            conn_id=self.kubernetes_conn_id,
            in_cluster=self.in_cluster,
            config_file=self.config_file if self._config_file_explicit else None,
            cluster_context=self.cluster_context,
            use_composer_kubeconfig=not (self._config_file_explicit and self.config_file is None),
        )
        choice = hook.client_config_choice
        # Deferrable mode hands these attributes to the trigger; keep them equal to the choice.
        if choice.origin is not Origin.CONNECTION:
            self.config_file = choice.config_file
            self.in_cluster = choice.in_cluster
        return hook

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
                self.log.info(
                    "set -e (errexit_policy=%s): %s", self.errexit_policy.value, result.outcome.value
                )
        return pod

    def cleanup(self, pod: k8s.V1Pod, remote_pod: k8s.V1Pod) -> None:
        """Delete or keep the pod by ``on_finish_action`` on providers that predate it."""
        if not HAS_ON_FINISH_ACTION:
            self.is_delete_operator_pod = should_delete_pod(self.on_finish_action, remote_pod)
        super().cleanup(pod, remote_pod)
