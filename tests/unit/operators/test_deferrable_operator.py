"""ComposerPodOperator(deferrable=True): what it hands the triggerer, and how it ends from each event."""

from __future__ import annotations

import datetime
import json

import pytest
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo import ComposerPodConfigError, ComposerPodOperator, PodFailedError, PodStartupError
from airflow_provider_composer_kpo.compat import HAS_DEFERRABLE, AirflowTaskTimeout, TaskDeferred
from airflow_provider_composer_kpo.lifecycle.deferral import CANNOT_START, DISRUPTED, ENDED, TIMED_OUT, pod_event
from airflow_provider_composer_kpo.lifecycle.follow import PodFollower
from airflow_provider_composer_kpo.lifecycle.running import PodDisruptedError
from airflow_provider_composer_kpo.triggers.composer_pod import ComposerPodTrigger
from tests.unit.builders import make_operator

needs_deferrable = pytest.mark.skipif(not HAS_DEFERRABLE, reason="deferrable KPO needs cncf-kubernetes 6.0+")


def make(**kwargs) -> ComposerPodOperator:
    return make_operator(deferrable=True, **kwargs)


def the_pod(phase: str = "Pending") -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p-1", namespace="composer-user-workloads"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase=phase),
    )


class TaskInstance:
    start_date = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.skipif(HAS_DEFERRABLE, reason="this provider has deferrable KPO")
def test_deferrable_on_a_provider_without_it_fails_at_parse_time():
    with pytest.raises(ComposerPodConfigError, match=r"'task': deferrable=True needs apache-airflow-providers-cncf-"):
        ComposerPodOperator(task_id="task", image="busybox:1.36", deferrable=True)


@needs_deferrable
class TestDefer:
    def test_defers_to_our_trigger_with_plain_keywords(self, local_kubeconfig):
        op = make(startup_timeout_seconds=300, schedule_timeout_seconds=90)
        op.pod = the_pod()
        with pytest.raises(TaskDeferred) as deferred:
            op.invoke_defer_method(context={"ti": TaskInstance()})
        assert deferred.value.method_name == "resume_from_trigger"
        assert isinstance(deferred.value.trigger, ComposerPodTrigger)
        kwargs = deferred.value.trigger.serialize()[1]
        assert json.loads(json.dumps(kwargs)) == kwargs
        assert kwargs["pod_name"] == "p-1" and kwargs["pod_namespace"] == "composer-user-workloads"
        assert kwargs["config_file"] == str(local_kubeconfig)  # resolved on the worker by the package's rule
        assert (kwargs["schedule_timeout_seconds"], kwargs["startup_timeout_seconds"]) == (90, 300)
        assert kwargs["execution_deadline"] is None and deferred.value.timeout is None

    def test_a_connections_inline_kubeconfig_is_what_the_trigger_uses(self, monkeypatch, tmp_path):
        """Found by the canary DAG: upstream's deferral read the Composer default path, which does not
        exist (FileNotFoundError); on Composer, where it exists, the trigger would have followed the
        pod on Composer's cluster instead of the connection's."""
        from tests.unit.builders import write_kubeconfig

        inline = write_kubeconfig(tmp_path / "inline", "https://from-the-connection:6443").read_text()
        extra = {"kube_config": inline}
        monkeypatch.setenv("AIRFLOW_CONN_INLINE", json.dumps({"conn_type": "kubernetes", "extra": extra}))
        op = make(kubernetes_conn_id="inline")
        op.pod = the_pod()
        op.convert_config_file_to_dict()  # upstream's execute_async calls it before deferring
        with pytest.raises(TaskDeferred) as deferred:
            op.invoke_defer_method(context={"ti": TaskInstance()})
        kwargs = deferred.value.trigger.serialize()[1]
        assert kwargs["config_file"] is None and kwargs["kubernetes_conn_id"] == "inline"
        assert "from-the-connection" not in json.dumps(kwargs)  # no kubeconfig content in the row
        assert deferred.value.trigger._make_client().api_client.configuration.host == "https://from-the-connection:6443"

    def test_execution_timeout_becomes_a_deadline_from_the_task_start(self, local_kubeconfig):
        op = make(execution_timeout=datetime.timedelta(minutes=10))
        op.pod = the_pod()
        with pytest.raises(TaskDeferred) as deferred:
            op.invoke_defer_method(context={"ti": TaskInstance()})
        kwargs = deferred.value.trigger.serialize()[1]
        assert kwargs["execution_deadline"] == TaskInstance.start_date.timestamp() + 600

    def test_on_kill_after_the_deferral_leaves_the_pod_to_the_trigger(self, local_kubeconfig, mocker):
        """Found by the soak: Airflow 3 stops a deferred task's process that is slow to exit with SIGTERM
        (task_success_overtime), whose on_kill deleted the pod the trigger followed; the task then
        succeeded without its log, or failed a pod whose work went on."""
        op = make()
        op.pod = the_pod("Running")
        op.client = mocker.MagicMock()
        with pytest.raises(TaskDeferred):
            op.invoke_defer_method(context={"ti": TaskInstance()})
        log = mocker.patch.object(type(op), "log", new_callable=mocker.PropertyMock).return_value
        op.on_kill()
        op.client.delete_namespaced_pod.assert_not_called()
        warned = [c.args[0] % c.args[1:] for c in log.warning.call_args_list]
        assert any("after it deferred: pod composer-user-workloads/p-1 is left to its trigger" in w for w in warned)
        assert not op._stopped_by_on_kill  # a task killed after deferring did not stop its pod

    def test_on_kill_before_the_deferral_deletes_the_pod_as_upstream_does(self, mocker):
        op = make()
        op.pod = the_pod("Running")
        op.client = mocker.MagicMock()
        op.on_kill()
        assert op.client.delete_namespaced_pod.call_args.kwargs["name"] == "p-1"
        assert op._stopped_by_on_kill


@needs_deferrable
class TestResume:
    def op_with(self, mocker, read):
        op = make()
        op.client = mocker.MagicMock()
        op.pod_manager = mocker.MagicMock()
        op.client.read_namespaced_pod.side_effect = read
        return op

    def event(self, status: str, message: str = "", **kwargs) -> dict:
        return pod_event(status, name="p-1", namespace="composer-user-workloads", message=message, **kwargs)

    def test_cannot_start_raises_the_verdict_and_deletes_the_pod(self, mocker):
        op = self.op_with(mocker, lambda *a, **k: the_pod("Pending"))
        message = "Pod composer-user-workloads/p-1 cannot start: container 'base' CreateContainerConfigError"
        with pytest.raises(PodStartupError) as raised:
            op.resume_from_trigger({}, self.event(CANNOT_START, message, reason="CreateContainerConfigError"))
        assert str(raised.value) == message and raised.value.reason == "CreateContainerConfigError"
        op.pod_manager.delete_pod.assert_called_once()

    def test_pod_gone_while_it_ran(self, mocker):
        op = self.op_with(mocker, ApiException(status=404))
        with pytest.raises(PodDisruptedError, match="deleted from outside"):
            op.resume_from_trigger(
                {}, self.event(DISRUPTED, "Pod composer-user-workloads/p-1 was deleted from outside")
            )

    def test_timed_out_deletes_the_pod_and_names_the_timeout(self, mocker):
        op = self.op_with(mocker, lambda *a, **k: the_pod("Running"))
        op.execution_timeout = datetime.timedelta(seconds=20)
        with pytest.raises(AirflowTaskTimeout, match=r"execution_timeout \(0:00:20\) reached .* the pod was deleted"):
            op.resume_from_trigger({}, self.event(TIMED_OUT))

    def test_ended_pod_runs_the_synchronous_ending_on_that_pod(self, mocker):
        pod = the_pod("Succeeded")
        op = self.op_with(mocker, lambda *a, **k: pod)
        seen = {}

        def execute_sync(context):
            seen["pod"] = op.get_or_create_pod(None, context)  # no second pod, no preflight again
            return "result"

        mocker.patch.object(op, "execute_sync", side_effect=execute_sync)
        assert op.resume_from_trigger({}, self.event(ENDED)) == "result"
        assert seen["pod"] is pod

    def test_ended_placeholder_vm_is_read_before_the_synchronous_ending(self, mocker):
        """A peer VM serves its state for a short while after its containers end: read it on resume,
        before Google's log fetch (slow on a busy worker), and not again at the pod's end."""
        pod = the_pod("Failed")
        op = self.op_with(mocker, lambda *a, **k: pod)
        snapshot = mocker.sentinel.snapshot
        read_vm = mocker.patch.object(PodFollower, "read_peer_vm", return_value=snapshot)
        seen = {}

        def execute_sync(context):
            seen["read before the ending"] = read_vm.call_count
            return "result"

        mocker.patch.object(op, "execute_sync", side_effect=execute_sync)
        assert op.resume_from_trigger({}, self.event(ENDED)) == "result"
        assert seen["read before the ending"] == 1 and op.pod_follower.vm_snapshot is snapshot

    def test_failed_pod_deleted_before_the_resume_still_names_its_failure(self, mocker):
        op = self.op_with(mocker, ApiException(status=404))
        with pytest.raises(PodFailedError, match=r"p-1 failed: container 'base' exited with code 3 .* its log is gone"):
            op.resume_from_trigger({}, self.event(ENDED, "container 'base' exited with code 3 (Error)"))

    def test_succeeded_pod_deleted_before_the_resume(self, mocker):
        op = self.op_with(mocker, ApiException(status=404))
        assert op.resume_from_trigger({}, self.event(ENDED)) is None
        op.do_xcom_push = True
        with pytest.raises(PodFailedError, match="its XCom result is gone"):
            op.resume_from_trigger({}, self.event(ENDED))
