"""The local Composer 3 simulation does what tests/composer3/CONTRACT.md says, checked
with raw Kubernetes calls (no Airflow): the admission webhook turns a labelled + annotated pod
into a placeholder, the controller publishes its endpoint, and the agent in it runs the
original containers like a peer VM (states, logs, exec with websocket frames, signals, the
pod's final phase and termination message, env from Secrets, an invalid machine type).

The tests run in a namespace of their own (the webhook does not look at namespaces): the
cluster is shared, and the leak check of a test in composer-user-workloads deletes any pod that
appeared there meanwhile -- including another suite's running pods.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse
import uuid
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaked_pods")]

BUSYBOX = "docker.io/library/busybox:1.36"
USE_WIS_LABEL = "node.gke.io/use-workload-identity-service"
GCE_VM_ANNOTATION = "node.gke.io/gce-vm"
ENDPOINT_ANNOTATION = "node.gke.io/peer-vm-endpoint"
PLACEHOLDER = "peervm-placeholder"
SIDECAR = "airflow-xcom-sidecar"
AGENT_PORT = 9080
# KPO's XCom sidecar command (cncf-kubernetes PodDefaults)
SIDECAR_COMMAND = ["sh", "-c", 'trap "exit 0" INT; while true; do sleep 1; done;']
XCOM_MOUNT = {"name": "xcom", "mountPath": "/airflow/xcom"}
TEST_NAMESPACE = "composer3-simulation-test"


@pytest.fixture(scope="module")
def namespace(core_v1: Any) -> str:
    """This module's own namespace (overrides conftest's), created when missing and kept: it is
    empty after the tests, and cluster-down wipes it with the rest of etcd."""
    from kubernetes.client.rest import ApiException

    try:
        core_v1.read_namespace(TEST_NAMESPACE)
    except ApiException as exc:
        if exc.status != 404:
            raise
        try:
            core_v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TEST_NAMESPACE}})
        except ApiException as exc:
            if exc.status != 409:  # the other Airflow's run of this module made it meanwhile
                raise
    # Pods need the default service account and kube-root-ca.crt, made by the controller manager.
    deadline = time.monotonic() + 60
    while True:
        try:
            core_v1.read_namespaced_service_account("default", TEST_NAMESPACE)
            core_v1.read_namespaced_config_map("kube-root-ca.crt", TEST_NAMESPACE)
            return TEST_NAMESPACE
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def gce_vm(machine_type: str = "e2-custom-2-4096", disk_gb: str = "50") -> str:
    """The annotation text Composer's pod_mutation_hook writes (YAML)."""
    return (
        "selector:\n"
        "  matchLabels:\n"
        f"    machineType: {machine_type}\n"
        f'    diskSizeGb: "{disk_gb}"\n'
        "logging:\n- Workload\n- System\n"
        "vmServiceAccount: peervm-vm@tenant-local.iam.gserviceaccount.com\n"
    )


def create_pod(pods: Any, spec: dict, label: bool = True, annotation: str | None = None) -> str:
    """Create a pod with the Composer 3 label and/or gce-vm annotation; the `pods` fixture
    deletes it at teardown."""
    name = f"c3-{uuid.uuid4().hex[:8]}"
    metadata: dict[str, Any] = {"name": name, "labels": {"composer-kpo-test": pods.label}}
    if label:
        metadata["labels"][USE_WIS_LABEL] = "true"
    if annotation is not None:
        metadata["annotations"] = {GCE_VM_ANNOTATION: annotation}
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, **spec},
    }
    pods.core_v1.create_namespaced_pod(pods.namespace, body)
    pods.created.append(name)
    return name


def kpo_spec(base_script: str, sidecar: bool = True, **base_extra: Any) -> dict:
    """A PodSpec shaped like KPO's with do_xcom_push: `base` + the XCom sidecar sharing an
    emptyDir at /airflow/xcom, plus scheduling fields the webhook must drop (a node selector
    for a node pool that does not exist here: kept, it would leave the pod Pending)."""
    containers = [
        {"name": "base", "image": "docker.io/library/perl:5.36", "command": ["sh", "-c", base_script], **base_extra}
    ]
    containers[0].setdefault("volumeMounts", []).append(XCOM_MOUNT)
    if sidecar:
        containers.append({"name": SIDECAR, "image": BUSYBOX, "command": SIDECAR_COMMAND, "volumeMounts": [XCOM_MOUNT]})
    return {
        "containers": containers,
        "volumes": [{"name": "xcom", "emptyDir": {}}],
        "nodeSelector": {"cloud.google.com/gke-nodepool": "pool-does-not-exist"},
        "tolerations": [{"key": "example.com/dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    }


def exec_raw(pods: Any, name: str, command: list[str], timeout: float = 60) -> tuple[str, str, dict]:
    """Exec in the placeholder container; returns stdout, stderr and the Status of the exec."""
    return pods.exec_full(name, PLACEHOLDER, command, timeout)


def exit_code_of(status: dict) -> int:
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    raise AssertionError(f"no exit code in {status}")


def container_states(pods: Any, name: str) -> dict[str, str]:
    stdout, stderr, status = exec_raw(pods, name, ["placeholder-pod", "container-statuses"])
    assert exit_code_of(status) == 0, stderr
    return {entry["container"]: entry["state"] for entry in json.loads(stdout)}


def wait_states(pods: Any, name: str, wanted: dict[str, str], timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        states = container_states(pods, name)
        if all(states.get(c) == s for c, s in wanted.items()):
            return states
        if time.monotonic() > deadline:
            pytest.fail(f"pod {name}: container states {states}, wanted {wanted}")
        time.sleep(0.5)


def ws_frames(data: bytes) -> list[bytes]:
    """Split unmasked websocket frames; returns each data frame's payload. Every frame is a final
    binary frame (opcode 2) but the last, a close frame with code 1000, as on a real peer VM."""
    payloads, i, closed = [], 0, False
    while i < len(data):
        assert not closed, f"frame at {i} after the close frame"
        first, second = data[i], data[i + 1]
        assert first in (0x82, 0x88), f"frame at {i}: first byte {first:#x}, not FIN+binary or FIN+close"
        assert not second & 0x80, f"frame at {i} is masked"
        length, i = second & 0x7F, i + 2
        if length == 126:
            length, i = int.from_bytes(data[i : i + 2], "big"), i + 2
        elif length == 127:
            length, i = int.from_bytes(data[i : i + 8], "big"), i + 8
        if first == 0x88:
            assert data[i : i + length] == b"\x03\xe8", "close frame without code 1000"
            closed = True
        else:
            payloads.append(data[i : i + length])
        i += length
    assert closed, "no close frame at the end"
    return payloads


def vm_exec(pods: Any, name: str, container: str, argv: list[str]) -> tuple[list[bytes], str, int]:
    """`placeholder-pod exec CONTAINER '<json argv>'`: (frame payloads, stderr, exit code)."""
    stdout, stderr, status = exec_raw(pods, name, ["placeholder-pod", "exec", container, json.dumps(argv)])
    code = exit_code_of(status)
    if code != 0:
        return [], stderr, code
    raw = b"".join(base64.b64decode(chunk) for chunk in stdout.split())
    return ws_frames(raw), stderr, code


def agent_get(ip: str, path: str, **params: Any) -> tuple[int, Any]:
    """GET from the agent on the pod IP (the host reaches pod IPs over the cluster bridge)."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    conn = http.client.HTTPConnection(ip, AGENT_PORT, timeout=10)
    try:
        conn.request("GET", f"{path}?{query}" if query else path)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(body)
    except ValueError:
        return resp.status, body


def vm_logs(ip: str, container: str, after: str | None = None, max_lines: int | None = None) -> list[str]:
    status, body = agent_get(ip, "/logs", container_name=container, after_timestamp=after, max_log_lines=max_lines)
    assert status == 200, body
    return body["logs"]


def split_log_line(line: str) -> tuple[str, str, str]:
    """'<ts> stdout F <text>' -> (ts, stream, text)"""
    ts, stream, tag, text = ([*line.split(" ", 3), ""])[:4]
    assert tag == "F", line
    return ts, stream, text


def wait_endpoint(pods: Any, name: str, timeout: float = 60) -> str:
    pod = pods.wait_for(
        name, lambda p: ENDPOINT_ANNOTATION in (p.metadata.annotations or {}), "endpoint annotation", timeout
    )
    ip = pod.metadata.annotations[ENDPOINT_ANNOTATION]
    assert ip == pod.status.pod_ip
    return ip


def placeholder_terminated(pods: Any, name: str, timeout: float = 90) -> Any:
    pod = pods.wait_phase(name, ("Succeeded", "Failed"), timeout=timeout)
    (status,) = pod.status.container_statuses
    assert status.name == PLACEHOLDER and status.state.terminated is not None
    return pod, status.state.terminated


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("exit_code", "phase"), [(0, "Succeeded"), (3, "Failed")])
def test_kpo_pod_runs_on_a_peer_vm(pods, exit_code, phase):
    token = uuid.uuid4().hex[:12]
    script = (
        f"echo 'first {token}'; for i in 2 3 4 5; do echo \"line $i\"; sleep 0.2; done; "
        "echo 'to stderr' >&2; sleep 0.2; "
        f'printf \'{{"token": "{token}", "n": [1, 2]}}\' > /airflow/xcom/return.json; '
        f"echo 'last {token}'; exit {exit_code}"
    )
    name = create_pod(pods, kpo_spec(script), annotation=gce_vm())

    # The webhook made it a placeholder: one privileged agent container, scheduling fields gone.
    pod = pods.read(name)
    (container,) = pod.spec.containers
    assert container.name == PLACEHOLDER
    assert container.image == "composer-kpo.local/peervm:1"
    assert container.image_pull_policy == "Never"
    assert container.command == ["placeholder-pod", "agent"]
    assert container.security_context.privileged is True
    assert not pod.spec.node_selector and not pod.spec.affinity
    assert not [t for t in pod.spec.tolerations or [] if t.key == "example.com/dedicated"]
    env = {e.name: e.value for e in container.env}
    assert [c["name"] for c in json.loads(env["PEERVM_SPEC"])] == ["base", SIDECAR]
    assert env["PEERVM_GCE_VM"] == gce_vm()
    assert [m.mount_path for m in container.volume_mounts].count("/airflow/xcom") == 1
    assert pod.metadata.labels[USE_WIS_LABEL] == "true"
    assert pod.metadata.annotations[GCE_VM_ANNOTATION] == gce_vm()

    ip = wait_endpoint(pods, name)
    assert agent_get(ip, "/healthz")[0] == 200

    wait_states(pods, name, {"base": "TERMINATED", SIDECAR: "RUNNING"})

    # Logs: every line, oldest first, strictly increasing timestamps, stderr marked.
    lines = vm_logs(ip, "base")
    parsed = [split_log_line(line) for line in lines]
    assert [text for _, _, text in parsed] == [
        f"first {token}",
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "to stderr",
        f"last {token}",
    ]
    assert [stream for _, stream, _ in parsed] == ["stdout"] * 5 + ["stderr", "stdout"]
    stamps = [ts for ts, _, _ in parsed]
    assert all(ts.endswith("Z") for ts in stamps)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # after_timestamp is strict; max_log_lines caps from the oldest.
    assert [split_log_line(x)[2] for x in vm_logs(ip, "base", after=stamps[2])] == [
        "line 4",
        "line 5",
        "to stderr",
        f"last {token}",
    ]
    assert vm_logs(ip, "base", after=stamps[-1]) == []
    assert vm_logs(ip, "base", max_lines=2) == lines[:2]
    assert vm_logs(ip, "base", after=stamps[0], max_lines=1) == lines[1:2]

    # XCom, as Composer's extract_xcom_json reads it: websocket frames in base64.
    frames, stderr, code = vm_exec(pods, name, SIDECAR, ["/bin/sh", "-c", "cat /airflow/xcom/return.json"])
    assert code == 0, stderr
    assert frames[0] == b"\x01"
    assert all(f[:1] == b"\x01" and len(f) <= 1 + 24 * 1024 for f in frames)
    assert json.loads(b"".join(f[1:] for f in frames)) == {"token": token, "n": [1, 2]}

    # A failing command inside the VM: its output, then the close frame; no exit code is sent (as
    # on a real VM), and exec itself exits 0.
    frames, _, code = vm_exec(pods, name, SIDECAR, ["/bin/sh", "-c", "echo partial; exit 7"])
    assert code == 0
    assert b"".join(f[1:] for f in frames) == b"partial\n"

    # Unknown container / container that is not running.
    _, stderr, code = vm_exec(pods, name, "nope", ["true"])
    assert code == 1 and "container not found" in stderr
    _, stderr, code = vm_exec(pods, name, "base", ["true"])
    assert code == 1 and "container not running" in stderr

    # extract_xcom_kill: SIGINT to the sidecar's PID 1 ends it.
    frames, stderr, code = vm_exec(pods, name, SIDECAR, ["/bin/sh", "-c", "kill -2 1"])
    assert code == 0, stderr
    wait_states(pods, name, {"base": "TERMINATED", SIDECAR: "TERMINATED"}, timeout=15)

    # The pod ends with the workload's outcome (the sidecar's exit code does not count).
    pod, terminated = placeholder_terminated(pods, name)
    assert pod.status.phase == phase
    assert pod.metadata.annotations[ENDPOINT_ANNOTATION] == ip
    if exit_code:
        assert terminated.exit_code != 0
        assert "base" in (terminated.message or ""), terminated
    else:
        assert terminated.exit_code == 0


def test_env_from_secret_reaches_the_vm_command(pods):
    secret_name = f"c3-secret-{uuid.uuid4().hex[:8]}"
    canary = f"canary-{uuid.uuid4().hex}"
    pods.core_v1.create_namespaced_secret(
        pods.namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name},
            "stringData": {"token": canary, "other": "o-value"},
        },
    )
    try:
        script = 'echo "key=$FROM_KEY"; echo "all=$ALL_token/$ALL_other"; echo "plain=$PLAIN"; echo "pwd=$PWD"'
        spec = kpo_spec(
            script,
            sidecar=False,
            env=[
                {"name": "FROM_KEY", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "token"}}},
                {"name": "PLAIN", "value": "a b $c"},
            ],
            envFrom=[{"secretRef": {"name": secret_name}, "prefix": "ALL_"}],
            workingDir="/tmp",
        )
        name = create_pod(pods, spec, annotation=gce_vm("e2-custom-medium-2048"))
        container = pods.read(name).spec.containers[0]
        refs = {e.name: e.value_from for e in container.env if e.value_from}
        assert refs["PEERVM_0_FROM_KEY"].secret_key_ref.name == secret_name
        assert [(s.prefix, s.secret_ref.name) for s in container.env_from] == [("PEERVM_0_ALL_", secret_name)]

        ip = wait_endpoint(pods, name)
        wait_states(pods, name, {"base": "TERMINATED"})
        texts = [split_log_line(line)[2] for line in vm_logs(ip, "base")]
        assert texts == [f"key={canary}", f"all={canary}/o-value", "plain=a b $c", "pwd=/tmp"]
        pod, terminated = placeholder_terminated(pods, name)
        assert pod.status.phase == "Succeeded" and terminated.exit_code == 0
    finally:
        pods.core_v1.delete_namespaced_secret(secret_name, pods.namespace)


@pytest.mark.parametrize(
    ("machine_type", "disk_gb"),
    [("e2-custom-3-4096", "50"), ("e2-custom-2-4096", "500"), ("n1-standard-4", "50")],
    ids=["odd-cpu-count", "disk-too-large", "not-e2-custom"],
)
def test_vm_that_cannot_be_created_fails_the_pod(pods, machine_type, disk_gb):
    name = create_pod(pods, kpo_spec("echo never; exit 0"), annotation=gce_vm(machine_type, disk_gb))
    pod, terminated = placeholder_terminated(pods, name, timeout=60)
    assert pod.status.phase == "Failed"
    assert terminated.exit_code != 0
    assert terminated.message, "the agent should say why the VM could not be created"
    assert ENDPOINT_ANNOTATION not in (pod.metadata.annotations or {})
    time.sleep(2)  # the controller runs every second: still no endpoint
    assert ENDPOINT_ANNOTATION not in (pods.read(name).metadata.annotations or {})


@pytest.mark.parametrize(
    ("label", "annotation"), [(True, None), (False, gce_vm())], ids=["label-only", "annotation-only"]
)
def test_pod_without_label_and_annotation_is_left_alone(pods, label, annotation):
    token = uuid.uuid4().hex
    spec = {"containers": [{"name": "base", "image": BUSYBOX, "command": ["sh", "-c", f"echo plain {token}"]}]}
    name = create_pod(pods, spec, label=label, annotation=annotation)
    pod = pods.read(name)
    assert [c.name for c in pod.spec.containers] == ["base"]
    assert pod.spec.containers[0].image == BUSYBOX and not pod.spec.containers[0].env
    assert pods.wait_terminated(name).exit_code == 0
    assert pods.logs(name).splitlines() == [f"plain {token}"]
    time.sleep(1.5)  # a controller pass or two
    assert ENDPOINT_ANNOTATION not in (pods.read(name).metadata.annotations or {})
