"""The one entry point to the platform rules: which Composer, which findings.

==============  ==========================================================
Composer major  rules
==============  ==========================================================
None, 1         none (not Composer, or GKE Standard node pools of yours)
2               :func:`.autopilot_rules.composer2_warnings`
3 and later     :func:`.composer3_rules.composer3_warnings`
==============  ==========================================================

Google's own code treats every major from 3 on as Composer 3 (``is_serverless_composer``); so do
we. The caller reads the major (:func:`~airflow_provider_composer_kpo.composer.composer_major_version`)
and passes it in, so everything here stays pure but for one debug log line: a finding whose rule
is unverified (``Finding.verified`` False) is logged at debug level and left out, so that every
warning a user sees states a fact read in Google's documentation or code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

from kubernetes.client import models as k8s

from ..findings import Finding
from ._inputs import is_set, is_templated
from .autopilot_rules import composer2_warnings
from .composer3_rules import composer3_warnings
from .peer_vm_sizing import UnsizableResources, format_cpus, peer_vm_size, requests_and_limits

log = logging.getLogger(__name__)


def platform_findings(
    *,
    composer_major: int | None,
    namespace: str | None = None,
    container_resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None = None,
    affinity: k8s.V1Affinity | Mapping[str, Any] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[k8s.V1Toleration | Mapping[str, Any]] | None = None,
    extra_containers: Sequence[k8s.V1Container | Mapping[str, Any]] = (),
    init_containers: Sequence[k8s.V1Container | Mapping[str, Any]] = (),
) -> list[Finding]:
    """Return what this Composer will change, ignore or refuse in the pod settings; never raises for them.

    Values that are Jinja templates are skipped; call again with the rendered values. Findings of
    unverified rules are logged at debug level and left out.

    :param composer_major: Composer's major version, None when not on Composer.
    :param namespace: the pod's namespace.
    :param container_resources: the base (first) container's resources.
    :param affinity: the pod's affinity.
    :param node_selector: the pod's node selector.
    :param tolerations: the pod's tolerations.
    :param extra_containers: the pod's containers after the base one, e.g. from ``full_pod_spec`` or a
        pod template; KPO's XCom sidecar may be among them.
    :param init_containers: the pod's init containers.
    """
    if composer_major is None or composer_major < 2:
        return []
    if composer_major >= 3:
        findings = composer3_warnings(
            namespace=namespace,
            container_resources=container_resources,
            affinity=affinity,
            node_selector=node_selector,
            tolerations=tolerations,
            extra_containers=extra_containers,
            init_containers=init_containers,
        )
    else:
        findings = composer2_warnings(
            container_resources=container_resources,
            affinity=affinity,
            node_selector=node_selector,
            extra_containers=extra_containers,
        )
    return _verified(findings)


def _verified(findings: list[Finding]) -> list[Finding]:
    """Return the findings users may see; log the unverified ones at debug level."""
    for finding in findings:
        if not finding.verified:
            log.debug("Not shown, unverified: %s (source: %s)", finding, finding.source)
    return [finding for finding in findings if finding.verified]


def pod_findings(
    pod: k8s.V1Pod,
    *,
    composer_major: int | None,
    container_resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Return :func:`platform_findings` for a built pod, e.g. the result of ``build_pod_request_obj``.

    On Composer 3 Google's ``pod_mutation_hook`` runs inside ``build_pod_request_obj``: the pod it
    returns already has the forced namespace and no resources on its first container. Pass the
    operator's rendered ``container_resources`` to size the VM from them; without it the first
    container's resources are used.
    """
    spec = pod.spec or k8s.V1PodSpec(containers=[])
    containers = list(spec.containers or [])
    if container_resources is None and containers:
        container_resources = containers[0].resources
    return platform_findings(
        composer_major=composer_major,
        namespace=pod.metadata.namespace if pod.metadata else None,
        container_resources=container_resources,
        affinity=spec.affinity,
        node_selector=spec.node_selector,
        tolerations=spec.tolerations,
        extra_containers=containers[1:],
        init_containers=spec.init_containers or (),
    )


def describe_peer_vm(container_resources: k8s.V1ResourceRequirements | Mapping[str, Any] | None) -> str:
    """Return one line for the task log: the Composer 3 peer VM these resources buy, and why."""
    origin = _describe_resources(container_resources)
    if is_templated(container_resources):
        return f"Composer 3 will size this pod's peer VM once its templates render ({origin})"
    try:
        size = peer_vm_size(container_resources)
    except UnsizableResources as e:
        return f"Composer 3 cannot size a peer VM for this pod and its task will fail: {e} ({origin})"
    line = (
        f"Composer 3 will run this pod on a peer VM {size.machine_type} ({format_cpus(size.cpus)} vCPU, "
        f"{size.memory_gb} GB) with a {size.disk_gb} GB disk ({origin})"
    )
    if size.clamps:
        line += "; Google clamps " + ", ".join(str(clamp) for clamp in size.clamps)
    return line


def _describe_resources(resources: Any) -> str:
    requests, limits = requests_and_limits(resources)
    parts = [
        f"{label} " + ", ".join(f"{name} {value}" for name, value in cast("Mapping[str, Any]", field).items())
        for label, field in (("requests", requests), ("limits", limits))
        if is_set(field)
    ]
    if not parts:
        return "container_resources unset: Google's defaults"
    return "from container_resources: " + "; ".join(parts)
