"""Google Cloud console URLs for a task's pod, built from Composer's environment variables alone.

No network call: every part comes from the variables Composer sets on its workers (``GCP_PROJECT``,
``COMPOSER_LOCATION``, ``COMPOSER_ENVIRONMENT``, ``COMPOSER_GKE_NAME``, ``COMPOSER_GKE_LOCATION``; users
cannot set them) and the pod's namespace and name.

================  ====================================================  ==============================
link              Composer 2 (pod in the environment's GKE cluster)     Composer 3 (pod on a peer VM)
================  ====================================================  ==============================
Pod logs          Logs Explorer, the pod's ``k8s_container`` entries    Logs Explorer, the environment's
                                                                        entries naming the pod [1]
Workload (GKE)    the pod's page in the GKE console                     none: the cluster is Google's
================  ====================================================  ==============================

[1] Composer 3 runs the cluster in a Google-managed project, so the pod's own container logs are
not in yours; the Airflow task log (which carries the pod's output) is, under the environment's
``cloud_composer_environment`` resource. Our inference from Composer's documentation, not verified
on a live Composer 3 environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

from .composer import composer_major_version

CONSOLE = "https://console.cloud.google.com"


@dataclass(frozen=True)
class PodPlace:
    """Where a task's pod ran, as the console names it."""

    project: str
    location: str  # the environment's region
    environment: str
    cluster: str
    cluster_location: str
    namespace: str
    pod: str
    composer: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Any) -> PodPlace | None:
        if not isinstance(value, Mapping):
            return None
        try:
            return cls(**{name: value[name] for name in cls.__dataclass_fields__})
        except (KeyError, TypeError):
            return None


def pod_place(environ: Mapping[str, str], namespace: str, pod: str) -> PodPlace | None:
    """Return where the pod ran, or None off Composer (no ``COMPOSER_VERSION`` or ``GCP_PROJECT``)."""
    major = composer_major_version(environ)
    project = environ.get("GCP_PROJECT", "")
    if major is None or major < 2 or not project or not namespace or not pod:
        return None
    location = environ.get("COMPOSER_LOCATION", "")
    return PodPlace(
        project=project,
        location=location,
        environment=environ.get("COMPOSER_ENVIRONMENT", ""),
        cluster=environ.get("COMPOSER_GKE_NAME", ""),
        cluster_location=environ.get("COMPOSER_GKE_LOCATION") or environ.get("COMPOSER_GKE_ZONE") or location,
        namespace=namespace,
        pod=pod,
        composer=major,
    )


def logs_url(place: PodPlace) -> str:
    """Return Logs Explorer filtered on the pod (Composer 2) or on the environment's entries naming it."""
    if place.composer >= 3:
        lines = [
            'resource.type="cloud_composer_environment"',
            f'resource.labels.location="{place.location}"',
            f'resource.labels.environment_name="{place.environment}"',
            f'"{place.pod}"',
        ]
    else:
        lines = [
            'resource.type="k8s_container"',
            f'resource.labels.project_id="{place.project}"',
            f'resource.labels.location="{place.cluster_location}"',
            f'resource.labels.cluster_name="{place.cluster}"',
            f'resource.labels.namespace_name="{place.namespace}"',
            f'resource.labels.pod_name="{place.pod}"',
        ]
    query = quote("\n".join(lines), safe="")
    return f"{CONSOLE}/logs/query;query={query};duration=P7D?{urlencode({'project': place.project})}"


def workload_url(place: PodPlace) -> str:
    """Return the pod's page in the GKE console; empty on Composer 3, whose cluster users cannot open."""
    if place.composer >= 3 or not place.cluster:
        return ""
    path = "/".join(
        quote(part, safe="") for part in (place.cluster_location, place.cluster, place.namespace, place.pod)
    )
    return f"{CONSOLE}/kubernetes/pod/{path}/details?{urlencode({'project': place.project})}"
