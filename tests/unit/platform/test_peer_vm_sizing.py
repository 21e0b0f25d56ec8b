"""The Composer 3 peer VM size, checked against values worked out by hand from Google's rules.

How each expected value was derived (see peer_vm_sizing's table):
cpu = smallest step >= max(request, limit) among 0.25, 0.5, 1, 2, 4, ..., 32 (0.5 when unset);
memory = smallest whole GB >= max(request, limit) / 10**9 among 2..128 with 0.5..8 GB per vCPU
(4 GB per vCPU when unset), shown as GB * 1024 MB; disk = 30 + ceil(ephemeral / 10**9), extra <= 100.
"""

from __future__ import annotations

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.platform.peer_vm_sizing import (
    CPU_STEPS,
    Clamp,
    PeerVmSize,
    UnsizableResources,
    peer_vm_size,
    smallest_cpus_for_memory,
)


def res(requests: dict | None = None, limits: dict | None = None) -> k8s.V1ResourceRequirements:
    return k8s.V1ResourceRequirements(requests=requests, limits=limits)


# (case, resources, machine type, disk GB)
CASES = [
    # Defaults: 0.5 vCPU -> "small"; memory 0.5 * 4 = 2 GB -> 2048.
    ("nothing set", None, "e2-custom-small-2048", 30),
    ("empty model", res(), "e2-custom-small-2048", 30),
    ("empty dicts", res({}, {}), "e2-custom-small-2048", 30),
    ("unrelated keys only", res({"nvidia.com/gpu": "1"}), "e2-custom-small-2048", 30),
    # CPU steps. 0.1 -> 0.25 "micro"; memory 0.25 * 4 = 1 GB, but 0.25 vCPU allows only 2 GB.
    ("100m is micro", res({"cpu": "100m"}), "e2-custom-micro-2048", 30),
    ("250m is exactly micro", res({"cpu": "250m"}), "e2-custom-micro-2048", 30),
    ("260m is small", res({"cpu": "260m"}), "e2-custom-small-2048", 30),
    # 0.6 -> 1 "medium"; memory 1 * 4 = 4 GB.
    ("0.6 is medium", res({"cpu": "0.6"}), "e2-custom-medium-4096", 30),
    ("1 is medium", res({"cpu": "1"}), "e2-custom-medium-4096", 30),
    # 1.5 -> 2; memory 8 GB.
    ("1500m rounds to 2", res({"cpu": "1500m"}), "e2-custom-2-8192", 30),
    ("4000m is 4", res({"cpu": "4000m"}), "e2-custom-4-16384", 30),
    # 2.5 -> 4 (odd counts do not exist above 1); memory 16 GB.
    ("2.5 rounds to 4", res({"cpu": "2.5"}), "e2-custom-4-16384", 30),
    # Google's 1e-9 tolerance: 2.0000000001 still counts as 2.
    ("within tolerance of 2", res({"cpu": "2.0000000001"}), "e2-custom-2-8192", 30),
    ("2.01 rounds to 4", res({"cpu": "2.01"}), "e2-custom-4-16384", 30),
    # 31 -> 32; memory 128 GB (32 * 4, and 128 is the cap).
    ("31 rounds to 32", res({"cpu": "31"}), "e2-custom-32-131072", 30),
    # max(request, limit): 3 -> 4.
    ("limit above request", res({"cpu": "1"}, {"cpu": "3"}), "e2-custom-4-16384", 30),
    ("request above limit", res({"cpu": "3000m"}, {"cpu": "1000m"}), "e2-custom-4-16384", 30),
    ("limit only", res(limits={"cpu": "2"}), "e2-custom-2-8192", 30),
    # "0" alone is falsy in Google's code: the default 0.5 applies.
    ("zero request alone is unset", res({"cpu": "0"}), "e2-custom-small-2048", 30),
    # "0" and "0": both set, max is 0 -> 0.25; memory 0.25 * 4 = 1 -> raised to 2.
    ("zero request and limit", res({"cpu": "0"}, {"cpu": "0"}), "e2-custom-micro-2048", 30),
    # Memory is decimal GB: 8Gi = 8.59 GB -> 9 GB -> 9216; 8G -> 8192.
    ("8Gi is a 9 GB step", res({"cpu": "2", "memory": "8Gi"}), "e2-custom-2-9216", 30),
    ("8G is an 8 GB step", res({"cpu": "2", "memory": "8G"}), "e2-custom-2-8192", 30),
    ("3.5G rounds up to 4", res({"memory": "3.5G"}), "e2-custom-small-4096", 30),
    ("max of request and limit memory", res({"memory": "1G"}, {"memory": "3G"}), "e2-custom-small-3072", 30),
    # Below the minimum: 1Gi = 1.07 GB -> 2 GB (0.5 vCPU allows 2..4).
    ("1Gi raised to 2 GB", res({"memory": "1Gi"}), "e2-custom-small-2048", 30),
    # 8 vCPU needs at least 0.5 GB per vCPU = 4 GB.
    ("8 vCPU raises 1G to 4 GB", res({"cpu": "8", "memory": "1G"}), "e2-custom-8-4096", 30),
    ("4 vCPU raises 0.1G to 2 GB", res(limits={"cpu": "4", "memory": "0.1G"}), "e2-custom-4-2048", 30),
    # Disk: 30 + ceil(max(request, limit) in GB).
    ("ephemeral max of request and limit", res({"ephemeral-storage": "15G"}, {"ephemeral-storage": "20G"}), None, 50),
    ("ephemeral 15Gi is 17 GB", res({"ephemeral-storage": "15Gi"}), None, 47),
    ("ephemeral 500Mi rounds to 1 GB", res({"ephemeral-storage": "500Mi"}), None, 31),
    ("ephemeral exactly 100G", res(limits={"ephemeral-storage": "100G"}), None, 130),
    ("dict input", {"requests": {"cpu": "2"}}, "e2-custom-2-8192", 30),
]


@pytest.mark.parametrize(("case", "resources", "machine_type", "disk_gb"), CASES, ids=[c[0] for c in CASES])
def test_peer_vm_size(case, resources, machine_type, disk_gb):
    size = peer_vm_size(resources)
    if machine_type is not None:
        assert size.machine_type == machine_type
    assert size.disk_gb == disk_gb
    assert size.clamps == ()


# (case, resources, machine type, disk GB, clamps)
CLAMPED = [
    # 40 -> 32 vCPU; memory default 32 * 4 = 128 GB.
    ("cpu above 32", res({"cpu": "40"}), "e2-custom-32-131072", 30, (Clamp("cpu", 40.0, 32.0, "vCPU"),)),
    # 16Gi = 17.18 GB, but 0.5 vCPU allows at most 4 GB; the CPU is not raised.
    (
        "memory above 8 GB per vCPU",
        res({"memory": "16Gi"}),
        "e2-custom-small-4096",
        30,
        (Clamp("memory", 17.179869184, 4.0, "GB"),),
    ),
    (
        "4 vCPU allow 32 GB",
        res({"cpu": "4", "memory": "40G"}),
        "e2-custom-4-32768",
        30,
        (Clamp("memory", 40, 32, "GB"),),
    ),
    (
        "128 GB in all",
        res(limits={"cpu": "32", "memory": "200G"}),
        "e2-custom-32-131072",
        30,
        (Clamp("memory", 200, 128, "GB"),),
    ),
    # 200 GB of storage -> only 100 extra: 130 GB disk.
    (
        "ephemeral above 100G",
        res({"ephemeral-storage": "200G"}),
        "e2-custom-small-2048",
        130,
        (Clamp("ephemeral-storage", 200, 100, "GB"),),
    ),
    (
        "everything at once",
        res({"cpu": "64", "ephemeral-storage": "1T"}, {"memory": "1Ti"}),
        "e2-custom-32-131072",
        130,
        (
            Clamp("cpu", 64, 32, "vCPU"),
            Clamp("memory", 1099.511627776, 128, "GB"),
            Clamp("ephemeral-storage", 1000, 100, "GB"),
        ),
    ),
]


@pytest.mark.parametrize(
    ("case", "resources", "machine_type", "disk_gb", "clamps"), CLAMPED, ids=[c[0] for c in CLAMPED]
)
def test_peer_vm_size_clamps(case, resources, machine_type, disk_gb, clamps):
    size = peer_vm_size(resources)
    assert (size.machine_type, size.disk_gb) == (machine_type, disk_gb)
    assert size.clamps == clamps


@pytest.mark.parametrize("cpus", [n for n, _ in CPU_STEPS if n >= 2])
def test_every_whole_cpu_step_gets_4_gb_per_vcpu_by_default(cpus):
    size = peer_vm_size(res({"cpu": str(cpus)}))
    assert size.machine_type == f"e2-custom-{cpus}-{min(cpus * 4, 128) * 1024}"


def test_size_parts():
    size = peer_vm_size(res({"cpu": "2", "memory": "8Gi", "ephemeral-storage": "10G"}))
    assert size == PeerVmSize("e2-custom-2-9216", cpus=2.0, memory_mb=9216, disk_gb=40, clamps=())
    assert size.memory_gb == 9


def test_clamp_reads_as_from_to():
    assert str(Clamp("memory", 17.179869184, 4.0, "GB")) == "memory 17.18 GB -> 4 GB"
    assert str(Clamp("cpu", 40.0, 32.0, "vCPU")) == "cpu 40 vCPU -> 32 vCPU"


@pytest.mark.parametrize(
    ("resources", "words"),
    [
        (res({"cpu": 2}), "is not a string"),  # Google calls .endswith on it
        (res(limits={"cpu": 0.5}), "is not a string"),
        (res({"cpu": "1k"}), "plain number or millicores"),  # float("1k") fails
        (res({"cpu": "1Gi"}), "plain number or millicores"),
        (res({"memory": "2GB"}), "not a Kubernetes quantity"),
        (res({"ephemeral-storage": "lots"}), "not a Kubernetes quantity"),
    ],
)
def test_values_google_hook_cannot_read(resources, words):
    with pytest.raises(UnsizableResources, match=words):
        peer_vm_size(resources)


def test_quantity_strings_google_reads_as_numbers():
    # float() accepts exponents, so "1e1" is 10 vCPU -> 10 is a step; memory 40 GB.
    assert peer_vm_size(res({"cpu": "1e1"})).machine_type == "e2-custom-10-40960"
    # Memory goes through parse_quantity, integers included.
    assert peer_vm_size(res({"cpu": "1", "memory": 3 * 10**9})).machine_type == "e2-custom-medium-3072"


@pytest.mark.parametrize(
    ("memory_gb", "cpus"),
    [(1, 0.25), (2, 0.25), (2.5, 0.5), (8, 1), (9, 2), (17.18, 4), (128, 16), (128.5, None)],
)
def test_smallest_cpus_for_memory(memory_gb, cpus):
    assert smallest_cpus_for_memory(memory_gb) == cpus
