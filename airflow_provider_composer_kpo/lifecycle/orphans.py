"""A pod whose task's final try died with its worker: nobody follows it, nobody deletes it.

A worker killed mid-task (SIGKILL, its node gone, a warm shutdown cut short) runs none of the task's
cleanup, and on the final try no retry comes to reattach: the pod runs on, then stays. Airflow still
notices the missing heartbeat and runs the task's failure callback elsewhere (the DAG processor);
ComposerPodOperator adds one (operators/orphan_cleanup.py) that deletes that task instance's pods.
These are its pure rules.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence


def orphans_to_clean(*, cleaned_up_here: bool, try_number: int | None, max_tries: int | None) -> bool:
    """Return True if the failure callback is to look for the task instance's pods and delete them.

    ``cleaned_up_here``: the callback runs in the process that ran the try, which already deleted or
    kept its pod by ``on_finish_action``. Otherwise only the final try's pods are orphans: after an
    earlier try, the retry reattaches to the running pod. Airflow 3 runs the failure callback after a
    heartbeat timeout whether or not a retry follows, hence the try arithmetic (Airflow's own:
    a try may retry while ``try_number <= max_tries``). Without the numbers, the caller is Airflow 2,
    which calls the failure callback only when no retry follows.
    """
    if cleaned_up_here:
        return False
    if try_number is None or max_tries is None:
        return True
    return try_number > max_tries


def tries_selector(task_instance_selector: str, try_number: int) -> str:
    """Narrow a task instance's label selector to its pods of tries 1 to ``try_number``.

    A pod reattached to by a later try keeps its first try's label; a pod of a try started after
    a clear (a higher number) belongs to work still going, and is left alone.
    """
    tries = ",".join(str(n) for n in range(1, max(try_number, 1) + 1))
    return f"{task_instance_selector},try_number in ({tries})"


Callback = Callable[[Any], Any]


class ChainedCallbacks:
    """Several callbacks as one, each guarded as Airflow guards them (for Airflow 2.5: one callable only)."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def __call__(self, context: Any) -> None:
        for callback in self.callbacks:
            try:
                callback(context)
            except Exception:  # Airflow's own rule: one failing callback does not stop the next
                logging.getLogger(__name__).exception("Error in the failure callback %r", callback)


def with_callback(user: Callback | Sequence[Callback] | None, ours: Callback, *, lists: bool) -> Any:
    """Return the task's failure callbacks: the user's first (they may read the pod), then ours.

    ``lists``: Airflow takes a list of callbacks (2.6 and later); 2.5 takes one callable.
    """
    chain = [*(user if isinstance(user, (list, tuple)) else [user] if user is not None else []), ours]
    if lists:
        return chain
    return chain[0] if len(chain) == 1 else ChainedCallbacks(chain)
