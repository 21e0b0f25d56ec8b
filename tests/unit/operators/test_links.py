"""Extra links of a ComposerPodOperator task: the URLs, when they appear, and how Airflow finds them."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.platform.console_links import PodPlace, logs_url, pod_place, workload_url

COMPOSER_2 = {
    "COMPOSER_VERSION": "2.9.7",
    "GCP_PROJECT": "acme-data",
    "COMPOSER_LOCATION": "europe-west1",
    "COMPOSER_ENVIRONMENT": "prod",
    "COMPOSER_GKE_NAME": "europe-west1-prod-1a2b3c4d-gke",
    "COMPOSER_GKE_LOCATION": "europe-west1",
}
COMPOSER_3 = {"COMPOSER_VERSION": "3.1.0", "GCP_PROJECT": "acme-data", "COMPOSER_LOCATION": "us-central1",
              "COMPOSER_ENVIRONMENT": "c3"}  # fmt: skip


def query_of(url: str) -> list[str]:
    path = urlsplit(url).path
    return unquote(path.split(";query=", 1)[1].split(";", 1)[0]).splitlines()


def test_composer_2_logs_and_workload():
    place = pod_place(COMPOSER_2, "composer-user-workloads", "hello-x1")
    url = logs_url(place)
    assert url.startswith("https://console.cloud.google.com/logs/query;query=")
    assert parse_qs(urlsplit(url).query) == {"project": ["acme-data"]}
    assert query_of(url) == [
        'resource.type="k8s_container"',
        'resource.labels.project_id="acme-data"',
        'resource.labels.location="europe-west1"',
        'resource.labels.cluster_name="europe-west1-prod-1a2b3c4d-gke"',
        'resource.labels.namespace_name="composer-user-workloads"',
        'resource.labels.pod_name="hello-x1"',
    ]
    assert workload_url(place) == (
        "https://console.cloud.google.com/kubernetes/pod/europe-west1/europe-west1-prod-1a2b3c4d-gke/"
        "composer-user-workloads/hello-x1/details?project=acme-data"
    )


def test_composer_3_logs_name_the_pod_and_there_is_no_workload_page():
    place = pod_place(COMPOSER_3, "composer-user-workloads", "hello-x1")
    assert query_of(logs_url(place)) == [
        'resource.type="cloud_composer_environment"',
        'resource.labels.location="us-central1"',
        'resource.labels.environment_name="c3"',
        '"hello-x1"',
    ]
    assert workload_url(place) == ""


@pytest.mark.parametrize(
    "environ", [{}, {"COMPOSER_VERSION": "2.9.7"}, {"COMPOSER_VERSION": "1.20.0", "GCP_PROJECT": "p"}]
)
def test_no_links_off_composer(environ):
    assert pod_place(environ, "ns", "pod") is None


def test_the_place_survives_xcom():
    place = pod_place(COMPOSER_2, "ns", "pod")
    assert PodPlace.from_dict(place.as_dict()) == place
    assert PodPlace.from_dict(None) is None
    assert PodPlace.from_dict({"project": "p"}) is None


def test_links_from_the_operator_in_the_worker(monkeypatch):
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.operators.links import PodLogsLink, WorkloadLink

    op = ComposerPodOperator(task_id="t", image="busybox:1.36")
    assert [link.name for link in op.operator_extra_links] == ["Pod logs (Cloud Logging)", "Workload (GKE)"]
    op.pod = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="t-abc", namespace="composer-user-workloads"))
    for name, value in COMPOSER_2.items():
        monkeypatch.setenv(name, value)
    ti_key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=1, map_index=-1)
    assert 'pod_name="t-abc"' in unquote(PodLogsLink().get_link(op, ti_key=ti_key))
    assert (
        WorkloadLink().get_link(op, ti_key=ti_key).endswith("/composer-user-workloads/t-abc/details?project=acme-data")
    )
    monkeypatch.delenv("COMPOSER_VERSION")
    assert PodLogsLink().get_link(op, ti_key=ti_key) == ""


def test_the_provider_registers_the_links_and_the_dag_serializes():
    import pendulum
    from airflow import DAG

    try:
        from airflow.serialization.serialized_objects import DagSerialization as Serialization  # Airflow 3.3
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG as Serialization

    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.get_provider_info import get_provider_info

    assert get_provider_info()["extra-links"] == [
        "airflow_provider_composer_kpo.operators.links.PodLogsLink",
        "airflow_provider_composer_kpo.operators.links.WorkloadLink",
    ]
    with DAG("links", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        ComposerPodOperator(task_id="t", image="busybox:1.36")
    restored = Serialization.from_dict(Serialization.to_dict(dag))
    task = restored.get_task("t")
    names = sorted(getattr(task, "extra_links", None) or [link.name for link in task.operator_extra_links])
    assert names == ["Pod logs (Cloud Logging)", "Workload (GKE)"]


def test_airflow_2s_web_server_reads_the_place_the_task_pushed(mocker):
    from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS
    from airflow_provider_composer_kpo.operators.links import POD_PLACE_XCOM_KEY, PodLogsLink, place_of

    if AIRFLOW_V_3_PLUS:
        pytest.skip("Airflow 3 makes links in the worker, from the operator's pod (tested above)")
    from airflow.models.xcom import XCom

    place = pod_place(COMPOSER_2, "ns", "pod-1")
    get_value = mocker.patch.object(XCom, "get_value", return_value=place.as_dict())
    serialized = SimpleNamespace()  # the web server's operator: no pod attribute
    ti_key = SimpleNamespace(dag_id="d", task_id="t", run_id="r", try_number=1, map_index=-1)
    assert place_of(serialized, ti_key) == place
    get_value.assert_called_with(ti_key=ti_key, key=POD_PLACE_XCOM_KEY)
    assert 'pod_name="pod-1"' in unquote(PodLogsLink().get_link(serialized, ti_key=ti_key))
    get_value.return_value = None  # the task ran off Composer: nothing pushed
    assert PodLogsLink().get_link(serialized, ti_key=ti_key) == ""
