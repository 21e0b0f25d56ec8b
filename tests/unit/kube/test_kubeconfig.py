from __future__ import annotations

import pytest

from airflow_provider_composer_kpo.exceptions import KubeconfigResolutionError
from airflow_provider_composer_kpo.kube.kubeconfig import (
    ClientConfigChoice,
    Origin,
    choose_client_config,
    config_file_problem,
    unusable_config_file,
)
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


# A chosen kubeconfig file is read before any client is built; a bad one names the path, the rule and the fix.

KUBECONFIG_TEXT = "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'https://x.invalid'}\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ("", "is empty: it has no 'clusters', 'contexts', 'users'"),
        ("just a string", "is not a kubeconfig"),
        ("clusters: [\n  token: abc", "is not valid YAML (line"),
        (KUBECONFIG_TEXT, None),
    ],
    ids=["missing", "empty", "scalar", "broken-yaml", "good"],
)
def test_config_file_problem_reads_the_file(tmp_path, content, expected):
    path = tmp_path / "kube_confg"
    if content is not None:
        path.write_text(content)
    problem = config_file_problem(str(path))
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected)
        assert "abc" not in problem  # nothing of the file's content


def test_config_file_problem_on_a_directory_and_an_unreadable_file(tmp_path):
    assert config_file_problem(str(tmp_path)) == "is a directory, not a file"

    def forbidden(path):
        raise PermissionError(13, "Permission denied", path)

    assert config_file_problem("/secret/kubeconfig", read=forbidden) == "cannot be read: permission denied"


def test_config_file_problem_leaves_a_path_list_to_the_client():
    assert config_file_problem("/nope/a:/nope/b") is None


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (
            ClientConfigChoice(Origin.ARGUMENT_FILE, config_file="/home/airflow/gcs/data/kube_confg"),
            "Kubeconfig /home/airflow/gcs/data/kube_confg does not exist; chosen by: explicit config_file argument. "
            "Fix: correct config_file, or leave it out: on Composer the operator then uses "
            "/home/airflow/composer_kube_config.",
        ),
        (
            ClientConfigChoice(Origin.ENV_OVERRIDE, config_file="/home/airflow/gcs/data/kube_confg"),
            "chosen by: $COMPOSER_KPO_KUBECONFIG is set. Fix: point $COMPOSER_KPO_KUBECONFIG at a kubeconfig",
        ),
        (
            ClientConfigChoice(Origin.CONNECTION, connection_field="kube_config_path"),
            "chosen by: connection 'gke' extra 'kube_config_path' (no operator argument given). "
            "Fix: correct the extra 'kube_config_path' of connection 'gke'",
        ),
    ],
    ids=["argument", "env", "connection"],
)
def test_unusable_config_file_names_path_rule_and_fix(choice, expected):
    message = unusable_config_file(choice, "/home/airflow/gcs/data/kube_confg", "does not exist", "gke")
    assert expected in message
