"""Run the pod on a chosen GKE node pool with node affinity.

What it shows
    ``gke_node_pool_affinity("default-pool")`` requires a node whose
    ``cloud.google.com/gke-nodepool`` label names one of the pools. The pod computes 2000 digits
    of pi with Perl, as in Google's guide.

Composer versions
    Composer 1 only: its cluster is GKE Standard, with node pools you add. Google's guides say pod
    affinity is not available on Composer 2 (GKE Autopilot) nor on Composer 3 (a VM per pod), and
    the operator warns about it when the DAG is parsed there. On those, choose the hardware with
    ``container_resources``, or run the pod on a GKE cluster of your own with
    ``GKEStartPodOperator``.

Before you run it
    A node pool with the name you use. Google's guide uses ``pool-0`` and ``pool-1``; this
    example uses ``default-pool``, which every GKE cluster (and the local test cluster) has.

What to expect
    With a matching pool: the task succeeds and the digits are in the task log.
    With ``gke_node_pool_affinity("pool-0", "pool-1")`` and no such pools: the pod stays
    Pending (Unschedulable). Stock KubernetesPodOperator waits out its startup timeout; this
    operator fails within seconds with the scheduler's reason, e.g. "0/1 nodes are available:
    1 node(s) didn't match Pod's node affinity/selector".
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator, gke_node_pool_affinity

with DAG(
    dag_id="composer_kpo_node_affinity",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="ex-pod-affinity",
        name="ex-pod-affinity",
        image="perl:5.36",
        cmds=["perl"],
        arguments=["-Mbignum=bpi", "-wle", "print bpi(2000)"],
        affinity=gke_node_pool_affinity("default-pool"),
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "1Gi"},
        ),
    )
