"""Scale: N pod tasks at once on the local cluster (small requests); all must finish, none leak.

Each task is a ComposerPodOperator run in its own forked process, as a worker would run it; the
figures are wall time for all of them, per-task time spread, peak memory per task process and in
total, and the pods of this run left in the namespace afterwards.

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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client, config
from kubernetes.client import models as k8s

from tests.integration.operator_harness import BUSYBOX, CONNECTION, make_dag, run

NAMESPACE = "composer-user-workloads"


def one_task(job: tuple[str, int]) -> tuple[bool, float, float]:
    """Run task ``i`` of the DAG in this (forked) process; return (ok, seconds, peak MiB)."""
    from airflow_provider_composer_kpo import ComposerPodOperator

    dag_id, i = job
    small = k8s.V1ResourceRequirements(requests={"cpu": "10m", "memory": "16Mi"}, limits={"memory": "32Mi"})
    operator = ComposerPodOperator(
        task_id=f"t{i}",
        dag=make_dag(dag_id),
        image=BUSYBOX,
        cmds=["sh", "-c", f"echo task {i}; sleep 2"],
        container_resources=small,
    )
    started = time.monotonic()
    try:
        run(operator)
        ok = True
    except Exception as error:
        print(f"t{i}: {type(error).__name__}: {str(error)[:200]}", flush=True)
        ok = False
    return ok, time.monotonic() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--tasks", type=int, default=50)
    args = parser.parse_args()
    os.environ["COMPOSER_KPO_KUBECONFIG"] = args.kubeconfig
    os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = CONNECTION
    logging.disable(logging.WARNING)
    dag_id = f"scale_{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.tasks) as pool:
        results = list(pool.map(one_task, [(dag_id, i) for i in range(args.tasks)]))
    wall = time.monotonic() - started
    core_v1 = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))
    time.sleep(5)  # deletions are asynchronous
    leaked = core_v1.list_namespaced_pod(NAMESPACE, label_selector=f"dag_id={dag_id}").items
    durations = [seconds for _, seconds, _ in results]
    peaks = [peak for _, _, peak in results]
    print(f"{args.tasks} pod tasks at once")
    print(f"succeeded: {sum(ok for ok, _, _ in results)} / {args.tasks}")
    print(f"wall time, all tasks: {wall:.1f} s")
    print(
        f"per task: median {statistics.median(durations):.1f} s, min {min(durations):.1f} s, max {max(durations):.1f} s"
    )
    print(f"peak memory per task process: median {statistics.median(peaks):.0f} MiB, max {max(peaks):.0f} MiB")
    print(f"sum of the task processes' peaks (all at once): {sum(peaks):.0f} MiB")
    print(f"pods left in {NAMESPACE} by this run: {len(leaked)}")


if __name__ == "__main__":
    main()
