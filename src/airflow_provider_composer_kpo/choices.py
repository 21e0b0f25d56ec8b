"""Closed sets of string values for operator parameters, parsed with one error message."""

from __future__ import annotations

import enum
from typing import TypeVar

C = TypeVar("C", bound="ParameterChoice")


class ParameterChoice(str, enum.Enum):
    """Base for a parameter's accepted values; subclasses name the parameter in :meth:`parameter`."""

    @classmethod
    def parameter(cls) -> str:
        raise NotImplementedError

    @classmethod
    def parse(cls: type[C], value: object, *, task_id: str) -> C:
        """Return the member for ``value``, or raise an error naming the task and the accepted values."""
        try:
            return cls(value)
        except ValueError:
            from .exceptions import ComposerPodConfigError  # imports Airflow; `composer-kpo check` must not

            accepted = ", ".join(repr(member.value) for member in cls)
            raise ComposerPodConfigError(
                f"Task {task_id!r}: {cls.parameter()}={value!r} is not one of {accepted}."
            ) from None
