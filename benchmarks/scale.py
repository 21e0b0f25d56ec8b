"""Scale: N pod tasks at once on the local cluster (small requests); all must finish, none leak.

Each task is a ComposerPodOperator (and, in a second round, stock KPO) run in its own forked
process, as a worker would run it; the figures are wall time for all of them, per-task time
spread, peak memory per task process and in total, the pods of this run left in the namespace
afterwards, and the requests on pods and events the API server counted during the round
(``apiserver_request_total`` from its /metrics, read after the round's watches ended).

    python benchmarks/scale.py --kubeconfig PATH [--tasks 50] [--operators ours stock]

Run with a venv's Python from the repository root; needs `make cluster-up`. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import re
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


#: Seconds to wait after a round for its watches to end (the server counts a request when it ends).
WATCHES_END_SECONDS = 65


def one_task(job: tuple[str, str, int, str]) -> tuple[bool, float, float]:
    """Run task ``i`` of the DAG in this (forked) process; return (ok, seconds, peak MiB)."""
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    kind, dag_id, i, kubeconfig = job
    small = k8s.V1ResourceRequirements(requests={"cpu": "10m", "memory": "16Mi"}, limits={"memory": "32Mi"})
    arguments = {
        "task_id": f"t{i}",
        "dag": make_dag(dag_id),
        "image": BUSYBOX,
        "cmds": ["sh", "-c", f"echo task {i}; sleep 2"],
        "container_resources": small,
    }
    if kind == "stock":
        operator = KubernetesPodOperator(namespace=NAMESPACE, config_file=kubeconfig, **arguments)
    else:
        operator = ComposerPodOperator(**arguments)
    started = time.monotonic()
    try:
        run(operator)
        ok = True
    except Exception as error:
        print(f"t{i}: {type(error).__name__}: {str(error)[:200]}", flush=True)
        ok = False
    return ok, time.monotonic() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def apiserver_requests(api_client: client.ApiClient) -> collections.Counter[str]:
    """Return the API server's request counts on pods and events so far, by verb and resource."""
    answer = api_client.call_api("/metrics", "GET", auth_settings=["BearerToken"], _preload_content=False)
    response = answer[0] if isinstance(answer, tuple) else answer  # the tuple on older clients
    counts: collections.Counter[str] = collections.Counter()
    for line in response.data.decode().splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels.get("resource") in ("pods", "events") and labels.get("group", "") == "":
            what = labels["resource"] + (f"/{labels['subresource']}" if labels.get("subresource") else "")
            counts[f"{labels['verb']} {what}"] += int(float(line.rsplit(" ", 1)[1]))
    return counts


def one_round(kind: str, tasks: int, kubeconfig: str, api_client: client.ApiClient) -> dict:
    core_v1 = client.CoreV1Api(api_client)
    dag_id = f"scale_{kind}_{uuid.uuid4().hex[:6]}"
    before = apiserver_requests(api_client)
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=tasks) as pool:
        results = list(pool.map(one_task, [(kind, dag_id, i, kubeconfig) for i in range(tasks)]))
    wall = time.monotonic() - started
    time.sleep(WATCHES_END_SECONDS)  # deletions are asynchronous, and watches are counted when they end
    leaked = core_v1.list_namespaced_pod(NAMESPACE, label_selector=f"dag_id={dag_id}").items
    served = apiserver_requests(api_client)
    served.subtract(before)
    served["LIST pods"] -= 1  # the leak check above
    return {"results": results, "wall": wall, "leaked": len(leaked), "served": +served}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--operators", nargs="+", choices=("ours", "stock"), default=["ours", "stock"])
    args = parser.parse_args()
    os.environ["COMPOSER_KPO_KUBECONFIG"] = args.kubeconfig
    os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = CONNECTION
    logging.disable(logging.WARNING)
    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    rounds = {kind: one_round(kind, args.tasks, args.kubeconfig, api_client) for kind in args.operators}
    print(f"{args.tasks} pod tasks at once (the API server's counts include its other clients: kubelet, controllers)")
    print(f"{'':<44}" + "".join(f"{kind:>12}" for kind in rounds))

    def row(label: str, value) -> None:
        print(f"{label:<44}" + "".join(f"{value(r):>12}" for r in rounds.values()))

    row("succeeded", lambda r: f"{sum(ok for ok, _, _ in r['results'])}/{args.tasks}")
    row("wall time, all tasks (s)", lambda r: f"{r['wall']:.1f}")
    row("per task median (s)", lambda r: f"{statistics.median(d for _, d, _ in r['results']):.1f}")
    row("per task max (s)", lambda r: f"{max(d for _, d, _ in r['results']):.1f}")
    row("peak memory per task, median (MiB)", lambda r: f"{statistics.median(p for _, _, p in r['results']):.0f}")
    row("pods left behind", lambda r: r["leaked"])
    row("API server requests on pods and events", lambda r: sum(r["served"].values()))
    for what in sorted({w for r in rounds.values() for w in r["served"]}):
        row(f"  {what}", lambda r, what=what: r["served"][what])


if __name__ == "__main__":
    main()
