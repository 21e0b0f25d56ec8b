"""Every commonly used option in one pod.

What it shows
    Labels, annotations, environment variables, resources, the image pull policy, a volume and
    its mount, a startup timeout for big images, and an XCom: the container writes
    ``/airflow/xcom/return.json`` and the operator pushes its content as the task's XCom.

Composer versions
    Composer 2 and 3. The resources set limits equal to requests: Composer 3 sizes (and bills)
    the pod's VM from the larger of the two, GKE Autopilot (Composer 2) bills the requests; see
    ``example_sizing_pod.py``.

Before you run it
    Nothing to create.

What to expect
    2000 digits of pi in the task log; the XCom ``{"pi_prefix": "3.14159265"}``; the pod is
    deleted after the task.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

# Perl writes the XCom file itself; the operator's sidecar reads it when the container ends.
WRITE_PI_AND_XCOM = (
    "my $pi = bpi(2000); print $pi; "
    'open(my $xcom, ">", "/airflow/xcom/return.json") or die "cannot write the XCom file: $!"; '
    'print {$xcom} q({"pi_prefix": ") . substr($pi, 0, 10) . q("});'
)

with DAG(
    dag_id="composer_kpo_full_pod",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="ex-all-configs",
        name="pi",
        image="perl:5.36",
        cmds=["perl"],
        arguments=["-Mbignum=bpi", "-wle", WRITE_PI_AND_XCOM],
        # Labels select pods (kubectl get pods -l pod-label=label-name); values are limited
        # to 63 characters of [A-Za-z0-9-_.].
        labels={"pod-label": "label-name"},
        # Annotations hold any metadata, including characters labels do not allow.
        annotations={"key1": "value1"},
        # Templated, like cmds and arguments.
        env_vars={"EXAMPLE_VAR": "/example/value"},
        # Before cncf-kubernetes 5.0 this was resources={"request_cpu": "500m", "limit_cpu": "500m",
        # ...}; that dict is still accepted (with a deprecation warning) and translated.
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
            limits={"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
        ),
        # IfNotPresent reuses an image already on the node; "Always" pulls it on every run.
        image_pull_policy="IfNotPresent",
        # A scratch volume shared by the pod's containers for the pod's lifetime.
        volumes=[k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource())],
        volume_mounts=[k8s.V1VolumeMount(name="scratch", mount_path="/scratch")],
        # Big images on a fresh node take minutes to pull; the default is 600 s.
        startup_timeout_seconds=900,
        # Push the content of /airflow/xcom/return.json as this task's XCom.
        do_xcom_push=True,
        get_logs=True,
    )
