"""The one value every rule returns: what is wrong with a pod or its task, and the fix.

The platform rules (:mod:`.platform.rules`) return findings about an operator parameter (``kind``
:data:`PARAMETER`); the preflight checks (:mod:`.preflight.checks`) return findings about a
cluster object the pod needs; ``composer-kpo check`` places findings at a line of a DAG file.
Nothing here imports Airflow or Kubernetes: the operator and the command share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ``Finding.kind`` of a finding about an operator parameter.
PARAMETER = "parameter"
#: Longest value shown in a finding; longer ones end in "...".
MAX_VALUE_CHARS = 120


@dataclass(frozen=True)
class Finding:
    """What is wrong with a pod or its task, an error (``fatal``: the pod would not start) or a warning, and the fix.

    ``kind`` is :data:`PARAMETER` for an operator parameter, else what ``name`` names: a cluster object
    ("Namespace", "Secret", "ConfigMap", "ServiceAccount"), a "Permission" (``name`` is "verb
    resource") or a "Node" (``name`` is the node selector); ``composer-kpo check`` adds "file",
    "import", "template variable" and "operator". ``value`` is a parameter's value as
    shown to people (see :func:`show`). ``namespace`` is an object's namespace ("" when
    cluster-wide); ``used_by`` says where the pod uses it. ``source`` is the URL or repository path a
    platform rule comes from, for the curious and for the docs. ``verified`` is False when the rule
    rests on something not read in Google's own documentation or code (a secondary summary, our
    inference): the platform rules log such findings at debug level and never show them to users.
    """

    kind: str
    name: str
    message: str
    fix: str
    fatal: bool = False
    value: str = ""
    namespace: str = ""
    used_by: str = ""
    source: str = ""
    verified: bool = True

    def __str__(self) -> str:
        if self.kind == PARAMETER:
            return f"{self.name}={self.value}: {self.message} Fix: {self.fix}"
        return self.describe()

    def describe(self, *, namespace_shown: str = "") -> str:
        """Return the finding about an object in one line; its namespace only if not ``namespace_shown``.

        A report whose header names the pod's namespace passes it, so that a line repeats a namespace
        only when it is another one.
        """
        where = f" in namespace {self.namespace!r}" if self.namespace not in ("", namespace_shown) else ""
        used_by = f"; used by {self.used_by}" if self.used_by else ""
        return f"{self.kind} {self.name!r}{where}: {self.message}{used_by}; fix: {self.fix}"


def show(value: Any) -> str:
    """Return ``value`` in one short line: strings quoted, Kubernetes models as dicts without unset fields."""
    text = repr(_plain(value))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict") and hasattr(value, "openapi_types"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
