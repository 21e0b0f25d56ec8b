"""The header block at the start of a ComposerPodOperator task log, and the operator writing it."""

from __future__ import annotations

import pytest

from airflow_provider_composer_kpo.exceptions import KubeconfigResolutionError
from airflow_provider_composer_kpo.lifecycle.task_header import (
    describe_platform,
    describe_preflight,
    describe_preflight_mode,
    start_block,
)


def test_the_block_says_where_how_and_what_was_found():
    block = start_block(
        task_id="hello",
        namespace="composer-user-workloads",
        pod_name="hello-x1",
        image="busybox:1.36",
        kubeconfig="Composer's kubeconfig /home/airflow/composer_kube_config",
        environ={"COMPOSER_VERSION": "3.1.0"},
        timeouts=(("startup", 600), ("schedule", None)),
        errexit="errexit injected (errexit_policy=inject)",
        preflight=describe_preflight_mode("fail"),
    )
    assert block.splitlines() == [
        "ComposerPodOperator task 'hello':",
        "  pod:        composer-user-workloads/hello-x1 (image busybox:1.36)",
        "  kubeconfig: Composer's kubeconfig /home/airflow/composer_kube_config",
        "  platform:   Composer 3 ($COMPOSER_VERSION=3.1.0): pods run on peer VMs behind placeholder pods",
        "  timeouts:   startup 600 s",
        "  set -e:     errexit injected (errexit_policy=inject)",
        "  preflight:  fail (checks run next; an error stops the pod before it is created)",
    ]


def test_platform_and_preflight_wording():
    assert describe_platform({}) == "not Cloud Composer ($COMPOSER_VERSION unset)"
    assert describe_platform({"COMPOSER_VERSION": "2.9.7"}).startswith("Composer 2 ($COMPOSER_VERSION=2.9.7)")
    assert describe_preflight("off", 0, 0) == "off"
    assert describe_preflight("fail", 2, 1) == "2 errors, 1 warning (below): the pod is not created"
    assert describe_preflight("warn", 1, 0) == "1 error (below)"


def test_the_operator_logs_the_block_once_before_creating_the_pod(mocker, local_kubeconfig):
    from airflow_provider_composer_kpo import ComposerPodOperator

    op = ComposerPodOperator(task_id="hello", image="busybox:1.36", cmds=["sh", "-c", "echo hi"])
    log = mocker.patch.object(type(op), "log", new_callable=mocker.PropertyMock).return_value
    mocker.patch("airflow_provider_composer_kpo.operators.composer_pod.run_preflight", return_value=[])
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    create = mocker.patch.object(KubernetesPodOperator, "get_or_create_pod")
    pod = op.build_pod_request_obj({})
    op.get_or_create_pod(pod, {})
    lines = [call.args[0] % call.args[1:] for call in log.info.call_args_list]
    (block,) = [line for line in lines if line.startswith("ComposerPodOperator task 'hello':")]
    assert f"  pod:        composer-user-workloads/{pod.metadata.name} (image busybox:1.36)" in block
    assert f"  kubeconfig: {local_kubeconfig} ($COMPOSER_KPO_KUBECONFIG is set)" in block
    assert "  set -e:     errexit injected (errexit_policy=inject)" in block
    assert "  preflight:  fail (checks run next; an error stops the pod before it is created)" in block
    assert lines.index(block) < lines.index("Preflight: no problems found")
    assert not [line for line in lines if "client configuration" in line]  # said once, in the block
    create.assert_called_once()


def test_the_block_is_logged_before_an_unusable_kubeconfig_fails_the_task(mocker, tmp_path):
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    typo = str(tmp_path / "kube_confg")
    op = ComposerPodOperator(task_id="hello", image="busybox:1.36", config_file=typo)
    log = mocker.patch.object(type(op), "log", new_callable=mocker.PropertyMock).return_value
    create = mocker.patch.object(KubernetesPodOperator, "get_or_create_pod")
    pod = op.build_pod_request_obj({})
    with pytest.raises(KubeconfigResolutionError, match=f"Kubeconfig {typo} does not exist"):
        op.get_or_create_pod(pod, {})
    lines = [call.args[0] % call.args[1:] for call in log.info.call_args_list]
    (block,) = [line for line in lines if line.startswith("ComposerPodOperator task 'hello':")]
    assert f"  kubeconfig: {typo} (explicit config_file argument)" in block
    create.assert_not_called()
