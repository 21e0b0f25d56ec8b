"""Runs on the local cluster once migrated: an Airflow 1.10-era stock KPO task, contrib imports and all."""

from airflow import models
from airflow.contrib.operators import kubernetes_pod_operator
from airflow.utils.dates import days_ago

with models.DAG(
    dag_id="corpus_contrib_pod",
    schedule_interval=None,
    start_date=days_ago(1),
) as dag:
    hello = kubernetes_pod_operator.KubernetesPodOperator(
        task_id="hello",
        name="hello",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=["set -e\necho 'migrated pod says hello on {{ ds }}'"],
        # Composer 2's sample read the kubeconfig from airflow.cfg.
        config_file="{{ conf.get('core', 'kube_config') }}",
        resources={"request_memory": "32Mi", "request_cpu": "50m", "limit_memory": "64Mi"},
        is_delete_operator_pod=True,
        startup_timeout_seconds=300,
    )
