"""Minimal pod: only a task id, a name and an image.

What it shows
    ``ComposerPodOperator`` needs no cluster settings on Composer: the kubeconfig
    (``/home/airflow/composer_kube_config``), the namespace (``composer-user-workloads``) and the
    connection (``kubernetes_default``, which may be absent) are its defaults, on every supported
    cncf-kubernetes version. The task log says which kubeconfig was used and why.

Before you run it
    Nothing to create. Off Composer, point the operator at a cluster with
    ``export COMPOSER_KPO_KUBECONFIG=/path/to/kubeconfig``.

What to expect
    The pod prints one line, which appears in the task log, and the task succeeds. The pod is
    deleted when the task ends (``on_finish_action="delete_pod"``).
"""

from __future__ import annotations

import datetime

from airflow import DAG

from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="composer_kpo_minimal",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="pod-ex-minimum",
        # The pod's name; a random suffix keeps retries and parallel runs apart.
        name="pod-ex-minimum",
        image="busybox:1.36",
        cmds=["echo"],
        arguments=["Hello from a pod on Cloud Composer"],
    )
