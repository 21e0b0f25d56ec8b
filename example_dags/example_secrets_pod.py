"""Kubernetes Secrets as an environment variable and as a mounted file.

What it shows
    ``Secret`` from this package works on every supported version (Airflow 3 removed
    ``airflow.kubernetes.secret``). Key ``token`` of Secret ``partner-api`` becomes
    ``$PARTNER_API_TOKEN``; key ``client.pem`` of the same Secret is mounted as
    ``/var/secrets/partner-api/client.pem``, e.g. a certificate for a partner's API. The script
    checks both without printing them.

    Not for Google credentials: Google's guide mounts a service-account JSON key this way and
    points ``GOOGLE_APPLICATION_CREDENTIALS`` at it. A key does not expire and works for whoever
    copies it. Give the pod a Google identity instead, with no key at all:
    ``example_workload_identity_pod.py``.

Composer versions
    Composer 2 and 3.

Before you run it
    Create the Secret in the pods' namespace.

    Composer 3 (Secrets are created through Composer from a YAML file, not with kubectl)::

        kubectl create secret generic partner-api --from-literal=token=VALUE \\
          --from-file=client.pem=./client.pem --dry-run=client -o yaml > partner-api.yaml
        gcloud beta composer environments user-workloads-secrets create \\
          --environment ENVIRONMENT --location LOCATION --secret-file-path partner-api.yaml

    Composer 2 or any cluster you reach with kubectl::

        kubectl create secret generic partner-api -n composer-user-workloads \\
          --from-literal=token=VALUE --from-file=client.pem=./client.pem

What to expect
    With the Secret: the task succeeds and logs only the token's length.
    Without it: stock KubernetesPodOperator leaves the pod in ``CreateContainerConfigError``
    (or ``ContainerCreating`` for the volume) until the startup timeout and then says "Pod took too
    long to start"; this operator's preflight check fails the task before any pod is created,
    naming the missing Secret (or key), its namespace and the command above.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator, Secret

# Key `token` of Secret `partner-api` -> environment variable PARTNER_API_TOKEN.
api_token = Secret(deploy_type="env", deploy_target="PARTNER_API_TOKEN", secret="partner-api", key="token")
# Key `client.pem` of Secret `partner-api` -> file /var/secrets/partner-api/client.pem.
api_certificate = Secret(
    deploy_type="volume",
    deploy_target="/var/secrets/partner-api",
    secret="partner-api",
    key="client.pem",
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
            'test -n "$PARTNER_API_TOKEN"\n'
            "test -s /var/secrets/partner-api/client.pem\n"
            'echo "PARTNER_API_TOKEN has $(printf %s "$PARTNER_API_TOKEN" | wc -c) bytes; client certificate present"'
        ],
        secrets=[api_token, api_certificate],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
    )
