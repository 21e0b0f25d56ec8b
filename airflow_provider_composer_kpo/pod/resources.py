"""The pre-5.0 ``resources`` dict, translated to ``container_resources``.

cncf-kubernetes 5.0 replaced ``resources={"limit_memory": ..., ...}`` with
``container_resources=V1ResourceRequirements(...)``. Old DAGs still pass the dict; we translate it
on every provider version so they keep working, and warn so they get updated.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubernetes.client import models as k8s

from ..choices import did_you_mean
from .resolved import Resolved

#: legacy key -> (V1ResourceRequirements field, resource name)
LEGACY_RESOURCE_KEYS: dict[str, tuple[str, str]] = {
    "request_memory": ("requests", "memory"),
    "request_cpu": ("requests", "cpu"),
    "request_ephemeral_storage": ("requests", "ephemeral-storage"),
    "limit_memory": ("limits", "memory"),
    "limit_cpu": ("limits", "cpu"),
    "limit_ephemeral_storage": ("limits", "ephemeral-storage"),
    "limit_gpu": ("limits", "nvidia.com/gpu"),
}


def resources_problem(resources: object, container_resources: object = None) -> str | None:
    """Return what is wrong with a pre-5.0 ``resources`` dict (and the fix), or None when it translates.

    ``container_resources``: the other form, when given too (any value but None).
    """
    if resources is None:
        return None
    if container_resources is not None:
        return "both resources and container_resources were given; keep only container_resources."
    if not isinstance(resources, Mapping):
        return (
            f"resources={resources!r} must be a dict such as {{'limit_memory': '250M', 'limit_cpu': '100m'}}; "
            "better, pass container_resources=k8s.V1ResourceRequirements(...)."
        )
    unknown = sorted(set(resources) - set(LEGACY_RESOURCE_KEYS), key=str)
    if unknown:
        hint = did_you_mean(unknown[0], LEGACY_RESOURCE_KEYS)
        return (
            f"resources has unknown key(s) {', '.join(map(repr, unknown))}{hint}; "
            f"accepted keys are {', '.join(LEGACY_RESOURCE_KEYS)}."
        )
    return None


def legacy_resources_to_requirements(resources: Mapping[str, object]) -> k8s.V1ResourceRequirements:
    """Return ``V1ResourceRequirements`` for a pre-5.0 ``resources`` dict that :func:`resources_problem` accepts."""
    fields: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    for key, value in resources.items():
        if value is None:
            continue
        field, name = LEGACY_RESOURCE_KEYS[key]
        fields[field][name] = str(value)
    return k8s.V1ResourceRequirements(requests=fields["requests"] or None, limits=fields["limits"] or None)


def resolve_container_resources(
    container_resources: k8s.V1ResourceRequirements | None,
    resources: Mapping[str, object] | None,
) -> Resolved[k8s.V1ResourceRequirements | None]:
    """Return the container's resources from either form (the two as :func:`resources_problem` accepts them);
    the legacy dict earns a deprecation."""
    if resources is None:
        return Resolved(container_resources)
    return Resolved(
        legacy_resources_to_requirements(resources),
        deprecation=(
            "The `resources` dict is deprecated since cncf-kubernetes 5.0; pass "
            "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...}) instead. "
            "airflow-provider-composer-kpo will stop translating it in its 1.0 release."
        ),
    )
