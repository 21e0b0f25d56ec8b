"""The "Kubernetes (Cloud Composer)" connection form, as Airflow's ProvidersManager serves it to the UI.

Airflow 2 builds it from the hook's methods (Flask AppBuilder widgets), Airflow 3 from the provider
info's conn-fields / ui-field-behaviour; both come from hooks/connection_form.py. This runs in every
locked environment, so each mechanism is checked on the versions that use it.
"""

from __future__ import annotations

import pytest

from airflow_provider_composer_kpo.hooks.connection_form import FIELDS, HIDDEN_FIELDS

PREFIX = "extra__composer_kubernetes__"


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
