"""The pages a user opens show no kubeconfig credential (tests/browser, the canary steps).

The connection ``composer_kpo_ui_canary`` holds the local cluster's kubeconfig inline (the form's
"Kube config (JSON format)" field); the test creates it through the REST API before it triggers
the DAG. One pod task puts the whole connection into a templated field, as a careless DAG does; one
Python task prints it.
"""

from __future__ import annotations

import datetime
import json
import logging

from airflow import DAG

from airflow_provider_composer_kpo import ComposerKubernetesHook, ComposerPodOperator

try:  # Airflow 3
    from airflow.sdk import task
except ImportError:
    from airflow.decorators import task  # type: ignore[no-redef]

CANARY_CONN = "composer_kpo_ui_canary"

with DAG(
    dag_id="composer_kpo_ui_canary",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["composer-kpo-tests"],
):
    ComposerPodOperator(
        task_id="templated",
        name="ui-canary",
        image="busybox:1.36",
        env_vars={"CONNECTION_EXTRA": "{{ conn." + CANARY_CONN + ".extra }}"},
        cmds=["echo"],
        arguments=["the templated pod ran"],
        kubernetes_conn_id=CANARY_CONN,
    )

    @task(task_id="print_connection")
    def print_connection() -> None:
        """Load the connection through the hook, then print all of it."""
        hook = ComposerKubernetesHook(conn_id=CANARY_CONN)
        hook.get_conn()
        print("extra:", hook.get_connection(CANARY_CONN).extra)
        logging.getLogger(__name__).info("extra_dejson: %s", json.dumps(hook.get_connection(CANARY_CONN).extra_dejson))

    print_connection()
