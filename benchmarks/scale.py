"""Scale: N pod tasks at once on the local cluster (small requests); all must finish, none leak.

Each task is a ComposerPodOperator run in its own thread of this process (on Composer each would
be its own worker process): the figures are wall time for all of them, per-task time spread, the
process's peak memory, and the pods of this run left in the namespace afterwards.

    python benchmarks/scale.py --kubeconfig PATH [--tasks 50]

Run with a venv's Python from the repository root; needs `make cluster-up`. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client, config
from kubernetes.client import models as k8s

from tests.integration.operator_harness import BUSYBOX, CONNECTION, make_dag, run

NAMESPACE = "composer-user-workloads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    os.environ["COMPOSER_KPO_KUBECONFIG"] = args.kubeconfig
    os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = CONNECTION
    logging.disable(logging.WARNING)
    from airflow_provider_composer_kpo import ComposerPodOperator

    dag = make_dag(f"scale_{uuid.uuid4().hex[:6]}")
    small = k8s.V1ResourceRequirements(requests={"cpu": "10m", "memory": "16Mi"}, limits={"memory": "32Mi"})
    operators = [
        ComposerPodOperator(
            task_id=f"t{i}",
            dag=dag,
            image=BUSYBOX,
            cmds=["sh", "-c", f"echo task {i}; sleep 2"],
            container_resources=small,
        )
        for i in range(args.tasks)
    ]

    def one(operator) -> tuple[bool, float]:
        started = time.monotonic()
        try:
            run(operator)
            return True, time.monotonic() - started
        except Exception as error:
            print(f"{operator.task_id}: {type(error).__name__}: {str(error)[:200]}", flush=True)
            return False, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.tasks) as pool:
        results = list(pool.map(one, operators))
    wall = time.monotonic() - started
    core_v1 = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))
    time.sleep(5)  # deletions are asynchronous
    leaked = core_v1.list_namespaced_pod(NAMESPACE, label_selector=f"dag_id={dag.dag_id}").items
    durations = [seconds for _, seconds in results]
    print(f"{args.tasks} pod tasks at once")
    print(f"succeeded: {sum(ok for ok, _ in results)} / {args.tasks}")
    print(f"wall time, all tasks: {wall:.1f} s")
    print(
        f"per task: median {statistics.median(durations):.1f} s, min {min(durations):.1f} s, max {max(durations):.1f} s"
    )
    print(
        f"peak memory of the Airflow-side process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print(f"pods left in {NAMESPACE} by this run: {len(leaked)}")


if __name__ == "__main__":
    main()
