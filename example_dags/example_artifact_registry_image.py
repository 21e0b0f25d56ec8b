"""Run your own image from a private Artifact Registry repository: no pull Secret needed.

What it shows
    ``image`` names the image by its Artifact Registry path,
    ``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG``. There is no Kubernetes Secret and no
    ``image_pull_secrets``: GKE pulls from Artifact Registry with the service account of its
    nodes, so access is an IAM role on the repository (Artifact Registry's "Deploy to Google
    Kubernetes Engine" guide), and Google's own Composer sample notes that private images work
    when "the service account that Composer uses has permission". Pin a tag you never overwrite,
    or a digest (``IMAGE@sha256:...``), so that a retry runs the same code; with such a tag the
    default pull policy, ``IfNotPresent``, reuses an image already pulled.

Composer versions
    Composer 2 and 3. On Composer 3 the pod's own VM pulls the image, and Google's guide does not
    say with which identity (unverified): start with the grant below, and read the registry's
    answer in the task log if the pull is refused.

Before you run it
    Push the image, then let the environment's service account read the repository::

        gcloud artifacts repositories add-iam-policy-binding REPOSITORY --location LOCATION \\
          --member serviceAccount:ENVIRONMENT_SA --role roles/artifactregistry.reader

    ``ENVIRONMENT_SA`` is ``config.nodeConfig.serviceAccount`` in ``gcloud composer environments
    describe``. A repository in another project needs the same grant there.

What to expect
    The image's own program runs with the two arguments and the task succeeds. With a wrong path
    or without the role the registry refuses the pull ("denied", "not found"): stock
    KubernetesPodOperator waits in ``ErrImagePull``/``ImagePullBackOff`` until its startup
    timeout; this operator fails at once with "cannot start: ErrImagePull" and the registry's
    answer.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(
    dag_id="composer_kpo_artifact_registry",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="daily-report",
        name="daily-report",
        # LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG
        image="europe-west1-docker.pkg.dev/my-project/etl/daily-report:1.4.2",
        # No cmds: the image's own ENTRYPOINT runs, with these arguments.
        arguments=["--date", "{{ ds }}"],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        ),
    )
