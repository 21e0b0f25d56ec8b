"""What the UI gets from the deployment's own server: the connection form, Test, a task's extra links.

The form's fields (Airflow 3: the API server's hook metadata, from the provider info's conn-fields;
Airflow 2: the web server's rendered form, from the hook's widgets) and the Test button's request
(`POST /connections/test`), which runs the hook's test_connection in the server against the local
cluster; and a finished ComposerPodOperator task's extra links (registered through the provider
info, so Airflow 2's web server can rebuild them from the serialized DAG). A real browser is not
involved here; these are the requests the UI sends.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from airflow_provider_composer_kpo.hooks.connection_form import FIELDS, HIDDEN_FIELDS

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("cluster_shared")]


def _root(airflow_api) -> str:
    return airflow_api.base_url.rsplit("/api/", 1)[0]


def test_the_form_offers_our_fields_and_hides_the_standard_ones(airflow_api):
    if airflow_api.major == 3:
        request = urllib.request.Request(_root(airflow_api) + "/ui/connections/hook_meta")
        for name, value in airflow_api._auth_headers().items():
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=30) as response:
            meta = {item["connection_type"]: item for item in json.loads(response.read())}
        ours = meta["composer_kubernetes"]
        assert ours["hook_name"] == "Kubernetes (Cloud Composer)"
        # Airflow 3.3 names them without the extra__<type>__ prefix; earlier 3.x with it.
        extra = {name.replace("extra__composer_kubernetes__", ""): spec for name, spec in ours["extra_fields"].items()}
        assert sorted(extra) == sorted(field.name for field in FIELDS)
        assert extra["kube_config_path"]["schema"]["title"] == "Kube config path"
        assert extra["kube_config"]["schema"]["format"] == "password"
        standard = ours["standard_fields"]
        for name in ("host", "port", "login", "password"):
            assert standard[name]["hidden"] is True, name
    else:
        with urllib.request.urlopen(_root(airflow_api) + "/connection/add", timeout=30) as response:
            page = response.read().decode()
        assert "Kubernetes (Cloud Composer)" in page
        for field in FIELDS:
            assert f'id="extra__composer_kubernetes__{field.name}"' in page, field.name
        behaviours = page.split('id="field_behaviours"', 1)[1].split("</", 1)[0]
        assert "composer_kubernetes" in behaviours
        for name in HIDDEN_FIELDS:
            assert name in behaviours


def _test(airflow_api, extra: dict) -> dict:
    body = {"connection_id": "composer_kpo_ui", "conn_type": "composer_kubernetes", "extra": json.dumps(extra)}
    return airflow_api.request("POST", "/connections/test", body)


def test_the_test_button_reaches_the_cluster_and_names_the_kubeconfig(airflow_api):
    answer = _test(airflow_api, {"kube_config_path": os.environ["KUBECONFIG"], "namespace": "composer-user-workloads"})
    assert answer["status"] is True, answer
    assert answer["message"].startswith("Connected to Kubernetes v1.")
    assert "extra 'kube_config_path'" in answer["message"]  # which kubeconfig, and why
    assert "pods in 'composer-user-workloads' are listable" in answer["message"]


def test_a_broken_kubeconfig_fails_the_test_with_the_reason(airflow_api):
    answer = _test(airflow_api, {"kube_config_path": "/nonexistent/kubeconfig"})
    assert answer["status"] is False, answer
    assert answer["message"].startswith("Cannot reach the Kubernetes API")


def test_a_finished_task_offers_its_links_empty_off_composer(airflow_api, outcomes):
    """The deployment is not Composer (no COMPOSER_VERSION): both links are known, and empty."""
    from tests.faults.dags.composer_kpo_faults import dag_id
    from tests.faults.driver import TASK_ID, quote_run_id

    dag = dag_id("log_rotation", "composer")  # a task the fault matrix ran to success
    runs = airflow_api.request("GET", f"/dags/{dag}/dagRuns?order_by=-start_date&limit=1")["dag_runs"]
    run = quote_run_id(runs[0]["dag_run_id"])
    answer = airflow_api.request("GET", f"/dags/{dag}/dagRuns/{run}/taskInstances/{TASK_ID}/links")
    links = answer.get("extra_links", answer)  # Airflow 3 wraps them; Airflow 2 answers the mapping
    assert sorted(links) == ["Pod logs (Cloud Logging)", "Workload (GKE)"]
    assert not any(links.values()), links
