"""Runs on the local cluster once migrated: an Airflow 1.10-era stock KPO task, contrib imports and all."""

from airflow import models
import pendulum
from kubernetes.client import models as k8s
from airflow_provider_composer_kpo import ComposerPodOperator

with models.DAG(
    dag_id="corpus_contrib_pod",
    schedule=None,
    start_date=pendulum.today("UTC").add(days=-1),
) as dag:
    hello = ComposerPodOperator(
        task_id="hello",
        name="hello",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=["set -e\necho 'migrated pod says hello on {{ ds }}'"],
        container_resources=k8s.V1ResourceRequirements(requests={"memory": "32Mi", "cpu": "50m"}, limits={"memory": "64Mi"}),
        on_finish_action="delete_pod",
        startup_timeout_seconds=300,
    )
