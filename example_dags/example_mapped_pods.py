"""One pod per item: dynamic task mapping with ``.partial(...).expand(arguments=[...])``.

What it shows
    ``ComposerPodOperator.partial(...)`` takes what every pod shares (image, command, resources,
    environment); ``.expand(arguments=[...])`` makes one mapped task instance, and so one pod,
    per item of the list. Each runs, retries and logs on its own (Grid view: the task's mapped
    instances), and a failed item fails only its own map index. ``max_active_tis_per_dag`` caps
    how many of the pods run at once. The list may also come from an upstream task, e.g.
    ``.expand(arguments=list_tables.output)`` with a task that pushes a list of argument lists.
    The operator's checks run for each mapped instance when it starts, on its rendered arguments.

Composer versions
    Composer 2 and 3 (dynamic task mapping needs Airflow 2.3 or newer).

Before you run it
    Nothing to create.

What to expect
    Three pods, one per table, at most two at a time; each prints its own line, e.g. "exported
    orders for 2024-06-01" (the run's logical date), and the task succeeds with all three.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

TABLES = ["orders", "customers", "payments"]

with DAG(
    dag_id="composer_kpo_mapped",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator.partial(
        task_id="export-table",
        name="export-table",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        # Shared by every pod, and templated as usual.
        env_vars={"DAY": "{{ ds }}"},
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
        max_active_tis_per_dag=2,
    ).expand(
        # One argument list per pod: three tables, three pods.
        arguments=[[f'echo "exported {table} for $DAY"'] for table in TABLES],
    )
