"""Static checks of operator arguments, run when the DAG file is parsed.

Upstream KubernetesPodOperator accepts almost anything and lets the API server reject it when
the task runs, after the worker slot is taken and often with a 422 that names a JSON path. Here
every value that is fixed in the DAG file (not a Jinja template) is checked at construction, and
the error names the task, the parameter, the value and what would be accepted. Templated values
are left to the API server, since their final form is only known at run time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kubernetes.client import models as k8s

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_POD_NAME_CHARS = re.compile(r"^[A-Za-z0-9_.-]+$")  # what upstream's validate_key accepts
_TEMPLATE = re.compile(r"{{|{%")
IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
MAX_POD_NAME = 220  # upstream's limit before it adds a random suffix


def static_argument_problems(arguments: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (parameter, what is wrong and the fix) for each static argument Kubernetes would reject.

    The operator refuses the first; ``composer-kpo check`` reports each.
    """
    for parameter in ("cmds", "arguments"):
        problem = _unclosed_jinja_comment(arguments.get(parameter), parameter)
        if problem:
            yield parameter, problem
    for parameter, check in _CHECKS.items():
        value = arguments.get(parameter)
        if value is None or _is_templated(value):
            continue
        problem = check(value)
        if problem:
            yield parameter, f"{parameter}={value!r} {problem}"


def _unclosed_jinja_comment(value: Any, parameter: str) -> str | None:
    """``cmds``/``arguments`` are Jinja templates: bash's ``${#VAR}`` opens a Jinja comment (``{#``)."""
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    for index, item in enumerate(items):
        if not isinstance(item, str) or "{% raw %}" in item:
            continue
        start = item.find("{#")
        if start >= 0 and "#}" not in item[start:]:
            return (
                f"{parameter}[{index}] contains '{{#' (as in bash's ${{#VAR}}), which Jinja "
                "reads as the start of a comment, so rendering fails. Wrap the script in "
                '{% raw %}...{% endraw %}, or count with $(printf %s "$VAR" | wc -c).'
            )
    return None


def _is_templated(value: Any) -> bool:
    return isinstance(value, str) and bool(_TEMPLATE.search(value))


def _string_list(value: Any) -> str | None:
    if isinstance(value, str):
        return f"is a string; pass a list of strings, e.g. [{value!r}] or ['sh', '-c', {value!r}]."
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return "must be a list of strings."
    return None


def _pod_name(value: Any) -> str | None:
    if not isinstance(value, str) or not value or len(value) > MAX_POD_NAME or not _POD_NAME_CHARS.match(value):
        return (
            f"is not a usable pod name: use up to {MAX_POD_NAME} letters, digits, '-', '_' or '.' "
            "(it is lower-cased and given a random suffix)."
        )
    return None


def _namespace(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        return (
            "is not a valid namespace: lowercase letters, digits and '-', at most 63 characters, "
            "starting and ending with a letter or digit (Composer uses 'composer-user-workloads')."
        )
    return None


def _dns_subdomain(what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
            return f"is not a valid {what}: lowercase letters, digits, '-' and '.', at most 253 characters."
        return None

    return check


def _label_key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return f"key {key!r} is not a string"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"key {key!r} has an invalid prefix (a DNS subdomain, e.g. 'example.com/')"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            f"key {key!r} is invalid: at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _label_value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"value {value!r} is not a string (quote numbers and booleans)"
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (
            f"value {value!r} is invalid: at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit; put free text in annotations"
        )
    return None


def _labels(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "must be a dict of label names to values."
    for key, item in value.items():
        problem = _label_key_problem(key) or (None if _is_templated(item) else _label_value_problem(item))
        if problem:
            return f"has a label whose {problem}."
    return None


def _annotations(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "must be a dict of annotation names to string values."
    for key, item in value.items():
        problem = _label_key_problem(key) or (None if isinstance(item, str) else f"value {item!r} is not a string")
        if problem:
            return f"has an annotation whose {problem}."
    return None


def _image(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must name an image, e.g. 'us-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG'."
    if value != value.strip() or any(c.isspace() for c in value):
        return "contains whitespace; an image reference has none."
    return None


def _image_pull_policy(value: Any) -> str | None:
    if value not in IMAGE_PULL_POLICIES:
        return f"is not one of {', '.join(map(repr, IMAGE_PULL_POLICIES))}."
    return None


def _non_negative_seconds(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "must be a whole number of seconds, 0 or more."
    return None


def _container_resources(value: Any) -> str | None:
    if isinstance(value, Mapping):
        # A key that is not a V1ResourceRequirements field (the pre-5.0 limit_memory) leaves it a dict.
        with contextlib.suppress(TypeError):
            value = k8s.V1ResourceRequirements(**value)
    if not isinstance(value, k8s.V1ResourceRequirements):
        return "must be a kubernetes.client.models.V1ResourceRequirements."
    parsed: dict[str, dict[str, Any]] = {}
    for field in ("requests", "limits"):
        for resource, quantity in (getattr(value, field) or {}).items():
            amount = _quantity(quantity)
            if amount is None:
                return (
                    f"has {field}[{resource!r}]={quantity!r}, which is not a Kubernetes quantity "
                    "(e.g. '500m', '2', '256Mi', '1Gi')."
                )
            parsed.setdefault(field, {})[resource] = amount
    for resource, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(resource)
        if limit is not None and request > limit:
            return f"requests more {resource} than its limit; a request must not exceed the limit."
    return None


def _quantity(value: Any) -> Any:
    from kubernetes.utils import parse_quantity

    try:
        return parse_quantity(value)
    except (ValueError, TypeError, ArithmeticError):
        return None


def _node_selector(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "must be a dict of node label names to values."
    for key, item in value.items():
        problem = _label_key_problem(key) or _label_value_problem(item)
        if problem:
            return f"has a node label whose {problem}."
    return None


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "image": _image,
    "name": _pod_name,
    "namespace": _namespace,
    "cmds": _string_list,
    "arguments": _string_list,
    "labels": _labels,
    "annotations": _annotations,
    "image_pull_policy": _image_pull_policy,
    "service_account_name": _dns_subdomain("service account name"),
    "node_selector": _node_selector,
    "container_resources": _container_resources,
    "termination_grace_period": _non_negative_seconds,
    "active_deadline_seconds": _non_negative_seconds,
}
