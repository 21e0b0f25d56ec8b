"""KubernetesPodOperator for Cloud Composer, safe by default.

Public names are loaded on first use: Airflow imports this package's ``get_provider_info`` while
it is still reading its own configuration, when importing the operator would be circular.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "COMPOSER_KUBECONFIG_PATH": ".platform.composer",
    "COMPOSER_USER_WORKLOADS_NAMESPACE": ".platform.composer",
    "ComposerKubernetesHook": ".hooks.composer_kubernetes",
    "ComposerPlatformWarning": ".exceptions",
    "ComposerPodArgumentWarning": ".exceptions",
    "ComposerPodConfigError": ".exceptions",
    "ComposerPodOperator": ".operators.composer_pod",
    "ErrexitPolicy": ".pod.entrypoint",
    "ErrexitRequiredError": ".exceptions",
    "KubeconfigResolutionError": ".exceptions",
    "PodFailedError": ".exceptions",
    "PodKilledError": ".exceptions",
    "PodPreflightError": ".exceptions",
    "PodStartupError": ".exceptions",
    "PodStartupTimeout": ".exceptions",
    "PreflightMode": ".preflight.checks",
    "Secret": ".compat",
    "gke_node_pool_affinity": ".pod.helpers",
}

__all__ = [
    "COMPOSER_KUBECONFIG_PATH",
    "COMPOSER_USER_WORKLOADS_NAMESPACE",
    "ComposerKubernetesHook",
    "ComposerPlatformWarning",
    "ComposerPodArgumentWarning",
    "ComposerPodConfigError",
    "ComposerPodOperator",
    "ErrexitPolicy",
    "ErrexitRequiredError",
    "KubeconfigResolutionError",
    "PodFailedError",
    "PodKilledError",
    "PodPreflightError",
    "PodStartupError",
    "PodStartupTimeout",
    "PreflightMode",
    "Secret",
    "__version__",
    "gke_node_pool_affinity",
]

if TYPE_CHECKING:
    from .compat import Secret
    from .exceptions import (
        ComposerPlatformWarning,
        ComposerPodArgumentWarning,
        ComposerPodConfigError,
        ErrexitRequiredError,
        KubeconfigResolutionError,
        PodFailedError,
        PodKilledError,
        PodPreflightError,
        PodStartupError,
        PodStartupTimeout,
    )
    from .hooks.composer_kubernetes import ComposerKubernetesHook
    from .operators.composer_pod import ComposerPodOperator
    from .platform.composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE
    from .pod.entrypoint import ErrexitPolicy
    from .pod.helpers import gke_node_pool_affinity
    from .preflight.checks import PreflightMode


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
