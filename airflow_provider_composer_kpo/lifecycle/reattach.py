"""Reattaching a retry to an earlier try's pod: when that pod can no longer give the task its result.

A pod being deleted (someone deleted it; a drain evicted it) is on its way out: a retry that
reattached to it would only see it vanish and fail with the earlier try's reason.

The XCom sidecar keeps the result file until a try reads it and then stops the sidecar. A try
stopped between the two (its worker killed) leaves a finished pod whose result nobody can read
again: upstream's retry would wait for the stopped sidecar to start (15 minutes on
cncf-kubernetes 10, for ever on older releases) and then fail work that succeeded.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..platform.peer_vm import is_placeholder

if TYPE_CHECKING:
    from kubernetes.client import models as k8s


def _try_of(pod: k8s.V1Pod) -> str:
    labels = pod.metadata.labels or {}
    return f"Pod {pod.metadata.namespace}/{pod.metadata.name} of try {labels.get('try_number', '?')}"


def being_deleted(pod: k8s.V1Pod | None) -> str | None:
    """Return why a found pod cannot serve this try because it is being deleted, or None if it is not."""
    if pod is None or pod.metadata is None:
        return None
    stamp = pod.metadata.deletion_timestamp
    if not isinstance(stamp, (datetime, str)) or not stamp:
        return None
    return f"{_try_of(pod)} is being deleted (since {stamp}); this try runs the pod anew."


def result_already_taken(pod: k8s.V1Pod | None, *, do_xcom_push: bool, sidecar: str) -> str | None:
    """Return why a found pod cannot give this try its XCom (its sidecar has stopped), or None if it can.

    Composer 3 placeholders are left out: Google's patches read their XCom from the peer VM.
    """
    if not do_xcom_push or pod is None or pod.status is None or is_placeholder(pod):
        return None
    for status in pod.status.container_statuses or []:
        if status.name == sidecar and status.state is not None and status.state.terminated is not None:
            return (
                f"{_try_of(pod)} ended, but its XCom sidecar has stopped: an earlier try read the result "
                "and was stopped before it saved it, so nobody can read it again. This try runs the pod anew."
            )
    return None
