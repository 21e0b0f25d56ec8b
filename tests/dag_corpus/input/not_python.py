"""A DAG file someone broke: check says where, migrate leaves it alone."""

from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator

task = KubernetesPodOperator(task_id="broken", image="busybox:1.36"))
