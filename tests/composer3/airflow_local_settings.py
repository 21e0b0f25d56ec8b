"""TEST DOUBLE of Google's Composer 3 ``pod_mutation_hook`` -- not Google's code, not for production.

On Cloud Composer 3 (``COMPOSER_VERSION`` 3.x) Google's Airflow build ships an ``airflow_local_settings``
whose ``pod_mutation_hook`` turns every pod a KubernetesPodOperator builds into a request for a
"peer VM". Public sources, GoogleCloudPlatform/composer-airflow:

* Airflow 2 images: ``airflow/composer/airflow_local_settings.py`` (the hook, which also installs the
  PodManager patches) and ``airflow/composer/kubernetes/utils.py``
  (``pod_mutation_hook_composer_serverless``, the machine-type and disk sizing);
* Airflow 3 images: ``airflow-core/src/airflow/composer/patches/core/airflow_local_settings.py`` and
  ``.../patches/core/initialize.py`` (``apply_monkey_patching_patches`` installs every patch when
  the module is imported, in every Airflow process), ``.../patches/kubernetes/airflow_local_settings.py``
  and ``.../patches/kubernetes/pod_mutation_hook.py`` (the hook, which does not install patches).

This module is our own, smaller re-implementation of that behaviour for the local simulation
(tests/composer3/CONTRACT.md); it was written from the public description, not copied.

Airflow imports ``airflow_local_settings`` from ``sys.path`` in ``airflow.settings.initialize()``
(run by ``import airflow``), so put this directory on ``PYTHONPATH`` and set ``COMPOSER_VERSION=3.x``
*before* Airflow is imported. Only ``pod_mutation_hook`` is exported (``__all__``): Airflow copies every
other exported name into ``airflow.settings``. With another ``COMPOSER_VERSION`` nothing is exported
and nothing is patched.

When the patches of ``peervm_patches`` are installed follows the installed Airflow, as Google's images
do: under Airflow 3 when this module is imported (scheduler, triggerer, workers, dag processor alike;
PodManager and ``KubernetesPodTrigger.define_container_state``), under Airflow 2 on the first
``pod_mutation_hook`` call (PodManager only).

What the hook does, as Google's does on Composer 3:

* Airflow 2 only: installs the PodManager patches of ``peervm_patches`` (idempotent), as Google's
  Airflow 2 hook does;
* namespace forced to ``composer-user-workloads``; label ``node.gke.io/use-workload-identity-service:
  "true"``; annotation ``node.gke.io/gce-vm`` = YAML ``{selector: {matchLabels: {machineType,
  diskSizeGb}}, logging: [Workload, System], vmServiceAccount: peervm-vm@<tenant>.iam...}``
  sized from ``containers[0].resources``; then ``containers[0].resources = None``.

Differences on purpose: ``GCP_TENANT_PROJECT`` defaults to ``local-tenant`` (Google requires it);
Google only mutates pods bound for the environment's own GKE cluster host (so GKEStartPodOperator
pods elsewhere are left alone) and renames KubernetesExecutor pods -- here every pod goes to the one
local cluster and there is no KubernetesExecutor, so neither is simulated.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

USER_WORKLOADS_NAMESPACE = "composer-user-workloads"
USE_WORKLOAD_IDENTITY_SERVICE_LABEL = "node.gke.io/use-workload-identity-service"
GCE_VM_ANNOTATION = "node.gke.io/gce-vm"
DEFAULT_TENANT_PROJECT = "local-tenant"

OS_DISK_GB = 30  # Google adds 30 GB for the OS and images to the requested ephemeral storage
MAX_EPHEMERAL_DISK_GB = 100  # ... which is clamped to 100 GB first
DEFAULT_CPU = 0.5
# (vCPUs, name in the machine type): micro, small, medium, then every even count 2..32
CPU_STEPS: list[tuple[float, str]] = [(0.25, "micro"), (0.5, "small"), (1.0, "medium")] + [
    (float(n), str(n)) for n in range(2, 33, 2)
]
MEMORY_GB_RANGE = (2, 128)  # whole GB; and 0.5 .. 8 GB per vCPU
MEMORY_GB_PER_CPU = (0.5, 8.0)
_EPS = 1e-9

_log = logging.getLogger(__name__)


def composer_major_version() -> int | None:
    """Major of ``COMPOSER_VERSION`` (``3.0.1`` -> 3), None when unset or unparsable."""
    head = os.environ.get("COMPOSER_VERSION", "").strip().split(".")[0]
    return int(head) if head.isdigit() else None


def is_composer3() -> bool:
    return composer_major_version() == 3


# --- sizing -------------------------------------------------------------------------------------


def _quantity(value: Any) -> float:
    """A Kubernetes quantity ("500m", "4Gi", "50G", 2) as a float in base units."""
    from kubernetes.utils import parse_quantity

    return float(parse_quantity(value))


def _desired(resources: Any, key: str, scale: float) -> float | None:
    """max(request, limit) of ``key`` in base units / scale; whichever exists; None if neither
    (a zero counts as absent, as in Google's ``requests or limits or default``)."""
    found = []
    for part in (getattr(resources, "requests", None), getattr(resources, "limits", None)):
        if part and part.get(key):
            found.append(_quantity(part[key]) / scale)
    if len(found) == 2:
        return max(found)
    return next((v for v in found if v), None)


def machine_cpu(resources: Any) -> tuple[float, str]:
    """Smallest valid vCPU step >= the requested CPU (default 0.5); the largest when above it."""
    want = _desired(resources, "cpu", 1.0) or DEFAULT_CPU
    for amount, name in CPU_STEPS:
        if want < amount + _EPS:
            return amount, name
    _log.warning("CPU %s is above the largest machine (%s vCPUs); using it", want, CPU_STEPS[-1][1])
    return CPU_STEPS[-1]


def machine_memory_gb(resources: Any, cpu: float) -> int:
    """Smallest valid whole-GB memory >= the requested memory (decimal GB; default 4 GB per vCPU)."""
    want = _desired(resources, "memory", 1e9) or cpu * 4
    low, high = MEMORY_GB_RANGE
    per_low, per_high = MEMORY_GB_PER_CPU
    valid = [gb for gb in range(low, high + 1) if per_low - _EPS < gb / cpu < per_high + _EPS]
    for gb in valid:
        if want < gb + _EPS:
            return gb
    _log.warning("memory %s GB is above the largest allowed with %s vCPUs (%s GB); using it", want, cpu, valid[-1])
    return valid[-1]


def machine_type(resources: Any) -> str:
    """``e2-custom-<cpu>-<MB>`` for a container's resources (None allowed)."""
    cpu, cpu_name = machine_cpu(resources)
    return f"e2-custom-{cpu_name}-{1024 * machine_memory_gb(resources, cpu)}"


def disk_size_gb(resources: Any) -> int:
    """30 GB + max(request, limit) of ephemeral-storage in whole decimal GB (rounded up, at most 100)."""
    wanted = 0
    for part in (getattr(resources, "requests", None), getattr(resources, "limits", None)):
        if part:
            wanted = max(wanted, math.ceil(_quantity(part.get("ephemeral-storage", "0")) / 1e9))
    if wanted > MAX_EPHEMERAL_DISK_GB:
        _log.warning("ephemeral storage %s GB is above %s GB; using it", wanted, MAX_EPHEMERAL_DISK_GB)
        wanted = MAX_EPHEMERAL_DISK_GB
    return OS_DISK_GB + wanted


def gce_vm_annotation(resources: Any) -> str:
    """The ``node.gke.io/gce-vm`` annotation text for a container's resources."""
    import yaml

    tenant = os.environ.get("GCP_TENANT_PROJECT") or DEFAULT_TENANT_PROJECT
    labels = {"machineType": machine_type(resources), "diskSizeGb": str(disk_size_gb(resources))}
    return yaml.safe_dump(
        {
            "selector": {"matchLabels": labels},
            "logging": ["Workload", "System"],
            "vmServiceAccount": f"peervm-vm@{tenant}.iam.gserviceaccount.com",
        }
    )


def mutate_pod(pod: Any) -> None:
    """Turn a pod into a Composer 3 peer-VM request, in place (what Google's hook does to it)."""
    from kubernetes.client import models as k8s

    if pod.metadata is None:
        pod.metadata = k8s.V1ObjectMeta()
    resources = pod.spec.containers[0].resources
    annotation = gce_vm_annotation(resources)
    pod.metadata.namespace = USER_WORKLOADS_NAMESPACE
    pod.metadata.labels = {**(pod.metadata.labels or {}), USE_WORKLOAD_IDENTITY_SERVICE_LABEL: "true"}
    pod.metadata.annotations = {**(pod.metadata.annotations or {}), GCE_VM_ANNOTATION: annotation}
    pod.spec.containers[0].resources = None  # the VM's size carries them now


def _patches() -> Any:
    try:
        from . import peervm_patches  # imported as tests.composer3.airflow_local_settings (unit tests)
    except ImportError:
        import peervm_patches  # imported by Airflow from PYTHONPATH as a top-level module
    return peervm_patches


def _install_patches() -> None:
    _patches().install_for_airflow()


if is_composer3():
    # Airflow 3 images patch every process when airflow_local_settings is imported; Airflow 2 images
    # patch lazily, from the hook.
    _PATCH_AT_IMPORT = _patches().google_shape().patch_at_import
    if _PATCH_AT_IMPORT:
        _install_patches()

    def pod_mutation_hook(pod: Any) -> None:
        """Composer 3 (test double): (Airflow 2: patch PodManager once, then) make the pod a peer-VM request."""
        if not _PATCH_AT_IMPORT:
            _install_patches()
        _log.info("Modifying pod spec")
        mutate_pod(pod)

    __all__ = ["pod_mutation_hook"]
else:
    __all__: list[str] = []
