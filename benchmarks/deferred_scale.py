"""Deferrable at scale: N deferred pod tasks' triggers in one triggerer process, ours beside stock's.

For each trigger (ComposerPodTrigger, stock KubernetesPodTrigger) and each N, the round:

1. creates N pods bound to a simulated node (a Node object whose Lease this script renews, so the
   node controller keeps it Ready; no kubelet runs the pods) and sets them Running, as the pods of
   N deferred tasks would be;
2. starts one "triggerer" process (this script with ``--triggerer``) running the N triggers in one
   event loop, as Airflow's triggerer does, and holds the steady state for ``--steady`` seconds;
3. sets every pod Succeeded (its container terminated, exit 0) and waits for every trigger's event.

Reported per round: the API requests the kube-apiserver counted (its own ``apiserver_request_total``,
GET/LIST/WATCH on pods and LIST on events, less an idle window of the same length measured just
before), per minute in the steady state and per task over the round; the triggerer's CPU seconds and
peak memory (less the same process before it made its triggers), per task; and the delay from a
pod's change (the status update) to its trigger's event. ``--real`` adds a round at N=10 on the
real kubelet (pods that sleep, then exit), the delay measured from the container's end.
``--pending N`` adds a round of N pods that no node has room for (a node pool scaling up, as the
triggers see it): they stay Pending and unschedulable through the steady state, where the startup
verdicts read their events, then are deleted (the delay measured from the deletion).

    python benchmarks/deferred_scale.py --kubeconfig PATH [--tasks 10 100 500] [--triggers ours stock]
        [--real] [--pending 500]

Run with the Airflow 3.1.7 venv's Python from the repository root; needs `make cluster-up` and a
quiet machine (other suites' requests would count). Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

NAMESPACE = "composer-kpo-bench-deferred"
FAKE_NODE = "composer-kpo-bench-node"
#: Seconds between two renewals of the simulated node's Lease (the node controller's grace is 40 s).
LEASE_EVERY_SECONDS = 10
#: What starts the triggerer process's lines for this script (the rest is the triggers' log).
MARK = "deferred-scale: "
#: Seconds to wait for the last trigger's event after the pods ended.
EVENTS_TIMEOUT_SECONDS = 180


# -- the triggerer process -----------------------------------------------------------------------


def triggerer(kind: str, kubeconfig: str, names: list[str]) -> None:
    """Run one trigger per pod in one event loop; print one JSON line per event, then the process's costs."""
    import yaml

    if kind == "ours":
        from airflow_provider_composer_kpo.triggers.composer_pod import ComposerPodTrigger
    else:
        from airflow.providers.cncf.kubernetes.triggers.pod import KubernetesPodTrigger
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    config = yaml.safe_load(Path(kubeconfig).read_text())
    now = time.time()

    def make(name: str):
        if kind == "ours":
            return ComposerPodTrigger(
                pod_name=name,
                pod_namespace=NAMESPACE,
                trigger_start_time=now,
                config_file=kubeconfig,
                kubernetes_conn_id=None,
                use_composer_kubeconfig=False,
            )
        return KubernetesPodTrigger(
            pod_name=name,
            pod_namespace=NAMESPACE,
            trigger_start_time=datetime.datetime.now(datetime.timezone.utc),
            base_container_name="base",
            config_dict=config,
            get_logs=False,
            on_finish_action="keep_pod",
        )

    async def follow(trigger) -> None:
        async for event in trigger.run():
            record = {"name": trigger.pod_name, "at": time.time(), "status": event.payload.get("status")}
            print(MARK + json.dumps(record))
            sys.stdout.flush()
            return

    async def all_of_them() -> None:
        await asyncio.gather(*(follow(make(name)) for name in names))

    asyncio.run(all_of_them())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    costs = {"cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024, "rss_before_mib": rss_before}
    print(MARK + json.dumps(costs), flush=True)


# -- the rounds ----------------------------------------------------------------------------------


def simulated_node(core_v1, coordination) -> threading.Event:
    """Create the simulated node (Ready) and renew its Lease in a thread until the returned event is set."""
    from kubernetes.client import models as k8s
    from kubernetes.client.exceptions import ApiException

    # Tainted: no other suite's pod is scheduled onto a node that runs nothing (ours tolerate it).
    node = k8s.V1Node(
        metadata=k8s.V1ObjectMeta(name=FAKE_NODE, labels={"composer-kpo-bench": "1"}),
        spec=k8s.V1NodeSpec(taints=[k8s.V1Taint(key="composer-kpo-bench", effect="NoSchedule")]),
    )
    try:
        core_v1.create_node(node)
    except ApiException as error:
        if error.status != 409:
            raise
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            now = datetime.datetime.now(datetime.timezone.utc)
            ready = k8s.V1NodeCondition(
                type="Ready", status="True", reason="KubeletReady", last_heartbeat_time=now, last_transition_time=now
            )
            status = {
                "status": {
                    "conditions": [ready.to_dict()],
                    "capacity": {"pods": "1000", "cpu": "100", "memory": "1000Gi"},
                }
            }
            status["status"]["allocatable"] = status["status"]["capacity"]
            core_v1.patch_node_status(FAKE_NODE, json.loads(json.dumps(status, default=str)))
            renewal = {"spec": {"holderIdentity": FAKE_NODE, "leaseDurationSeconds": 40, "renewTime": now}}
            try:
                coordination.patch_namespaced_lease(FAKE_NODE, "kube-node-lease", renewal)
            except ApiException as error:
                if error.status != 404:
                    raise
                lease = k8s.V1Lease(
                    metadata=k8s.V1ObjectMeta(name=FAKE_NODE, namespace="kube-node-lease"),
                    spec=k8s.V1LeaseSpec(holder_identity=FAKE_NODE, lease_duration_seconds=40, renew_time=now),
                )
                coordination.create_namespaced_lease("kube-node-lease", lease)
            stop.wait(LEASE_EVERY_SECONDS)

    threading.Thread(target=beat, daemon=True).start()
    return stop


def make_pods(core_v1, run: str, n: int, pods: str) -> list[str]:
    """Create ``n`` pods: ``simulated`` (bound to the simulated node), ``real`` or ``pending`` (no node fits)."""
    from kubernetes.client import models as k8s

    real = pods == "real"
    names = []
    for i in range(n):
        name = f"bench-{run}-{i}"
        command = ["sh", "-c", "sleep 40; echo done"] if real else ["true"]
        pod = k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name=name, labels={"kubernetes_pod_operator": "True", "composer-kpo-bench": run}),
            spec=k8s.V1PodSpec(
                containers=[
                    k8s.V1Container(
                        name="base",
                        image="busybox:1.36",
                        command=command,
                        # More CPU than any node has: unschedulable for lack of room, which the
                        # startup verdicts wait out (a scale-up may come), reading the pod's events.
                        resources=k8s.V1ResourceRequirements(requests={"cpu": "1000"}) if pods == "pending" else None,
                    )
                ],
                restart_policy="Never",
                node_name=FAKE_NODE if pods == "simulated" else None,
                # The simulated node's taint tolerated by its pods only: real ones go to the real node.
                tolerations=None if real else [k8s.V1Toleration(operator="Exists")],
                termination_grace_period_seconds=0,
            ),
        )
        core_v1.create_namespaced_pod(NAMESPACE, pod)
        names.append(name)
    return names


def set_phase(core_v1, name: str, phase: str) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    state = (
        {"running": {"startedAt": now}}
        if phase == "Running"
        else {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}
    )
    status = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}],
        "containerStatuses": [
            {
                "name": "base",
                "image": "busybox:1.36",
                "imageID": "",
                "ready": phase == "Running",
                "restartCount": 0,
                "state": state,
                "started": phase == "Running",
            }
        ],
        "startTime": now,
    }
    core_v1.patch_namespaced_pod_status(name, NAMESPACE, {"status": status})


def one_round(kind: str, n: int, kubeconfig: str, api_client, steady: float, pods: str) -> dict:
    from kubernetes import client
    from scale import apiserver_requests

    core_v1 = client.CoreV1Api(api_client)
    run = uuid.uuid4().hex[:6]
    # The idle window: what the cluster's own components ask meanwhile, subtracted below.
    idle_before = apiserver_requests(api_client)
    time.sleep(steady)
    idle = apiserver_requests(api_client)
    idle.subtract(idle_before)
    names = make_pods(core_v1, run, n, pods)  # real ones start now and end within the steady state
    if pods == "simulated":
        for name in names:
            set_phase(core_v1, name, "Running")
    before = apiserver_requests(api_client)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, __file__, "--triggerer", kind, "--kubeconfig", kubeconfig, *names],
        stdout=subprocess.PIPE,
        text=True,
    )
    events: dict[str, float] = {}
    costs: dict = {}

    def read() -> None:
        for line in process.stdout:
            if not line.startswith(MARK):  # the triggers' own log lines
                continue
            answer = json.loads(line[len(MARK) :])
            if "name" in answer:
                events[answer["name"]] = answer["at"]
            else:
                costs.update(answer)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(steady)  # every trigger following a running pod
    steady_counts = apiserver_requests(api_client)
    steady_counts.subtract(before)
    changed: dict[str, float] = {}
    if pods == "real":
        deadline = time.monotonic() + 300
        while len(events) < n and time.monotonic() < deadline:
            time.sleep(1)
        for name in names:
            pod = core_v1.read_namespaced_pod(name, NAMESPACE)
            finished = pod.status.container_statuses[0].state.terminated
            changed[name] = finished.finished_at.timestamp() if finished else float("nan")
    elif pods == "pending":
        for name in names:
            changed[name] = time.time()
            core_v1.delete_namespaced_pod(name, NAMESPACE, grace_period_seconds=0)
    else:
        for name in names:
            changed[name] = time.time()
            set_phase(core_v1, name, "Succeeded")
    process.wait(timeout=EVENTS_TIMEOUT_SECONDS + 300)
    reader.join(10)
    seconds = time.monotonic() - started
    time.sleep(2)  # the triggerer's watch, ended with its process, is counted when it ends
    served = apiserver_requests(api_client)
    served.subtract(before)
    core_v1.delete_collection_namespaced_pod(
        NAMESPACE, label_selector=f"composer-kpo-bench={run}", grace_period_seconds=0
    )

    def api(counts, minutes: float, idle_minutes: float) -> float:
        total = sum(v for k, v in counts.items() if k.split()[0] in ("GET", "LIST", "WATCH"))
        noise = sum(v for k, v in idle.items() if k.split()[0] in ("GET", "LIST", "WATCH"))
        return max(total - noise * minutes / idle_minutes, 0)

    delays = [events[name] - changed[name] for name in names if name in events]
    return {
        "kind": kind,
        "n": n,
        "pods": pods,
        "ended": len(events),
        "steady_per_minute": api(steady_counts, steady / 60, steady / 60) / (steady / 60),
        "per_task": api(served, seconds / 60, steady / 60) / n,
        "served": {k: v for k, v in served.items() if v},
        "cpu_per_task_ms": 1000 * costs.get("cpu", float("nan")) / n,
        "mib_per_task": (costs.get("peak_mib", float("nan")) - costs.get("rss_before_mib", 0)) / n,
        "delay_median": statistics.median(delays) if delays else float("nan"),
        "delay_max": max(delays) if delays else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--tasks", type=int, nargs="*", default=[10, 100, 500])
    parser.add_argument("--triggers", nargs="*", default=["ours", "stock"])
    parser.add_argument("--steady", type=float, default=60.0, help="seconds of steady state (and of the idle window)")
    parser.add_argument("--real", action="store_true", help="also a round of 10 real pods on the real kubelet")
    parser.add_argument("--pending", type=int, default=0, help="also a round of this many unschedulable pods")
    parser.add_argument("--triggerer", help=argparse.SUPPRESS)
    parser.add_argument("names", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.triggerer:
        triggerer(args.triggerer, args.kubeconfig, args.names)
        return 0

    from kubernetes import client, config
    from kubernetes.client import models as k8s
    from kubernetes.client.exceptions import ApiException

    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    core_v1 = client.CoreV1Api(api_client)
    try:
        core_v1.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NAMESPACE)))
    except ApiException as error:
        if error.status != 409:
            raise
    stop = simulated_node(core_v1, client.CoordinationV1Api(api_client))
    rounds = []
    try:
        plan = [(kind, n, "simulated") for n in args.tasks for kind in args.triggers]
        plan += [(kind, 10, "real") for kind in args.triggers] if args.real else []
        plan += [(kind, args.pending, "pending") for kind in args.triggers] if args.pending else []
        for kind, n, pods in plan:
            print(f"round: {kind} N={n} {pods} pods", flush=True)
            rounds.append(one_round(kind, n, args.kubeconfig, api_client, args.steady, pods))
            print(json.dumps(rounds[-1]), flush=True)
    finally:
        stop.set()
        for _ in range(30):  # the API server may be restarting (another suite's fault): try for a minute
            try:
                core_v1.delete_collection_namespaced_pod(NAMESPACE, grace_period_seconds=0)
                core_v1.delete_node(FAKE_NODE)
                break
            except Exception as error:
                print(f"cleanup: {type(error).__name__}; retrying", flush=True)
                time.sleep(2)
    print()
    print(
        "| trigger | N | pods | ended | API req/min, steady | API req/task | CPU ms/task | MiB/task "
        "| delay median / max (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rounds:
        print(
            f"| {r['kind']} | {r['n']} | {r['pods']} | {r['ended']}/{r['n']} "
            f"| {r['steady_per_minute']:.0f} | {r['per_task']:.1f} | {r['cpu_per_task_ms']:.0f} "
            f"| {r['mib_per_task']:.2f} | {r['delay_median']:.2f} / {r['delay_max']:.2f} |"
        )
    by = {(r["kind"], r["n"], r["pods"]): r for r in rounds}
    for n in args.tasks:
        ours, stock = by.get(("ours", n, "simulated")), by.get(("stock", n, "simulated"))
        if ours and stock and stock["steady_per_minute"]:
            ratio = ours["steady_per_minute"] / stock["steady_per_minute"]
            print(f"N={n}: ours/stock API requests per minute = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    sys.exit(main())
