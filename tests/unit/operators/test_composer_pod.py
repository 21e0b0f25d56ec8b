from __future__ import annotations

import datetime
import sys

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import (
    ComposerKubernetesHook,
    ComposerPodConfigError,
    ComposerPodOperator,
    ErrexitRequiredError,
    Secret,
)
from airflow_provider_composer_kpo.compat import (
    KubernetesPodOperator,
    ProviderDeprecationWarning,
)
from tests.unit.builders import BUILT_AT, cleanup_while
from tests.unit.builders import make_operator as make

CONTEXT = {"ds": "2024-05-01"}


def base_container(pod: k8s.V1Pod) -> k8s.V1Container:
    return next(c for c in pod.spec.containers if c.name == "base")


def rendered_pod(op: ComposerPodOperator) -> k8s.V1Pod:
    op.render_template_fields(dict(CONTEXT))
    return op.build_pod_request_obj()


@pytest.fixture(autouse=True)
def _kubeconfig(local_kubeconfig):
    """build_pod_request_obj asks the hook whether it runs in-cluster, so give it a real config."""


class TestDefaults:
    def test_composer_defaults_on_the_operator(self):
        op = make()
        assert op.config_file == "/home/airflow/composer_kube_config"
        assert op.namespace == "composer-user-workloads"
        assert op.kubernetes_conn_id == "kubernetes_default"
        assert op.startup_timeout_seconds == 600
        assert op.schedule_timeout_seconds == 600
        assert str(getattr(op.on_finish_action, "value", op.on_finish_action)) == "delete_pod"
        assert op.errexit_policy.value == "inject"

    def test_minimal_pod_spec(self):
        pod = rendered_pod(make(name="minimal"))
        assert pod.metadata.namespace == "composer-user-workloads"
        assert pod.metadata.name.startswith("minimal")
        assert base_container(pod).image == "busybox:1.36"

    def test_template_fields_extend_upstream(self):
        assert set(KubernetesPodOperator.template_fields) <= set(ComposerPodOperator.template_fields)

    def test_hook_is_ours_and_uses_the_composer_default(self):
        op = make()
        assert isinstance(op.hook, ComposerKubernetesHook)
        assert op.hook.api_client.configuration.host == "https://composer-default.invalid:443"


class TestKubeconfig:
    def test_explicit_config_file_wins(self, kubeconfig_factory):
        path = kubeconfig_factory("https://explicit.invalid:6443", "explicit")
        op = make(config_file=str(path))
        assert op.hook.api_client.configuration.host == "https://explicit.invalid:6443"

    def test_templated_config_file_is_rendered(self, kubeconfig_factory):
        path = kubeconfig_factory("https://templated.invalid:6443", "templated")
        op = make(config_file="{{ params.kubeconfig }}")
        op.render_template_fields({"params": {"kubeconfig": str(path)}})
        assert op.hook.api_client.configuration.host == "https://templated.invalid:6443"

    def test_explicit_none_skips_composer_fallbacks(self, tmp_path):
        from tests.unit.builders import write_kubeconfig

        (tmp_path / "home" / ".kube").mkdir(parents=True)
        write_kubeconfig(tmp_path / "home" / ".kube" / "config", "https://home.invalid:6443")
        op = make(config_file=None)
        assert op.hook.api_client.configuration.host == "https://home.invalid:6443"

    def test_operator_attributes_follow_the_choice(self, local_kubeconfig):
        op = make()
        op.hook  # noqa: B018 - resolving the hook aligns the attributes the trigger receives
        assert op.config_file == str(local_kubeconfig)


class TestErrexit:
    def test_dry_run_prints_the_pod_with_errexit(self, capsys):
        """Upstream's dry_run() (``airflow tasks test`` previews) builds the pod through our override; on
        cncf-kubernetes 10.2x it passes ``dry_run=True``, which the override must take."""
        make(cmds=["sh", "-c"], arguments=["false; true"]).dry_run()
        printed = capsys.readouterr().out
        assert "set -e" in printed and "false; true" in printed

    def test_inline_script_gets_errexit_in_the_pod(self):
        pod = rendered_pod(make(cmds=["bash", "-c"], arguments=["echo one; false; echo two"]))
        assert base_container(pod).command == ["bash", "-c"]
        assert base_container(pod).args == ["set -eo pipefail\necho one; false; echo two"]

    def test_templated_script_is_checked_after_rendering(self):
        op = make(cmds=["sh", "-c", "echo {{ ds }}; false"])
        assert base_container(rendered_pod(op)).command == ["sh", "-c", "set -e\necho 2024-05-01; false"]

    def test_require_fails_at_parse_time_for_static_script(self):
        with pytest.raises(ErrexitRequiredError, match="Task 'task'"):
            make(cmds=["sh", "-c", "false; true"], errexit_policy="require")

    def test_require_fails_at_render_time_for_templated_script(self):
        op = make(cmds=["sh", "-c", "echo {{ ds }}"], errexit_policy="require")
        with pytest.raises(ErrexitRequiredError):
            rendered_pod(op)

    def test_require_passes_with_set_e(self):
        op = make(cmds=["bash", "-c", "set -euo pipefail\necho {{ ds }}"], errexit_policy="require")
        assert base_container(rendered_pod(op)).command[2] == "set -euo pipefail\necho 2024-05-01"

    def test_off_sends_script_unchanged(self):
        op = make(cmds=["sh", "-c", "false; true"], errexit_policy="off")
        assert base_container(rendered_pod(op)).command == ["sh", "-c", "false; true"]

    def test_non_shell_entrypoint_untouched(self):
        op = make(image="perl:5.36", cmds=["perl"], arguments=["-Mbignum=bpi", "-wle", "print bpi(20)"])
        container = base_container(rendered_pod(op))
        assert (container.command, container.args) == (["perl"], ["-Mbignum=bpi", "-wle", "print bpi(20)"])

    def test_bad_policy_value(self):
        with pytest.raises(
            ComposerPodConfigError,
            match=r"^Task 'task': errexit_policy='always' is not one of 'inject', 'require', 'off'",
        ):
            make(errexit_policy="always")

    def test_bad_preflight_value(self):
        with pytest.raises(
            ComposerPodConfigError, match=r"^Task 'task': preflight='strict' is not one of 'fail', 'warn', 'off'\.$"
        ):
            make(preflight="strict")


class TestTimeouts:
    @pytest.mark.parametrize("value", [0, -5, 29, 10801, 1.5, "600", True, None])
    def test_bad_startup_timeout_rejected_naming_parameter(self, value):
        with pytest.raises(ComposerPodConfigError, match=r"Task 'task': startup_timeout_seconds="):
            make(startup_timeout_seconds=value)

    @pytest.mark.parametrize("value", [30, 120, 10800])
    def test_bounds_inclusive(self, value):
        assert make(startup_timeout_seconds=value).startup_timeout_seconds == value

    def test_bad_schedule_timeout_rejected(self):
        with pytest.raises(ComposerPodConfigError, match="schedule_timeout_seconds=5"):
            make(schedule_timeout_seconds=5)

    def test_schedule_timeout_on_every_provider(self):
        op = make(startup_timeout_seconds=300, schedule_timeout_seconds=900)
        assert (op.startup_timeout_seconds, op.schedule_timeout_seconds) == (300, 900)

    def test_schedule_timeout_defaults_to_startup_timeout(self):
        assert make(startup_timeout_seconds=300).schedule_timeout_seconds == 300


class TestResources:
    def test_container_resources_reach_the_pod(self):
        resources = k8s.V1ResourceRequirements(limits={"memory": "250M", "cpu": "100m"})
        pod = rendered_pod(make(container_resources=resources))
        assert base_container(pod).resources.limits == {"memory": "250M", "cpu": "100m"}

    def test_legacy_dict_translated_with_warning(self):
        with pytest.warns(ProviderDeprecationWarning, match="container_resources"):
            op = make(resources={"limit_memory": "250M", "limit_cpu": "100m", "request_cpu": "50m"})
        resources = base_container(rendered_pod(op)).resources
        assert resources.limits == {"memory": "250M", "cpu": "100m"}
        assert resources.requests == {"cpu": "50m"}

    def test_legacy_dict_warning_names_the_dag_file_line(self):
        with pytest.warns(ProviderDeprecationWarning, match="container_resources") as caught:
            make(resources={"limit_memory": "250M"})
        assert [(w.filename, w.lineno) for w in caught] == [BUILT_AT]

    def test_a_team_subclass_warning_names_the_subclass_line(self):
        lines = []

        class TeamPodOperator(ComposerPodOperator):
            def __init__(self, **kwargs):
                lines.append(sys._getframe().f_lineno + 1)
                super().__init__(image="busybox:1.36", **kwargs)  # the line the warning must name

        with pytest.warns(ProviderDeprecationWarning, match="container_resources") as caught:
            TeamPodOperator(task_id="task", resources={"limit_memory": "250M"})
        assert [(w.filename, w.lineno) for w in caught] == [(__file__, lines[0])]

    def test_legacy_not_a_dict_rejected(self):
        with pytest.raises(ComposerPodConfigError, match=r"^Task 'task': resources=\['limit_memory'\] must be a dict"):
            make(resources=["limit_memory"])

    def test_legacy_unknown_key_rejected(self):
        with pytest.raises(ComposerPodConfigError, match=r"'limit_mem'.*accepted keys are request_memory"):
            make(resources={"limit_mem": "1G"})

    def test_both_forms_rejected(self):
        with pytest.raises(ComposerPodConfigError, match="keep only container_resources"):
            make(resources={"limit_memory": "1G"}, container_resources=k8s.V1ResourceRequirements())


class TestFinishAction:
    @pytest.mark.parametrize("value", ["delete_pod", "delete_succeeded_pod", "keep_pod"])
    def test_on_finish_action_on_every_version(self, value):
        op = make(on_finish_action=value)
        assert str(getattr(op.on_finish_action, "value", op.on_finish_action)) == value

    @pytest.mark.parametrize(("flag", "action"), [(True, "delete_pod"), (False, "keep_pod")])
    def test_is_delete_operator_pod_maps_with_warning(self, flag, action):
        with pytest.warns(ProviderDeprecationWarning, match="on_finish_action"):
            op = make(is_delete_operator_pod=flag)
        assert str(getattr(op.on_finish_action, "value", op.on_finish_action)) == action

    def test_is_delete_operator_pod_warning_names_the_dag_file_line(self):
        with pytest.warns(ProviderDeprecationWarning, match="on_finish_action") as caught:
            make(is_delete_operator_pod=True)
        assert [(w.filename, w.lineno) for w in caught] == [BUILT_AT]

    def test_unknown_action_is_refused_before_the_deprecation(self, recwarn):
        with pytest.raises(ComposerPodConfigError, match="on_finish_action='delete'"):
            make(on_finish_action="delete", is_delete_operator_pod=True)
        assert not [w for w in recwarn if issubclass(w.category, ProviderDeprecationWarning)]

    def test_contradiction_rejected(self):
        with pytest.raises(ComposerPodConfigError, match="contradicts"), pytest.warns(ProviderDeprecationWarning):
            make(is_delete_operator_pod=True, on_finish_action="keep_pod")

    def test_unknown_action_rejected(self):
        with pytest.raises(ComposerPodConfigError, match="on_finish_action='delete'"):
            make(on_finish_action="delete")


class TestSecrets:
    def test_secret_as_env_and_volume(self):
        secrets = [
            Secret("env", "SQL_CONN", "airflow-secrets", "sql_alchemy_conn"),
            Secret("volume", "/var/secrets/google", "service-account", "service-account.json"),
        ]
        pod = rendered_pod(make(secrets=secrets))
        env = {e.name: e.value_from.secret_key_ref for e in base_container(pod).env if e.value_from}
        assert (env["SQL_CONN"].name, env["SQL_CONN"].key) == ("airflow-secrets", "sql_alchemy_conn")
        volumes = {v.secret.secret_name for v in pod.spec.volumes if v.secret}
        assert volumes == {"service-account"}
        mounts = {m.mount_path for m in base_container(pod).volume_mounts}
        assert "/var/secrets/google" in mounts


def test_default_args_config_file_counts_as_explicit(kubeconfig_factory):
    from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS

    if AIRFLOW_V_3_PLUS:
        from airflow.sdk import DAG
    else:
        from airflow import DAG
    import datetime

    path = kubeconfig_factory("https://from-default-args.invalid:6443", "dflt")
    with DAG("d", start_date=datetime.datetime(2024, 1, 1), schedule=None, default_args={"config_file": str(path)}):
        op = make()
    assert op.hook.api_client.configuration.host == "https://from-default-args.invalid:6443"


class TestComposer3Placeholder:
    """The operator reads a placeholder's VM before it shuts down and reports from what it read."""

    def test_vm_is_read_before_upstream_awaits_completion(self, mocker):
        from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

        from airflow_provider_composer_kpo.platform.peer_vm import VmSnapshot

        order = []
        mocker.patch.object(PodManager, "await_pod_completion", side_effect=lambda *a, **k: order.append("await"))
        op = make()
        snapshot = VmSnapshot(states={"base": "TERMINATED"})
        mocker.patch.object(op.pod_follower, "read_peer_vm", side_effect=lambda pod: order.append("read") or snapshot)
        op.pod_manager.await_pod_completion(k8s.V1Pod())
        assert order == ["read", "await"]
        assert op.pod_follower.vm_snapshot is snapshot

    def test_pods_off_composer_3_cost_no_extra_api_call(self, mocker):
        op = make()
        op.client = client = mocker.MagicMock()
        assert op.pod_follower.read_peer_vm(k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="p", namespace="ns"))) is None
        client.read_namespaced_pod.assert_not_called()

    def test_failure_message_comes_from_the_vm(self):
        from airflow_provider_composer_kpo.platform.peer_vm import VmSnapshot
        from tests.unit.platform.test_peer_vm import placeholder

        op = make()
        op.pod_follower.vm_snapshot = VmSnapshot(states={"base": "TERMINATED"}, log_tail=("step 1 ok", "step 2 failed"))
        message = op.pod_follower.failure(placeholder(phase="Failed", endpoint="10.88.0.5"))
        assert message is not None
        assert message.startswith("Pod composer-user-workloads/task-abc failed: container 'base' was TERMINATED")
        assert message.endswith("Last 2 log lines of 'base':\n  step 1 ok\n  step 2 failed")


class TestPlatformRulesWiring:
    """Composer's platform rules reach the DAG author at parse time and the task log before creation."""

    def test_composer3_warns_at_parse_time_naming_the_parameter(self, monkeypatch):
        from airflow_provider_composer_kpo import ComposerPlatformWarning

        monkeypatch.setenv("COMPOSER_VERSION", "3.1.0")
        with pytest.warns(ComposerPlatformWarning, match=r"Task 'task': namespace='default'") as caught:
            make(namespace="default")
        assert {(w.filename, w.lineno) for w in caught if issubclass(w.category, ComposerPlatformWarning)} == {BUILT_AT}

    def test_off_composer_nothing_is_warned(self, recwarn):
        from airflow_provider_composer_kpo import ComposerPlatformWarning

        make(namespace="default", container_resources=k8s.V1ResourceRequirements(requests={"cpu": "40"}))
        assert not [w for w in recwarn if issubclass(w.category, ComposerPlatformWarning)]

    def test_composer3_logs_the_vm_the_resources_buy_before_creating_the_pod(self, monkeypatch, mocker):
        monkeypatch.setenv("COMPOSER_VERSION", "3.1.0")
        resources = k8s.V1ResourceRequirements(requests={"cpu": "2", "memory": "8G"})
        op = make(container_resources=resources, preflight="off")
        pod = rendered_pod(op)
        create = mocker.patch.object(KubernetesPodOperator, "get_or_create_pod", return_value=pod)
        # Airflow 3 logs through structlog, which caplog does not see; watch the operator's logger.
        log = mocker.patch.object(type(op), "log", new_callable=mocker.PropertyMock).return_value
        op.get_or_create_pod(pod, CONTEXT)
        create.assert_called_once()
        lines = [c.args[0] % c.args[1:] for c in log.info.call_args_list]
        assert any(line.startswith("Composer 3 will run this pod on a peer VM e2-custom-2-8192") for line in lines)


class TestStoppedTask:
    """A task stopped while its pod runs (SIGTERM, timeout, marked failed) never ends as a success."""

    def running_pod(self) -> k8s.V1Pod:
        return k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name="p-1", namespace="composer-user-workloads"),
            spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
            status=k8s.V1PodStatus(phase="Running"),
        )

    def test_cleanup_after_on_kill_raises_naming_the_pod(self, mocker):
        from airflow_provider_composer_kpo import PodKilledError

        op = make()
        op.client = mocker.MagicMock()  # the API calls on_kill and cleanup make
        op.pod_manager = mocker.MagicMock()
        pod = self.running_pod()
        op.pod = pod
        op.on_kill()
        op.client.delete_namespaced_pod.assert_called_once()
        with pytest.raises(PodKilledError, match="stopped while pod composer-user-workloads/p-1 was running"):
            op.cleanup(pod, pod)

    def test_cleanup_without_on_kill_is_upstreams(self, mocker):
        op = make()
        op.client = mocker.MagicMock()
        op.pod_manager = mocker.MagicMock()
        pod = self.running_pod()
        pod.status.phase = "Succeeded"
        op.cleanup(pod, pod)  # no error: the pod succeeded and nobody stopped the task

    def stopped_op(self, mocker, **kwargs):
        op = make(**kwargs)
        op.client = mocker.MagicMock()
        op.pod_manager = mocker.MagicMock()
        return op

    def test_execution_timeout_names_the_timeout_and_the_deleted_pod(self, mocker):
        from airflow_provider_composer_kpo.compat import AirflowTaskTimeout

        op = self.stopped_op(mocker, execution_timeout=datetime.timedelta(seconds=20))
        pod = self.running_pod()
        pod.status.phase = "Pending"  # upstream hands cleanup the pod as read at creation
        escaped = cleanup_while(op, pod, AirflowTaskTimeout("Timeout, PID: 1"))
        assert type(escaped) is AirflowTaskTimeout  # Airflow still sees a timeout
        assert str(escaped) == (
            "execution_timeout (0:00:20) reached while pod composer-user-workloads/p-1 was running; "
            "the pod was deleted."
        )
        op.pod_manager.delete_pod.assert_called_with(pod)

    def test_execution_timeout_deletes_a_running_pod_even_with_delete_succeeded_pod(self, mocker):
        from airflow_provider_composer_kpo.compat import AirflowTaskTimeout

        op = self.stopped_op(mocker, on_finish_action="delete_succeeded_pod")
        pod = self.running_pod()
        escaped = cleanup_while(op, pod, AirflowTaskTimeout("Timeout"))
        assert "the pod was deleted" in str(escaped)
        op.pod_manager.delete_pod.assert_called_with(pod)

    def test_execution_timeout_keeps_the_pod_with_keep_pod(self, mocker):
        from airflow_provider_composer_kpo.compat import AirflowTaskTimeout

        op = self.stopped_op(mocker, on_finish_action="keep_pod")
        pod = self.running_pod()
        escaped = cleanup_while(op, pod, AirflowTaskTimeout("Timeout"))
        assert "the pod was kept" in str(escaped)
        op.pod_manager.delete_pod.assert_not_called()

    def test_execution_timeout_names_a_deletion_that_failed(self, mocker):
        from kubernetes.client.exceptions import ApiException

        from airflow_provider_composer_kpo.compat import AirflowTaskTimeout

        op = self.stopped_op(mocker)
        op.pod_manager.delete_pod.side_effect = ApiException(status=403, reason="Forbidden")
        escaped = cleanup_while(op, self.running_pod(), AirflowTaskTimeout("Timeout"))
        assert "deleting the pod failed (403 Forbidden); delete it with `kubectl delete pod -n" in str(escaped)
        assert "kept" not in str(escaped)

    def test_a_pod_deleted_from_outside_fails_naming_the_deletion(self, mocker):
        from kubernetes.client.exceptions import ApiException

        from airflow_provider_composer_kpo import PodFailedError

        op = self.stopped_op(mocker)
        op.client.read_namespaced_pod.side_effect = ApiException(status=404, reason="Not Found")
        pod = self.running_pod()
        escaped = cleanup_while(op, pod, ApiException(status=404, reason="Not Found"))
        assert isinstance(escaped, PodFailedError)
        assert str(escaped).startswith("Pod composer-user-workloads/p-1 was deleted from outside the task while it ran")

    def test_an_evicted_pod_fails_naming_the_eviction(self, mocker):
        from airflow_provider_composer_kpo import PodFailedError

        op = self.stopped_op(mocker)
        evicted = self.running_pod()
        evicted.status = k8s.V1PodStatus(phase="Failed", reason="Evicted", message="usage exceeds 20Mi.")
        op.client.read_namespaced_pod.return_value = evicted
        escaped = cleanup_while(op, self.running_pod(), RuntimeError("log stream ended"))
        assert isinstance(escaped, PodFailedError)
        assert "was evicted by the kubelet: usage exceeds 20Mi." in str(escaped)

    def test_an_evicted_pod_is_judged_before_cleanup_deletes_it(self, mocker):
        # The follower's log read can fail ("container is terminated") before the watch saw the
        # eviction; upstream's cleanup then deletes the pod, and a read after it answers 404.
        from kubernetes.client.exceptions import ApiException

        op = self.stopped_op(mocker)
        evicted = self.running_pod()
        evicted.status = k8s.V1PodStatus(phase="Failed", reason="Evicted", message="usage exceeds 16Mi.")
        op.client.read_namespaced_pod.return_value = evicted

        def delete(*args, **kwargs):
            op.client.read_namespaced_pod.side_effect = ApiException(status=404, reason="Not Found")

        op.pod_manager.delete_pod.side_effect = delete
        op.client.delete_namespaced_pod.side_effect = delete
        escaped = cleanup_while(op, self.running_pod(), ApiException(status=400, reason="Bad Request"))
        assert "was evicted by the kubelet: usage exceeds 16Mi." in str(escaped)
        assert op.pod_manager.delete_pod.called or op.client.delete_namespaced_pod.called

    def test_a_pod_kubernetes_refuses_fails_naming_the_refusal_not_a_deletion(self, mocker):
        """422 on create: no pod exists, so a read in cleanup would answer 404 and look like a deletion."""
        import json

        from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager
        from kubernetes.client.exceptions import ApiException

        from airflow_provider_composer_kpo import PodStartupError

        refused = ApiException(status=422, reason="Unprocessable Entity")
        refused.body = json.dumps(
            {"kind": "Status", "reason": "Invalid", "code": 422,
             "message": 'Pod "p-1" is invalid: spec.containers[0].image: Required value'}
        )  # fmt: skip
        mocker.patch.object(PodManager, "create_pod", side_effect=refused)
        op = make()
        op.client = client = mocker.MagicMock()
        client.read_namespaced_pod.side_effect = ApiException(status=404, reason="Not Found")
        pod = self.running_pod()
        with pytest.raises(PodStartupError) as raised:
            op.pod_manager.create_pod(pod=pod)
        assert cleanup_while(op, pod, raised.value) is raised.value
        assert str(raised.value) == (
            "Kubernetes refused to create pod composer-user-workloads/p-1 (422 Invalid): "
            'Pod "p-1" is invalid: spec.containers[0].image: Required value. No pod was created.'
        )
        assert raised.value.reason == "Invalid"
        client.read_namespaced_pod.assert_not_called()
        client.delete_namespaced_pod.assert_not_called()

    def test_a_create_that_may_have_reached_the_server_is_not_called_refused(self, mocker):
        from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager
        from kubernetes.client.exceptions import ApiException

        mocker.patch.object(PodManager, "create_pod", side_effect=ApiException(status=504, reason="Gateway Timeout"))
        op = make()
        op.client = mocker.MagicMock()
        with pytest.raises(ApiException):
            op.pod_manager.create_pod(pod=self.running_pod())
        assert op.pod_follower.creation_refused is None

    def test_without_a_verdict_the_error_that_stopped_the_task_goes_on(self, mocker):
        op = self.stopped_op(mocker)
        op.client.read_namespaced_pod.return_value = self.running_pod()
        error = RuntimeError("connection reset")
        assert cleanup_while(op, self.running_pod(), error) is error  # not upstream's stale "returned a failure"

    def test_a_deferral_is_not_an_interruption(self, mocker):
        from airflow_provider_composer_kpo.compat import TaskDeferred

        op = self.stopped_op(mocker)
        pod = self.running_pod()
        pod.status.phase = "Succeeded"
        deferred = TaskDeferred(trigger=mocker.MagicMock(), method_name="execute_complete")
        assert cleanup_while(op, pod, deferred) is deferred
        op.client.read_namespaced_pod.assert_not_called()


class TestReattachWithoutResult:
    """A retry that finds an earlier try's pod whose XCom was read but never saved runs a new pod."""

    def found_pod(self) -> k8s.V1Pod:
        from tests.unit.lifecycle.test_reattach import STOPPED, pod

        return pod(STOPPED)

    @pytest.mark.parametrize(("action", "deleted"), [("delete_pod", True), ("keep_pod", False)])
    def test_the_old_pod_is_put_aside_and_a_new_one_created(self, mocker, action, deleted):
        op = make(do_xcom_push=True, preflight="off", on_finish_action=action)
        request = rendered_pod(op)
        mocker.patch.object(KubernetesPodOperator, "find_pod", return_value=self.found_pod())
        manager = mocker.patch.object(type(op), "pod_manager", new_callable=mocker.PropertyMock).return_value
        patch = mocker.patch.object(KubernetesPodOperator, "patch_already_checked")
        log = mocker.patch.object(type(op), "log", new_callable=mocker.PropertyMock).return_value
        assert op.get_or_create_pod(request, CONTEXT) is request
        manager.create_pod.assert_called_once_with(pod=request)
        assert manager.delete_pod.called is deleted and patch.called is not deleted
        if not deleted:  # recent cncf-kubernetes itself replaces a finished pod it may delete, never a kept one
            warned = [c.args[0] % c.args[1:] for c in log.warning.call_args_list]
            assert any("its XCom sidecar has stopped" in line for line in warned), warned

    @pytest.mark.parametrize("patch_error", [None, 404])
    def test_a_pod_being_deleted_is_marked_and_a_new_one_created(self, mocker, patch_error):
        from kubernetes.client.exceptions import ApiException

        from tests.unit.lifecycle.test_reattach import deleting

        op = make(do_xcom_push=True, preflight="off", on_finish_action="delete_pod")
        request = rendered_pod(op)
        mocker.patch.object(KubernetesPodOperator, "find_pod", return_value=deleting("2026-12-05T05:00:00Z"))
        manager = mocker.patch.object(type(op), "pod_manager", new_callable=mocker.PropertyMock).return_value
        error = ApiException(status=patch_error, reason="Not Found") if patch_error else None
        patch = mocker.patch.object(KubernetesPodOperator, "patch_already_checked", side_effect=error)
        log = mocker.patch.object(type(op), "log", new_callable=mocker.PropertyMock).return_value
        assert op.get_or_create_pod(request, CONTEXT) is request
        manager.create_pod.assert_called_once_with(pod=request)
        patch.assert_called_once()
        manager.delete_pod.assert_not_called()  # already on its way out
        warned = [c.args[0] % c.args[1:] for c in log.warning.call_args_list]
        assert warned == [
            "Pod team/p-1 of try 1 is being deleted (since 2026-12-05T05:00:00Z); this try runs the pod anew."
        ]

    def test_a_pod_whose_result_is_still_there_is_reattached(self, mocker):
        from tests.unit.lifecycle.test_reattach import RUNNING, pod

        op = make(do_xcom_push=True, preflight="off")
        found = pod(RUNNING, phase="Running")
        mocker.patch.object(KubernetesPodOperator, "find_pod", return_value=found)
        manager = mocker.patch.object(type(op), "pod_manager", new_callable=mocker.PropertyMock).return_value
        assert op.get_or_create_pod(rendered_pod(op), CONTEXT) is found
        manager.create_pod.assert_not_called()
