"""A kubeconfig's credentials never reach a task log (tests/faults/test_secrets_masked.py).

The connection ``composer_kpo_canary`` holds the local cluster's kubeconfig inline (the form's
"Kube config (JSON format)" field), its private key the canary; ``composer_kpo_canary_broken``
holds a kubeconfig that does not parse, with a canary token in it. The test creates both through
the REST API before it triggers the DAG.
"""

from __future__ import annotations

import datetime
import json
import logging

from airflow import DAG

from airflow_provider_composer_kpo import ComposerKubernetesHook, ComposerPodOperator
from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS

try:  # Airflow 3
    from airflow.sdk import task
except ImportError:
    from airflow.decorators import task  # type: ignore[no-redef]

DAG_ID = "composer_kpo_canary"
CANARY_CONN = "composer_kpo_canary"
BROKEN_CONN = "composer_kpo_canary_broken"
NAMESPACE = f"composer-kpo-faults-af{3 if AIRFLOW_V_3_PLUS else 2}"

with DAG(DAG_ID, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False, tags=["composer-kpo-test"]):
    ComposerPodOperator(
        task_id="pod",
        kubernetes_conn_id=CANARY_CONN,
        namespace=NAMESPACE,
        image="busybox:1.36",
        cmds=["sh", "-c", "echo the pod ran"],
    )
    ComposerPodOperator(  # deferred: the trigger loads the connection in the triggerer; an XCom
        task_id="deferred",
        kubernetes_conn_id=CANARY_CONN,
        namespace=NAMESPACE,
        image="busybox:1.36",
        # Long enough for the test to find its trigger's row in the database.
        cmds=["sh", "-c", 'sleep 15; mkdir -p /airflow/xcom; echo \'{"ran": "deferred"}\' > /airflow/xcom/return.json'],
        do_xcom_push=True,
        deferrable=True,
    )
    ComposerPodOperator(  # a template that puts the whole connection into a field, as a careless DAG does
        task_id="templated",
        kubernetes_conn_id=CANARY_CONN,
        namespace=NAMESPACE,
        image="busybox:1.36",
        env_vars={"CONNECTION_EXTRA": "{{ conn." + CANARY_CONN + ".extra }}"},
        cmds=["sh", "-c", "echo the templated pod ran"],
    )
    ComposerPodOperator(
        task_id="broken",
        kubernetes_conn_id=BROKEN_CONN,
        namespace=NAMESPACE,
        image="busybox:1.36",
        cmds=["sh", "-c", "echo never"],
    )

    @task(task_id="print_connection")
    def print_connection() -> None:
        """What a careless DAG does: load the connection through the hook, then print all of it."""
        hook = ComposerKubernetesHook(conn_id=CANARY_CONN)
        hook.get_conn()
        connection = hook.get_connection(CANARY_CONN)
        print("extra:", connection.extra)
        logging.getLogger(__name__).info("extra_dejson: %s", json.dumps(connection.extra_dejson))
        logging.getLogger(__name__).info("configuration: %s", vars(hook.get_conn().configuration))

    print_connection()
