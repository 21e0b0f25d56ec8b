"""A kubeconfig's credentials are masked on the real deployment: a connection holding the local
cluster's kubeconfig inline, a pod task that uses it, a task that prints the whole connection, and
a task whose inline kubeconfig does not parse; the canaries appear in no task log, and the printed
connection shows Airflow's mask instead.

The DAG (tests/faults/dags/composer_kpo_canary.py) runs while the fault cases do (the ``outcomes``
fixture starts it first, tests/faults/canary.py), so it adds no time to the suite.
"""

from __future__ import annotations

import json

from tests.faults.canary import TASKS, TOKEN
from tests.faults.dags.composer_kpo_canary import DAG_ID


def test_a_kubeconfigs_credentials_reach_no_task_log(canary_run, outcomes):
    states = canary_run.finished()
    assert states == {"pod": "success", "broken": "failed", "print_connection": "success"}
    logs = {task: canary_run.log_text(task) for task in TASKS}
    for task, text in logs.items():
        assert text, f"no log for {task}"
        for canary in (canary_run.key_data, canary_run.key_line, TOKEN):
            assert canary not in text, f"{task}'s log shows a credential"
    printed = logs["print_connection"]
    assert "extra:" in printed and "***" in printed, "the printed connection must show the mask"
    assert "the pod ran" in logs["pod"]
    assert "extra 'kube_config'" in logs["broken"] and "is not valid YAML" in logs["broken"]


def test_no_credential_in_the_rendered_fields_or_task_instance(canary_run, outcomes):
    canary_run.finished()
    for task in TASKS:
        answer = json.dumps(canary_run.airflow.task_instance(DAG_ID, canary_run.run_id, task))
        assert canary_run.key_data not in answer and TOKEN not in answer, task
