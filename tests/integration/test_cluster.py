"""The local cluster does what KubernetesPodOperator needs: real pods, through the API.

Each test creates its own pods (deleted and waited for at teardown) and checks what the API
server reports, as KPO would read it: logs, exit codes, waiting reasons, scheduling
conditions, exec output.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaked_pods")]

BUSYBOX = "docker.io/library/busybox:1.36"
DEBIAN = "docker.io/library/debian:bookworm-slim"
PERL = "docker.io/library/perl:5.36"


def one_container(image: str, script: str, **extra: Any) -> dict:
    """A PodSpec with one container named `base` (KPO's name) running `sh -c script`."""
    return {"containers": [{"name": "base", "image": image, "command": ["sh", "-c", script], **extra}]}


def waiting_reason(pod: Any) -> str | None:
    statuses = pod.status.container_statuses or []
    if statuses and statuses[0].state and statuses[0].state.waiting:
        return statuses[0].state.waiting.reason
    return None


def condition(pod: Any, kind: str) -> Any:
    return next((c for c in pod.status.conditions or [] if c.type == kind), None)


def test_node_is_ready_and_looks_like_a_gke_node(core_v1):
    nodes = core_v1.list_node().items
    assert len(nodes) == 1
    node = nodes[0]
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert ready.status == "True"
    assert node.metadata.labels["cloud.google.com/gke-nodepool"] == "default-pool"
    assert node.metadata.labels["kubernetes.io/os"] == "linux"
    assert "topology.kubernetes.io/zone" in node.metadata.labels
    assert not [t for t in node.spec.taints or [] if t.effect in ("NoSchedule", "NoExecute")]


def test_pod_prints_and_exits_zero(pods):
    token = uuid.uuid4().hex
    name = pods.create(one_container(BUSYBOX, f"echo hello {token}; echo second line"))
    terminated = pods.wait_terminated(name)
    assert terminated.exit_code == 0
    assert pods.wait_phase(name, ("Succeeded", "Failed")).status.phase == "Succeeded"
    assert pods.logs(name).splitlines() == [f"hello {token}", "second line"]


def test_pod_exit_code_is_reported(pods):
    name = pods.create(one_container(DEBIAN, "set -e; echo about to fail; false || exit 3"))
    terminated = pods.wait_terminated(name)
    assert terminated.exit_code == 3
    assert terminated.reason == "Error"
    assert pods.wait_phase(name, ("Succeeded", "Failed")).status.phase == "Failed"
    assert "about to fail" in pods.logs(name)


def test_exec_reads_xcom_file_like_the_kpo_sidecar(pods):
    """KPO's XCom: the base container writes /airflow/xcom/return.json and exits; KPO execs
    `cat` in the `airflow-xcom-sidecar` container, then signals it to stop."""
    value = {"answer": 42, "token": uuid.uuid4().hex}
    xcom = {"name": "xcom", "mountPath": "/airflow/xcom"}
    spec = {
        "volumes": [{"name": "xcom", "emptyDir": {}}],
        "containers": [
            {
                "name": "base",
                "image": BUSYBOX,
                "command": ["sh", "-c", f"echo '{json.dumps(value)}' > /airflow/xcom/return.json"],
                "volumeMounts": [xcom],
            },
            {
                "name": "airflow-xcom-sidecar",
                "image": BUSYBOX,
                "command": ["sh", "-c", 'trap "exit 0" INT; while true; do sleep 1; done;'],
                "volumeMounts": [xcom],
            },
        ],
    }
    name = pods.create(spec)
    assert pods.wait_terminated(name, "base").exit_code == 0
    out = pods.exec(name, "airflow-xcom-sidecar", ["cat", "/airflow/xcom/return.json"])
    assert json.loads(out) == value
    # KPO (cncf-kubernetes 10.x) then stops the sidecar with SIGINT found by pgrep (older
    # versions: `kill -2 1`); the pod then completes.
    pods.exec(name, "airflow-xcom-sidecar", ["sh", "-c", "kill -2 $(pgrep -u $(id -u) -f 'sh')"])
    assert pods.wait_terminated(name, "airflow-xcom-sidecar").exit_code == 0
    assert pods.wait_phase(name, ("Succeeded", "Failed")).status.phase == "Succeeded"


@pytest.fixture
def secret(core_v1, namespace):
    name = f"it-secret-{uuid.uuid4().hex[:8]}"
    data = {"password": uuid.uuid4().hex, "service-account.json": json.dumps({"k": uuid.uuid4().hex})}
    core_v1.create_namespaced_secret(
        namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}
    )
    yield name, data
    core_v1.delete_namespaced_secret(name, namespace)


def test_secret_reaches_container_as_env_and_volume(pods, secret):
    name, data = secret
    spec = one_container(
        BUSYBOX,
        'echo "env=$SQL_CONN"; echo "file=$(cat /var/secrets/google/service-account.json)"',
        env=[{"name": "SQL_CONN", "valueFrom": {"secretKeyRef": {"name": name, "key": "password"}}}],
        volumeMounts=[{"name": "secret-volume", "mountPath": "/var/secrets/google", "readOnly": True}],
    )
    spec["volumes"] = [{"name": "secret-volume", "secret": {"secretName": name}}]
    pod = pods.create(spec)
    assert pods.wait_terminated(pod).exit_code == 0
    assert pods.logs(pod).splitlines() == [f"env={data['password']}", f"file={data['service-account.json']}"]


def test_missing_secret_stays_in_create_container_config_error(pods):
    spec = one_container(
        BUSYBOX,
        "echo should never run",
        env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "no-such-secret-here", "key": "k"}}}],
    )
    name = pods.create(spec)
    pods.wait_for(name, lambda p: waiting_reason(p) == "CreateContainerConfigError", "CreateContainerConfigError")
    # It does not heal by itself: a few seconds later it is still stuck, never started.
    time.sleep(5)
    pod = pods.read(name)
    assert waiting_reason(pod) == "CreateContainerConfigError"
    assert pod.status.phase == "Pending"
    assert "no-such-secret-here" in pod.status.container_statuses[0].state.waiting.message


def node_pool_affinity(*pools: str) -> dict:
    term = {"matchExpressions": [{"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": list(pools)}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def test_affinity_to_missing_node_pool_is_unschedulable(pods):
    spec = one_container(BUSYBOX, "echo should never run")
    spec["affinity"] = node_pool_affinity("pool-0", "pool-1")
    name = pods.create(spec)
    pod = pods.wait_for(
        name,
        lambda p: condition(p, "PodScheduled") is not None and condition(p, "PodScheduled").status == "False",
        "PodScheduled=False",
    )
    scheduled = condition(pod, "PodScheduled")
    assert scheduled.reason == "Unschedulable"
    assert "affinity" in (scheduled.message or "").lower() or "selector" in (scheduled.message or "").lower()
    assert pod.status.phase == "Pending"
    assert not pod.spec.node_name


def test_affinity_to_default_pool_runs(pods):
    spec = one_container(BUSYBOX, "echo scheduled")
    spec["affinity"] = node_pool_affinity("default-pool")
    name = pods.create(spec)
    assert pods.wait_terminated(name).exit_code == 0
    assert pods.logs(name).strip() == "scheduled"


def test_pod_over_memory_limit_is_oom_killed(pods):
    # Holding ~200 MB in a shell variable against a 32 MiB limit.
    script = "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}"
    spec = one_container(BUSYBOX, script, resources={"limits": {"memory": "32Mi"}, "requests": {"memory": "32Mi"}})
    name = pods.create(spec)
    terminated = pods.wait_terminated(name)
    assert terminated.reason == "OOMKilled"
    assert terminated.exit_code == 137
    assert "survived" not in pods.logs(name)


def pi_digits(n: int) -> str:
    """The first n significant digits of pi as "3.14...", by Machin's formula in integers."""
    guard = 10
    scale = 10 ** (n + guard)

    def arctan_inv(x: int) -> int:
        total = term = scale // x
        x2, k, sign = x * x, 3, -1
        while term:
            term //= x2
            total += sign * (term // k)
            sign, k = -sign, k + 2
        return total

    pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))
    digits = str(pi)[:n]
    return digits[0] + "." + digits[1:]


def test_perl_image_prints_pi(pods):
    name = pods.create(
        {
            "containers": [
                {
                    "name": "base",
                    "image": PERL,
                    "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"],
                }
            ]
        }
    )
    assert pods.wait_terminated(name, timeout=180).exit_code == 0
    printed = pods.logs(name).strip()
    assert len(printed) == 2001  # "3." and 1999 more digits
    # bpi rounds its last digit; every digit before it must match.
    assert printed[:-1] == pi_digits(2000)[:-1]
