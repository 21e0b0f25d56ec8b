"""Builders the unit tests share: real kubeconfig files, operators as a DAG file makes them, pods
and events as the API server returns them, and calls into the operator as upstream's own code
makes them."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

KUBECONFIG_TEMPLATE = """\
apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster: {{server: "{server}"}}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}}}
current-context: {name}
users:
- name: {name}
  user: {{token: not-a-real-token}}
"""


def write_kubeconfig(path: Path, server: str, name: str = "test") -> Path:
    """Write a real kubeconfig whose only cluster is ``server``; loading it never connects."""
    path.write_text(KUBECONFIG_TEMPLATE.format(name=name, server=server))
    return path


def make_operator(**kwargs: Any) -> ComposerPodOperator:
    """A ComposerPodOperator as a DAG file builds one: ``task_id`` "task" and a busybox image unless given."""
    kwargs.setdefault("task_id", "task")
    kwargs.setdefault("image", "busybox:1.36")
    return ComposerPodOperator(**kwargs)  # the "DAG file line" the operator's warnings must name


#: The file and line of make_operator's "DAG file line".
BUILT_AT = (__file__, make_operator.__code__.co_firstlineno + 4)


def cleanup_while(op: Any, pod: Any, error: BaseException) -> BaseException:
    """Call cleanup as upstream's ``finally`` does while ``error`` propagates; return what escaped."""
    try:
        try:
            raise error
        finally:
            op.cleanup(pod, pod)
    except BaseException as escaped:  # the test inspects whatever escaped
        return escaped
    raise AssertionError("nothing escaped cleanup")


def container_status(name: str, state: k8s.V1ContainerState) -> k8s.V1ContainerStatus:
    """A container's status as the API server reports it, in ``state``."""
    return k8s.V1ContainerStatus(name=name, image="busybox", image_id="", ready=False, restart_count=0, state=state)


def waiting_pod(reason: str, message: str = "", container: str = "base", init: bool = False) -> k8s.V1Pod:
    status = k8s.V1ContainerStatus(
        name=container,
        image="img",
        image_id="",
        ready=False,
        restart_count=0,
        state=k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(reason=reason, message=message)),
    )
    pod_status = k8s.V1PodStatus(phase="Pending")
    if init:
        pod_status.init_container_statuses = [status]
    else:
        pod_status.container_statuses = [status]
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="p", namespace="ns"), status=pod_status)


def unschedulable_pod(message: str) -> k8s.V1Pod:
    condition = k8s.V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable", message=message)
    return k8s.V1Pod(status=k8s.V1PodStatus(phase="Pending", conditions=[condition]))


def event(reason: str, message: str = "", type_: str = "Normal", count: int = 1, minute: int = 0, field_path: str = ""):
    stamp = datetime.datetime(2024, 1, 1, 0, minute, tzinfo=datetime.timezone.utc)
    return k8s.CoreV1Event(
        metadata=k8s.V1ObjectMeta(name="e"),
        involved_object=k8s.V1ObjectReference(name="p", field_path=field_path or None),
        reason=reason,
        message=message,
        type=type_,
        count=count,
        last_timestamp=stamp,
    )
