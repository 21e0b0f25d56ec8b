"""Nothing to report: ComposerPodOperator with Composer's defaults, on any target."""

import pendulum
from airflow import DAG
from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="clean_composer",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    ComposerPodOperator(
        task_id="hello",
        image="busybox:1.36",
        cmds=["sh", "-c", "set -e\necho hello {{ ds }}"],
    )
