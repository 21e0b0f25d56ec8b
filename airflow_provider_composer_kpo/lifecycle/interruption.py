"""Why a task stopped before its pod finished: pure verdicts from the pod as it is now.

Upstream's cleanup judges the pod it read when the pod was created, so a task that stops early
(execution_timeout, a pod deleted or evicted, a node lost) ends with "Pod ... returned a failure"
and a dump of a Pending pod. These verdicts name what really happened; the operator reads the
pod once more, only on that error path, and passes it in.

==================================================  ==================================================
the pod now                                         verdict
==================================================  ==================================================
gone (404)                                          deleted from outside the task while it ran
``deletionTimestamp`` set, not by the task          being deleted from outside (kubectl delete,
                                                    preemption, node drain)
``status.reason`` ``Evicted``                        evicted by the kubelet, with its message (the
                                                    limit it crossed)
phase ``Unknown``; or, while running, ``Ready``       its node stopped answering (kubelet down, VM lost):
``False`` with ``ContainersReady`` still ``True``     the node controller marks pods so when their node
(or a node-loss reason)                             misses heartbeats for its grace period (40-50 s)
anything else                                       no verdict: the caller keeps the error it has
==================================================  ==================================================

A node loss read once may be the control plane's own outage: after the API server was away longer
than the node controller's grace, the controller marks every node NotReady until each kubelet
reports again, seconds later. :class:`DisruptionJudge` follows successive reads of a running pod
and names a node loss only once it lasted :data:`NODE_LOSS_CONFIRM_SECONDS`.
"""

from __future__ import annotations

import datetime
import time
from typing import Callable

from kubernetes.client import models as k8s

from .diagnosis import terminated_state

_NODE_LOST_REASONS = frozenset({"NodeLost", "NodeNotReady", "NodeStatusUnknown"})
#: Seconds a node loss must last before it is a verdict: a kubelet that is alive reports its node
#: and re-syncs its pods' status within about 10 s of the API server's return (GKE: 10 s heartbeat).
NODE_LOSS_CONFIRM_SECONDS = 30.0


def pod_disruption(pod: k8s.V1Pod | None, *, name: str, namespace: str) -> str | None:
    """Return one sentence on what took the running pod away, or None if nothing did.

    ``pod`` is the pod as read now, None when the API server answered 404.
    """
    where = f"Pod {namespace}/{name}"
    if pod is None:
        return f"{where} was deleted from outside the task while it ran (kubectl delete, preemption or a node drain)"
    status = pod.status
    if status is not None and status.reason == "Evicted":
        return f"{where} was evicted by the kubelet: {(status.message or 'no reason given').strip()}"
    if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
        # deletionTimestamp is when the grace period ends; the request came that long before.
        grace = datetime.timedelta(seconds=pod.metadata.deletion_grace_period_seconds or 0)
        return (
            f"{where} was deleted from outside the task while it ran (kubectl delete, preemption or a node "
            f"drain; deletion requested at {(pod.metadata.deletion_timestamp - grace).isoformat()})"
        )
    return node_loss(pod, name=name, namespace=namespace)


#: Exit codes of a container its runtime stopped with SIGKILL (137) or SIGTERM (143).
_SIGNALLED_EXIT_CODES = frozenset({137, 143})


def killed_by_deletion(pod: k8s.V1Pod, container: str) -> str | None:
    """Return the disruption verdict for a pod whose ``container`` a deletion stopped, else None.

    A pod deleted while it ran (kubectl delete, an eviction, a node drain) has its containers stopped
    with SIGTERM, then SIGKILL; seen only once they ended (a trigger resumed after the triggerer was
    restarted), it looks like a container that failed with 137 or 143. With a ``deletionTimestamp``
    and one of those codes, the deletion is the cause. A container that ended by itself (exit 0, or
    its own code) keeps its own ending.
    """
    ended = terminated_state(pod, container)
    if ended is None or ended.exit_code not in _SIGNALLED_EXIT_CODES:
        return None
    if pod.metadata is None or pod.metadata.deletion_timestamp is None:
        return None
    name, namespace = pod.metadata.name, pod.metadata.namespace
    verdict = pod_disruption(pod, name=name, namespace=namespace)
    return f"{verdict}: container {container!r} was stopped with exit code {ended.exit_code}"


def node_loss(pod: k8s.V1Pod, *, name: str, namespace: str) -> str | None:
    """Return one sentence if the pod's node stopped answering (the table's fourth row), else None."""
    where = f"Pod {namespace}/{name}"
    status = pod.status
    node = (pod.spec.node_name if pod.spec else None) or "(unknown)"
    if status is not None and status.phase == "Unknown":
        detail = (status.message or "").strip() or "no message"
        return f"{where} lost contact with its node {node}: phase Unknown ({detail})"
    conditions = {c.type: c for c in (status.conditions or [])} if status else {}
    ready, containers_ready = conditions.get("Ready"), conditions.get("ContainersReady")
    if ready is None or ready.status == "True":
        return None
    if ready.reason in _NODE_LOST_REASONS:
        return f"{where} lost contact with its node {node}: {ready.reason}"
    # Only the node controller sets Ready without ContainersReady: the kubelet sets both together.
    if status.phase == "Running" and containers_ready is not None and containers_ready.status == "True":
        return f"{where} lost contact with its node {node}: the node stopped reporting and is NotReady"
    return None


class DisruptionJudge:
    """:func:`pod_disruption` over successive reads of one running pod, a node loss confirmed over time.

    :param clock: Seconds from a monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        *,
        name: str,
        namespace: str,
        confirm_seconds: float = NODE_LOSS_CONFIRM_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name, self.namespace = name, namespace
        self._confirm, self._clock = confirm_seconds, clock
        self._lost_since: float | None = None

    def judge(self, pod: k8s.V1Pod | None) -> str | None:
        """Return the verdict on the pod as read now, or None (also while a node loss is unconfirmed)."""
        verdict = pod_disruption(pod, name=self.name, namespace=self.namespace)
        if verdict is None or pod is None or node_loss(pod, name=self.name, namespace=self.namespace) != verdict:
            self._lost_since = None
            return verdict
        now = self._clock()
        if self._lost_since is None:
            self._lost_since = now
        return verdict if now - self._lost_since >= self._confirm else None


def execution_timeout_message(
    pod: k8s.V1Pod | None, *, timeout: object, pod_deleted: bool, delete_error: str | None = None
) -> str:
    """Return the message for a task stopped by its ``execution_timeout`` while the pod ran.

    ``delete_error``: why deleting the pod failed, when it did (else it was kept on purpose).
    """
    name = f"{pod.metadata.namespace}/{pod.metadata.name}" if pod is not None and pod.metadata else "(none yet)"
    if pod_deleted:
        fate = "the pod was deleted"
    elif delete_error is None:
        fate = "the pod was kept (on_finish_action='keep_pod')"
    else:
        fate = (
            f"deleting the pod failed ({delete_error}); delete it with `kubectl delete pod -n {name.replace('/', ' ')}`"
        )
    return f"execution_timeout ({timeout}) reached while pod {name} was running; {fate}."
