"""Per-task overhead on the local cluster: a trivial pod end to end, ours versus stock KPO.

Runs are interleaved (stock, ours, stock, ours, ...) so both see the same cluster state. For each
task: wall time from execute() to return, and the number of HTTP requests the Kubernetes client
sent (counted at the client's REST layer), split by kind. Ours includes the preflight checks.

    python benchmarks/task_overhead.py --kubeconfig PATH [--runs 7] [--deferrable]

``--deferrable``: both with ``deferrable=True``, worker, trigger and resume in this process;
the requests of upstream's trigger (kubernetes_asyncio) are counted too.

Run with a venv's Python from the repository root; needs `make cluster-up`. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes.client import rest

from tests.integration.operator_harness import BUSYBOX, CONNECTION, make_dag, run, run_deferred

requests: collections.Counter[str] = collections.Counter()
_original_request = rest.RESTClientObject.request


def count(method: str, url: str) -> None:
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    kind = re.sub(r"/namespaces/[^/]+", "/namespaces/NS", path)
    kind = re.sub(r"/pods/[^/]+", "/pods/NAME", kind)
    kind = re.sub(r"/(secrets|configmaps|serviceaccounts)/[^/]+", r"/\1/NAME", kind)
    requests[f"{method} {kind}"] += 1


def counting_request(self, method, url, *args, **kwargs):
    count(method, url)
    return _original_request(self, method, url, *args, **kwargs)


def count_async_requests() -> None:
    """Count the requests of upstream's trigger too (kubernetes_asyncio, cncf-kubernetes 6.0+)."""
    from kubernetes_asyncio.client import rest as async_rest

    original = async_rest.RESTClientObject.request

    async def counting(self, method, url, *args, **kwargs):
        count(method, url)
        return await original(self, method, url, *args, **kwargs)

    async_rest.RESTClientObject.request = counting


def make_operator(kind: str, kubeconfig: str, index: int, deferrable: bool = False):
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    arguments = {"task_id": f"{kind}-{index}", "image": BUSYBOX, "cmds": ["sh", "-c", "echo hi"]}
    if deferrable:
        arguments["deferrable"] = True
    if kind == "stock":
        return KubernetesPodOperator(
            dag=make_dag(), namespace="composer-user-workloads", config_file=kubeconfig, **arguments
        )
    return ComposerPodOperator(dag=make_dag(), **arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--deferrable", action="store_true", help="both operators with deferrable=True")
    args = parser.parse_args()
    os.environ["COMPOSER_KPO_KUBECONFIG"] = args.kubeconfig
    os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = CONNECTION
    logging.disable(logging.WARNING)
    rest.RESTClientObject.request = counting_request
    if args.deferrable:
        count_async_requests()

    def execute(kind: str, index: int) -> None:
        op = make_operator(kind, args.kubeconfig, index, args.deferrable)
        if args.deferrable:
            run_deferred(op, json_round_trip=kind == "ours")
        else:
            run(op)

    seconds: dict[str, list[float]] = {"stock": [], "ours": []}
    calls: dict[str, list[collections.Counter[str]]] = {"stock": [], "ours": []}
    execute("stock", 0)  # warm-up: image cache, imports
    for index in range(1, args.runs + 1):
        for kind in ("stock", "ours"):
            requests.clear()
            started = time.monotonic()
            execute(kind, index)
            seconds[kind].append(time.monotonic() - started)
            calls[kind].append(collections.Counter(requests))

    import airflow

    mode = "deferrable=True" if args.deferrable else "synchronous"
    print(f"Trivial pod end to end, {mode}, {args.runs} interleaved runs each, Airflow {airflow.__version__}")
    print(f"{'operator':<22} {'median s':>9} {'min s':>7} {'max s':>7} {'API requests':>13}")
    for kind, label in (("stock", "stock KPO"), ("ours", "ComposerPodOperator")):
        total = statistics.median(sum(c.values()) for c in calls[kind])
        values = seconds[kind]
        print(f"{label:<22} {statistics.median(values):>9.2f} {min(values):>7.2f} {max(values):>7.2f} {total:>13.0f}")
    ratio = statistics.median(seconds["ours"]) / statistics.median(seconds["stock"])
    print(f"ratio ours / stock (median wall time): {ratio:.3f}")
    print("\nRequests per task by kind (last run):")
    kinds = sorted(set(calls["stock"][-1]) | set(calls["ours"][-1]))
    print(f"{'request':<70} {'stock':>5} {'ours':>5}")
    for kind in kinds:
        print(f"{kind:<70} {calls['stock'][-1][kind]:>5} {calls['ours'][-1][kind]:>5}")


if __name__ == "__main__":
    main()
