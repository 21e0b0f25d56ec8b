"""Jinja templates in arguments, environment variables and the kubeconfig path.

What it shows
    ``cmds``, ``arguments``, ``env_vars`` and ``config_file`` are templated, as in upstream's
    KubernetesPodOperator. The shell script is checked for ``set -e`` *after* rendering, so a
    templated script gets errexit like any other.

Before you run it
    Create the Airflow Variable the pod reads (UI: Admin > Variables, or the CLI)::

        airflow variables set my_value "hello"

    Optionally set ``composer_kube_config`` to another kubeconfig; unset, the template renders
    Composer's own ``/home/airflow/composer_kube_config``::

        airflow variables set composer_kube_config /path/to/kubeconfig

What to expect
    With ``my_value`` set: the pod prints the run date and the value; the task succeeds.
    Without it: the task fails before any pod is created, while rendering templates, with
    Airflow's "Variable my_value does not exist" (Airflow 2) or "Variable my_value not found"
    (Airflow 3).
"""

from __future__ import annotations

import datetime

from airflow import DAG

from airflow_provider_composer_kpo import COMPOSER_KUBECONFIG_PATH, ComposerPodOperator

with DAG(
    dag_id="composer_kpo_templated",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="ex-kube-templates",
        name="ex-kube-templates",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        # {{ ds }} is the run's logical date, YYYY-MM-DD.
        arguments=['echo "run date {{ ds }}, MY_VALUE=$MY_VALUE"'],
        # Fails the task at render time when the Variable does not exist.
        env_vars={"MY_VALUE": "{{ var.value.my_value }}"},
        # A templated kubeconfig path; an explicit config_file always wins over the defaults.
        config_file="{{ var.value.get('composer_kube_config', '" + COMPOSER_KUBECONFIG_PATH + "') }}",
    )
