"""Composer 3 peer VMs: how to see the workload behind a placeholder pod, as pure verdicts.

On Composer 3 the pod KubernetesPodOperator creates does not run its containers. Google's
``pod_mutation_hook`` sizes a VM from the first container's resources (annotation
``node.gke.io/gce-vm``), the cluster turns the pod into a placeholder whose only container is
``peervm-placeholder``, and the containers run on that VM. Source: GoogleCloudPlatform/composer-airflow,
``airflow/composer/kubernetes/utils.py`` and ``pod_manager.py`` (Airflow 2 images) and
``airflow-core/src/airflow/composer/patches/kubernetes/utils.py`` and ``monkey_patching/`` (Airflow 3
images; commits a44693f5 = 3.1.8, 49bcd2dc = 3.3.1).

=========================  ==============================================  ==============================
question                   where Composer 3 answers it                     what we do with it
=========================  ==============================================  ==============================
is this a placeholder?     ``spec.containers[0].name``                     :func:`is_placeholder`
has its VM started?        annotation ``node.gke.io/peer-vm-endpoint``     part of the startup wait
could the VM be created?   placeholder ends before the endpoint appears    fatal startup verdict
container states           exec ``placeholder-pod container-statuses``:    read before the VM shuts down
                           ``RUNNING``/``TERMINATED``, nothing else
log lines                  ``GET http://<endpoint>:9080/logs``             last lines in the failure
exit code, OOM kill        **not reported**                                said so in the message
=========================  ==============================================  ==============================

Nothing here calls the API; :mod:`.peer_vm_client` reads the VM, the operator passes results in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import models as k8s

from ..verdicts import StartupBlocker

PLACEHOLDER_CONTAINER = "peervm-placeholder"
ENDPOINT_ANNOTATION = "node.gke.io/peer-vm-endpoint"
GCE_VM_ANNOTATION = "node.gke.io/gce-vm"
LOGS_PORT = 9080
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class VmSnapshot:
    """What the peer VM said about the workload, read before the VM shut down."""

    states: Mapping[str, str] = field(default_factory=dict)
    log_tail: tuple[str, ...] = ()
    #: Why the VM could not be read (it may already have shut down), or None.
    problem: str | None = None


def is_placeholder(pod: k8s.V1Pod | None) -> bool:
    """Return True for a Composer 3 placeholder pod, whose containers run on a peer VM."""
    containers: Any = pod.spec.containers if pod is not None and pod.spec is not None else None
    return bool(containers) and containers[0].name == PLACEHOLDER_CONTAINER


def may_become_placeholder(pod: k8s.V1Pod | None) -> bool:
    """Return True for a placeholder, or a pod Google's ``pod_mutation_hook`` sized a VM for."""
    annotations = (pod.metadata.annotations or {}) if pod is not None and pod.metadata is not None else {}
    return is_placeholder(pod) or GCE_VM_ANNOTATION in annotations


def vm_endpoint(pod: k8s.V1Pod) -> str | None:
    """Return the peer VM's address once Composer 3 has created the VM."""
    return (pod.metadata.annotations or {}).get(ENDPOINT_ANNOTATION) or None


def vm_machine(pod: k8s.V1Pod) -> str:
    """Return "machine type, disk" from the ``gce-vm`` annotation, for messages; "" if absent."""
    text = (pod.metadata.annotations or {}).get(GCE_VM_ANNOTATION)
    if not text:
        return ""
    try:
        import yaml  # Airflow depends on PyYAML; imported here as only messages need it

        labels = yaml.safe_load(text)["selector"]["matchLabels"]
        return f"{labels['machineType']}, {labels['diskSizeGb']} GB disk"
    except Exception:  # an annotation we cannot read must not hide the real error
        return ""


def vm_start_blocker(pod: k8s.V1Pod) -> StartupBlocker | None:
    """Return why a placeholder that left Pending has no running VM yet; None once it has one.

    Google's own code waits while the placeholder is Running without the endpoint (the VM is
    being created) and treats a placeholder that ends first as a VM that could not be created.
    """
    if not is_placeholder(pod) or vm_endpoint(pod):
        return None
    machine = vm_machine(pod)
    what = f"the peer VM ({machine})" if machine else "the peer VM"
    if pod.status is not None and pod.status.phase in TERMINAL_PHASES:
        said = _placeholder_termination(pod)
        return StartupBlocker(
            "PeerVmNotCreated",
            f"Composer 3 could not create {what}: the placeholder pod ended {pod.status.phase} "
            f"before the VM's endpoint appeared{f' ({said})' if said else ''}. Check the machine type "
            "that container_resources buy and the project's Compute Engine quota.",
            fatal=True,
        )
    return StartupBlocker("PeerVmStarting", f"waiting for Composer 3 to create {what}", fatal=False)


def parse_container_states(text: str) -> dict[str, str]:
    """Return container -> state from the answer of ``placeholder-pod container-statuses``."""
    entries: Any = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError(f"expected a JSON list of container states, got {text[:200]!r}")
    return {str(e["container"]): str(e["state"]) for e in entries}


def vm_container_ended(states: Mapping[str, str], container: str) -> bool:
    """Return True once the VM reports ``container`` TERMINATED; the VM still answers for a while."""
    return states.get(container) == "TERMINATED"


def log_line_text(line: str) -> str:
    """Return the text of one ``/logs`` line, ``"<timestamp> <stream> <tag> <text>"``."""
    parts = line.split(" ", 3)
    return parts[3] if len(parts) == 4 else ""


def vm_failure(pod: k8s.V1Pod | None, snapshot: VmSnapshot | None, container: str) -> str | None:
    """Return one sentence on how the workload failed on its VM, or None if the placeholder succeeded."""
    if pod is None or pod.status is None or pod.status.phase != "Failed":
        return None
    if not vm_endpoint(pod):
        blocker = vm_start_blocker(pod)
        return blocker.message if blocker else None
    state = _state_text(snapshot, container)
    said = _placeholder_termination(pod)
    return (
        f"container {container!r} {state} on the Composer 3 peer VM and the placeholder pod ended Failed"
        f"{f' ({said})' if said else ''}; Composer 3 reports no exit code or OOM kill for peer-VM "
        "containers, so look at the log lines below and in Cloud Logging"
    )


def placeholder_succeeded(pod: k8s.V1Pod | None) -> bool:
    """Return True for a placeholder that ended Succeeded: the only success signal Composer 3 gives.

    Upstream's cleanup (cncf-kubernetes 10.2x with ``do_xcom_push``) judges the status of container
    ``base``, which a placeholder does not have, and so fails tasks whose workload succeeded.
    """
    return pod is not None and is_placeholder(pod) and pod.status is not None and pod.status.phase == "Succeeded"


def vm_outcome(pod: k8s.V1Pod, snapshot: VmSnapshot | None, container: str) -> str:
    """Return one line on how a placeholder pod and its VM's main container ended."""
    name = f"{pod.metadata.namespace}/{pod.metadata.name}"
    return (
        f"pod {name} (Composer 3 placeholder) ended in phase {pod.status.phase}, "
        f"container {container!r} {_state_text(snapshot, container)} on the peer VM"
    )


def _state_text(snapshot: VmSnapshot | None, container: str) -> str:
    if snapshot is None:
        return "in an unknown state"
    state = snapshot.states.get(container)
    if state is not None:
        return f"was {state}"
    return f"in an unknown state ({snapshot.problem})" if snapshot.problem else "in an unknown state"


def _placeholder_termination(pod: k8s.V1Pod) -> str:
    """Return what the placeholder container's termination said (reason: message), or ""."""
    for status in pod.status.container_statuses or []:
        terminated = status.state.terminated if status.state else None
        if status.name == PLACEHOLDER_CONTAINER and terminated is not None:
            parts = [p for p in (terminated.reason, (terminated.message or "").strip()) if p]
            return ": ".join(parts)
    return ""
