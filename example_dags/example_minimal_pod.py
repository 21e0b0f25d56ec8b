"""Minimal pod: a task id, a name, an image, and the resources it needs.

What it shows
    ``ComposerPodOperator`` needs no cluster settings on Composer: the kubeconfig
    (``/home/airflow/composer_kube_config``), the namespace (``composer-user-workloads``) and the
    connection (``kubernetes_default``, which may be absent) are its defaults, on every supported
    cncf-kubernetes version. The task log says which kubeconfig was used and why.
    ``container_resources`` is not required, but say it in every task: GKE Autopilot (Composer 2)
    bills what a pod requests and, when it requests nothing, sets 0.5 vCPU, 2 GiB of memory and
    1 GiB of ephemeral storage (the operator warns about that when the DAG is parsed); Composer 3
    sizes the VM that runs the pod from it.

Composer versions
    Composer 2 and 3 (and any cluster: off Composer the defaults still apply).

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
from kubernetes.client import models as k8s

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
        # A quarter of a vCPU, 512 MiB of memory, 1 GiB of scratch disk.
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
    )
