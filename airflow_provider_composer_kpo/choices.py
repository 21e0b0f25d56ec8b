"""Closed sets of string values for operator parameters, each checked with one message."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable


def closest(name: object, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (a typo of it, most likely), or None when none is close."""
    if not isinstance(name, str):
        return None
    close = difflib.get_close_matches(name, sorted(candidates), n=1)
    return close[0] if close else None


def did_you_mean(name: object, candidates: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the candidate closest to ``name``, or "" when none is close."""
    close = closest(name, candidates)
    return f" (did you mean {close!r}?)" if close else ""


class ParameterChoice(str, enum.Enum):
    """Base for a parameter's accepted values; subclasses name the parameter in :meth:`parameter`."""

    @classmethod
    def parameter(cls) -> str:
        raise NotImplementedError

    @classmethod
    def problem(cls, value: object) -> str | None:
        """Return what is wrong with ``value`` and the accepted values; None when it is one of them."""
        try:
            cls(value)
        except ValueError:
            accepted = ", ".join(repr(member.value) for member in cls)
            return f"{cls.parameter()}={value!r} is not one of {accepted}."
        return None
