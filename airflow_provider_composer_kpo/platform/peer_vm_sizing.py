"""The peer VM Composer 3 buys for a KubernetesPodOperator pod, computed the way Google's code does.

On Composer 3, Google's ``pod_mutation_hook`` reads the resources of the pod's first container,
writes a VM shape into the annotation ``node.gke.io/gce-vm`` (``machineType: e2-custom-<cpu>-<MB>``,
``diskSizeGb``) and removes those resources from the pod. This module repeats that arithmetic so a
DAG author sees the VM before the task runs. Source, read for the rules and not copied:
GoogleCloudPlatform/composer-airflow ``airflow/composer/kubernetes/utils.py`` at commit
26d55e6e7f74455e20f682fc2347f98e5eb8c5b6 (``_get_composer_serverless_machine_cpu``,
``_get_composer_serverless_machine_memory``, ``_get_composer_serverless_pod_metadata``); the Airflow 3
images' ``airflow-core/src/airflow/composer/patches/kubernetes/pod_mutation_hook.py``
(``_get_peer_vm_machine_*``, ``_get_peer_vm_pod_metadata``) do the same arithmetic.

=================  ======================================  =============================  =====================
resource           what Google reads (first container)     rounded up to                  above the range
=================  ======================================  =============================  =====================
cpu                max(request, limit) when both are set,  0.25 (``micro``), 0.5          32 vCPU (logged only)
                   else the one that is set, else 0.5      (``small``), 1 (``medium``),
                                                           then 2, 4, 6, ..., 32
memory             max(request, limit) in decimal GB       a whole GB from 2 to 128, and  the largest allowed
                   when both are set, else the one that    0.5 to 8 GB per vCPU of the    (logged only)
                   is set, else 4 GB per (rounded) vCPU    rounded CPU
ephemeral-storage  max(request, limit) in decimal GB       a whole GB; the disk is 30 GB  100 GB extra, so a
                                                           plus that                      130 GB disk
=================  ======================================  =============================  =====================

Behaviours worth knowing, all mirrored here:

- The machine type's memory is ``GB * 1024`` MB: Google rounds the request in decimal GB (10**9
  bytes) and then asks for that many GiB. ``8Gi`` is 8.59 GB, so it becomes a 9 GB step
  (``e2-custom-2-9216``); ask ``8G`` to get ``e2-custom-2-8192``.
- Memory below what the CPU allows is raised (never below 2 GB; 4 GB for 8 vCPU, 16 GB for 32).
- CPU is never raised to fit memory: 16Gi with the default 0.5 vCPU gets a 4 GB VM.
- The larger of request and limit sizes the VM, so a generous limit is what you pay for.
- A request of ``"0"`` alone counts as unset (the default applies); ``"0"`` as both request and
  limit gives the smallest VM.
- CPU is read as a plain decimal string with an optional ``m`` suffix, not as a Kubernetes
  quantity: a number (``{"cpu": 2}``) or another suffix (``"1k"``) makes Google's hook raise, and the
  task fails before the pod exists. Memory and storage go through ``parse_quantity``.
- Only the first container counts; its resources are then removed from the pod spec, and other
  containers' resources size nothing.
- Older composer-airflow builds (commit fc5ad7d77b73) added 20 GB instead of 30 and allowed 1 GB
  of memory; this module follows the newer code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubernetes.client import models as k8s

#: Google's tolerance when comparing an amount with a step.
EPS = 1e-9
DEFAULT_CPUS = 0.5
DEFAULT_MEMORY_GB_PER_CPU = 4
MIN_MEMORY_GB = 2
MAX_MEMORY_GB = 128
MIN_MEMORY_GB_PER_CPU = 0.5
MAX_MEMORY_GB_PER_CPU = 8
BASE_DISK_GB = 30
MAX_EXTRA_DISK_GB = 100
#: (vCPUs, how the machine type names them), smallest first.
CPU_STEPS: tuple[tuple[float, str], ...] = (
    (0.25, "micro"),
    (0.5, "small"),
    (1, "medium"),
    *((n, str(n)) for n in range(2, 33, 2)),
)
_BYTES_PER_GB = 10**9


class UnsizableResources(ValueError):
    """Google's ``pod_mutation_hook`` would raise on these resources, failing the task before the pod exists."""


@dataclass(frozen=True)
class Clamp:
    """A resource Google's hook cuts down to its maximum, with only a log line nobody reads.

    ``requested`` and ``applied`` are in ``unit``: vCPU for cpu, decimal GB for memory and for
    ephemeral-storage (for storage, the GB added to the VM's 30 GB disk).
    """

    resource: str
    requested: float
    applied: float
    unit: str

    def __str__(self) -> str:
        return f"{self.resource} {show_amount(self.requested)} {self.unit} -> {show_amount(self.applied)} {self.unit}"


@dataclass(frozen=True)
class PeerVmSize:
    """The VM Composer 3 runs a pod on: ``machine_type`` as Google writes it, and its parts."""

    machine_type: str
    cpus: float
    memory_mb: int
    disk_gb: int
    clamps: tuple[Clamp, ...] = ()

    @property
    def memory_gb(self) -> int:
        """Return the memory step in GB, as Google picks it (the VM has that many GiB)."""
        return self.memory_mb // 1024


def peer_vm_size(resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None) -> PeerVmSize:
    """Return the VM Google's hook picks for a first container with ``resources``.

    :param resources: the base container's resources, as a ``V1ResourceRequirements``, a dict with
        ``requests``/``limits`` keys, or None.
    :raises UnsizableResources: when Google's hook would raise on these values.
    """
    requests, limits = requests_and_limits(resources)
    cpus, cpu_name, cpu_clamp = _cpu_step(requests, limits)
    memory_gb, memory_clamp = _memory_step(requests, limits, cpus)
    disk_gb, disk_clamp = _disk_size(requests, limits)
    clamps = tuple(c for c in (cpu_clamp, memory_clamp, disk_clamp) if c is not None)
    return PeerVmSize(
        machine_type=f"e2-custom-{cpu_name}-{memory_gb * 1024}",
        cpus=float(cpus),
        memory_mb=memory_gb * 1024,
        disk_gb=disk_gb,
        clamps=clamps,
    )


def smallest_cpus_for_memory(memory_gb: float) -> float | None:
    """Return the fewest vCPUs Google allows ``memory_gb`` with, or None above 128 GB."""
    for cpus, _ in CPU_STEPS:
        if memory_gb < min(MAX_MEMORY_GB, MAX_MEMORY_GB_PER_CPU * cpus) + EPS:
            return cpus
    return None


def format_cpus(cpus: float) -> str:
    """Return vCPUs without a trailing ``.0``: ``0.25``, ``0.5``, ``1``, ``32``."""
    return f"{cpus:g}"


def requests_and_limits(resources: Any) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """Return ``(requests, limits)`` of a ``V1ResourceRequirements``, a dict of the two, or None."""
    if resources is None:
        return None, None
    if isinstance(resources, Mapping):
        return resources.get("requests"), resources.get("limits")
    return resources.requests, resources.limits


def _combine(request: Any, limit: Any, default: Any) -> Any:
    """Google's choice: the larger when both are set, else the one that is truthy, else the default."""
    if request is not None and limit is not None:
        return max(request, limit)
    return request or limit or default


def _cpu_step(requests: Mapping[str, Any] | None, limits: Mapping[str, Any] | None) -> tuple[float, str, Clamp | None]:
    wanted = _combine(_cpu(requests, "requests"), _cpu(limits, "limits"), DEFAULT_CPUS)
    for cpus, name in CPU_STEPS:
        if wanted < cpus + EPS:
            return cpus, name, None
    cpus, name = CPU_STEPS[-1]
    return cpus, name, Clamp("cpu", float(wanted), float(cpus), "vCPU")


def _cpu(field: Mapping[str, Any] | None, where: str) -> float | None:
    value = field.get("cpu") if field else None
    if not value:
        return None
    if not isinstance(value, str):
        raise UnsizableResources(
            f"{where} cpu={value!r} is not a string; Google's pod_mutation_hook reads CPU only as a string "
            f"and fails on anything else: write {str(value)!r}."
        )
    try:
        return float(value[:-1]) / 1000 if value.endswith("m") else float(value)
    except ValueError:
        raise UnsizableResources(
            f"{where} cpu={value!r}: Google's pod_mutation_hook reads CPU only as a plain number or millicores "
            "('2', '1.5', '500m') and fails on other quantities."
        ) from None


def _memory_step(
    requests: Mapping[str, Any] | None, limits: Mapping[str, Any] | None, cpus: float
) -> tuple[int, Clamp | None]:
    request, limit = _gb(requests, "memory", "requests"), _gb(limits, "memory", "limits")
    wanted = _combine(request, limit, cpus * DEFAULT_MEMORY_GB_PER_CPU)
    allowed = [
        gb
        for gb in range(MIN_MEMORY_GB, MAX_MEMORY_GB + 1)
        if MIN_MEMORY_GB_PER_CPU - EPS < gb / cpus < MAX_MEMORY_GB_PER_CPU + EPS
    ]
    for gb in allowed:
        if wanted < gb + EPS:
            return gb, None
    return allowed[-1], Clamp("memory", float(wanted), float(allowed[-1]), "GB")


def _gb(field: Mapping[str, Any] | None, resource: str, where: str) -> Decimal | None:
    value = field.get(resource) if field else None
    return _parse_gb(value, resource, where) if value else None


def _parse_gb(value: Any, resource: str, where: str) -> Decimal:
    from kubernetes.utils import parse_quantity

    try:
        return Decimal(parse_quantity(value)) / _BYTES_PER_GB
    except (ValueError, TypeError, ArithmeticError):
        raise UnsizableResources(
            f"{where} {resource}={value!r} is not a Kubernetes quantity, so Google's pod_mutation_hook fails "
            "on it; write e.g. '4G', '4Gi' or '512Mi'."
        ) from None


def _disk_size(requests: Mapping[str, Any] | None, limits: Mapping[str, Any] | None) -> tuple[int, Clamp | None]:
    extra = max(_disk_gb(requests, "requests"), _disk_gb(limits, "limits"))
    if extra > MAX_EXTRA_DISK_GB:
        clamp = Clamp("ephemeral-storage", float(extra), float(MAX_EXTRA_DISK_GB), "GB")
        return BASE_DISK_GB + MAX_EXTRA_DISK_GB, clamp
    return BASE_DISK_GB + extra, None


def _disk_gb(field: Mapping[str, Any] | None, where: str) -> int:
    """Return whole GB of ephemeral storage; Google reads a missing key as "0", but an empty value fails."""
    if not field:
        return 0
    return math.ceil(_parse_gb(field.get("ephemeral-storage", "0"), "ephemeral-storage", where))


def show_amount(amount: float) -> str:
    """Return an amount with at most two decimals: ``17.18``, ``0.25``, ``4``."""
    return f"{amount:.2f}".rstrip("0").rstrip(".")
