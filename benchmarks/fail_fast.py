"""Seconds from task start to failure, and whether the error names the cause: stock KPO vs ours.

For each failure the Composer guide and our users hit, both operators run the same pod on the
local cluster in one run (stock KPO with its defaults: 120 s startup timeout, no preflight). The
table shows the time to failure, the exception and whether its message names the cause.

    python benchmarks/fail_fast.py --kubeconfig PATH [--only NAME ...] [--deferrable]

With ``--deferrable`` both operators run with ``deferrable=True``: the task defers, the trigger
(ours: ComposerPodTrigger; stock: KubernetesPodTrigger) follows the pod in this process, and the
task resumes from its event, as worker, triggerer and worker would.

Run with a venv's Python from the repository root; needs `make cluster-up`. Prints; asserts
nothing. Takes a few minutes: stock KPO waits out its timeouts.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes.client import models as k8s

from tests.integration.operator_harness import BUSYBOX, CONNECTION, make_dag, run, run_deferred

NAMESPACE = "composer-user-workloads"
#: A registry that answers every request with 503 (started by main()).
REGISTRY_503_PORT = 15503
SECRET_ENV = [
    k8s.V1EnvVar(
        name="X", value_from=k8s.V1EnvVarSource(secret_key_ref=k8s.V1SecretKeySelector(name="bench-secret", key="k"))
    )
]
SCENARIOS = {
    # name: (pod arguments, regular expression that names the cause in the error message)
    "missing Secret": ({"env_vars": SECRET_ENV}, r"bench-secret\W+(in namespace \S+: )?not found"),
    "missing Secret no preflight": (
        {"env_vars": SECRET_ENV, "preflight": "off"},
        r"bench-secret\W+(in namespace \S+: )?not found",
    ),
    "missing ConfigMap": (
        {"env_from": [k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name="bench-configmap"))]},
        r"bench-configmap\W+(in namespace \S+: )?not found",
    ),
    "unschedulable affinity": (
        {
            "affinity": k8s.V1Affinity(
                node_affinity=k8s.V1NodeAffinity(
                    required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                        node_selector_terms=[
                            k8s.V1NodeSelectorTerm(
                                match_expressions=[
                                    k8s.V1NodeSelectorRequirement(
                                        key="cloud.google.com/gke-nodepool", operator="In", values=["pool-0", "pool-1"]
                                    )
                                ]
                            )
                        ]
                    )
                )
            )
        },
        r"didn't match Pod's node affinity",
    ),
    "bad image name": ({"image": "Busybox:1.36"}, "InvalidImageName"),
    "OOMKilled": (
        {
            "cmds": ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"],
            "container_resources": k8s.V1ResourceRequirements(limits={"memory": "32Mi"}),
        },
        "OOMKilled",
    ),
    "failed middle step": ({"cmds": ["sh", "-c", "echo one\nfalse\necho three"]}, r"exit(ed with)? code 1"),
    # Registries the node cannot use. Stock KPO fails on any pull error at once; ours retries what
    # may be transient for a documented pull grace (README "Pull errors").
    "registry host unknown": ({"image": "registry.invalid/team/app:1"}, r"lookup registry\.invalid"),
    "registry refuses": ({"image": "127.0.0.1:1/team/app:1"}, r"connection refused"),
    # The node's kubelet port: TLS with a certificate of the cluster's own CA, which containerd does not
    # trust (main() puts in the node's address; for localhost containerd would use plain HTTP).
    "registry TLS fails": ({"image": "NODE_IP:10250/team/app:1"}, r"x509|certificate|tls"),
    "registry answers 503": ({"image": f"localhost:{REGISTRY_503_PORT}/team/app:1"}, r"503|Service Unavailable"),
}


def operator(kind: str, name: str, kubeconfig: str, extra: dict, deferrable: bool = False):
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    arguments = {"task_id": f"{kind}-{name.replace(' ', '-').lower()}", "image": BUSYBOX, "cmds": ["sh", "-c", "true"]}
    arguments.update(extra)
    if deferrable:
        arguments["deferrable"] = True
    if kind == "stock":
        arguments.pop("preflight", None)  # ours only; stock KPO has none
        return KubernetesPodOperator(dag=make_dag(), namespace=NAMESPACE, config_file=kubeconfig, **arguments)
    return ComposerPodOperator(dag=make_dag(), **arguments)


#: Container states that tell the pod will not start or has ended: when Kubernetes reports one, a
#: task can know its outcome.
_TELLING_WAITING = {"InvalidImageName", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError"}


class StateObserver:
    """Note when Kubernetes first reports a telling state for the pod of ``task_id`` (a watch of our own)."""

    def __init__(self, kubeconfig: str, task_id: str) -> None:
        import threading

        from kubernetes import client, config, watch

        self.reported_at: float | None = None
        self._watch = watch.Watch()
        api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))

        def follow() -> None:
            try:
                for event in self._watch.stream(
                    api.list_namespaced_pod, NAMESPACE, label_selector=f"task_id={task_id}", timeout_seconds=600
                ):
                    if self.reported_at is None and _telling(event["object"]):
                        self.reported_at = time.monotonic()
            except Exception:  # the benchmark's own watch; a gap only leaves the column empty
                pass

        threading.Thread(target=follow, daemon=True).start()
        time.sleep(0.5)  # the watch is open before the task creates its pod

    def stop(self) -> None:
        self._watch.stop()


def _telling(pod: k8s.V1Pod) -> bool:
    statuses = [*(pod.status.init_container_statuses or []), *(pod.status.container_statuses or [])]
    for status in statuses:
        state = status.state
        if state and (state.terminated or (state.waiting and state.waiting.reason in _TELLING_WAITING)):
            return True
    return pod.status.phase in ("Succeeded", "Failed")


def measure(kind: str, name: str, kubeconfig: str, deferrable: bool = False) -> tuple[float, str, bool, float | None]:
    """Return (seconds, first line of the error, whether the error names the cause, seconds from
    Kubernetes reporting the telling state to the failure, None when it reported none).

    Upstream appends a dump of the whole pod object to its error ("remote_pod: ..."); a cause that
    appears only inside that dump does not count as named.
    """
    extra, cause = SCENARIOS[name]
    op = operator(kind, name, kubeconfig, extra, deferrable)
    observer = StateObserver(kubeconfig, op.task_id)
    started = time.monotonic()
    try:
        if deferrable:
            run_deferred(op, json_round_trip=kind == "ours")
        else:
            run(op)
        outcome, named = "task succeeded", False
    except Exception as error:
        text = str(error).split("remote_pod:", 1)[0]
        outcome = f"{type(error).__name__}: {text.strip().splitlines()[0][:70]}"
        named = re.search(cause, text) is not None
    ended = time.monotonic()
    observer.stop()
    lag = ended - observer.reported_at if observer.reported_at is not None else None
    return ended - started, outcome, named, lag


def node_address(kubeconfig: str) -> str:
    """Return the local cluster's node's InternalIP."""
    from kubernetes import client, config

    node = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig)).list_node().items[0]
    return next(a.address for a in node.status.addresses if a.type == "InternalIP")


def registry_503() -> None:
    """Serve 503 Service Unavailable to every request on REGISTRY_503_PORT, in a daemon thread."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Unavailable(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", REGISTRY_503_PORT), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--deferrable", action="store_true", help="run both operators with deferrable=True")
    args = parser.parse_args()
    os.environ["COMPOSER_KPO_KUBECONFIG"] = args.kubeconfig
    os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = CONNECTION
    import logging

    logging.disable(logging.WARNING)
    registry_503()
    SCENARIOS["registry TLS fails"][0]["image"] = f"{node_address(args.kubeconfig)}:10250/team/app:1"
    rows = []
    for name in SCENARIOS:
        if args.only and name not in args.only:
            continue
        for kind in ("stock", "ours"):
            seconds, outcome, named, lag = measure(kind, name, args.kubeconfig, args.deferrable)
            rows.append((name, kind, seconds, outcome, named, lag))
            print(f"{name:<30} {kind:<6} {seconds:7.1f} s  names cause: {named!s:<5}  {outcome}", flush=True)
    print(f"\n{'deferrable=True' if args.deferrable else 'synchronous'}")
    print("(after K8s: seconds from Kubernetes reporting the telling container state to the task's failure)")
    print(
        f"{'failure':<30} | {'stock KPO s':>11} | {'ours s':>7} | {'speed-up':>8} | {'after K8s':>15} | "
        "stock names cause | ours names cause"
    )
    for name in dict.fromkeys(r[0] for r in rows):
        stock = next(r for r in rows if r[0] == name and r[1] == "stock")
        ours = next(r for r in rows if r[0] == name and r[1] == "ours")
        speedup = stock[2] / ours[2] if ours[2] else float("inf")
        stock_named = "yes" if stock[4] else "no"
        lags = "/".join("-" if r[5] is None else f"{r[5]:.1f}" for r in (stock, ours))
        print(
            f"{name:<30} | {stock[2]:>11.1f} | {ours[2]:>7.1f} | {speedup:>7.1f}x | {lags:>15} | {stock_named:<17} | "
            f"{'yes' if ours[4] else 'no'}"
        )


if __name__ == "__main__":
    main()
