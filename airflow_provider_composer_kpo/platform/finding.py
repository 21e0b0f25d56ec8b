"""The one value every platform rule returns: what the platform will do to a parameter, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Longest value shown in a finding; longer ones end in "...".
MAX_VALUE_CHARS = 120


@dataclass(frozen=True)
class Finding:
    """A parameter Composer or GKE will change, ignore or refuse, with what to do instead.

    ``value`` is the parameter's value as shown to people (see :func:`show`); ``source`` is the URL
    or repository path the rule comes from, for the curious and for the docs. ``verified`` is False
    when the rule rests on something not read in Google's own documentation or code (a secondary
    summary, our inference): :func:`~.rules.platform_findings` logs such findings at debug level and
    never shows them to users.
    """

    parameter: str
    value: str
    message: str
    fix: str
    source: str = ""
    verified: bool = True

    def __str__(self) -> str:
        return f"{self.parameter}={self.value}: {self.message} Fix: {self.fix}"


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
