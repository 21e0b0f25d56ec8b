"""STOCK KubernetesPodOperator on the local Composer 3 simulation.

Airflow side: tests/composer3/ (our test double of Google's Composer 3 hook and PodManager patches),
loaded as airflow_local_settings. Cluster side: tests/composer3/peervm (the webhook turns the pod into
a ``peervm-placeholder`` pod whose agent runs the containers as a "peer VM"). Nothing here knows
about the simulation except the assertions: the operator is upstream's, unchanged, as on Composer 3.
Google's timings are used (10 s before the first log read, 10 reads after termination).
"""

from __future__ import annotations

import uuid

import pytest

from ..operator_harness import BUSYBOX, CONNECTION, make_dag, run

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("composer3_double", "no_leaked_pods")]

GCE_VM = "node.gke.io/gce-vm"
# Google's log reader waits for the endpoint annotation (polled every 5 s), then 10 s more, before its
# first read: even a pod that ends at once still has its log then, because the simulated VM keeps
# serving for 30 s after its containers end (CONTRACT.md, PEERVM_SHUTDOWN_GRACE_SECONDS).


@pytest.fixture(autouse=True)
def connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", CONNECTION)  # XCom sidecar: busybox, no registry


def stock(kubeconfig_path: str, script: str, **kwargs):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    return KubernetesPodOperator(
        task_id=f"c3-{uuid.uuid4().hex[:6]}",
        dag=make_dag(),
        image=BUSYBOX,
        namespace="default",  # the hook forces composer-user-workloads, as Google's does
        config_file=kubeconfig_path,
        cmds=["sh", "-c", script],
        **kwargs,
    )


def output(capfd, caplog) -> str:
    """Everything the task logged: Airflow 2 logs through logging, Airflow 3 to stdout."""
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def assert_ran_on_a_peer_vm(op) -> None:
    assert op.pod.metadata.namespace == "composer-user-workloads"
    assert "e2-custom-small-2048" in op.pod.metadata.annotations[GCE_VM]
    assert op.remote_pod.spec.containers[0].name == "peervm-placeholder"


def test_trivial_pod_succeeds_and_its_log_lines_reach_the_task_log(kubeconfig_path, capfd, caplog):
    caplog.set_level("INFO")
    op = stock(kubeconfig_path, "echo c3-first-line; echo c3-answer-$((6 * 7)) >&2; echo c3-last-line")
    run(op)
    log = output(capfd, caplog)
    assert "Fetching container logs" in log  # the double's log path, not the kubelet's
    for line in ("c3-first-line", "c3-answer-42", "c3-last-line"):
        assert line in log
    assert log.index("c3-first-line") < log.index("c3-last-line")
    assert_ran_on_a_peer_vm(op)
    assert op.remote_pod.status.phase == "Succeeded"


def upstream_judges_xcom_tasks_by_container_base() -> bool:
    """True for providers (10.2x) whose cleanup, with do_xcom_push, checks container 'base' itself,
    which a placeholder does not have."""
    import inspect

    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    source = inspect.getsource(KubernetesPodOperator.cleanup)
    return "failed = not container_is_succeeded(remote_pod, self.base_container_name)" in source


def test_xcom_round_trips_through_the_sidecar_exec(kubeconfig_path):
    script = 'mkdir -p /airflow/xcom && echo \'{"rows": 42, "name": "peer-vm"}\' > /airflow/xcom/return.json'
    op = stock(kubeconfig_path, script, do_xcom_push=True)
    if upstream_judges_xcom_tasks_by_container_base():
        # Stock KPO fails a task whose workload succeeded (ComposerPodOperator does not: see
        # test_composer_pod_on_composer3.py); Composer 3's images ship providers before this check.
        with pytest.raises(Exception, match="returned a failure"):
            run(op)
        assert op.remote_pod.status.phase == "Succeeded"
        return
    result, ti = run(op)
    assert result == {"rows": 42, "name": "peer-vm"}
    assert ti.pushed["pod_namespace"] == "composer-user-workloads"


def test_failing_command_fails_the_task(kubeconfig_path, capfd, caplog):
    caplog.set_level("INFO")
    op = stock(kubeconfig_path, "echo c3-about-to-fail; exit 3")
    with pytest.raises(Exception, match="returned a failure") as err:
        run(op)
    assert "AirflowException" in [c.__name__ for c in type(err.value).__mro__]
    assert "c3-about-to-fail" in output(capfd, caplog)
    assert op.remote_pod.status.phase == "Failed"


def test_without_logs_the_task_waits_through_container_statuses(kubeconfig_path):
    op = stock(kubeconfig_path, "sleep 3; echo done", get_logs=False)
    run(op)
    assert_ran_on_a_peer_vm(op)
    assert op.remote_pod.status.phase == "Succeeded"
