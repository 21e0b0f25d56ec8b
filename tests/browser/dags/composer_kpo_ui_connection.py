"""A task on the connection the browser suite creates through the UI's form (tests/browser).

The connection ``kubernetes_composer_ui`` does not exist until the suite saves it; the DAG only
parses without it.
"""

from __future__ import annotations

import datetime

from airflow import DAG

from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="composer_kpo_ui_connection",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["composer-kpo-tests"],
):
    ComposerPodOperator(
        task_id="pod",
        name="ui-connection",
        image="busybox:1.36",
        cmds=["echo"],
        arguments=["reached through the connection saved in the form"],
        kubernetes_conn_id="kubernetes_composer_ui",
    )
