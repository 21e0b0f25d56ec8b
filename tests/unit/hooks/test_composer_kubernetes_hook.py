from __future__ import annotations

import json

import pytest

from airflow_provider_composer_kpo import ComposerKubernetesHook
from airflow_provider_composer_kpo.compat import KubernetesHook
from airflow_provider_composer_kpo.exceptions import KubeconfigResolutionError
from airflow_provider_composer_kpo.kube.kubeconfig import Origin


def server_of(hook: ComposerKubernetesHook) -> str:
    """Return the API server the hook's real client would talk to."""
    return hook.api_client.configuration.host


class TestClientConfiguration:
    def test_explicit_config_file_is_loaded(self, kubeconfig_factory):
        path = kubeconfig_factory("https://explicit.invalid:6443")
        hook = ComposerKubernetesHook(config_file=str(path))
        assert server_of(hook) == "https://explicit.invalid:6443"

    def test_env_override_used_when_no_argument_or_connection(self, local_kubeconfig):
        hook = ComposerKubernetesHook()
        assert server_of(hook) == "https://composer-default.invalid:443"
        assert hook.client_config_choice.origin is Origin.ENV_OVERRIDE

    def test_missing_default_connection_is_not_an_error(self, local_kubeconfig):
        # cncf-kubernetes 6.0.0 raised "The conn_id `kubernetes_default` isn't defined" here.
        hook = ComposerKubernetesHook(conn_id="kubernetes_default")
        assert hook.get_connection("kubernetes_default").extra_dejson == {}
        assert server_of(hook) == "https://composer-default.invalid:443"

    def test_missing_other_connection_is_an_error(self):
        from airflow_provider_composer_kpo.compat import AirflowNotFoundException

        with pytest.raises(AirflowNotFoundException):
            ComposerKubernetesHook.get_connection("no_such_connection")

    @pytest.mark.parametrize("prefix", ["", "extra__kubernetes__"])
    def test_connection_kube_config_path_with_and_without_prefix(
        self, set_connection, kubeconfig_factory, local_kubeconfig, prefix
    ):
        path = kubeconfig_factory("https://from-connection.invalid:6443", "conn")
        set_connection("kubernetes_default", {f"{prefix}kube_config_path": str(path)})
        hook = ComposerKubernetesHook()
        assert server_of(hook) == "https://from-connection.invalid:6443"
        assert hook.client_config_choice.origin is Origin.CONNECTION

    def test_connection_kube_config_json(self, set_connection, kubeconfig_factory):
        import yaml

        path = kubeconfig_factory("https://inline.invalid:6443", "inline")
        set_connection("kubernetes_default", {"kube_config": json.dumps(yaml.safe_load(path.read_text()))})
        assert server_of(ComposerKubernetesHook()) == "https://inline.invalid:6443"

    def test_argument_and_connection_do_not_clash(self, set_connection, kubeconfig_factory):
        """Upstream raises 'mutually exclusive' here; the argument wins instead."""
        conn_path = kubeconfig_factory("https://from-connection.invalid:6443", "conn")
        arg_path = kubeconfig_factory("https://from-argument.invalid:6443", "arg")
        set_connection("kubernetes_default", {"kube_config": conn_path.read_text()})

        with pytest.raises(Exception, match="mutually exclusive"):
            KubernetesHook(conn_id="kubernetes_default", config_file=str(arg_path)).get_conn()
        assert server_of(ComposerKubernetesHook(config_file=str(arg_path))) == "https://from-argument.invalid:6443"

    def test_connection_with_two_sources_names_them(self, set_connection):
        set_connection("kubernetes_default", {"in_cluster": True, "kube_config_path": "/p"})
        with pytest.raises(KubeconfigResolutionError, match="in_cluster and kube_config_path"):
            ComposerKubernetesHook().get_conn()

    def test_choice_is_logged_in_one_line(self, local_kubeconfig, mocker):
        hook = ComposerKubernetesHook()
        # Airflow 3 logs through structlog, which caplog does not see; watch the hook's logger.
        log = mocker.patch.object(type(hook), "log", new_callable=mocker.PropertyMock).return_value
        hook.get_conn()
        lines = [c.args[0] % c.args[1:] for c in log.info.call_args_list]
        assert [line for line in lines if "client configuration" in line] == [
            f"Kubernetes client configuration: {local_kubeconfig} ($COMPOSER_KPO_KUBECONFIG is set)"
        ]

    def test_default_chain_reads_home_kubeconfig(self, tmp_path):
        from tests.unit.builders import write_kubeconfig

        (tmp_path / "home" / ".kube").mkdir(parents=True)
        write_kubeconfig(tmp_path / "home" / ".kube" / "config", "https://home.invalid:6443")
        hook = ComposerKubernetesHook()
        assert server_of(hook) == "https://home.invalid:6443"
        assert hook.client_config_choice.origin is Origin.DEFAULT_CHAIN

    def test_no_config_anywhere_fails_with_upstream_config_error(self):
        from kubernetes.config import ConfigException

        with pytest.raises(ConfigException):
            ComposerKubernetesHook().get_conn()


class TestTestConnection:
    def test_success_reports_version_and_namespace(self, local_kubeconfig, mocker):
        mocker.patch("kubernetes.client.VersionApi.get_code", return_value=mocker.Mock(git_version="v1.33.5"))
        list_pods = mocker.patch("kubernetes.client.CoreV1Api.list_namespaced_pod")
        ok, message = ComposerKubernetesHook().test_connection()
        assert ok, message
        assert "v1.33.5" in message and "'composer-user-workloads'" in message
        # No connection id: the UI tests a copy of the form under a random one.
        assert "connection 'kubernetes_default'" not in message
        list_pods.assert_called_once_with(namespace="composer-user-workloads", limit=1)

    def test_forbidden_is_reported(self, local_kubeconfig, mocker):
        from kubernetes.client.exceptions import ApiException

        mocker.patch("kubernetes.client.VersionApi.get_code", return_value=mocker.Mock(git_version="v1"))
        mocker.patch("kubernetes.client.CoreV1Api.list_namespaced_pod", side_effect=ApiException(403, "Forbidden"))
        ok, message = ComposerKubernetesHook().test_connection()
        assert not ok
        assert "403 Forbidden" in message

    def test_unreachable_server_is_reported(self, kubeconfig_factory):
        path = kubeconfig_factory("https://127.0.0.1:1")  # nothing listens on port 1
        hook = ComposerKubernetesHook(config_file=str(path))
        hook.api_client.configuration.retries = 0
        ok, message = hook.test_connection()
        assert not ok
        assert message.startswith("Cannot reach the Kubernetes API")
        assert "not-a-real-token" not in message


def test_class_attributes_register_our_connection_type():
    assert ComposerKubernetesHook.conn_type == "composer_kubernetes"
    assert ComposerKubernetesHook.default_conn_name == "kubernetes_default"
    behaviour = ComposerKubernetesHook.get_ui_field_behaviour()
    assert "host" in behaviour["hidden_fields"]


def test_the_connection_airflow_tests_is_the_one_the_hook_reads(monkeypatch, kubeconfig_factory, local_kubeconfig):
    """The UI's Test button: Airflow builds the hook from the connection with ``kubernetes_conn_id=``."""
    import json

    from airflow.models import Connection

    path = kubeconfig_factory("https://from-the-form.invalid:6443", "form")
    extra = json.dumps({"kube_config_path": str(path)})
    monkeypatch.setenv("AIRFLOW_CONN_FROM_THE_FORM", json.dumps({"conn_type": "composer_kubernetes", "extra": extra}))
    connection = Connection(conn_id="from_the_form", conn_type="composer_kubernetes", extra=extra)
    hook = connection.get_hook()
    assert isinstance(hook, ComposerKubernetesHook)
    assert hook.conn_id == "from_the_form"
    choice = hook.client_config_choice
    assert (choice.origin.value, choice.connection_field) == ("connection", "kube_config_path")
    assert choice.describe(hook.conn_id).startswith("connection 'from_the_form' extra 'kube_config_path'")
    assert choice.describe(None) == "the connection's extra 'kube_config_path'"  # its Test button
    assert hook.api_client.configuration.host == "https://from-the-form.invalid:6443"  # not $COMPOSER_KPO_KUBECONFIG


class TestUnusableKubeconfig:
    """upstream's client says only "Invalid kube-config file. No configuration found." for these."""

    def test_a_typo_in_config_file_names_the_path_and_the_fix(self, tmp_path):
        path = str(tmp_path / "kube_confg")
        with pytest.raises(KubeconfigResolutionError) as err:
            ComposerKubernetesHook(config_file=path).get_conn()
        assert f"Kubeconfig {path} does not exist; chosen by: explicit config_file argument" in str(err.value)
        assert "correct config_file" in str(err.value)

    def test_an_empty_file_from_the_connection_names_the_connection(self, tmp_path, set_connection):
        path = tmp_path / "empty"
        path.write_text("")
        set_connection("gke", {"kube_config_path": str(path)})
        with pytest.raises(KubeconfigResolutionError) as err:
            ComposerKubernetesHook(conn_id="gke").get_conn()
        assert f"Kubeconfig {path} is empty" in str(err.value)
        assert "extra 'kube_config_path' of connection 'gke'" in str(err.value)

    def test_a_good_file_from_the_connection_still_loads(self, set_connection, kubeconfig_factory):
        set_connection("gke", {"kube_config_path": str(kubeconfig_factory("https://conn.invalid:6443"))})
        assert server_of(ComposerKubernetesHook(conn_id="gke")) == "https://conn.invalid:6443"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"config_file": "/nope/kube_confg"}, False), ({"in_cluster": True}, True)],
    ids=["file", "in-cluster"],
)
def test_is_in_cluster_is_answered_by_the_rule_without_building_a_client(kwargs, expected, mocker):
    get_conn = mocker.patch.object(KubernetesHook, "get_conn")
    assert ComposerKubernetesHook(**kwargs).is_in_cluster is expected
    get_conn.assert_not_called()
