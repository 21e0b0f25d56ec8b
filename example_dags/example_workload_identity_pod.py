"""Reach Cloud Storage or BigQuery from a pod without a key: Workload Identity.

What it shows
    ``service_account_name`` runs the pod as a Kubernetes service account that GKE's Workload
    Identity binds to a Google service account. ``gcloud``, ``bq`` and Google's client libraries
    in the pod then act as that Google service account, with short-lived tokens from the
    cluster's metadata server: there is no JSON key to create, mount, rotate or leak, and the
    roles of that one account decide what the pod may touch. The pod prints who it acts as and
    lists a bucket.

Composer versions
    Composer 2. On Composer 3 delete ``service_account_name``: users cannot create Kubernetes
    service accounts there, and Google's Composer 3 guide says pods in ``composer-user-workloads``
    "have access to your project's resources ... without additional configuration". Grant the
    roles the job needs to the environment's service account (the guide does not name the
    identity the pods use; the environment's account is our understanding, unverified).

Before you run it
    On Composer 2: a Google service account with the roles the job needs, a Kubernetes service
    account in ``composer-user-workloads``, and the binding between them (GKE's "Authenticate to
    Google Cloud APIs from GKE workloads" guide). ``CLUSTER`` is the environment's cluster
    (``gcloud composer environments describe ENVIRONMENT --location LOCATION --format
    "value(config.gkeCluster)"``)::

        gcloud container clusters get-credentials CLUSTER --region LOCATION
        kubectl create serviceaccount etl-runner -n composer-user-workloads
        gcloud iam service-accounts add-iam-policy-binding etl-runner@PROJECT.iam.gserviceaccount.com \\
          --role roles/iam.workloadIdentityUser \\
          --member "serviceAccount:PROJECT.svc.id.goog[composer-user-workloads/etl-runner]"
        kubectl annotate serviceaccount etl-runner -n composer-user-workloads \\
          iam.gke.io/gcp-service-account=etl-runner@PROJECT.iam.gserviceaccount.com
        gcloud storage buckets add-iam-policy-binding gs://BUCKET \\
          --member serviceAccount:etl-runner@PROJECT.iam.gserviceaccount.com \\
          --role roles/storage.objectViewer

    Then set the DAG's ``bucket`` param, or trigger a run with ``{"bucket": "BUCKET"}``.

What to expect
    The task log shows "acting as etl-runner@PROJECT.iam.gserviceaccount.com" and the bucket's
    top-level objects; the task succeeds. Without the Kubernetes service account: stock
    KubernetesPodOperator gets the API server's refusal ("serviceaccount ... not found") when it
    creates the pod; this operator fails the task before that, with "ServiceAccount 'etl-runner':
    not found" and the ``kubectl create serviceaccount`` command. Without the binding or the
    annotation the pod has no usable Google identity and ``gcloud storage ls`` fails with a
    permission error.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="composer_kpo_workload_identity",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    params={"bucket": "my-bucket"},
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="list-bucket",
        name="list-bucket",
        # Google's image with gcloud, gsutil and bq.
        image="gcr.io/google.com/cloudsdktool/google-cloud-cli:slim",
        cmds=["bash", "-c"],
        arguments=[
            "echo \"acting as $(gcloud auth list --filter=status:ACTIVE --format='value(account)')\"\n"
            'gcloud storage ls "gs://{{ params.bucket }}"'
        ],
        # The Kubernetes service account bound to the Google one; Composer 2 only (see above).
        service_account_name="etl-runner",
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
    )
