"""What Composer 3 does to a KubernetesPodOperator pod that the DAG does not say: findings, not errors.

On Composer 3 the pod runs on a VM of its own (a "peer VM"), sized by Google's ``pod_mutation_hook``
from the first container's resources (:mod:`.peer_vm_sizing`). Each rule below names its source.

====================================  ====================================================  ======================
what the DAG sets                     what Composer 3 does                                  source
====================================  ====================================================  ======================
namespace other than                  runs the pod in ``composer-user-workloads``           [KPO3] verified
``composer-user-workloads``           anyway, without a word
cpu above 32 vCPU                     VM gets 32 vCPU (Google logs a warning)               [HOOK] verified
memory above 8 GB per vCPU or 128 GB  VM gets the most the CPU allows; CPU not raised       [HOOK] verified
ephemeral-storage above 100 GB        disk gets 30 + 100 GB                                 [HOOK] verified
limit above request                   VM sized (and billed) from the limit                  [HOOK] verified
cpu as a number or odd suffix,        Google's hook raises: the task fails before the       [HOOK] verified
memory/storage not a quantity         pod is created
affinity                              not available on Composer 3                           [KPO3] verified
extra containers or native sidecars   at most one sidecar, named ``airflow-xcom-sidecar``;  [KPO3] + [PM] verified
other than the XCom sidecar           their resources size nothing
node_selector                         not documented; no node pools of yours to select      unverified: debug only
tolerations                           not documented; nothing of yours to tolerate          unverified: debug only
====================================  ====================================================  ======================

Findings from unverified rules carry ``verified=False``: :func:`.rules.platform_findings` logs them at
debug level and never shows them to users.

Sources:

- [KPO3] https://cloud.google.com/composer/docs/composer-3/use-kubernetes-pod-operator, "Before you
  begin": pods always run in ``composer-user-workloads`` even if another namespace is specified; only
  one additional sidecar, and only if it is named ``airflow-xcom-sidecar``; resource requirements
  (CPU, memory, storage) must use supported values; "In Cloud Composer 3, Pod affinity configuration
  is not available", use the GKE operators instead.
- [HOOK] GoogleCloudPlatform/composer-airflow ``airflow/composer/kubernetes/utils.py`` (commit
  26d55e6e7f74): the sizing arithmetic, and that only ``containers[0].resources`` is read and cleared.
- [PM] the same file, ``is_kubernetes_pod_operator_base_container_terminated``: raises when the peer
  VM reports more than one container besides ``airflow-xcom-sidecar``.
- Not found in any source: whether node selectors, tolerations, host networking or privileged
  containers are honoured on a peer VM. Node selectors and tolerations get findings that are only
  logged at debug level; host networking and privileged containers get none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from kubernetes.client import models as k8s

from ..findings import PARAMETER, Finding, show
from ._inputs import XCOM_SIDECAR_NAME, field, is_set, is_templated
from .composer import COMPOSER_USER_WORKLOADS_NAMESPACE
from .peer_vm_sizing import (
    MAX_EXTRA_DISK_GB,
    Clamp,
    PeerVmSize,
    UnsizableResources,
    peer_vm_size,
    requests_and_limits,
    show_amount,
    smallest_cpus_for_memory,
)

COMPOSER3_KPO_DOC = "https://cloud.google.com/composer/docs/composer-3/use-kubernetes-pod-operator"
GOOGLE_HOOK_SOURCE = (
    "https://github.com/GoogleCloudPlatform/composer-airflow/blob/26d55e6e7f74455e20f682fc2347f98e5eb8c5b6/"
    "airflow/composer/kubernetes/utils.py"
)
_OWN_CLUSTER = "or run the task on a GKE cluster of your own with GKEStartPodOperator"


def composer3_warnings(
    *,
    namespace: str | None = None,
    container_resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None = None,
    affinity: k8s.V1Affinity | Mapping[str, Any] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[k8s.V1Toleration | Mapping[str, Any]] | None = None,
    extra_containers: Sequence[k8s.V1Container | Mapping[str, Any]] = (),
    init_containers: Sequence[k8s.V1Container | Mapping[str, Any]] = (),
) -> list[Finding]:
    """Return what Composer 3 will change, ignore or fail on in these pod settings.

    Templated values (Jinja strings) are skipped: call again with the rendered values.

    :param namespace: the pod's namespace.
    :param container_resources: the base (first) container's resources.
    :param affinity: the pod's affinity.
    :param node_selector: the pod's node selector.
    :param tolerations: the pod's tolerations.
    :param extra_containers: the pod's containers after the base one (KPO's XCom sidecar is fine).
    :param init_containers: the pod's init containers; only native sidecars (restartPolicy Always) count.
    """
    findings = list(_namespace(namespace))
    findings += _resources(container_resources)
    findings += _affinity(affinity)
    findings += _node_selector(node_selector)
    findings += _tolerations(tolerations)
    findings += _extra_containers(extra_containers, init_containers)
    return findings


def _namespace(namespace: str | None) -> Iterator[Finding]:
    if not namespace or namespace == COMPOSER_USER_WORKLOADS_NAMESPACE or is_templated(namespace):
        return
    yield Finding(
        PARAMETER,
        "namespace",
        f"Composer 3 runs every pod in {COMPOSER_USER_WORKLOADS_NAMESPACE!r} whatever namespace is given, "
        "and changes it without a warning.",
        f"set namespace={COMPOSER_USER_WORKLOADS_NAMESPACE!r} (or leave it unset) so the DAG says where the pod runs.",
        value=show(namespace),
        source=COMPOSER3_KPO_DOC,
    )


def _resources(resources: Any) -> Iterator[Finding]:
    if is_templated(resources):
        return
    try:
        size = peer_vm_size(resources)
    except UnsizableResources as e:
        yield Finding(
            PARAMETER,
            "container_resources",
            f"{e} Composer 3 runs this hook for every pod, so the task fails before its pod is created.",
            "write cpu as a string ('2', '1.5', '500m') and memory/ephemeral-storage as quantities ('4G', '512Mi').",
            value=show(resources),
            source=GOOGLE_HOOK_SOURCE,
        )
        return
    for clamp in size.clamps:
        yield _clamp_finding(clamp, size, resources)
    yield from _limit_sizes_vm(resources, size)


def _clamp_finding(clamp: Clamp, size: PeerVmSize, resources: Any) -> Finding:
    value = show(resources)
    if clamp.resource == "cpu":
        message = (
            f"Composer 3 gives a pod's VM at most 32 vCPU, so this one gets {size.machine_type} "
            f"with 32 vCPU, not {clamp.requested:g}."
        )
        fix = f"ask for at most 32 vCPU, {_OWN_CLUSTER}."
    elif clamp.resource == "memory":
        cpus = smallest_cpus_for_memory(clamp.requested)
        message = (
            f"Composer 3 allows at most 8 GB of memory per vCPU (128 GB in all) and never adds CPU to fit, "
            f"so this pod's VM is {size.machine_type} with {clamp.applied:g} GB, "
            f"not the {show_amount(clamp.requested)} GB asked for."
        )
        fix = (
            f"ask for cpu of at least {cpus:g} (the VM is sized from the first container), or less memory."
            if cpus is not None
            else f"ask for at most 128G of memory, {_OWN_CLUSTER}."
        )
    else:
        message = (
            f"Composer 3 adds at most {MAX_EXTRA_DISK_GB} GB of ephemeral storage to the VM's disk, so this pod "
            f"gets a {size.disk_gb} GB disk; it is evicted or fails when it writes more."
        )
        fix = f"ask for at most {MAX_EXTRA_DISK_GB}G of ephemeral-storage and keep large data in Cloud Storage."
    return Finding(PARAMETER, "container_resources", message, fix, value=value, source=GOOGLE_HOOK_SOURCE)


def _limit_sizes_vm(resources: Any, size: PeerVmSize) -> Iterator[Finding]:
    """Google sizes the VM from max(request, limit): say so when the limits make it bigger."""
    requests, limits = requests_and_limits(resources)
    if not requests or not limits:
        return
    effective = {name: requests.get(name) or limits.get(name) for name in {*requests, *limits}}
    by_request = peer_vm_size({"requests": effective})
    if (by_request.machine_type, by_request.disk_gb) == (size.machine_type, size.disk_gb):
        return
    yield Finding(
        PARAMETER,
        "container_resources",
        f"Composer 3 sizes the VM from the larger of request and limit, so the limits make it {size.machine_type} "
        f"with a {size.disk_gb} GB disk (the requests alone: {by_request.machine_type}, {by_request.disk_gb} GB). "
        "The VM is what you pay for.",
        "set limits equal to requests, with requests at what the task needs.",
        value=show(resources),
        source=GOOGLE_HOOK_SOURCE,
    )


def _affinity(affinity: Any) -> Iterator[Finding]:
    if not is_set(affinity) or is_templated(affinity):
        return
    yield Finding(
        PARAMETER,
        "affinity",
        "Composer 3 does not support pod affinity: each pod runs on a VM of its own that Google sizes from "
        "the resources, so there are no node pools of yours to choose.",
        f"remove affinity and size the VM with container_resources, {_OWN_CLUSTER}.",
        value=show(affinity),
        source=COMPOSER3_KPO_DOC,
    )


def _node_selector(node_selector: Any) -> Iterator[Finding]:
    # Unverified: Google's Composer 3 page neither lists node selectors as supported nor as rejected
    # (https://cloud.google.com/composer/docs/composer-3/use-kubernetes-pod-operator): debug only.
    if not is_set(node_selector) or is_templated(node_selector):
        return
    yield Finding(
        PARAMETER,
        "node_selector",
        "Composer 3 runs each pod on a VM of its own and has no node pools of yours to select; its documentation "
        "does not say node selectors are honoured (unverified: the selector may be ignored, or may keep the pod "
        "Pending).",
        f"remove node_selector and size the VM with container_resources, {_OWN_CLUSTER}.",
        value=show(node_selector),
        source=f"{COMPOSER3_KPO_DOC} (not mentioned there)",
        verified=False,
    )


def _tolerations(tolerations: Any) -> Iterator[Finding]:
    # Unverified, as for node selectors: debug only.
    if not is_set(tolerations) or is_templated(tolerations):
        return
    yield Finding(
        PARAMETER,
        "tolerations",
        "Composer 3 runs each pod on a VM of its own, with no tainted nodes of yours to tolerate; its documentation "
        "does not mention tolerations (unverified: they are probably ignored).",
        "remove tolerations on Composer 3.",
        value=show(tolerations),
        source=f"{COMPOSER3_KPO_DOC} (not mentioned there)",
        verified=False,
    )


def _extra_containers(extra_containers: Sequence[Any], init_containers: Sequence[Any]) -> Iterator[Finding]:
    sidecars = [(f"containers[{i}]", c) for i, c in enumerate(extra_containers or (), start=1)]
    sidecars += [
        (f"init_containers[{i}]", c)
        for i, c in enumerate(init_containers or ())
        if field(c, "restart_policy", "restartPolicy") == "Always"
    ]
    for where, container in sidecars:
        name = field(container, "name")
        if name == XCOM_SIDECAR_NAME or is_templated(name):
            continue
        sized = " Its resources would not size the VM either: only the first container's do."
        sized = sized if is_set(field(container, "resources")) else ""
        yield Finding(
            PARAMETER,
            where,
            f"Composer 3 runs at most one sidecar, and only one named {XCOM_SIDECAR_NAME!r}; Google's patched "
            f"PodManager also fails when the VM reports another container besides the base one.{sized}",
            f"do this container's work in the base container (start it from the entrypoint), {_OWN_CLUSTER}.",
            value=show(name),
            source=COMPOSER3_KPO_DOC,
        )
