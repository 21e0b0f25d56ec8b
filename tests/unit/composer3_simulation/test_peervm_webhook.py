"""The Composer 3 simulation's admission webhook and controller (tests/composer3/peervm/webhook.py),
without a cluster: the mutation is a pure function of the pod, the controller's choice a pure
function of the pod list, and the HTTP handler is exercised over plain HTTP on loopback."""

from __future__ import annotations

import base64
import copy
import http.client
import importlib.util
import json
import threading
from pathlib import Path

import pytest

WEBHOOK_PATH = Path(__file__).resolve().parents[3] / "tests" / "composer3" / "peervm" / "webhook.py"


def _load():
    spec = importlib.util.spec_from_file_location("peervm_webhook", WEBHOOK_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wh = _load()

GCE_VM = (
    "selector:\n  matchLabels:\n    machineType: e2-custom-2-4096\n    diskSizeGb: '50'\n"
    "logging: [Workload, System]\nvmServiceAccount: peervm-vm@tenant.iam.gserviceaccount.com\n"
)
TOKEN_MOUNT = {
    "name": "kube-api-access-abcde",
    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    "readOnly": True,
}


def kpo_pod(annotated: bool = True) -> dict:
    """A pod as the API server hands it to the webhook: KPO's base + XCom sidecar, after the
    built-in admission plugins (token volume mounted everywhere, default tolerations)."""
    annotations = {"some/other": "x"}
    if annotated:
        annotations[wh.GCE_VM_ANNOTATION] = GCE_VM
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "task-abc",
            "namespace": "composer-user-workloads",
            "labels": {wh.USE_WIS_LABEL: "true", "dag_id": "d"},
            "annotations": annotations,
        },
        "spec": {
            "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["true"]}],
            "containers": [
                {
                    "name": "base",
                    "image": "perl:5.36",
                    "command": ["sh", "-c"],
                    "args": ["echo hi"],
                    "workingDir": "/tmp",
                    "env": [
                        {"name": "A", "value": "1"},
                        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}},
                    ],
                    "envFrom": [
                        {"secretRef": {"name": "all-secret"}},
                        {"configMapRef": {"name": "cm"}, "prefix": "CM_"},
                    ],
                    "volumeMounts": [
                        {"name": "xcom", "mountPath": "/airflow/xcom"},
                        {"name": "data", "mountPath": "/data", "subPath": "d"},
                        TOKEN_MOUNT,
                    ],
                    "resources": {"limits": {"memory": "1Gi"}},
                    "ports": [{"containerPort": 8080}],
                    "imagePullPolicy": "IfNotPresent",
                },
                {
                    "name": "airflow-xcom-sidecar",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", "trap 'exit 0' INT; while true; do sleep 1; done;"],
                    "env": [{"name": "A", "value": "sidecar"}],
                    "volumeMounts": [
                        {"name": "xcom-other", "mountPath": "/airflow/xcom"},  # loses: base's came first
                        TOKEN_MOUNT,
                    ],
                },
            ],
            "volumes": [{"name": "xcom", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
            "serviceAccountName": "default",
            "restartPolicy": "Never",
            "nodeSelector": {"cloud.google.com/gke-nodepool": "pool-1"},
            "affinity": {"nodeAffinity": {}},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
        },
    }


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container["env"]}


def test_placeholder_container_shape():
    pod = kpo_pod()
    new = wh.placeholder_pod(pod)
    assert [c["name"] for c in new["spec"]["containers"]] == ["peervm-placeholder"]
    c = new["spec"]["containers"][0]
    assert c["image"] == "composer-kpo.local/peervm:1"
    assert c["imagePullPolicy"] == "Never"
    assert c["command"] == ["placeholder-pod", "agent"]
    assert c["securityContext"] == {"privileged": True}
    assert "resources" not in c and "ports" not in c and "args" not in c


def test_spec_and_gce_vm_env():
    c = wh.placeholder_pod(kpo_pod())["spec"]["containers"][0]
    env = env_of(c)
    assert env["PEERVM_GCE_VM"] == {"name": "PEERVM_GCE_VM", "value": GCE_VM}
    assert json.loads(env["PEERVM_SPEC"]["value"]) == [
        {"name": "base", "image": "perl:5.36", "command": ["sh", "-c"], "args": ["echo hi"], "workingDir": "/tmp"},
        {
            "name": "airflow-xcom-sidecar",
            "image": "busybox:1.36",
            "command": ["sh", "-c", "trap 'exit 0' INT; while true; do sleep 1; done;"],
            "args": None,
            "workingDir": None,
        },
    ]


def test_env_renamed_per_container_value_and_value_from_kept():
    c = wh.placeholder_pod(kpo_pod())["spec"]["containers"][0]
    names = [e["name"] for e in c["env"]]
    assert names == ["PEERVM_SPEC", "PEERVM_GCE_VM", "PEERVM_0_A", "PEERVM_0_S", "PEERVM_1_A"]
    env = env_of(c)
    assert env["PEERVM_0_A"] == {"name": "PEERVM_0_A", "value": "1"}
    assert env["PEERVM_0_S"] == {"name": "PEERVM_0_S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}
    assert env["PEERVM_1_A"] == {"name": "PEERVM_1_A", "value": "sidecar"}


def test_env_from_keeps_source_with_prefix():
    c = wh.placeholder_pod(kpo_pod())["spec"]["containers"][0]
    assert c["envFrom"] == [
        {"secretRef": {"name": "all-secret"}, "prefix": "PEERVM_0_"},
        {"configMapRef": {"name": "cm"}, "prefix": "PEERVM_0_CM_"},
    ]


def test_env_from_of_a_later_container_gets_its_index():
    pod = kpo_pod()
    pod["spec"]["containers"][1]["envFrom"] = [{"configMapRef": {"name": "cm2"}}]
    c = wh.placeholder_pod(pod)["spec"]["containers"][0]
    assert c["envFrom"][-1] == {"configMapRef": {"name": "cm2"}, "prefix": "PEERVM_1_"}


def test_volume_mounts_union_first_per_path_wins():
    c = wh.placeholder_pod(kpo_pod())["spec"]["containers"][0]
    assert c["volumeMounts"] == [
        {"name": "xcom", "mountPath": "/airflow/xcom"},
        {"name": "data", "mountPath": "/data", "subPath": "d"},
        TOKEN_MOUNT,
    ]


def test_scheduling_fields_removed_the_rest_unchanged():
    pod = kpo_pod()
    new = wh.placeholder_pod(pod)
    for field in ("nodeSelector", "affinity", "tolerations"):
        assert field not in new["spec"]
    for field in ("initContainers", "volumes", "serviceAccountName", "restartPolicy"):
        assert new["spec"][field] == pod["spec"][field]
    assert new["metadata"] == pod["metadata"]


def test_input_not_modified():
    pod = kpo_pod()
    before = copy.deepcopy(pod)
    wh.placeholder_pod(pod)
    wh.mutation_patch(pod)
    wh.review_response({"request": {"uid": "u", "operation": "CREATE", "object": pod}})
    assert pod == before


def test_pod_without_annotation_unchanged():
    pod = kpo_pod(annotated=False)
    assert wh.placeholder_pod(pod) is None
    assert wh.mutation_patch(pod) == []


def test_placeholder_is_not_wrapped_again():
    placeholder = wh.placeholder_pod(kpo_pod())
    assert wh.placeholder_pod(placeholder) is None
    assert wh.mutation_patch(placeholder) == []


def test_no_containers_env_or_mounts():
    pod = kpo_pod()
    pod["spec"]["containers"] = [{"name": "base", "image": "busybox:1.36"}]
    c = wh.placeholder_pod(pod)["spec"]["containers"][0]
    assert [e["name"] for e in c["env"]] == ["PEERVM_SPEC", "PEERVM_GCE_VM"]
    assert "envFrom" not in c and "volumeMounts" not in c


@pytest.mark.parametrize("present", [(), ("nodeSelector",), ("nodeSelector", "affinity", "tolerations")])
def test_patch_matches_pure_mutation(present):
    pod = kpo_pod()
    for field in ("nodeSelector", "affinity", "tolerations"):
        if field not in present:
            del pod["spec"][field]
    patch = wh.mutation_patch(pod)
    # "remove" of a missing path makes the API server reject the whole patch: only present fields
    assert [op["path"] for op in patch if op["op"] == "remove"] == [f"/spec/{f}" for f in present]
    assert wh.apply_patch(pod, patch) == wh.placeholder_pod(pod)


def test_review_response_carries_base64_json_patch():
    pod = kpo_pod()
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {"uid": "1234", "operation": "CREATE", "kind": {"kind": "Pod"}, "object": pod},
    }
    answer = wh.review_response(review)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == "1234" and response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == wh.mutation_patch(pod)


def test_review_response_without_patch():
    for pod, operation in ((kpo_pod(annotated=False), "CREATE"), (kpo_pod(), "UPDATE")):
        answer = wh.review_response({"request": {"uid": "u", "operation": operation, "object": pod}})
        assert answer["response"] == {"uid": "u", "allowed": True}


def status(phase="Running", ip="10.88.0.7", running=True, name="peervm-placeholder"):
    state = {"running": {"startedAt": "2025-01-01T00:00:00Z"}} if running else {"waiting": {"reason": "x"}}
    result = {"phase": phase, "containerStatuses": [{"name": name, "state": state}]}
    if ip:
        result["podIP"] = ip
    return result


def listed(name, pod_status, annotations=None, deleting=False, containers=("peervm-placeholder",)):
    meta = {"name": name, "namespace": "ns", "annotations": annotations or {}}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"name": c} for c in containers]}, "status": pod_status}


def test_endpoint_candidates():
    pods = {
        "items": [
            listed("ready", status()),
            listed("no-ip", status(ip=None)),
            listed("waiting", status(running=False)),
            listed("done", status(), annotations={wh.ENDPOINT_ANNOTATION: "10.88.0.7"}),
            listed("deleting", status(), deleting=True),
            listed("plain", status(name="base"), containers=("base",)),
            {
                "metadata": {"name": "fresh", "namespace": "ns"},
                "spec": {"containers": [{"name": "peervm-placeholder"}]},
            },
        ]
    }
    assert wh.endpoint_candidates(pods) == [("ns", "ready", "10.88.0.7")]
    assert wh.endpoint_patch("10.88.0.7") == {"metadata": {"annotations": {wh.ENDPOINT_ANNOTATION: "10.88.0.7"}}}


class FakeApi:
    def __init__(self, pods):
        self.pods = pods
        self.calls = []

    def request(self, method, path, body=None, content_type=""):
        self.calls.append((method, path, body, content_type))
        return self.pods if method == "GET" else {}


def test_controller_patches_only_healthy_agents(monkeypatch):
    api = FakeApi({"items": [listed("a", status(ip="10.88.0.5")), listed("b", status(ip="10.88.0.6"))]})
    monkeypatch.setattr(wh, "agent_healthy", lambda ip, timeout=1.0: ip == "10.88.0.6")
    wh.Controller(api).sync_once()
    method, path, _, _ = api.calls[0]
    assert method == "GET" and path == "/api/v1/pods?labelSelector=node.gke.io%2Fuse-workload-identity-service%3Dtrue"
    assert api.calls[1:] == [
        (
            "PATCH",
            "/api/v1/namespaces/ns/pods/b",
            {"metadata": {"annotations": {wh.ENDPOINT_ANNOTATION: "10.88.0.6"}}},
            "application/merge-patch+json",
        )
    ]


@pytest.fixture
def plain_server():
    """The webhook's handler on plain HTTP (TLS is the cluster's business, not the handler's)."""
    server = wh.Server(("127.0.0.1", 0), wh.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _http(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_http_handler(plain_server):
    assert _http(plain_server, "GET", "/healthz")[0] == 200
    assert _http(plain_server, "GET", "/nope")[0] == 404
    review = {"apiVersion": "admission.k8s.io/v1", "request": {"uid": "x", "operation": "CREATE", "object": kpo_pod()}}
    code, body = _http(plain_server, "POST", "/mutate", json.dumps(review))
    assert code == 200
    assert json.loads(body)["response"]["patchType"] == "JSONPatch"
    assert _http(plain_server, "POST", "/mutate", b"not json")[0] == 400
