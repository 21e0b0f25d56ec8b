"""Size a pod for Composer 2 and 3: ``container_resources`` with limits equal to requests.

What it shows
    One ``container_resources`` that both Composer generations size from. Write CPU as a string
    ("500m", "2") and memory and ephemeral storage as quantities ("2G", "512Mi"): Composer 3's
    hook fails the task on other forms.

    Composer 3 runs each pod on a VM of its own, sized by Google's ``pod_mutation_hook`` from the
    first container's resources (GoogleCloudPlatform/composer-airflow,
    ``airflow/composer/kubernetes/utils.py``): CPU is the larger of request and limit, rounded up
    to 0.25, 0.5, 1, 2, 4, ... 32 vCPU; memory likewise, rounded up to whole GB, 0.5 to 8 GB per
    vCPU; the disk is 30 GB plus the ephemeral storage. A limit above the request therefore buys,
    and bills, a bigger VM than the request says. The task log names the VM before the pod starts.

    GKE Autopilot (Composer 2) bills what the pod requests; with limits equal to requests the
    container gets exactly that (Kubernetes' Guaranteed QoS class).

    ============================================  ==========================================
    requests = limits                             Composer 3 VM
    ============================================  ==========================================
    cpu "500m", memory "2G", storage "1G"         e2-custom-small-2048, 31 GB disk (this DAG)
    cpu "1", memory "4G", storage "10G"           e2-custom-medium-4096, 40 GB disk
    cpu "2", memory "8G", storage "10G"           e2-custom-2-8192, 40 GB disk
    ============================================  ==========================================

Composer versions
    Composer 2 and 3.

Before you run it
    Nothing to create.

What to expect
    On Composer 3 the task log says "Composer 3 will run this pod on a peer VM
    e2-custom-small-2048 (0.5 vCPU, 2 GB) with a 31 GB disk" before the pod starts. The pod sorts
    200000 numbers, prints "largest: 200000", and the task succeeds.
"""

from __future__ import annotations

import datetime

from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

# Half a vCPU, 2 GB of memory, 1 GB of scratch disk; the same numbers as requests and as limits.
SIZE = {"cpu": "500m", "memory": "2G", "ephemeral-storage": "1G"}

with DAG(
    dag_id="composer_kpo_sizing",
    start_date=datetime.datetime(2024, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "composer-kpo"],
):
    ComposerPodOperator(
        task_id="sort-numbers",
        name="sort-numbers",
        image="busybox:1.36",
        cmds=["sh", "-c"],
        arguments=['echo "sorting 200000 numbers"\necho "largest: $(seq 200000 | sort -rn | head -n 1)"'],
        container_resources=k8s.V1ResourceRequirements(requests=SIZE, limits=SIZE),
    )
