"""operators/orphan_cleanup.py: the failure callback that deletes the pods of a try whose worker died."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo import ComposerPodOperator
from airflow_provider_composer_kpo.operators import orphan_cleanup
from airflow_provider_composer_kpo.operators.orphan_cleanup import CLEANED_UP_HERE, DeleteOrphanedPods
from tests.unit.builders import cleanup_while, make_operator


def pod(name: str, phase: str = "Running") -> k8s.V1Pod:
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=name, namespace="team"), status=k8s.V1PodStatus(phase=phase))


def context(op, try_number: int, max_tries: int) -> dict:
    ti = SimpleNamespace(
        dag_id="nightly",
        task_id=op.task_id,
        run_id="manual__1",
        map_index=-1,
        try_number=try_number,
        max_tries=max_tries,
    )
    return {"task": op, "ti": ti, "run_id": ti.run_id, "dag": SimpleNamespace(parent_dag=None)}


@pytest.fixture
def client(mocker):
    api = mocker.MagicMock()
    api.list_namespaced_pod.return_value = SimpleNamespace(items=[pod("nightly-task-1")])
    mocker.patch.object(ComposerPodOperator, "client", new_callable=mocker.PropertyMock, return_value=api)
    return api


@pytest.mark.parametrize("airflow3", [True, False])
def test_the_final_try_s_running_pod_is_found_by_its_labels_and_deleted(client, monkeypatch, caplog, airflow3):
    monkeypatch.setattr(orphan_cleanup, "AIRFLOW_V_3_PLUS", airflow3)
    op = make_operator(namespace="team", labels={"team": "{{ run_id[:6] }}"})
    with caplog.at_level(logging.WARNING, logger=orphan_cleanup.__name__):
        DeleteOrphanedPods()(context(op, try_number=2, max_tries=1))
    namespace = client.list_namespaced_pod.call_args.args[0]
    selector = client.list_namespaced_pod.call_args.kwargs["label_selector"].split(",")
    assert namespace == "team"
    assert {"dag_id=nightly", "task_id=task", "run_id=manual__1", "already_checked!=True"} <= set(selector)
    assert not any("{{" in label for label in selector)  # the user's labels rendered, where upstream selects by them
    assert "try_number in (1" in ",".join(selector) and selector[-1] == "2)"
    client.delete_namespaced_pod.assert_called_once_with("nightly-task-1", "team")
    assert "Deleted pod team/nightly-task-1: task task failed without its worker" in caplog.text


def test_on_airflow_3_a_heartbeat_timeout_with_a_retry_left_leaves_the_pod_to_the_retry(client, monkeypatch):
    monkeypatch.setattr(orphan_cleanup, "AIRFLOW_V_3_PLUS", True)
    DeleteOrphanedPods()(context(make_operator(), try_number=1, max_tries=1))
    client.list_namespaced_pod.assert_not_called()


def test_in_the_process_that_ran_the_try_its_own_cleanup_already_did_it(client):
    op = make_operator()
    cleanup_while(op, pod("nightly-task-1", "Failed"), RuntimeError("the pod failed"))
    assert getattr(op, CLEANED_UP_HERE) is True
    client.list_namespaced_pod.reset_mock()
    DeleteOrphanedPods()(context(op, try_number=1, max_tries=0))
    client.list_namespaced_pod.assert_not_called()


def test_keep_pod_keeps_it(client):
    DeleteOrphanedPods()(context(make_operator(on_finish_action="keep_pod"), try_number=1, max_tries=0))
    client.list_namespaced_pod.assert_not_called()
    client.delete_namespaced_pod.assert_not_called()


def test_a_pod_already_gone_is_quiet_and_a_refused_list_is_a_warning_not_an_error(client, caplog):
    client.delete_namespaced_pod.side_effect = ApiException(status=404, reason="Not Found")
    with caplog.at_level(logging.WARNING, logger=orphan_cleanup.__name__):
        DeleteOrphanedPods()(context(make_operator(), try_number=1, max_tries=0))
    assert caplog.text == ""
    client.list_namespaced_pod.side_effect = ApiException(status=403, reason="Forbidden")
    with caplog.at_level(logging.WARNING, logger=orphan_cleanup.__name__):
        DeleteOrphanedPods()(context(make_operator(), try_number=1, max_tries=0))
    assert "Could not look for pods left by task (try 1): 403 Forbidden" in caplog.text


def test_the_operator_keeps_the_user_s_failure_callback_and_adds_its_own_last():
    def page_the_team(context):
        return None

    callbacks = make_operator(on_failure_callback=page_the_team).on_failure_callback
    callbacks = callbacks.callbacks if hasattr(callbacks, "callbacks") else callbacks  # Airflow 2.5: one callable
    assert callbacks[0] is page_the_team and isinstance(callbacks[-1], DeleteOrphanedPods)
