"""ComposerPodOperator's arguments, checked and resolved before upstream's ``__init__`` sees them.

The one place where the operator's argument errors are raised (at DAG parse time when the value
is static) and its argument warnings issued; each rule is its own module's (``pod/``,
``platform/rules.py``) and returns what is wrong rather than raising, so that ``composer-kpo``
(which must not import Airflow) shares it. This module applies them in order and says what goes
to upstream.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import airflow
from kubernetes.client import models as k8s

from ..choices import ParameterChoice
from ..compat import (
    CNCF_KUBERNETES_VERSION,
    HAS_DEFERRABLE,
    HAS_ON_FINISH_ACTION,
    HAS_SCHEDULE_TIMEOUT,
    ProviderDeprecationWarning,
)
from ..exceptions import (
    ComposerPlatformWarning,
    ComposerPodArgumentWarning,
    ComposerPodConfigError,
    ErrexitRequiredError,
)
from ..platform.composer import COMPOSER_KUBECONFIG_PATH, composer_major_version
from ..platform.rules import platform_findings
from ..pod.entrypoint import ErrexitPolicy, ErrexitResult, apply_errexit_policy
from ..pod.finish_action import finish_action_problem, resolve_on_finish_action
from ..pod.mode_arguments import unhonoured_arguments
from ..pod.resources import resolve_container_resources, resources_problem
from ..pod.timeouts import resolve_schedule_timeout, timeouts_problem
from ..pod.validation import static_argument_problems
from ..preflight.checks import PreflightMode

#: Frames a warning looks past: Airflow's (its operator metaclass wraps every ``__init__``; the
#: provider's) and this package's. The first frame outside them built the operator: a DAG file's
#: line, or a team's subclass of ComposerPodOperator.
_INTERNAL_DIRS = tuple(
    os.path.join(os.path.realpath(path), "") for path in (*airflow.__path__, os.path.dirname(os.path.dirname(__file__)))
)

C = TypeVar("C", bound=ParameterChoice)


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
    policy = _choice(ErrexitPolicy, errexit_policy, task_id=task_id)
    mode = _choice(PreflightMode, preflight, task_id=task_id)
    static = {**kwargs, "namespace": namespace, "container_resources": container_resources}
    _refuse(next((problem for _, problem in static_argument_problems(static)), None), task_id=task_id)
    # A static script that breaks the policy fails now; templated ones after rendering
    # (ComposerPodOperator.build_pod_request_obj).
    apply_errexit(
        kwargs.get("cmds") or [], kwargs.get("arguments") or [], policy, task_id=task_id, allow_templates=True
    )
    upstream = dict(kwargs)
    _refuse(timeouts_problem(startup_timeout_seconds, schedule_timeout_seconds), task_id=task_id)
    schedule_timeout = resolve_schedule_timeout(startup_timeout_seconds, schedule_timeout_seconds)
    if HAS_SCHEDULE_TIMEOUT:
        upstream["schedule_timeout_seconds"] = schedule_timeout
    _refuse(resources_problem(resources, container_resources), task_id=task_id)
    resolved_resources = resolve_container_resources(container_resources, resources)
    _warn_deprecated(resolved_resources.deprecation)
    container_resources = resolved_resources.value
    # What Composer will change, ignore or refuse; templated values wait for the task log.
    for finding in platform_findings(
        composer_major=composer_major_version(),
        namespace=namespace,
        container_resources=container_resources,
        affinity=kwargs.get("affinity"),
        node_selector=kwargs.get("node_selector"),
        tolerations=kwargs.get("tolerations"),
    ):
        _warn(f"Task {task_id!r}: {finding}", ComposerPlatformWarning)
    # An unknown action is refused before the boolean's deprecation, a contradicting boolean after it.
    _refuse(finish_action_problem(on_finish_action), task_id=task_id)
    resolved_action = resolve_on_finish_action(on_finish_action, is_delete_operator_pod)
    _warn_deprecated(resolved_action.deprecation)
    _refuse(finish_action_problem(on_finish_action, is_delete_operator_pod), task_id=task_id)
    finish_action = resolved_action.value
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


def apply_errexit(
    cmds: Sequence[str], arguments: Sequence[str], policy: ErrexitPolicy, *, task_id: str, allow_templates: bool = False
) -> ErrexitResult:
    """Return the entrypoint with the errexit policy applied; raise :class:`ErrexitRequiredError` when it refuses it.

    At DAG parse time (``allow_templates``) and again on the rendered pod.
    """
    result = apply_errexit_policy(cmds, arguments, policy, allow_templates=allow_templates)
    if result.problem is not None:
        raise ErrexitRequiredError(f"Task {task_id!r}: {result.problem}")
    return result


def warn_unhonoured(kwargs: dict[str, Any], *, deferrable: bool) -> None:
    """Warn about arguments the chosen mode ignores (after upstream's ``__init__``: ``deferrable`` may
    come from ``[operators] default_deferrable``)."""
    for message in unhonoured_arguments(kwargs, deferrable=deferrable, task_id=task_id_of(kwargs)):
        _warn(message, ComposerPodArgumentWarning)


def task_id_of(kwargs: dict[str, Any]) -> str:
    return str(kwargs.get("task_id", "<no task_id>"))


def _choice(choice: type[C], value: object, *, task_id: str) -> C:
    """Return ``choice``'s member for ``value``; raise naming the task and the accepted values when none is."""
    _refuse(choice.problem(value), task_id=task_id)
    return choice(value)


def _refuse(problem: str | None, *, task_id: str) -> None:
    """Raise :class:`ComposerPodConfigError` naming the task for a rule's ``problem``, if there is one."""
    if problem is not None:
        raise ComposerPodConfigError(f"Task {task_id!r}: {problem}")


def _warn_deprecated(deprecation: str | None) -> None:
    if deprecation is not None:
        _warn(deprecation, ProviderDeprecationWarning)


def _warn(message: str, category: type[Warning]) -> None:
    """Warn naming the line that built the operator (the first frame outside Airflow and this package)."""
    frame, level = sys._getframe(1), 2  # stacklevel 2: our caller
    while frame.f_back is not None and os.path.realpath(frame.f_code.co_filename).startswith(_INTERNAL_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
