"""KubernetesPodOperator for Cloud Composer, safe by default."""

from __future__ import annotations

__version__ = "0.1.0"

from .compat import Secret
from .composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE
from .entrypoint import ErrexitPolicy
from .exceptions import ComposerPodConfigError, ErrexitRequiredError, KubeconfigResolutionError
from .hooks.composer_kubernetes import ComposerKubernetesHook
from .operators.composer_pod import ComposerPodOperator
from .pod_helpers import gke_node_pool_affinity

__all__ = [
    "COMPOSER_KUBECONFIG_PATH",
    "COMPOSER_USER_WORKLOADS_NAMESPACE",
    "ComposerKubernetesHook",
    "ComposerPodConfigError",
    "ComposerPodOperator",
    "ErrexitPolicy",
    "ErrexitRequiredError",
    "KubeconfigResolutionError",
    "Secret",
    "__version__",
    "gke_node_pool_affinity",
]
