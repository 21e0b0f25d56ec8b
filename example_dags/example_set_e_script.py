"""A multi-step shell script that stops at the first failed step.

What it shows
    A shell runs every line and exits with the status of the *last* one: without ``set -e`` a
    failed step in the middle is reported as success. ``ComposerPodOperator`` adds
    ``set -eo pipefail`` (bash) or ``set -e`` (sh) to the script it sends, after any shebang or
    leading comments, unless the script already sets it. The rest of the script is sent byte for
    byte. ``errexit_policy="require"`` fails at DAG parse time instead; ``"off"`` disables it.
    Entrypoints that are not a shell (``python``, ``perl``, an image's own entrypoint) are left
    alone: use your language's own error handling there.

Composer versions
    Composer 2 and 3.

Before you run it
    Nothing to create.

What to expect
    By default all three steps run and the task succeeds. Trigger it with
    ``{"fail_step": 2}`` as the run's configuration (``airflow dags test composer_kpo_set_e -c
    '{"fail_step": 2}'``): step 2 fails, step 3 never runs, and the task fails with exit code 1.
    Stock KubernetesPodOperator runs step 3 and reports success.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

SCRIPT = """\
#!/bin/bash
# Three steps; each must succeed before the next one runs.
echo "step 1: prepare /tmp/work"
mkdir -p /tmp/work
echo "step 2: check the input (fail_step={{ params.fail_step }})"
test "{{ params.fail_step }}" != 2
echo "step 3: publish"
"""

with DAG(
    dag_id="composer_kpo_set_e",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    params={"fail_step": 0},
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="three-steps",
        name="three-steps",
        image="debian:bookworm-slim",
        cmds=["bash", "-c"],
        arguments=[SCRIPT],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
    )
