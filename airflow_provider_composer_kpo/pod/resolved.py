"""What resolving a parameter that has an old form returns: the value, and the warning the old form earns.

The rules under ``pod/`` judge and never warn or raise: the operator's argument module
(``operators/arguments.py``) issues the warning, so that it names the DAG file's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A parameter's value, and the deprecation message to warn with (None when the DAG used the current form)."""

    value: T
    deprecation: str | None = None
