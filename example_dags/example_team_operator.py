"""A team's own operator: subclass ComposerPodOperator once, use it in every DAG.

What it shows
    Platform teams put their defaults in one subclass: image, labels for cost reports, resources,
    a stricter ``set -e`` policy, a longer startup timeout. DAG authors then write only what
    differs. Every argument stays overridable, and ``template_fields`` is inherited, so templates
    work as with the parent.

Composer versions
    Composer 2 and 3. ``composer-kpo check`` reads the DAG file, not the class's defaults: it does
    not see the resources the class sets, so the call is marked ``# noqa: CK601``.

Before you run it
    Nothing to create. In a real environment, put the class in a module on the DAGs' path (e.g.
    ``dags/common/operators.py``) and import it from each DAG.

What to expect
    The task runs with the team's defaults and succeeds. Because the policy is ``require``, a
    script without ``set -e`` fails when the DAG file is parsed, naming the task, before any pod
    is created.
"""

from __future__ import annotations

import datetime
from typing import Any

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator


class DataTeamPodOperator(ComposerPodOperator):
    """ComposerPodOperator with the data team's defaults."""

    def __init__(self, *, team_labels: dict[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("image", "debian:bookworm-slim")
        kwargs.setdefault("errexit_policy", "require")
        kwargs.setdefault("startup_timeout_seconds", 900)
        # Limits equal to requests: Composer 3 sizes the pod's VM from the larger of the two.
        kwargs.setdefault(
            "container_resources",
            k8s.V1ResourceRequirements(
                requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
                limits={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
            ),
        )
        labels = {"team": "data", "cost-center": "analytics", **(team_labels or {})}
        kwargs["labels"] = {**labels, **kwargs.get("labels", {})}
        super().__init__(**kwargs)


with DAG(
    dag_id="composer_kpo_team_operator",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    DataTeamPodOperator(  # noqa: CK601 (the class sets container_resources)
        task_id="nightly-report",
        name="nightly-report",
        cmds=["bash", "-c"],
        arguments=['set -euo pipefail\necho "report for {{ ds }} by team $TEAM"'],
        env_vars={"TEAM": "data"},
        team_labels={"pipeline": "nightly-report"},
    )
