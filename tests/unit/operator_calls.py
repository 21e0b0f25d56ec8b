"""Calls into the operator as upstream's own code makes them, shared by the operator's unit tests."""

from __future__ import annotations

from typing import Any


def cleanup_while(op: Any, pod: Any, error: BaseException) -> BaseException:
    """Call cleanup as upstream's ``finally`` does while ``error`` propagates; return what escaped."""
    try:
        try:
            raise error
        finally:
            op.cleanup(pod, pod)
    except BaseException as escaped:  # the test inspects whatever escaped
        return escaped
    raise AssertionError("nothing escaped cleanup")
