"""Arguments upstream KubernetesPodOperator accepts that have no effect in the task's mode.

Upstream takes them silently; the task then behaves as if they were not there. We warn at DAG
parse time, naming the argument, the mode and what happens instead.

====================  ===========  ============================================================
argument              mode         why it has no effect
====================  ===========  ============================================================
``logging_interval``  deferrable   ComposerPodTrigger writes the pod's log once, on resume
``logging_interval``  synchronous  the task streams the log as the pod writes it
``trigger_kwargs``    deferrable   ComposerPodTrigger takes no extra keywords
``poll_interval``     synchronous  only the trigger polls; the task follows the pod's watch
====================  ===========  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFERRABLE, SYNCHRONOUS = "deferrable", "synchronous"

#: (argument, mode) -> what happens instead.
UNHONOURED: dict[tuple[str, str], str] = {
    ("logging_interval", DEFERRABLE): (
        "ComposerPodTrigger does not wake the task to fetch logs: the pod's log is written once, "
        "in order, when the task resumes"
    ),
    ("logging_interval", SYNCHRONOUS): "a synchronous task streams the pod's log as it is written",
    ("trigger_kwargs", DEFERRABLE): "ComposerPodTrigger takes no extra keywords",
    ("poll_interval", SYNCHRONOUS): (
        "only the deferrable trigger polls; a synchronous task follows the pod through the watch API"
    ),
}


def unhonoured_arguments(arguments: Mapping[str, Any], *, deferrable: bool, task_id: str) -> list[str]:
    """Return one message per argument given (not None) that has no effect in the task's mode."""
    mode = DEFERRABLE if deferrable else SYNCHRONOUS
    return [
        f"Task {task_id!r}: {name}={arguments[name]!r} has no effect with deferrable={deferrable}: {why}. Remove it."
        for (name, in_mode), why in UNHONOURED.items()
        if in_mode == mode and arguments.get(name) is not None
    ]
