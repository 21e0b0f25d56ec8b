"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Airflow imports this module while it loads its configuration, so it must import nothing from
Airflow, and from this package only the pure data of the connection form.
"""

from __future__ import annotations

from typing import Any

from . import __version__
from .hooks import connection_form

PACKAGE_NAME = "airflow-provider-composer-kpo"
HOOK_CLASS = "airflow_provider_composer_kpo.hooks.composer_kubernetes.ComposerKubernetesHook"


def get_provider_info() -> dict[str, Any]:
    """Return this provider's metadata for Airflow."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "Cloud Composer KubernetesPodOperator",
        "description": "KubernetesPodOperator for Cloud Composer, safe by default: Composer's kubeconfig "
        "and namespace, set -e in shell scripts, sane startup timeouts, fast failure with the reason.",
        "versions": [__version__],
        "hooks": [
            {
                "integration-name": "Kubernetes (Cloud Composer)",
                "python-modules": ["airflow_provider_composer_kpo.hooks.composer_kubernetes"],
            }
        ],
        "operators": [
            {
                "integration-name": "Kubernetes (Cloud Composer)",
                "python-modules": ["airflow_provider_composer_kpo.operators.composer_pod"],
            }
        ],
        # Registered so Airflow 2's web server can rebuild them from serialized DAGs.
        "extra-links": [
            "airflow_provider_composer_kpo.operators.links.PodLogsLink",
            "airflow_provider_composer_kpo.operators.links.WorkloadLink",
        ],
        "connection-types": [
            {
                "hook-class-name": HOOK_CLASS,
                "connection-type": "composer_kubernetes",
                # Airflow 3 after 3.1 builds the form from these (Airflow 2 and 3.1 ask the hook; same source).
                "hook-name": "Kubernetes (Cloud Composer)",
                "conn-fields": connection_form.conn_fields(),
                "ui-field-behaviour": connection_form.field_behaviour(kebab=True),
            }
        ],
    }
