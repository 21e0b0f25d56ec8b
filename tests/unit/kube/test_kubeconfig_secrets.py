"""A kubeconfig's credentials are found (kube/kubeconfig_secrets.py) and registered with Airflow's
secrets masker whenever the hook loads one: inline from the connection, or from a file."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS
from airflow_provider_composer_kpo.hooks.composer_kubernetes import ComposerKubernetesHook
from airflow_provider_composer_kpo.kube.kubeconfig_secrets import (
    configuration_secrets,
    kubeconfig_secrets,
    parse_kubeconfig,
)

TOKEN = "canary-token-7f3a9c2e1b"
PASSWORD = "canary-password-5d1e"
KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\nCANARYKEYLINEONEabcdef0123\nCANARYKEYLINETWOabcdef4567\n-----END PRIVATE KEY-----\n"
)
KEY_DATA = base64.b64encode(KEY_PEM.encode()).decode()
ACCESS = "canary-access-ya29.abcdef"
EXEC_SECRET = "canary-exec-secret-9911"
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\npublic\n-----END CERTIFICATE-----\n").decode()


def kubeconfig(user: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": CA_DATA}}
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }


FULL = kubeconfig(
    {
        "token": TOKEN,
        "username": "admin-user",
        "password": PASSWORD,
        "client-key-data": KEY_DATA,
        "client-certificate-data": CA_DATA,
        "auth-provider": {"name": "gcp", "config": {"access-token": ACCESS, "cmd-path": "/usr/bin/gcloud"}},
        "exec": {
            "command": "plugin",
            "env": [{"name": "PLUGIN_SECRET", "value": EXEC_SECRET}, {"name": "HOME_DIR", "value": "/home/x"}],
        },
    }
)


class TestKubeconfigSecrets:
    def test_every_credential_and_nothing_else(self):
        found = kubeconfig_secrets(FULL)
        for secret in (TOKEN, PASSWORD, KEY_DATA, ACCESS, EXEC_SECRET, KEY_PEM.strip()):
            assert secret in found
        assert {"CANARYKEYLINEONEabcdef0123", "CANARYKEYLINETWOabcdef4567"} <= set(found)
        public = ("https://127.0.0.1:1", CA_DATA, "admin-user", "/usr/bin/gcloud", "/home/x", "plugin")
        assert [value for value in found if value in public] == []

    @pytest.mark.parametrize("form", ["mapping", "json", "yaml"])
    def test_the_form_field_json_a_yaml_file_and_a_mapping_alike(self, form):
        value = {"mapping": FULL, "json": json.dumps(FULL), "yaml": yaml.safe_dump(FULL)}[form]
        assert kubeconfig_secrets(value) == kubeconfig_secrets(FULL)

    def test_text_that_does_not_parse_is_masked_whole(self):
        broken = '{"users": [{"user": {"token": "' + TOKEN + '"}}'
        assert parse_kubeconfig(broken) is None
        assert kubeconfig_secrets(broken) == [broken]

    @pytest.mark.parametrize("value", [None, "", "   ", [], {"users": "not a list"}, {"users": [{"user": "x"}]}])
    def test_nothing_to_mask(self, value):
        assert kubeconfig_secrets(value) == []

    def test_short_values_are_not_masked(self):
        assert kubeconfig_secrets(kubeconfig({"token": "abc"})) == []

    def test_a_built_clients_bearer_token(self):
        class Configuration:
            def __init__(self) -> None:
                self.api_key = {"authorization": f"Bearer {ACCESS}"}
                self.password = None

        assert configuration_secrets(Configuration()) == [ACCESS]
        assert configuration_secrets(None) == []


def redacted(text: str) -> str:
    """TEXT as the task log's masker writes it."""
    if AIRFLOW_V_3_PLUS:
        from airflow.sdk._shared.secrets_masker import redact
    else:
        from airflow.utils.log.secrets_masker import redact
    return str(redact(text))


@pytest.fixture
def no_masks(monkeypatch):
    """The masker as before the test, and the hook's record of what it registered emptied."""
    from airflow_provider_composer_kpo.hooks import composer_kubernetes

    monkeypatch.setattr(composer_kubernetes, "_masked", set())
    if AIRFLOW_V_3_PLUS:
        from airflow.sdk._shared.secrets_masker import _secrets_masker
    else:
        from airflow.utils.log.secrets_masker import _secrets_masker
    masker = _secrets_masker()
    before = set(masker.patterns)
    yield
    masker.patterns = before
    masker.replacer = None
    if hasattr(masker, "_redact_all"):
        masker._redact_all = False


@pytest.mark.parametrize("form", ["json", "mapping"])
def test_the_hook_masks_an_inline_kubeconfig(monkeypatch, no_masks, form):
    config = kubeconfig({"token": TOKEN, "client-key-data": KEY_DATA})
    inline = json.dumps(config) if form == "json" else config
    extra = {"kube_config": inline}
    monkeypatch.setenv("AIRFLOW_CONN_K8S_CANARY", json.dumps({"conn_type": "kubernetes", "extra": extra}))
    line = f"connection extra {json.dumps(extra)} token={TOKEN} key={KEY_DATA}"
    assert TOKEN in redacted(line)  # Airflow alone masks none of it: the key names look harmless
    try:
        ComposerKubernetesHook(conn_id="k8s_canary", use_composer_kubeconfig=False).get_conn()
    except AttributeError:  # old providers load only a string ('dict' has no 'encode'); masked before that
        assert form == "mapping"
    masked = redacted(line)
    assert TOKEN not in masked and KEY_DATA not in masked
    assert "CANARYKEYLINEONE" not in redacted(KEY_PEM)


def test_the_hook_masks_a_kubeconfig_file(tmp_path, monkeypatch, no_masks):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig({"token": TOKEN})))
    monkeypatch.setenv("AIRFLOW_CONN_K8S_EMPTY", json.dumps({"conn_type": "kubernetes"}))
    assert TOKEN in redacted(TOKEN)
    ComposerKubernetesHook(conn_id="k8s_empty", config_file=str(path), use_composer_kubeconfig=False).get_conn()
    assert TOKEN not in redacted(f"read {TOKEN}")


@pytest.mark.parametrize(
    ("inline", "said"),
    [
        ('{"users": [{"user": {"token": "' + TOKEN + '"}}', "is not valid YAML (line 1)"),
        (json.dumps({"users": [{"user": {"token": TOKEN}}]}), None),  # parses: upstream's own error
        ('{"apiVersion": "v1", "kind": "Config"}', "is not a kubeconfig"),
        ("x" * (1024 * 1024 + 1), "bytes, more than a kubeconfig"),
    ],
)
def test_an_unusable_inline_kubeconfig_is_named_not_shown(monkeypatch, no_masks, inline, said):
    monkeypatch.setenv(
        "AIRFLOW_CONN_K8S_BAD", json.dumps({"conn_type": "kubernetes", "extra": {"kube_config": inline}})
    )
    with pytest.raises(Exception) as raised:
        ComposerKubernetesHook(conn_id="k8s_bad", use_composer_kubeconfig=False).get_conn()
    message = str(raised.value)
    assert TOKEN not in message and "xxxxxxxx" not in message
    if said is not None:
        assert said in message, message
        assert "connection 'k8s_bad', extra 'kube_config'" in message
        assert "kubectl config view --raw --flatten --minify -o json" in message


@pytest.mark.parametrize("where", ["inline", "file"])
def test_a_template_of_the_connection_renders_masked(tmp_path, monkeypatch, no_masks, where):
    """``{{ conn.<id>.extra }}`` in a field: registered before rendering, so Airflow stores and shows it masked."""
    from tests.unit.builders import make_operator

    config = kubeconfig({"token": TOKEN, "client-key-data": KEY_DATA})
    if where == "file":
        path = tmp_path / "config"
        path.write_text(yaml.safe_dump(config))
        extra = {"kube_config_path": str(path)}
    else:
        extra = {"kube_config": json.dumps(config)}
    monkeypatch.setenv("AIRFLOW_CONN_K8S_CANARY", json.dumps({"conn_type": "kubernetes", "extra": extra}))
    op = make_operator(kubernetes_conn_id="k8s_canary", arguments=["{{ params.config }}"])
    op.render_template_fields({"params": {"config": json.dumps(config)}})  # what the template would pull in
    assert TOKEN in op.arguments[0]  # the pod gets what the template says
    shown = redacted(op.arguments[0])  # Airflow's rendered fields, task log and UI
    assert TOKEN not in shown and KEY_DATA not in shown


def test_a_connection_that_cannot_be_read_before_rendering_does_not_fail_the_render(mocker):
    """Masking first is best effort: the hook fails the task later with the connection's own error."""
    from tests.unit.builders import make_operator

    mocker.patch.object(
        ComposerKubernetesHook, "mask_connection_credentials", side_effect=RuntimeError("secrets backend down")
    )
    op = make_operator(arguments=["{{ params.day }}"])
    op.render_template_fields({"params": {"day": "2024-05-01"}})
    assert op.arguments == ["2024-05-01"]
