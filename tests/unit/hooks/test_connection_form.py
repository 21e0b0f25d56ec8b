"""The "Kubernetes (Cloud Composer)" connection form, as Airflow's ProvidersManager serves it to the UI.

Airflow 2 builds it from the hook's methods (Flask AppBuilder widgets); Airflow 3.1 too, with Flask
AppBuilder and wtforms mocked by the API server (GET /ui/connections/hook_meta); Airflow 3 after 3.1
(apache/airflow#60410) from the provider info's conn-fields / ui-field-behaviour. All come from
hooks/connection_form.py. This runs in every locked environment, so each mechanism is checked on the
versions that use it.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS
from airflow_provider_composer_kpo.hooks.connection_form import FIELDS, HIDDEN_FIELDS
from tests.interpreter import run_python

PREFIX = "extra__composer_kubernetes__"


def providers_manager_builds_the_form() -> bool:
    """Whether ProvidersManager itself has the form: on Airflow 2 and on Airflow 3 after 3.1 (the
    provider info's conn-fields) always; on 3.1 only where Flask AppBuilder is installed, because there
    it calls the hook's get_connection_form_widgets(), and only the API server mocks FAB for that."""
    from airflow.providers_manager import ProvidersManager

    if not AIRFLOW_V_3_PLUS or hasattr(ProvidersManager, "iter_connection_type_hook_ui_metadata"):
        return True
    return importlib.util.find_spec("flask_appbuilder") is not None


needs_form_in_providers_manager = pytest.mark.skipif(
    not providers_manager_builds_the_form(),
    reason="Airflow 3.1 without Flask AppBuilder: only the API server builds the form "
    "(test_the_airflow_3_ui_serves_the_form)",
)


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    manager.hooks  # noqa: B018 - loads the connection types
    return manager


def test_the_connection_type_is_offered_by_name(providers):
    assert "composer_kubernetes" in providers.hooks
    hook = providers.hooks["composer_kubernetes"]
    assert hook is not None and hook.hook_name == "Kubernetes (Cloud Composer)"


@needs_form_in_providers_manager
def test_the_form_has_our_fields_and_hides_the_standard_ones(providers):
    widgets = {name: info for name, info in providers.connection_form_widgets.items() if name.startswith(PREFIX)}
    assert sorted(widgets) == sorted(PREFIX + field.name for field in FIELDS)
    for field in FIELDS:
        info = widgets[PREFIX + field.name]
        assert getattr(info, "is_sensitive", field.secret) == field.secret, field.name
    behaviour = providers.field_behaviours["composer_kubernetes"]
    assert behaviour["hidden_fields"] == list(HIDDEN_FIELDS)
    placeholders = {name.replace(PREFIX, ""): text for name, text in behaviour["placeholders"].items()}
    assert placeholders == {field.name: field.placeholder for field in FIELDS if field.placeholder}
    assert placeholders["kube_config_path"] == "empty: Composer's /home/airflow/composer_kube_config"


def test_what_a_placeholder_says_is_also_in_the_description():
    # Airflow 3's form shows placeholders of standard fields only; the description is shown by both.
    for field in FIELDS:
        if field.placeholder:
            assert field.description, field.name
    context = next(field for field in FIELDS if field.name == "cluster_context")
    assert context.description == "Empty: the kubeconfig's current context."


@needs_form_in_providers_manager
def test_labels_reach_the_form(providers):
    labels = {}
    for name, info in providers.connection_form_widgets.items():
        if name.startswith(PREFIX):
            field = info.field
            if isinstance(field, dict):  # Airflow 3: a JSON schema
                labels[info.field_name] = field["schema"]["title"]
            else:  # Airflow 2: a wtforms field
                labels[info.field_name] = str(field.args[0])
    assert labels == {field.name: field.label for field in FIELDS}


#: What Airflow 3's API server answers GET /ui/connections/hook_meta with, for our connection type.
#: In a process of its own: Airflow 3.1 builds it by importing the hooks with Flask AppBuilder and
#: wtforms mocked, in the ProvidersManager singleton, which no other test may have initialised first.
HOOK_META = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
meta = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "composer_kubernetes"]
print("HOOK_META " + json.dumps([m.model_dump(mode="json") for m in meta]))
"""


@pytest.mark.skipif(not AIRFLOW_V_3_PLUS, reason="Airflow 3's UI (Airflow 2's form is the ProvidersManager's)")
def test_the_airflow_3_ui_serves_the_form():
    # On 3.1 this is the hook's get_connection_form_widgets() under mocked FAB (the provider info's
    # conn-fields are not read there), on later releases the conn-fields: both must give the same form.
    result = run_python("-c", HOOK_META, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("HOOK_META "))
    [meta] = json.loads(line.removeprefix("HOOK_META "))
    assert meta["hook_name"] == "Kubernetes (Cloud Composer)"
    extra = meta["extra_fields"] or {}
    assert sorted(extra) == sorted(field.name for field in FIELDS)
    for field in FIELDS:
        schema = extra[field.name]["schema"]
        assert schema["title"] == field.label, field.name
        assert schema["type"] == ["boolean" if field.boolean else "string", "null"], field.name
        assert (schema.get("format") == "password") == field.secret, field.name
        assert extra[field.name]["description"] == (field.description or None), field.name
    standard = meta["standard_fields"]
    for name in ("host", "url_schema", "login", "password", "port"):
        assert standard[name]["hidden"], name
