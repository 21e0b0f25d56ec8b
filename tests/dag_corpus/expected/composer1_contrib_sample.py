"""The shape of Cloud Composer 1's KubernetesPodOperator sample (Airflow 1.10, contrib imports)."""

import datetime

from airflow import models
from kubernetes.client import models as k8s
from airflow_provider_composer_kpo import ComposerPodOperator, Secret

secret_env = Secret(
    # Expose the secret as environment variable.
    deploy_type="env",
    deploy_target="SQL_CONN",
    secret="airflow-secrets",
    key="sql_alchemy_conn",
)
secret_volume = Secret(
    deploy_type="volume",
    deploy_target="/var/secrets/google",
    secret="service-account",
    key="service-account.json",
)

YESTERDAY = datetime.datetime.now() - datetime.timedelta(days=1)

with models.DAG(
    dag_id="composer_sample_kubernetes_pod",
    schedule=datetime.timedelta(days=1),
    start_date=YESTERDAY,
) as dag:
    kubernetes_min_pod = ComposerPodOperator(
        task_id="pod-ex-minimum",
        name="pod-ex-minimum",
        cmds=["echo"],
        namespace="default",
        image="gcr.io/gcp-runtimes/ubuntu_18_0_4",
    )
    kubernetes_template_ex = ComposerPodOperator(
        task_id="ex-kube-templates",
        name="ex-kube-templates",
        namespace="default",
        image="bash",
        cmds=["echo"],
        # DS in jinja is the execution date as YYYY-MM-DD.
        arguments=["{{ ds }} {{ logical_date }}"],
        env_vars={"MY_VALUE": "{{ var.value.my_value }}"},
    )
    kubernetes_secret_vars_ex = ComposerPodOperator(
        task_id="ex-kube-secrets",
        name="ex-kube-secrets",
        namespace="default",
        image="ubuntu",
        startup_timeout_seconds=300,
        secrets=[secret_env, secret_volume],
        env_vars={
            "EXAMPLE_VAR": "/example/value",
            "GOOGLE_APPLICATION_CREDENTIALS": "/var/secrets/google/service-account.json ",
        },
    )
    kubernetes_affinity_ex = ComposerPodOperator(
        task_id="ex-pod-affinity",
        name="ex-pod-affinity",
        namespace="default",
        image="perl",
        cmds=["perl"],
        arguments=["-Mbignum=bpi", "-wle", "print bpi(2000)"],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "cloud.google.com/gke-nodepool",
                                    "operator": "In",
                                    "values": ["pool-0", "pool-1"],
                                }
                            ]
                        }
                    ]
                }
            }
        },
    )
    kubernetes_full_pod = ComposerPodOperator(
        task_id="ex-all-configs",
        name="pi",
        namespace="default",
        image="perl",
        cmds=["perl"],
        arguments=["-Mbignum=bpi", "-wle", "print bpi(2000)"],
        secrets=[],
        labels={"pod-label": "label-name"},
        startup_timeout_seconds=120,
        env_vars={"EXAMPLE_VAR": "/example/value"},
        get_logs=True,
        image_pull_policy="Always",
        annotations={"key1": "value1"},
        # Before cncf-kubernetes 5.0, resources were a dict.
        container_resources=k8s.V1ResourceRequirements(limits={"memory": "250M", "cpu": "100m"}),
        do_xcom_push=False,  # the Airflow 1 name
        on_finish_action="delete_pod",
        volumes=[],
        volume_mounts=[],
        affinity={},
    )
