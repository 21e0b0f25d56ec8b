"""Run a pod without holding a worker slot: ``deferrable=True``.

What it shows
    With ``deferrable=True`` the worker creates the pod and hands it to Airflow's triggerer,
    which follows it until it ends; the worker slot is free meanwhile. The task resumes on a
    worker to write the pod's log, read its XCom and delete it. Everything the synchronous path
    checks still applies: ``set -e``, the preflight checks, and a pod that can never start fails
    within seconds naming the reason (here, an image name Kubernetes refuses). The DAG run's
    ``image`` (a template) picks the image.

Composer versions
    Composer 2 and 3.

Before you run it
    The environment needs a triggerer (Composer runs one; add one with
    ``gcloud composer environments update ... --triggerer-count 1`` if yours has none). Needs
    cncf-kubernetes 6.0 or newer: on 5.x ``deferrable=True`` is an error when the DAG is parsed.

What to expect
    Default run: ``crunch`` works for 20 s, prints "crunched 20 batches" and pushes
    ``{"batches": 20}``; ``report`` prints "report: 20 batches". Both succeed. Run with
    ``{"image": "Busybox:1.36"}`` (an upper-case letter): ``crunch`` fails within seconds with
    "cannot start: InvalidImageName" and the kubelet's words, as the synchronous path does.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

RESOURCES = k8s.V1ResourceRequirements(requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"})

with DAG(
    dag_id="composer_kpo_deferrable",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    crunch = ComposerPodOperator(
        task_id="crunch",
        name="crunch",
        image="{{ dag_run.conf.get('image', 'busybox:1.36') }}",
        cmds=["sh", "-c"],
        arguments=[
            "for i in $(seq 1 20); do echo batch $i; sleep 1; done\n"
            "echo crunched 20 batches\n"
            "mkdir -p /airflow/xcom\n"
            """echo '{"batches": 20}' > /airflow/xcom/return.json"""
        ],
        do_xcom_push=True,
        deferrable=True,
        container_resources=RESOURCES,
    )
    report = ComposerPodOperator(
        task_id="report",
        name="report",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=["echo \"report: {{ ti.xcom_pull(task_ids='crunch')['batches'] }} batches\""],
        deferrable=True,
        container_resources=RESOURCES,
    )
    crunch >> report
