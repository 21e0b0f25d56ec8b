"""What GKE Autopilot (Composer 2's cluster) does to a pod's resource requests: findings, never errors.

Autopilot reserves, and bills, what a pod requests. Below a minimum it raises the request, above a
maximum it refuses the pod, and unset requests get defaults. These rules cover the default
general-purpose compute class only: a pod that selects a compute class or a GPU
(``cloud.google.com/compute-class``, ``cloud.google.com/gke-accelerator``) has other numbers and
is not checked. Kubernetes fills an unset request from the limit, so that is what is checked.

Only rules read in Google's own pages are shown to users ("shown"); the others are computed with
``verified=False`` and only logged at debug level (:func:`.rules.platform_findings`), until someone
reads the numbers on Google's page.

============================  =============================================  ==========================
what the pod asks             what Autopilot does                            source, shown?
============================  =============================================  ==========================
no cpu and memory requests    sets 0.5 vCPU and 2 GiB                        [AP] verified, shown
only one of cpu and memory    sets the other from the CPU:memory ratio       [AP] verified, shown
no ephemeral-storage request  sets 1 GiB                                     [AP] verified, shown
extra container, no requests  gets the defaults too                          [AP] verified, shown
cpu below 250m (50m with      raises it                                      [SEC] unverified, debug
pod bursting)
memory below 512 MiB (52 MiB  raises it                                      [SEC] unverified, debug
with pod bursting)
memory per vCPU outside 1 to  raises the smaller of the two to fit           [SEC] unverified, debug
6.5 GiB
pod total above 30 vCPU or    rejects the pod                                [SEC] unverified, debug
110 GiB                                                                      (older notes: 28, 80 GiB)
ephemeral-storage outside     raises it / lowers or rejects it               [FUSE] quoting [AP], debug
10 MiB to 10 GiB
limit above request           sets the limit to the request where the        [BURST] verified; which
                              cluster does not support bursting              clusters: unverified, debug
============================  =============================================  ==========================

Sources:

- [AP] https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-resource-requests: requests
  below the minimum are modified to fit, above the maximum the workload is rejected; default
  general-purpose requests 0.5 vCPU and 2 GiB; every other container gets 1 GiB of ephemeral storage;
  a lone CPU or memory request gets the other set from the ratio. The minimum/maximum table itself
  was not readable in the stored copy (searched again for issue #30: only the page's opening is
  stored).
- [SEC] https://finops-stack.jetstack.io/distribution-gke-autopilot (a secondary summary of [AP]):
  CPU min 50m bursting / 250m otherwise, max 30; memory min 52 MiB / 512 MiB, max 110 GiB;
  vCPU:GiB between 1:1 and 1:6.5, e.g. 200m with 2 GiB becomes about 308m.
- [FUSE] https://github.com/GoogleCloudPlatform/gcs-fuse-csi-driver/issues/21 quotes [AP]: the
  ephemeral storage request must be between 10 MiB and 10 GiB, larger ones are scaled down.
- [BURST] https://cloud.google.com/kubernetes-engine/docs/how-to/pod-bursting-gke: limits above
  requests (or unset limits) let a pod use spare capacity where the cluster supports bursting; its
  list of benefits says Autopilot bills the total of the Pods' resource requests (read in the
  Japanese copy, ?hl=ja).

KPO's XCom sidecar asks 1m CPU and 10Mi, below every minimum; Autopilot raises it and nobody can
fix that from a DAG, so it gets no finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from kubernetes.client import models as k8s

from ..findings import PARAMETER, Finding, show
from ._inputs import XCOM_SIDECAR_NAME, field, is_set, is_templated, quantity
from .peer_vm_sizing import requests_and_limits

AUTOPILOT_REQUESTS_DOC = "https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-resource-requests"
SECONDARY_SUMMARY = "https://finops-stack.jetstack.io/distribution-gke-autopilot"
EPHEMERAL_QUOTE = "https://github.com/GoogleCloudPlatform/gcs-fuse-csi-driver/issues/21"
BURSTING_DOC = "https://cloud.google.com/kubernetes-engine/docs/how-to/pod-bursting-gke"
COMPOSER2_KPO_DOC = "https://cloud.google.com/composer/docs/composer-2/use-kubernetes-pod-operator"

MI = Decimal(2**20)
GI = Decimal(2**30)
# Verified on [AP]:
DEFAULT_CPU = Decimal("0.5")
DEFAULT_MEMORY = 2 * GI
DEFAULT_EPHEMERAL = 1 * GI
# Unverified ([SEC]); findings with verified=False, logged at debug level only:
MIN_CPU, MIN_CPU_BURSTING = Decimal("0.25"), Decimal("0.05")
MIN_MEMORY, MIN_MEMORY_BURSTING = 512 * MI, 52 * MI
MAX_CPU, MAX_MEMORY = Decimal(30), 110 * GI
MIN_GIB_PER_CPU, MAX_GIB_PER_CPU = Decimal(1), Decimal("6.5")
# Quoted from [AP] in [FUSE], a secondary source; verified=False likewise:
MIN_EPHEMERAL, MAX_EPHEMERAL = 10 * MI, 10 * GI
#: node selector keys that move a pod off the general-purpose class, whose numbers these are.
OTHER_CLASS_KEYS = ("cloud.google.com/compute-class", "cloud.google.com/gke-accelerator")
_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def autopilot_warnings(
    container_resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None,
    *,
    extra_containers: Sequence[k8s.V1Container | Mapping[str, Any]] = (),
    node_selector: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Return where GKE Autopilot will raise, default or refuse this pod's resource requests.

    :param container_resources: the base container's resources.
    :param extra_containers: the pod's other containers (KPO's XCom sidecar is left out).
    :param node_selector: the pod's node selector; a compute class or GPU selector skips every rule.
    """
    if any(key in (node_selector or {}) for key in OTHER_CLASS_KEYS) or is_templated(container_resources):
        return []
    base = _effective_requests(container_resources)
    findings = list(_unset(container_resources, base))
    findings += _minimums(container_resources, base)
    findings += _ratio(container_resources, base)
    findings += _limits_above_requests(container_resources)
    others = [c for c in extra_containers or () if field(c, "name") != XCOM_SIDECAR_NAME]
    findings += _unsized_extra_containers(others)
    findings += _pod_totals(container_resources, base, [_effective_requests(field(c, "resources")) for c in others])
    return findings


def composer2_warnings(
    *,
    container_resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None = None,
    affinity: k8s.V1Affinity | Mapping[str, Any] | None = None,
    node_selector: Mapping[str, str] | None = None,
    extra_containers: Sequence[k8s.V1Container | Mapping[str, Any]] = (),
) -> list[Finding]:
    """Return the Composer 2 findings: pod affinity, then :func:`autopilot_warnings`."""
    findings = []
    if is_set(affinity) and not is_templated(affinity):
        findings.append(
            Finding(
                PARAMETER,
                "affinity",
                "Composer 2 documents pod affinity as not available: its cluster is GKE Autopilot, with no node "
                "pools of yours to select.",
                "remove affinity; pick hardware with an Autopilot compute class in node_selector "
                "(cloud.google.com/compute-class), or run the task on a cluster of your own with GKEStartPodOperator.",
                value=show(affinity),
                source=COMPOSER2_KPO_DOC,
            )
        )
    return findings + autopilot_warnings(
        container_resources, extra_containers=extra_containers, node_selector=node_selector
    )


def _effective_requests(resources: Any) -> dict[str, Decimal]:
    """Return each parseable request, falling back to the limit as the API server does."""
    requests, limits = requests_and_limits(resources)
    effective = {}
    for name in _RESOURCES:
        amount = quantity((requests or {}).get(name) or (limits or {}).get(name))
        if amount is not None:
            effective[name] = amount
    return effective


def _unset(resources: Any, base: Mapping[str, Decimal]) -> Iterator[Finding]:
    missing = [name for name in _RESOURCES if name not in base]
    if not missing:
        return
    parts = []
    if "cpu" in missing and "memory" in missing:
        parts.append("0.5 vCPU and 2 GiB of memory")
    elif "cpu" in missing or "memory" in missing:
        parts.append(f"a {missing[0]} request derived from the {'memory' if missing[0] == 'cpu' else 'cpu'} one")
    if "ephemeral-storage" in missing:
        parts.append("1 GiB of ephemeral storage")
    yield Finding(
        PARAMETER,
        "container_resources",
        f"no {', '.join(missing)} request: GKE Autopilot (Composer 2) sets {'; '.join(parts)}, "
        "and Autopilot bills what a pod requests.",
        "set requests for cpu, memory and ephemeral-storage to what the task needs, "
        "e.g. requests={'cpu': '500m', 'memory': '1Gi', 'ephemeral-storage': '2Gi'}.",
        value=show(resources),
        source=AUTOPILOT_REQUESTS_DOC,
    )


def _minimums(resources: Any, base: Mapping[str, Decimal]) -> Iterator[Finding]:
    rows = (
        ("cpu", MIN_CPU, MIN_CPU_BURSTING, _cpu_text),
        ("memory", MIN_MEMORY, MIN_MEMORY_BURSTING, _bytes_text),
        ("ephemeral-storage", MIN_EPHEMERAL, MIN_EPHEMERAL, _bytes_text),
    )
    for name, minimum, bursting, text in rows:
        amount = base.get(name)
        if amount is None or amount >= minimum:
            continue
        floor = text(minimum) if minimum == bursting else f"{text(minimum)} ({text(bursting)} where pods can burst)"
        yield Finding(
            PARAMETER,
            "container_resources",
            f"GKE Autopilot raises a {name} request of {text(amount)} to at least {floor}, and bills the raised "
            "amount (minimums from a secondary summary of Google's page: unverified).",
            f"request at least {text(minimum)} of {name}, or accept the raise.",
            value=show(resources),
            source=SECONDARY_SUMMARY if name != "ephemeral-storage" else EPHEMERAL_QUOTE,
            verified=False,
        )


def _ratio(resources: Any, base: Mapping[str, Decimal]) -> Iterator[Finding]:
    cpu, memory = base.get("cpu"), base.get("memory")
    if not cpu or memory is None:
        return
    gib_per_cpu = memory / GI / cpu
    if gib_per_cpu < MIN_GIB_PER_CPU:
        change = f"raises memory to about {_bytes_text(cpu * MIN_GIB_PER_CPU * GI)}"
    elif gib_per_cpu > MAX_GIB_PER_CPU:
        change = f"raises cpu to about {_cpu_text(memory / GI / MAX_GIB_PER_CPU)}"
    else:
        return
    yield Finding(
        PARAMETER,
        "container_resources",
        f"GKE Autopilot keeps memory between 1 and 6.5 GiB per vCPU on its general-purpose class; for "
        f"{_cpu_text(cpu)} with {_bytes_text(memory)} it {change}, and bills that (ratio from a secondary "
        "summary of Google's page: unverified).",
        "keep memory between 1 and 6.5 GiB per requested vCPU.",
        value=show(resources),
        source=SECONDARY_SUMMARY,
        verified=False,
    )


def _limits_above_requests(resources: Any) -> Iterator[Finding]:
    requests, limits = requests_and_limits(resources)
    raised = []
    for name in ("cpu", "memory"):
        request, limit = quantity((requests or {}).get(name)), quantity((limits or {}).get(name))
        if request is not None and limit is not None and limit > request:
            raised.append(name)
    if not raised:
        return
    yield Finding(
        PARAMETER,
        "container_resources",
        f"the {' and '.join(raised)} limit is above the request; on Autopilot clusters without pod bursting GKE "
        "sets limits equal to requests, so the container is throttled or OOM-killed at its request (which Composer 2 "
        "clusters support bursting is unverified).",
        f"request the {' and '.join(raised)} the task needs, and set the limit equal to it.",
        value=show(resources),
        source=BURSTING_DOC,
        verified=False,
    )


def _unsized_extra_containers(containers: Sequence[Any]) -> Iterator[Finding]:
    for index, container in enumerate(containers, start=1):
        if _effective_requests(field(container, "resources")).keys() >= {"cpu", "memory"}:
            continue
        yield Finding(
            PARAMETER,
            f"containers[{index}]",
            "GKE Autopilot gives a container without cpu and memory requests 0.5 vCPU and 2 GiB, sidecars included, "
            "and the pod is billed for them.",
            "set small requests on this container, e.g. {'cpu': '250m', 'memory': '512Mi'}.",
            value=show(field(container, "name")),
            source=AUTOPILOT_REQUESTS_DOC,
        )


def _pod_totals(
    resources: Any, base: Mapping[str, Decimal], others: Sequence[Mapping[str, Decimal]]
) -> Iterator[Finding]:
    containers = [base, *others]
    totals = {
        "cpu": sum((c.get("cpu", DEFAULT_CPU) for c in containers), Decimal(0)),
        "memory": sum((c.get("memory", DEFAULT_MEMORY) for c in containers), Decimal(0)),
        "ephemeral-storage": sum((c.get("ephemeral-storage", DEFAULT_EPHEMERAL) for c in containers), Decimal(0)),
    }
    unverified = " (unverified; older notes say {})"
    limits = (
        ("cpu", MAX_CPU, _cpu_text, "rejects larger pods", SECONDARY_SUMMARY, unverified.format("28 vCPU")),
        ("memory", MAX_MEMORY, _bytes_text, "rejects larger pods", SECONDARY_SUMMARY, unverified.format("80 GiB")),
        ("ephemeral-storage", MAX_EPHEMERAL, _bytes_text, "lowers or rejects larger requests", EPHEMERAL_QUOTE, ""),
    )
    for name, maximum, text, action, source, caveat in limits:
        if totals[name] <= maximum:
            continue
        together = f" (its {len(containers)} containers together)" if others else ""
        yield Finding(
            PARAMETER,
            "container_resources",
            f"the pod requests {text(totals[name])} of {name}{together}; GKE Autopilot's general-purpose class "
            f"allows at most {text(maximum)} per pod{caveat}, and {action}.",
            f"ask for at most {text(maximum)}"
            + (", and keep large scratch data in Cloud Storage." if name == "ephemeral-storage" else ".")
            + " For more, run the task on a cluster of your own with GKEStartPodOperator.",
            value=show(resources),
            source=source,
            verified=False,
        )


def _cpu_text(cpu: Decimal) -> str:
    return f"{cpu * 1000:.0f}m" if cpu < 1 else f"{float(cpu):g} vCPU"


def _bytes_text(amount: Decimal) -> str:
    if amount >= GI:
        return f"{float(amount / GI):.2f}".rstrip("0").rstrip(".") + " GiB"
    return f"{float(amount / MI):.0f} MiB"
