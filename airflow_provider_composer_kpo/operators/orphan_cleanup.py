"""The failure callback ComposerPodOperator adds: delete the pods of a final try that died with its worker.

Airflow runs it where the task failed (the worker, after the operator's own cleanup: it does nothing
there) and, for a task whose worker died, in the DAG processor after the heartbeat timeout: there it
finds the task instance's pods by upstream's labels and deletes them as the try's cleanup would have
(``on_finish_action``, a stopped task's rule). The rules are lifecycle/orphans.py's.
"""

from __future__ import annotations

import logging
from typing import Any

from ..compat import AIRFLOW_V_3_PLUS
from ..kube.client import is_gone
from ..kube.retry import error_gist
from ..lifecycle.orphans import orphans_to_clean, tries_selector
from ..pod.finish_action import should_delete_pod

log = logging.getLogger(__name__)

#: Set on the operator by the process that ran (or resumed) the try: its cleanup handled the pod.
CLEANED_UP_HERE = "_try_cleaned_up_here"


class DeleteOrphanedPods:
    """Delete the pods a final try left running when its worker died (a failure callback)."""

    __name__ = "delete_orphaned_pods"  # how Airflow names a callback in its log

    def __call__(self, context: Any) -> None:
        task, ti = context["task"], context["ti"]
        try_number = int(ti.try_number)
        # Airflow 2 calls the failure callback only when no retry follows; 3 also after a heartbeat
        # timeout with retries left, hence the numbers there.
        if not orphans_to_clean(
            cleaned_up_here=bool(getattr(task, CLEANED_UP_HERE, False)),
            try_number=try_number if AIRFLOW_V_3_PLUS else None,
            max_tries=getattr(ti, "max_tries", None) if AIRFLOW_V_3_PLUS else None,
        ):
            return
        action = str(getattr(task.on_finish_action, "value", task.on_finish_action))
        if not should_delete_pod(action, None, task_stopped=True):
            return
        try:
            namespace = task.render_template(task.namespace, context) or task.hook.get_namespace() or "default"
            task.labels = task.render_template(task.labels, context)  # the DAG processor's task is unrendered
            selector = tries_selector(task._build_find_pod_label_selector(context, exclude_checked=True), try_number)
            pods = task.client.list_namespaced_pod(namespace, label_selector=selector).items
        except Exception as error:
            log.warning("Could not look for pods left by %s (try %s): %s", ti.task_id, try_number, error_gist(error))
            return
        for pod in pods:  # the stopped-task rule above holds whatever each pod's phase
            self._delete(task.client, pod, ti.task_id)

    @staticmethod
    def _delete(client: Any, pod: Any, task_id: str) -> None:
        place = f"{pod.metadata.namespace}/{pod.metadata.name}"
        try:
            client.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
        except Exception as error:
            if not is_gone(error):
                log.warning("Could not delete pod %s, left by task %s: %s", place, task_id, error_gist(error))
            return
        log.warning(
            "Deleted pod %s: task %s failed without its worker (no cleanup ran, no retry follows), "
            "so nothing would have stopped or deleted it.",
            place,
            task_id,
        )
