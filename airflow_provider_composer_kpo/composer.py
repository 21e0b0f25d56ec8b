"""Facts about Cloud Composer, in one place.

Everything the package assumes about Composer lives here, so a change on Google's side is a change
in one module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: The kubeconfig Composer writes on every worker, pointing at the environment's own GKE cluster.
COMPOSER_KUBECONFIG_PATH = "/home/airflow/composer_kube_config"

#: Namespace for user workloads; Composer 2 recommends it and Composer 3 forces it.
COMPOSER_USER_WORKLOADS_NAMESPACE = "composer-user-workloads"

#: Environment variable that points the Composer default kubeconfig elsewhere (local runs, CI).
KUBECONFIG_ENV_OVERRIDE = "COMPOSER_KPO_KUBECONFIG"

#: Set by Composer on its schedulers and workers, e.g. "2.1.10" or "3.0.1"; users cannot set it.
COMPOSER_VERSION_ENV = "COMPOSER_VERSION"


def composer_major_version(environ: Mapping[str, str] | None = None) -> int | None:
    """Return Composer's major version (1, 2, 3, ...), or None when not running on Composer."""
    value = (os.environ if environ is None else environ).get(COMPOSER_VERSION_ENV, "")
    major = value.split(".", 1)[0]
    return int(major) if major.isdigit() else None


def composer_secret_fix_hint(name: str, namespace: str, environ: Mapping[str, str] | None = None) -> str:
    """Return how a user creates a missing Secret: Composer 3 does it with gcloud, elsewhere kubectl."""
    if (composer_major_version(environ) or 0) >= 3:
        return (
            f"create it with `gcloud beta composer environments user-workloads-secrets create "
            f"--environment ENVIRONMENT --location LOCATION --secret-name {name} --secret-data KEY=VALUE`"
        )
    return f"create it with `kubectl create secret generic {name} -n {namespace} --from-literal=KEY=VALUE`"
