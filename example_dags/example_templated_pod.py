"""Jinja templates in arguments and environment variables: run dates, params and Variables.

What it shows
    ``cmds``, ``arguments`` and ``env_vars`` are templated, as in upstream's
    KubernetesPodOperator: ``{{ ds }}`` is the run's logical date, ``{{ params.greeting }}`` a DAG
    parameter a run can override, ``{{ var.value.my_value }}`` an Airflow Variable. The shell
    script is checked for ``set -e`` *after* rendering, so a templated script gets errexit like
    any other.

    ``config_file`` is templated too, but leave it to the operator: on Composer its default is the
    environment's own cluster, and a kubeconfig path read from a Variable would let anyone who may
    edit Variables choose the cluster your pods run on, with the worker's credentials.

Composer versions
    Composer 2 and 3.

Before you run it
    Create the Airflow Variable the pod reads (UI: Admin > Variables, or the CLI)::

        airflow variables set my_value "hello"

What to expect
    With ``my_value`` set: the pod prints the run date, the greeting and the value; the task
    succeeds. Trigger with ``{"greeting": "hi"}`` to change the greeting for one run. Without
    the Variable: the task fails before any pod is created, while rendering templates, with
    Airflow's "Variable my_value does not exist" (Airflow 2) or "Variable my_value not found"
    (Airflow 3).
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="composer_kpo_templated",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    params={"greeting": "good morning"},
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="ex-kube-templates",
        name="ex-kube-templates",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        # {{ ds }} is the run's logical date, YYYY-MM-DD; params come from the DAG or the run.
        arguments=['echo "run date {{ ds }}: {{ params.greeting }}, MY_VALUE=$MY_VALUE"'],
        # Fails the task at render time when the Variable does not exist.
        env_vars={"MY_VALUE": "{{ var.value.my_value }}"},
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
    )
