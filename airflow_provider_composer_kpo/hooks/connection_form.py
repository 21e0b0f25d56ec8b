"""The "Kubernetes (Cloud Composer)" connection form: its fields, placeholders and hidden fields, once.

Airflow 2 builds the form from the hook's ``get_connection_form_widgets`` / ``get_ui_field_behaviour``,
and so does Airflow 3.1 (its API server mocks Flask AppBuilder and wtforms for that call); Airflow 3
after 3.1 (no Flask AppBuilder) reads the provider info's ``conn-fields`` / ``ui-field-behaviour``.
Both are made from :data:`FIELDS` here, and the hook keeps its methods on every Airflow. Airflow 3's
form shows no placeholder in an extra field, so every field with one also says it in its
description, which both forms show. Pure data: ``get_provider_info`` imports this module while
Airflow loads its configuration, so it imports nothing from Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..platform.composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE

#: The standard fields a Kubernetes connection does not use.
HIDDEN_FIELDS = ("host", "schema", "login", "password", "port", "extra")


@dataclass(frozen=True)
class FormField:
    """One extra of the connection (stored under ``name``, without the ``extra__...__`` prefix)."""

    name: str
    label: str
    boolean: bool = False
    secret: bool = False
    placeholder: str = ""
    description: str = ""


FIELDS = (
    FormField("in_cluster", "In cluster configuration", boolean=True,
              description="Use the service account of the pod Airflow runs in (not on Composer)."),
    FormField("kube_config_path", "Kube config path", placeholder=f"empty: Composer's {COMPOSER_KUBECONFIG_PATH}",
              description="A kubeconfig file on the workers. Empty: the package's rule (Composer's own kubeconfig)."),
    FormField("kube_config", "Kube config (JSON format)", secret=True,
              description="A whole kubeconfig, as JSON. Stored encrypted; never shown in logs."),
    FormField("namespace", "Namespace", placeholder=COMPOSER_USER_WORKLOADS_NAMESPACE,
              description="Default namespace of the pods; Composer 3 runs every pod in composer-user-workloads."),
    FormField("cluster_context", "Cluster context", placeholder="the kubeconfig's current context",
              description="Empty: the kubeconfig's current context."),
    FormField("disable_verify_ssl", "Disable SSL", boolean=True),
    FormField("disable_tcp_keepalive", "Disable TCP keepalive", boolean=True),
    FormField("xcom_sidecar_container_image", "XCom sidecar image", placeholder="alpine (upstream's default)",
              description="Image of the sidecar that reads /airflow/xcom/return.json (do_xcom_push=True). "
                          "Empty: alpine (upstream's default)."),
    FormField("xcom_sidecar_container_resources", "XCom sidecar resources (JSON format)",
              placeholder='{"requests": {"cpu": "1m", "memory": "10Mi"}}',
              description='For example {"requests": {"cpu": "1m", "memory": "10Mi"}}.'),
    FormField("xcom_sidecar_container_security_context", "XCom sidecar security context (JSON format)",
              placeholder='{"runAsNonRoot": true}', description='For example {"runAsNonRoot": true}.'),
)  # fmt: skip


def conn_fields() -> dict[str, Any]:
    """Return the provider info's ``conn-fields`` (Airflow 3 after 3.1)."""
    fields = {}
    for field in FIELDS:
        schema: dict[str, Any] = {"type": ["boolean" if field.boolean else "string", "null"]}
        if field.secret:
            schema["format"] = "password"
        fields[field.name] = {"label": field.label, "schema": schema}
        if field.description:
            fields[field.name]["description"] = field.description
    return fields


def field_behaviour(*, kebab: bool) -> dict[str, Any]:
    """Return the hidden fields and placeholders: the provider info's ``ui-field-behaviour`` (``kebab``,
    Airflow 3 after 3.1) or the hook's ``get_ui_field_behaviour()`` (Airflow 2 and 3.1)."""
    return {
        "hidden-fields" if kebab else "hidden_fields": list(HIDDEN_FIELDS),
        "relabeling": {},
        "placeholders": {field.name: field.placeholder for field in FIELDS if field.placeholder},
    }


def form_widgets() -> dict[str, Any]:
    """Return the hook's ``get_connection_form_widgets()``: Airflow 2's Flask AppBuilder form, and
    Airflow 3.1's, whose API server calls it with Flask AppBuilder and wtforms mocked."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for field in FIELDS:
        label = lazy_gettext(field.label)
        if field.boolean:
            widgets[field.name] = BooleanField(label, description=field.description)
        elif field.secret:
            widgets[field.name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=field.description)
        else:
            widgets[field.name] = StringField(label, widget=BS3TextFieldWidget(), description=field.description)
    return widgets
