"""What happens to the pod when the task ends: ``on_finish_action`` on every provider version.

cncf-kubernetes 7.2 replaced the boolean ``is_delete_operator_pod`` with ``on_finish_action``
(and 10.0 ignores the boolean). We accept both everywhere and resolve them to one value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .resolved import Resolved

if TYPE_CHECKING:
    from kubernetes.client import models as k8s

ON_FINISH_ACTIONS = ("delete_pod", "delete_succeeded_pod", "keep_pod")
DEFAULT_ON_FINISH_ACTION = "delete_pod"


def finish_action_problem(on_finish_action: object, is_delete_operator_pod: object = None) -> str | None:
    """Return what is wrong with the two parameters (and the fix), or None when they agree on an action."""
    if on_finish_action is not None and str(on_finish_action) not in ON_FINISH_ACTIONS:
        return f"on_finish_action={on_finish_action!r} is not one of {', '.join(map(repr, ON_FINISH_ACTIONS))}."
    if on_finish_action is None or is_delete_operator_pod is None:
        return None
    if str(on_finish_action) != ("delete_pod" if is_delete_operator_pod else "keep_pod"):
        return (
            f"is_delete_operator_pod={is_delete_operator_pod!r} contradicts "
            f"on_finish_action={on_finish_action!r}; pass only on_finish_action."
        )
    return None


def resolve_on_finish_action(on_finish_action: str | None, is_delete_operator_pod: bool | None) -> Resolved[str]:
    """Return the one finish action the two (possibly both given) parameters mean, and the boolean's deprecation.

    ``on_finish_action`` as :func:`finish_action_problem` accepts it; whether the boolean contradicts it is
    that function's question too (asked after the deprecation, which the boolean earns either way).
    """
    if is_delete_operator_pod is None:
        return Resolved(str(on_finish_action or DEFAULT_ON_FINISH_ACTION))
    return Resolved(
        "delete_pod" if is_delete_operator_pod else "keep_pod",
        deprecation=(
            "is_delete_operator_pod is deprecated; pass on_finish_action='delete_pod' or 'keep_pod' instead. "
            "airflow-provider-composer-kpo will stop accepting it in its 1.0 release."
        ),
    )


def should_delete_pod(on_finish_action: str, remote_pod: k8s.V1Pod | None, *, task_stopped: bool = False) -> bool:
    """Return True if the pod is to be deleted, given how it ended.

    A pod whose task stopped before it ended (``task_stopped``) would run on unwatched, an orphan:
    only ``keep_pod`` keeps it.
    """
    if on_finish_action == "delete_pod" or (task_stopped and on_finish_action != "keep_pod"):
        return True
    if on_finish_action == "delete_succeeded_pod":
        phase = remote_pod.status.phase if remote_pod is not None and remote_pod.status else None
        return phase == "Succeeded"
    return False
