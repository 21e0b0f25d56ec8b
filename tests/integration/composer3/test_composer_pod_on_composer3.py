"""ComposerPodOperator on the local Composer 3 simulation: the same guarantees as on plain Kubernetes.

The pod becomes a ``peervm-placeholder`` and its containers run on a (simulated) peer VM, exactly
as for stock KPO in test_composer3_stock_kpo.py. What is checked here is the package's part:
healthy placeholders are not failed early, ``set -e`` reaches the VM's command, a failure names
the VM container's state and its last log lines (and says that Composer 3 reports no exit code),
XCom works, the preflight still stops a missing Secret before any VM exists, a VM that cannot be
created fails at once, and the task log names the VM the resources buy.
"""

from __future__ import annotations

import uuid

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator, PodFailedError, PodPreflightError, PodStartupError
from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS

from ..operator_harness import BUSYBOX, CONNECTION, DEBIAN, make_dag, run

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("composer3_double", "no_leaked_pods")]


@pytest.fixture(autouse=True)
def connection(monkeypatch, kubeconfig_path):
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", CONNECTION)  # XCom sidecar: busybox, no registry
    monkeypatch.setenv("COMPOSER_KPO_KUBECONFIG", kubeconfig_path)


def operator(script: str, *, image: str = BUSYBOX, shell: str = "sh", **kwargs) -> ComposerPodOperator:
    return ComposerPodOperator(
        task_id=f"c3-{uuid.uuid4().hex[:6]}",
        dag=make_dag(),
        image=image,
        cmds=[shell, "-c", script],
        **kwargs,
    )


def output(capfd, caplog) -> str:
    """Everything the task logged: Airflow 2 logs through logging, Airflow 3 to stdout."""
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def test_trivial_pod_succeeds_on_its_peer_vm_and_the_log_names_the_vm(capfd, caplog):
    caplog.set_level("INFO")
    op = operator("echo c3-ours-hello")
    run(op)
    log = output(capfd, caplog)
    assert "c3-ours-hello" in log
    assert "Composer 3 will run this pod on a peer VM e2-custom-small-2048" in log
    assert "(Composer 3 placeholder) ended in phase Succeeded, container 'base' was TERMINATED on the peer VM" in log
    assert op.remote_pod.spec.containers[0].name == "peervm-placeholder"


def test_set_e_reaches_the_vm_and_the_failure_names_the_vm_state_and_log_tail():
    script = "echo step-1-ran\nfalse\necho step-3-must-not-run"
    op = operator(script, image=DEBIAN, shell="bash")
    with pytest.raises(PodFailedError) as failure:
        run(op)
    message = str(failure.value)
    assert "container 'base' was TERMINATED on the Composer 3 peer VM" in message
    assert "Composer 3 reports no exit code or OOM kill" in message
    assert "Last 1 log lines of 'base':\n  step-1-ran" in message
    assert "step-3-must-not-run" not in message
    assert op.remote_pod.status.phase == "Failed"


def test_xcom_comes_back_from_the_vm():
    script = 'echo \'{"rows": 7, "where": "peer vm"}\' > /airflow/xcom/return.json'
    result, _ = run(operator(script, do_xcom_push=True))
    assert result == {"rows": 7, "where": "peer vm"}


def test_missing_secret_fails_in_preflight_before_any_vm(core_v1, namespace):
    from airflow_provider_composer_kpo import Secret

    op = operator("echo never", secrets=[Secret("env", "TOKEN", "c3-no-such-secret", "token")])
    with pytest.raises(PodPreflightError, match="Secret 'c3-no-such-secret'"):
        run(op)
    assert not core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={op.task_id}").items


def test_missing_secret_without_preflight_fails_fast_on_the_placeholder():
    from airflow_provider_composer_kpo import Secret

    op = operator("echo never", secrets=[Secret("env", "TOKEN", "c3-no-such-secret", "token")], preflight="off")
    with pytest.raises(PodStartupError, match='secret "c3-no-such-secret" not found') as failure:
        run(op)
    assert failure.value.reason == "CreateContainerConfigError"


def test_vm_that_cannot_be_created_fails_at_once_naming_the_machine():
    # The simulated project's CPU quota is below 16 vCPUs (tests/composer3/peervm/README.md).
    resources = k8s.V1ResourceRequirements(requests={"cpu": "16", "memory": "16G"})
    op = operator("echo never", container_resources=resources)
    with pytest.raises(PodStartupError, match=r"could not create the peer VM \(e2-custom-16-16384, 30 GB disk\)") as e:
        run(op)
    assert e.value.reason == "PeerVmNotCreated"


# deferrable=True: the trigger follows the placeholder; the resumed task ends it through Google's patches.
def test_deferred_pod_succeeds_on_its_peer_vm_with_its_log(capfd, caplog):
    from ..operator_harness import run_deferred

    caplog.set_level("INFO")
    run_deferred(operator("echo c3-deferred-hello", deferrable=True))
    log = output(capfd, caplog)
    assert "c3-deferred-hello" in log
    assert "(Composer 3 placeholder) ended in phase Succeeded, container 'base' was TERMINATED on the peer VM" in log


@pytest.mark.skipif(
    not AIRFLOW_V_3_PLUS,
    reason="the trigger's VM verdict is the same on every pair: run on the newest",
)
def test_deferred_failure_names_the_vm_state_and_log_tail():
    from ..operator_harness import run_deferred

    script = "echo step-1-ran\nfalse\necho step-3-must-not-run"
    with pytest.raises(PodFailedError) as failure:
        run_deferred(operator(script, image=DEBIAN, shell="bash", deferrable=True))
    message = str(failure.value)
    assert "Composer 3 reports no exit code or OOM kill" in message
    assert "step-1-ran" in message and "step-3-must-not-run" not in message
