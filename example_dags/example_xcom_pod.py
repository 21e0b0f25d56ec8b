"""Pass a value from one pod to the next with XCom.

What it shows
    With ``do_xcom_push=True`` the operator adds a small sidecar container, and when the main
    container ends it reads ``/airflow/xcom/return.json`` (JSON) and pushes it as the task's
    XCom. A downstream task reads it with a template.

Composer versions
    Composer 2 and 3.

Before you run it
    Nothing to create. The sidecar image is ``alpine`` unless the connection's extra
    ``xcom_sidecar_container_image`` names another; on a cluster without internet access set it
    to an image the nodes already have.

What to expect
    ``produce`` pushes ``{"rows": 42, "table": "sales"}``; ``consume`` prints
    "received 42 rows for sales". Both succeed.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

# Both pods are small; the XCom sidecar brings its own (tiny) requests.
RESOURCES = k8s.V1ResourceRequirements(requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"})

with DAG(
    dag_id="composer_kpo_xcom",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    produce = ComposerPodOperator(
        task_id="produce",
        name="produce",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=[
            "mkdir -p /airflow/xcom\n"
            """echo '{"rows": 42, "table": "sales"}' > /airflow/xcom/return.json"""
        ],
        do_xcom_push=True,
        container_resources=RESOURCES,
    )
    consume = ComposerPodOperator(
        task_id="consume",
        name="consume",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=[
            "echo \"received {{ ti.xcom_pull(task_ids='produce')['rows'] }} rows "
            "for {{ ti.xcom_pull(task_ids='produce')['table'] }}\""
        ],
        container_resources=RESOURCES,
    )
    produce >> consume
