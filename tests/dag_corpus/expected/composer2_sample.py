"""The shape of Cloud Composer 2's KubernetesPodOperator sample (Airflow 2, cncf-kubernetes before 10)."""

import datetime

from airflow import models
from airflow_provider_composer_kpo import ComposerPodOperator, Secret
from kubernetes.client import models as k8s_models

secret_env = Secret(
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
    dag_id="composer2_sample_kubernetes_pod",
    schedule=datetime.timedelta(days=1),
    start_date=YESTERDAY,
) as dag:
    kubernetes_min_pod = ComposerPodOperator(
        task_id="pod-ex-minimum",
        name="pod-ex-minimum",
        cmds=["echo"],
        namespace="composer-user-workloads",
        image="gcr.io/gcp-runtimes/ubuntu_20_0_4",
        kubernetes_conn_id="kubernetes_default",
    )
    kubenetes_template_ex = ComposerPodOperator(
        task_id="ex-kube-templates",
        name="ex-kube-templates",
        namespace="composer-user-workloads",
        image="bash",
        cmds=["echo"],
        arguments=["{{ ds }}", "{{ next_ds }}"],
        env_vars={"MY_VALUE": "{{ var.value.my_value }}"},
        kubernetes_conn_id="kubernetes_default",
    )
    kubernetes_secret_vars_ex = ComposerPodOperator(
        task_id="ex-kube-secrets",
        name="ex-kube-secrets",
        namespace="composer-user-workloads",
        image="gcr.io/gcp-runtimes/ubuntu_20_0_4",
        startup_timeout_seconds=300,
        secrets=[secret_env, secret_volume],
        env_vars={
            "EXAMPLE_VAR": "/example/value",
            "GOOGLE_APPLICATION_CREDENTIALS": "/var/secrets/google/service-account.json ",
        },
        env_from=[
            k8s_models.V1EnvFromSource(config_map_ref=k8s_models.V1ConfigMapEnvSource(name="app-settings")),
        ],
        kubernetes_conn_id="kubernetes_default",
    )
    kubernetes_full_pod = ComposerPodOperator(
        task_id="ex-all-configs",
        name="pi",
        namespace="composer-user-workloads",
        image="perl:5.34.0",
        cmds=["perl"],
        arguments=["-Mbignum=bpi", "-wle", "print bpi(2000)"],
        labels={"pod-label": "label-name"},
        startup_timeout_seconds=120,
        env_vars={"EXAMPLE_VAR": "/example/value"},
        get_logs=True,
        image_pull_policy="Always",
        annotations={"key1": "value1"},
        container_resources=k8s_models.V1ResourceRequirements(
            requests={"cpu": "1000m", "memory": "10G", "ephemeral-storage": "10G"},
            limits={"cpu": "1000m", "memory": "10G", "ephemeral-storage": "10G"},
        ),
        node_selector={"cloud.google.com/compute-class": "Performance"},
        tolerations=[
            k8s_models.V1Toleration(key="dedicated", operator="Equal", value="batch", effect="NoSchedule"),
        ],
        on_finish_action="keep_pod",
        do_xcom_push=False,
        kubernetes_conn_id="kubernetes_default",
    )
