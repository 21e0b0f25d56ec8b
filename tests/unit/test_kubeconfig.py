from __future__ import annotations

import pytest

from airflow_provider_composer_kpo.exceptions import KubeconfigResolutionError
from airflow_provider_composer_kpo.kube.kubeconfig import Origin, choose_client_config
from airflow_provider_composer_kpo.platform.composer import COMPOSER_KUBECONFIG_PATH

NO_FIELDS: dict = {}


def choose(
    config_file=None,
    in_cluster=None,
    fields=NO_FIELDS,
    environ=None,
    existing=(),
    use_composer_kubeconfig=True,
):
    return choose_client_config(
        config_file=config_file,
        in_cluster=in_cluster,
        connection_fields=fields,
        conn_id="kubernetes_default",
        use_composer_kubeconfig=use_composer_kubeconfig,
        environ=environ or {},
        file_exists=lambda path: path in existing,
    )


def test_in_cluster_argument_wins_over_everything():
    choice = choose(in_cluster=True, fields={"kube_config": "{}"}, existing=[COMPOSER_KUBECONFIG_PATH])
    assert choice.origin is Origin.ARGUMENT_IN_CLUSTER
    assert choice.in_cluster is True


def test_in_cluster_and_config_file_arguments_clash():
    with pytest.raises(KubeconfigResolutionError, match="pass only one"):
        choose(config_file="/a", in_cluster=True)


def test_config_file_argument_wins_over_connection():
    choice = choose(config_file="/mine", fields={"kube_config_path": "/conn", "in_cluster": True})
    assert (choice.origin, choice.config_file) == (Origin.ARGUMENT_FILE, "/mine")


@pytest.mark.parametrize("field", ["in_cluster", "kube_config_path", "kube_config"])
def test_single_connection_field_wins_over_composer_file(field):
    choice = choose(fields={field: "x"}, existing=[COMPOSER_KUBECONFIG_PATH])
    assert (choice.origin, choice.connection_field) == (Origin.CONNECTION, field)
    assert choice.config_file is None


def test_two_connection_fields_name_the_fields_not_the_values():
    with pytest.raises(KubeconfigResolutionError) as err:
        choose(fields={"kube_config_path": "/p", "kube_config": '{"token": "s3cr3t"}'})
    assert "kube_config_path and kube_config" in str(err.value)
    assert "kubernetes_default" in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_falsy_connection_fields_are_unset():
    choice = choose(fields={"in_cluster": False, "kube_config_path": "", "kube_config": None})
    assert choice.origin is Origin.DEFAULT_CHAIN


def test_env_override_beats_composer_file():
    env = {"COMPOSER_KPO_KUBECONFIG": "/local"}
    choice = choose(environ=env, existing=["/local", COMPOSER_KUBECONFIG_PATH])
    assert (choice.origin, choice.config_file) == (Origin.ENV_OVERRIDE, "/local")


def test_env_override_to_missing_file_is_an_error_naming_the_variable():
    with pytest.raises(KubeconfigResolutionError, match=r"\$COMPOSER_KPO_KUBECONFIG='/nope'"):
        choose(environ={"COMPOSER_KPO_KUBECONFIG": "/nope"})


def test_composer_file_used_when_it_exists():
    choice = choose(existing=[COMPOSER_KUBECONFIG_PATH])
    assert (choice.origin, choice.config_file) == (Origin.COMPOSER_FILE, COMPOSER_KUBECONFIG_PATH)


def test_default_chain_when_nothing_else():
    assert choose().origin is Origin.DEFAULT_CHAIN


def test_opting_out_of_composer_fallbacks():
    choice = choose(
        environ={"COMPOSER_KPO_KUBECONFIG": "/local"},
        existing=["/local", COMPOSER_KUBECONFIG_PATH],
        use_composer_kubeconfig=False,
    )
    assert choice.origin is Origin.DEFAULT_CHAIN


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"config_file": "/mine"}, "/mine (explicit config_file argument)"),
        (
            {"existing": [COMPOSER_KUBECONFIG_PATH]},
            f"{COMPOSER_KUBECONFIG_PATH} (Composer's kubeconfig exists",
        ),
        ({"fields": {"kube_config": "x"}}, "connection 'kubernetes_default' extra 'kube_config'"),
        ({}, "default chain"),
    ],
)
def test_describe_says_what_and_why(kwargs, expected):
    assert choose(**kwargs).describe("kubernetes_default").startswith(expected)
