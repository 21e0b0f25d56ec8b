"""Kubernetes Secrets as an environment variable and as a mounted file.

What it shows
    ``Secret`` from this package works on every supported version (Airflow 3 removed
    ``airflow.kubernetes.secret``). One Secret key becomes ``$SQL_CONN``; another is mounted as
    ``/var/secrets/google/service-account.json``. The script checks both without printing them.

Before you run it
    Create the two Secrets in the pods' namespace.

    Composer 3 (Secrets are created through Composer from a YAML file, not with kubectl)::

        kubectl create secret generic airflow-secrets --from-literal=sql_alchemy_conn=VALUE \\
          --dry-run=client -o yaml > airflow-secrets.yaml
        gcloud beta composer environments user-workloads-secrets create \\
          --environment ENVIRONMENT --location LOCATION --secret-file-path airflow-secrets.yaml
        # likewise for service-account, with --from-file=service-account.json=./key.json

    Composer 2 or any cluster you reach with kubectl::

        kubectl create secret generic airflow-secrets -n composer-user-workloads \\
          --from-literal=sql_alchemy_conn=VALUE
        kubectl create secret generic service-account -n composer-user-workloads \\
          --from-file=service-account.json=./key.json

What to expect
    With both Secrets: the task succeeds and logs only the value's length.
    Without them: stock KubernetesPodOperator leaves the pod in ``CreateContainerConfigError``
    (or ``ContainerCreating`` for the volume) until the startup timeout and then says "Pod took too
    long to start"; this operator's preflight check fails the task before any pod is created,
    naming each missing Secret (or key), its namespace and the command above.
    Note: Google's guide sets ``GOOGLE_APPLICATION_CREDENTIALS`` with a trailing space in the
    path; the path below has none.
"""

from __future__ import annotations

import datetime

from airflow import DAG

from airflow_provider_composer_kpo import ComposerPodOperator, Secret

# Key `sql_alchemy_conn` of Secret `airflow-secrets` -> environment variable SQL_CONN.
secret_env = Secret(deploy_type="env", deploy_target="SQL_CONN", secret="airflow-secrets", key="sql_alchemy_conn")
# Key `service-account.json` of Secret `service-account` -> file in /var/secrets/google.
secret_volume = Secret(
    deploy_type="volume",
    deploy_target="/var/secrets/google",
    secret="service-account",
    key="service-account.json",
)

with DAG(
    dag_id="composer_kpo_secrets",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="ex-kube-secrets",
        name="ex-kube-secrets",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=[
            'test -n "$SQL_CONN"\n'
            'test -s "$GOOGLE_APPLICATION_CREDENTIALS"\n'
            'echo "SQL_CONN has $(printf %s "$SQL_CONN" | wc -c) bytes; credentials file present"'
        ],
        secrets=[secret_env, secret_volume],
        env_vars={
            "EXAMPLE_VAR": "/example/value",
            "GOOGLE_APPLICATION_CREDENTIALS": "/var/secrets/google/service-account.json",
        },
    )
