"""A kubeconfig's credentials are masked on the real deployment: a connection holding the local
cluster's kubeconfig inline, a pod task that uses it, a task that prints the whole connection, and
a task whose inline kubeconfig does not parse; the canaries appear in no task log, and the printed
connection shows Airflow's mask instead.

The DAG (tests/faults/dags/composer_kpo_canary.py) runs while the fault cases do (the ``outcomes``
fixture starts it first, tests/faults/canary.py), so it adds no time to the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.faults.canary import TASKS, TOKEN
from tests.faults.dags.composer_kpo_canary import CANARY_CONN, DAG_ID
from tests.faults.driver import quote_run_id

# Without it `make test`'s `-m faults` deselected these tests: they ran only when run by hand.
pytestmark = pytest.mark.faults


def test_a_kubeconfigs_credentials_reach_no_task_log(canary_run, outcomes):
    states = canary_run.finished()
    assert states == {
        "pod": "success",
        "deferred": "success",
        "templated": "success",
        "broken": "failed",
        "print_connection": "success",
    }
    logs = {task: canary_run.log_text(task) for task in TASKS}
    for task, text in logs.items():
        assert text, f"no log for {task}"
        for canary in (canary_run.key_data, canary_run.key_line, TOKEN):
            assert canary not in text, f"{task}'s log shows a credential"
    printed = logs["print_connection"]
    assert "extra:" in printed and "***" in printed, "the printed connection must show the mask"
    assert "the pod ran" in logs["pod"]
    assert "Resumed: pod" in logs["deferred"]  # its trigger's log is among its files
    assert "extra 'kube_config'" in logs["broken"] and "is not valid YAML" in logs["broken"]


def test_no_credential_in_the_rendered_fields_or_task_instance(canary_run, outcomes):
    canary_run.finished()
    for task in TASKS:
        answer = json.dumps(canary_run.airflow.task_instance(DAG_ID, canary_run.run_id, task))
        assert canary_run.key_data not in answer and TOKEN not in answer, task
    # `{{ conn.<id>.extra }}` in a field: stored (the UI's Rendered Template) with the mask in place.
    rendered = canary_run.airflow.task_instance(DAG_ID, canary_run.run_id, "templated")["rendered_fields"]
    assert "CONNECTION_EXTRA" in json.dumps(rendered) and "***" in json.dumps(rendered), rendered


def test_no_credential_in_an_xcom_or_airflow_tasks_render(canary_run, outcomes):
    canary_run.finished()
    run = quote_run_id(canary_run.run_id)
    for task in TASKS:
        entries = canary_run.airflow.request("GET", f"/dags/{DAG_ID}/dagRuns/{run}/taskInstances/{task}/xcomEntries")
        for entry in entries["xcom_entries"]:
            key = entry["key"]
            value = canary_run.airflow.request(
                "GET", f"/dags/{DAG_ID}/dagRuns/{run}/taskInstances/{task}/xcomEntries/{key}"
            )
            text = json.dumps(value)
            assert canary_run.key_data not in text and TOKEN not in text, (task, key)
    xcom = canary_run.airflow.request("GET", f"/dags/{DAG_ID}/dagRuns/{run}/taskInstances/deferred/xcomEntries")
    assert "return_value" in {entry["key"] for entry in xcom["xcom_entries"]}  # the check saw a real XCom
    # The CLI renders the task's templates in a process of its own, with the deployment's settings.
    # It prints what they produce, unmasked: "templated" puts the connection in a field on purpose.
    for task in ("pod", "deferred", "broken"):
        rendered = subprocess.run(
            [sys.executable, "-m", "airflow", "tasks", "render", DAG_ID, task, canary_run.run_id],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert rendered.returncode == 0, rendered.stderr[-2000:]
        shown = rendered.stdout + rendered.stderr
        assert "busybox:1.36" in shown, shown[-2000:]  # it rendered the task
        assert canary_run.key_data not in shown and canary_run.key_line not in shown and TOKEN not in shown, task


def test_no_credential_in_the_trigger_table(canary_run, outcomes):
    """The deferred task's trigger row, read from the database while it ran, holds the connection's id
    and the pod's name, never the kubeconfig: not in its keywords, not in the stored column."""
    canary_run.finished()
    rows = canary_run.trigger_rows
    ours = [(kwargs, stored) for kwargs, stored in rows if kwargs.get("kubernetes_conn_id") == CANARY_CONN]
    assert ours, "the deferred task's trigger row was never seen"
    for kwargs, stored in ours:
        text = json.dumps(kwargs, default=str) + stored
        for canary in (canary_run.key_data, canary_run.key_line, TOKEN):
            assert canary not in text, kwargs
