"""Extra links on a ComposerPodOperator task: its pod's logs in Cloud Logging, its GKE workload page.

Airflow 3 asks for the link in the worker when the task ends (the operator still holds its pod);
Airflow 2 asks in the web server, which reads what the task pushed to XCom when it created the pod.
Off Composer both links are empty, which the UI shows as absent (Airflow 3) or disabled (Airflow 2).
"""

from __future__ import annotations

import os
from typing import Any

from ..compat import AIRFLOW_V_3_PLUS, BaseOperatorLink
from ..platform.console_links import PodPlace, logs_url, pod_place, workload_url

#: XCom key of the pod's place (Airflow 2 only; the web server cannot see the worker's environment).
POD_PLACE_XCOM_KEY = "composer_kpo_pod_place"


def push_pod_place(pod: Any, context: Any) -> None:
    """On Airflow 2 on Composer, keep where the pod runs for the web server's links (Airflow 3 reads ``pod``)."""
    if AIRFLOW_V_3_PLUS:
        return
    place = pod_place(os.environ, pod.metadata.namespace, pod.metadata.name)
    ti = context.get("ti") if context else None
    if place is not None and ti is not None:
        ti.xcom_push(key=POD_PLACE_XCOM_KEY, value=place.as_dict())


def place_of(operator: Any, ti_key: Any) -> PodPlace | None:
    """Return where the task's pod ran, from the operator (same process) or XCom (Airflow 2's web server)."""
    pod = getattr(operator, "pod", None)
    if pod is not None and getattr(pod, "metadata", None) is not None:
        return pod_place(os.environ, pod.metadata.namespace, pod.metadata.name)
    if AIRFLOW_V_3_PLUS:
        return None
    from airflow.models.xcom import XCom

    return PodPlace.from_dict(XCom.get_value(ti_key=ti_key, key=POD_PLACE_XCOM_KEY))


class PodLogsLink(BaseOperatorLink):
    """Logs Explorer, filtered on the task's pod."""

    name = "Pod logs (Cloud Logging)"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        place = place_of(operator, ti_key)
        return logs_url(place) if place else ""


class WorkloadLink(BaseOperatorLink):
    """The task's pod in the GKE console (Composer 2; Composer 3's cluster is Google's)."""

    name = "Workload (GKE)"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        place = place_of(operator, ti_key)
        return workload_url(place) if place else ""
