"""ComposerPodOperator's arguments, checked and resolved before upstream's ``__init__`` sees them.

The one place where the operator's argument errors are raised (at DAG parse time when the value
is static) and its argument warnings issued; each rule is its own module's (``pod/``,
``platform/rules.py``), this module applies them in order and says what goes to upstream.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from kubernetes.client import models as k8s

from ..compat import CNCF_KUBERNETES_VERSION, HAS_DEFERRABLE, HAS_ON_FINISH_ACTION, HAS_SCHEDULE_TIMEOUT
from ..exceptions import ComposerPlatformWarning, ComposerPodArgumentWarning, ComposerPodConfigError
from ..platform.composer import COMPOSER_KUBECONFIG_PATH, composer_major_version
from ..platform.rules import platform_findings
from ..pod.entrypoint import ErrexitPolicy, apply_errexit_policy
from ..pod.finish_action import resolve_on_finish_action
from ..pod.mode_arguments import unhonoured_arguments
from ..pod.resources import resolve_container_resources
from ..pod.timeouts import resolve_timeouts
from ..pod.validation import validate_static_arguments
from ..preflight.checks import PreflightMode

#: Warnings name the line of the DAG file that built the operator: this module, then the
#: operator's ``__init__``, then that line.
_DAG_FILE_LEVEL = 3


class _NotSet:
    def __repr__(self) -> str:
        return "NOTSET"


#: ``config_file`` not given (``None`` given explicitly means "no Composer fallbacks").
NOTSET: Any = _NotSet()


@dataclass(frozen=True)
class ResolvedArguments:
    """What the operator keeps, and what upstream's ``__init__`` gets (``upstream``)."""

    errexit_policy: ErrexitPolicy
    preflight: PreflightMode
    schedule_timeout_seconds: int
    finish_action: str
    config_file_explicit: bool
    use_composer_kubeconfig: bool
    upstream: dict[str, Any]


def resolve_arguments(
    *,
    errexit_policy: str,
    preflight: str,
    config_file: str | None,
    namespace: str | None,
    kubernetes_conn_id: str | None,
    startup_timeout_seconds: int,
    schedule_timeout_seconds: int | None,
    container_resources: k8s.V1ResourceRequirements | None,
    resources: dict[str, str] | None,
    on_finish_action: str | None,
    is_delete_operator_pod: bool | None,
    kwargs: dict[str, Any],
) -> ResolvedArguments:
    """Check every argument the operator adds or changes, warn about what Composer will change,
    and return the operator's settings with upstream's keyword arguments."""
    task_id = task_id_of(kwargs)
    if kwargs.get("deferrable") and not HAS_DEFERRABLE:
        raise ComposerPodConfigError(
            f"Task {task_id!r}: deferrable=True needs apache-airflow-providers-cncf-kubernetes 6.0 or newer; "
            f"{CNCF_KUBERNETES_VERSION} is installed. Remove deferrable=True (the task then holds a worker "
            "slot while its pod runs) or upgrade the provider."
        )
    policy = ErrexitPolicy.parse(errexit_policy, task_id=task_id)
    mode = PreflightMode.parse(preflight, task_id=task_id)
    validate_static_arguments(
        {**kwargs, "namespace": namespace, "container_resources": container_resources}, task_id=task_id
    )
    # A static script that breaks the policy fails now; templated ones after rendering
    # (ComposerPodOperator.build_pod_request_obj).
    apply_errexit_policy(
        kwargs.get("cmds") or [], kwargs.get("arguments") or [], policy, task_id=task_id, allow_templates=True
    )
    upstream = dict(kwargs)
    schedule_timeout = resolve_timeouts(startup_timeout_seconds, schedule_timeout_seconds, task_id=task_id)
    if HAS_SCHEDULE_TIMEOUT:
        upstream["schedule_timeout_seconds"] = schedule_timeout
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
        warnings.warn(f"Task {task_id!r}: {finding}", ComposerPlatformWarning, stacklevel=_DAG_FILE_LEVEL)
    finish_action = resolve_on_finish_action(on_finish_action, is_delete_operator_pod, task_id=task_id)
    if HAS_ON_FINISH_ACTION:
        upstream["on_finish_action"] = finish_action
    else:
        upstream["is_delete_operator_pod"] = finish_action != "keep_pod"
    explicit = config_file is not NOTSET
    upstream.update(
        config_file=COMPOSER_KUBECONFIG_PATH if not explicit else config_file,
        namespace=namespace,
        kubernetes_conn_id=kubernetes_conn_id,
        startup_timeout_seconds=startup_timeout_seconds,
        container_resources=container_resources,
    )
    return ResolvedArguments(
        errexit_policy=policy,
        preflight=mode,
        schedule_timeout_seconds=schedule_timeout,
        finish_action=finish_action,
        config_file_explicit=explicit,
        # config_file=None given explicitly skips the Composer fallbacks, in the hook and the trigger.
        use_composer_kubeconfig=not (explicit and config_file is None),
        upstream=upstream,
    )


def warn_unhonoured(kwargs: dict[str, Any], *, deferrable: bool) -> None:
    """Warn about arguments the chosen mode ignores (after upstream's ``__init__``: ``deferrable`` may
    come from ``[operators] default_deferrable``)."""
    for message in unhonoured_arguments(kwargs, deferrable=deferrable, task_id=task_id_of(kwargs)):
        warnings.warn(message, ComposerPodArgumentWarning, stacklevel=_DAG_FILE_LEVEL)


def task_id_of(kwargs: dict[str, Any]) -> str:
    return str(kwargs.get("task_id", "<no task_id>"))
