"""The only module that knows which Airflow and cncf-kubernetes versions are installed.

=================================  ===========  =================================================
difference                          versions     what we do
=================================  ===========  =================================================
KPO lives in ``operators.pod``      5.3+         import it from there, else ``kubernetes_pod``
``kubernetes_conn_id`` default      5.x: None    we always pass ``kubernetes_default``
missing ``kubernetes_default``      6.0 raises   the hook returns an empty connection
``on_finish_action``                7.2+         older: mapped onto ``is_delete_operator_pod``
``schedule_timeout_seconds``        10.5+        older: folded into ``startup_timeout_seconds``
``deferrable``                      6.0+         5.x: ``deferrable=True`` is a parse-time error
``Secret`` in the provider          7.4+         older: ``airflow.kubernetes.secret``
``airflow.sdk``                     Airflow 3    DAG/Variable/Connection come from there
``mask_secret``                     Airflow 3    ``airflow.sdk.log``, else ``utils.log.secrets_masker``
=================================  ===========  =================================================

Feature flags are read from the installed code (signatures, importable names) rather than
guessed from version numbers wherever the code can answer, so a backport does not fool us.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version as _dist_version

from packaging.version import Version

from .verdicts import CNCF_KUBERNETES_FOR_AIRFLOW_3

AIRFLOW_VERSION = Version(Version(_dist_version("apache-airflow")).base_version)
CNCF_KUBERNETES_VERSION = Version(Version(_dist_version("apache-airflow-providers-cncf-kubernetes")).base_version)
AIRFLOW_V_3_PLUS = AIRFLOW_VERSION >= Version("3.0.0")
#: A task's ``on_*_callback`` may be a list from Airflow 2.6; 2.5 calls it, so it must be one callable.
CALLBACK_LISTS = AIRFLOW_VERSION >= Version("2.6.0")

#: cncf-kubernetes releases before this import Airflow 2-only modules and break on Airflow 3.
MIN_CNCF_KUBERNETES_FOR_AIRFLOW_3 = Version("{}.{}.0".format(*CNCF_KUBERNETES_FOR_AIRFLOW_3))
if AIRFLOW_V_3_PLUS and CNCF_KUBERNETES_VERSION < MIN_CNCF_KUBERNETES_FOR_AIRFLOW_3:
    raise ImportError(
        f"airflow-provider-composer-kpo: apache-airflow-providers-cncf-kubernetes {CNCF_KUBERNETES_VERSION} "
        f"does not work on Airflow {AIRFLOW_VERSION}; install "
        f"'apache-airflow-providers-cncf-kubernetes>={MIN_CNCF_KUBERNETES_FOR_AIRFLOW_3}'."
    )

try:  # 5.3+
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
except ModuleNotFoundError as missing:  # 5.0 - 5.2
    if missing.name != "airflow.providers.cncf.kubernetes.operators.pod":
        raise
    from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import (  # type: ignore[import-not-found,no-redef]
        KubernetesPodOperator,
    )
from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import PodDefaults

try:  # 7.4+
    from airflow.providers.cncf.kubernetes.secret import Secret
except ModuleNotFoundError as missing:  # Airflow 2 only; removed in Airflow 3
    if missing.name != "airflow.providers.cncf.kubernetes.secret":
        raise
    from airflow.kubernetes.secret import Secret  # type: ignore[import-not-found,no-redef]

try:
    from airflow.providers.common.compat.sdk import AirflowNotFoundException
except ImportError:
    from airflow.exceptions import AirflowNotFoundException

try:  # Airflow 3: the task SDK raises these; airflow.exceptions only re-exports them, deprecated
    from airflow.sdk.exceptions import AirflowTaskTimeout, TaskDeferred
except ImportError:
    from airflow.exceptions import AirflowTaskTimeout, TaskDeferred  # type: ignore[no-redef]

try:  # Airflow 3: operator links live in the task SDK
    from airflow.sdk import BaseOperatorLink
except ImportError:
    try:  # Airflow 2.6+
        from airflow.models.baseoperatorlink import BaseOperatorLink  # type: ignore[import-not-found,no-redef]
    except ImportError:
        from airflow.models.baseoperator import BaseOperatorLink  # type: ignore[import-not-found,no-redef]

try:  # Airflow 2.7+
    from airflow.exceptions import AirflowProviderDeprecationWarning as ProviderDeprecationWarning
except ImportError:
    ProviderDeprecationWarning = DeprecationWarning  # type: ignore[assignment,misc]

try:  # Airflow 3: masks in the task process and tells the supervisor, whose log output it writes
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 2
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[import-not-found,no-redef]

from airflow.models import Connection

_KPO_PARAMETERS = frozenset(inspect.signature(KubernetesPodOperator.__init__).parameters)

HAS_ON_FINISH_ACTION = "on_finish_action" in _KPO_PARAMETERS
HAS_SCHEDULE_TIMEOUT = "schedule_timeout_seconds" in _KPO_PARAMETERS
HAS_DEFERRABLE = "deferrable" in _KPO_PARAMETERS
XCOM_SIDECAR = PodDefaults.SIDECAR_CONTAINER_NAME


def base_container_name(operator: KubernetesPodOperator) -> str:
    """Return the name of the container that runs ``cmds``/``arguments`` (an attribute since 6.0)."""
    return getattr(operator, "base_container_name", None) or operator.BASE_CONTAINER_NAME


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_PLUS",
    "CNCF_KUBERNETES_VERSION",
    "HAS_DEFERRABLE",
    "HAS_ON_FINISH_ACTION",
    "HAS_SCHEDULE_TIMEOUT",
    "AirflowNotFoundException",
    "AirflowTaskTimeout",
    "BaseOperatorLink",
    "Connection",
    "KubernetesHook",
    "KubernetesPodOperator",
    "ProviderDeprecationWarning",
    "Secret",
    "TaskDeferred",
    "base_container_name",
    "mask_secret",
]
