"""The pre-5.0 ``resources`` dict, translated to ``container_resources``.

cncf-kubernetes 5.0 replaced ``resources={"limit_memory": ..., ...}`` with
``container_resources=V1ResourceRequirements(...)``. Old DAGs still pass the dict; we translate it
on every provider version so they keep working, and warn so they get updated.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from kubernetes.client import models as k8s

from ..choices import did_you_mean

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


def legacy_resources_to_requirements(resources: Mapping[str, object], *, task_id: str) -> k8s.V1ResourceRequirements:
    """Return ``V1ResourceRequirements`` for a pre-5.0 ``resources`` dict; unknown keys are an error."""
    problem = resources_problem(resources)
    if problem is not None:
        from ..exceptions import ComposerPodConfigError  # imports Airflow; `composer-kpo migrate` must not

        raise ComposerPodConfigError(f"Task {task_id!r}: {problem}")
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
    *,
    task_id: str,
) -> k8s.V1ResourceRequirements | None:
    """Return the container's resources from either form; the legacy dict gets a deprecation warning."""
    from ..compat import ProviderDeprecationWarning  # imports Airflow; `composer-kpo migrate` must not
    from ..exceptions import ComposerPodConfigError

    if resources is None:
        return container_resources
    problem = resources_problem(resources, container_resources)
    if problem is not None:
        raise ComposerPodConfigError(f"Task {task_id!r}: {problem}")
    translated = legacy_resources_to_requirements(resources, task_id=task_id)
    warnings.warn(
        "The `resources` dict is deprecated since cncf-kubernetes 5.0; pass "
        "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...}) instead. "
        "airflow-provider-composer-kpo will stop translating it in its 1.0 release.",
        ProviderDeprecationWarning,
        stacklevel=3,
    )
    return translated
