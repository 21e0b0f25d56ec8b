"""Reading operator arguments that may be Kubernetes models, dicts or Jinja templates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

#: KPO's XCom sidecar; both Composer 3 and Google's patched PodManager expect this name.
XCOM_SIDECAR_NAME = "airflow-xcom-sidecar"
_TEMPLATE = re.compile(r"{{|{%")


def plain(value: Any) -> Any:
    """Return ``value`` with Kubernetes models turned into dicts (snake_case keys), recursively."""
    if hasattr(value, "to_dict") and hasattr(value, "openapi_types"):
        return value.to_dict()
    return value


def is_templated(value: Any) -> bool:
    """Return True if any string inside ``value`` is a Jinja template, known only once rendered."""
    value = plain(value)
    if isinstance(value, str):
        return bool(_TEMPLATE.search(value))
    if isinstance(value, Mapping):
        return any(is_templated(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_templated(item) for item in value)
    return False


def is_set(value: Any) -> bool:
    """Return True if ``value`` asks for something: not None, not empty, not a model with every field unset."""
    value = plain(value)
    if isinstance(value, Mapping):
        return any(is_set(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return value is not None and value != ""


def field(obj: Any, name: str, camel: str | None = None) -> Any:
    """Return field ``name`` of a Kubernetes model, or key ``name``/``camel`` of a dict."""
    if isinstance(obj, Mapping):
        return obj.get(name, obj.get(camel) if camel else None)
    return getattr(obj, name, None)


def quantity(value: Any) -> Decimal | None:
    """Return a Kubernetes quantity as a number, or None when unset or not a quantity."""
    if value is None or value == "":
        return None
    from kubernetes.utils import parse_quantity

    try:
        return Decimal(parse_quantity(value))
    except (ValueError, TypeError, ArithmeticError):
        return None
