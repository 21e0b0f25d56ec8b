"""ComposerPodOperator already, with settings the package rejects or warns about."""

import pendulum
from airflow import DAG
from airflow_provider_composer_kpo import ComposerPodOperator, ErrexitPolicy
from kubernetes.client import models as k8s

with DAG(
    dag_id="composer_operator_settings",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
) as dag:
    strict = ComposerPodOperator(
        task_id="strict",
        image="busybox:1.36",
        cmds=["sh", "-c", "cp /in /out\nls /out"],
        errexit_policy="require",
    )
    loose = ComposerPodOperator(
        task_id="loose",
        image="busybox:1.36",
        cmds=["bash", "-c"],
        arguments=["step-one\nstep-two"],
        errexit_policy=ErrexitPolicy.OFF,
        startup_timeout_seconds=5,
    )
    old_flag = ComposerPodOperator(
        task_id="old_flag",
        image="busybox:1.36",
        on_finish_action="keep_pod",
        schedule_timeout_seconds=20000,  # noqa: CK501 (the team knows)
        volumes=[k8s.V1Volume(name="creds", secret=k8s.V1SecretVolumeSource(secret_name="team-creds"))],
        affinity=k8s.V1Affinity(
            node_affinity=k8s.V1NodeAffinity(
                required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                    node_selector_terms=[
                        k8s.V1NodeSelectorTerm(
                            match_expressions=[
                                k8s.V1NodeSelectorRequirement(
                                    key="cloud.google.com/gke-nodepool", operator="In", values=["pool-1"]
                                )
                            ]
                        )
                    ]
                )
            )
        ),
    )
