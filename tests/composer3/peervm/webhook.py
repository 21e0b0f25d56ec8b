#!/usr/bin/python3
"""Composer 3 peer-VM simulation: the admission webhook and the endpoint controller.

One host process, Python standard library only (see CONTRACT.md next to this file):

* an HTTPS server on 127.0.0.1 answering AdmissionReview v1 at ``/mutate``: a pod that carries
  the ``node.gke.io/gce-vm`` annotation becomes a *placeholder* pod whose only container runs the
  peer-VM agent, which in turn runs the original containers (``/healthz`` answers 200 for
  cluster-up's start-up wait);
* a controller thread that lists placeholder pods every second through the API server and, once
  a pod's agent answers ``GET http://<podIP>:9080/healthz``, patches the annotation
  ``node.gke.io/peer-vm-endpoint: <podIP>`` on it.

The mutation is a pure function (``placeholder_pod`` / ``mutation_patch``) so it is unit tested
without a cluster. Everything is logged to stderr.

Usage: webhook.py --port PORT --pki-dir DIR [--api-server URL] [--interval SECONDS]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import http.client
import json
import logging
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USE_WIS_LABEL = "node.gke.io/use-workload-identity-service"
GCE_VM_ANNOTATION = "node.gke.io/gce-vm"
ENDPOINT_ANNOTATION = "node.gke.io/peer-vm-endpoint"
PLACEHOLDER_NAME = "peervm-placeholder"
PLACEHOLDER_IMAGE = "composer-kpo.local/peervm:1"
AGENT_PORT = 9080
SPEC_KEYS = ("name", "image", "command", "args", "workingDir")
# Scheduling fields that pick a node; the simulated VM is chosen by its machine type instead.
REMOVED_SPEC_FIELDS = ("nodeSelector", "affinity", "tolerations")

log = logging.getLogger("peervm")


# ---------------------------------------------------------------------------------------------
# the mutation (pure)


def is_placeholder(pod: dict) -> bool:
    containers = (pod.get("spec") or {}).get("containers") or []
    return bool(containers) and containers[0].get("name") == PLACEHOLDER_NAME


def wants_peer_vm(pod: dict) -> bool:
    """True for a pod the webhook turns into a placeholder: it carries the gce-vm annotation and
    is not a placeholder already (a reinvoked webhook must not wrap the agent in itself)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return GCE_VM_ANNOTATION in annotations and not is_placeholder(pod)


def _env_prefix(index: int) -> str:
    return f"PEERVM_{index}_"


def placeholder_container(pod: dict) -> dict:
    """The single container of the placeholder pod, built from the pod's original containers."""
    containers = pod["spec"]["containers"]
    annotations = pod["metadata"]["annotations"]
    spec_list = [{key: c.get(key) for key in SPEC_KEYS} for c in containers]
    env: list[dict] = [
        {"name": "PEERVM_SPEC", "value": json.dumps(spec_list, separators=(",", ":"))},
        {"name": "PEERVM_GCE_VM", "value": annotations[GCE_VM_ANNOTATION]},
    ]
    env_from: list[dict] = []
    mounts: list[dict] = []
    mount_paths: set[str] = set()
    for index, container in enumerate(containers):
        prefix = _env_prefix(index)
        for var in container.get("env") or []:
            renamed = copy.deepcopy(var)
            renamed["name"] = prefix + var["name"]
            env.append(renamed)
        for source in container.get("envFrom") or []:
            prefixed = copy.deepcopy(source)
            prefixed["prefix"] = prefix + (source.get("prefix") or "")
            env_from.append(prefixed)
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPath") not in mount_paths:
                mount_paths.add(mount.get("mountPath"))
                mounts.append(copy.deepcopy(mount))
    result: dict[str, Any] = {
        "name": PLACEHOLDER_NAME,
        "image": PLACEHOLDER_IMAGE,
        "imagePullPolicy": "Never",
        "command": ["placeholder-pod", "agent"],
        # The agent gives every simulated container its own PID and mount namespace.
        "securityContext": {"privileged": True},
        "env": env,
    }
    if env_from:
        result["envFrom"] = env_from
    if mounts:
        result["volumeMounts"] = mounts
    return result


def placeholder_pod(pod: dict) -> dict | None:
    """The placeholder pod for `pod`, or None when the pod is left as it is."""
    if not wants_peer_vm(pod):
        return None
    new = copy.deepcopy(pod)
    spec = new["spec"]
    spec["containers"] = [placeholder_container(pod)]
    for field in REMOVED_SPEC_FIELDS:
        spec.pop(field, None)
    return new


def mutation_patch(pod: dict) -> list[dict]:
    """The RFC 6902 JSON patch that turns `pod` into its placeholder ([] = no change)."""
    if not wants_peer_vm(pod):
        return []
    patch: list[dict] = [{"op": "replace", "path": "/spec/containers", "value": [placeholder_container(pod)]}]
    patch.extend({"op": "remove", "path": f"/spec/{field}"} for field in REMOVED_SPEC_FIELDS if field in pod["spec"])
    return patch


def apply_patch(doc: dict, patch: list[dict]) -> dict:
    """Apply the subset of JSON patch that `mutation_patch` emits (replace / remove of one level
    below /spec). For the unit tests: proves the patch and `placeholder_pod` agree."""
    new = copy.deepcopy(doc)
    for op in patch:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        target = new
        for part in parts[:-1]:
            target = target[part]
        if op["op"] == "replace":
            if parts[-1] not in target:
                raise KeyError(op["path"])
            target[parts[-1]] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del target[parts[-1]]
        else:
            raise ValueError(f"unsupported op {op['op']}")
    return new


def review_response(review: dict) -> dict:
    """The AdmissionReview v1 response to an AdmissionReview request."""
    request = review.get("request") or {}
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": True}
    pod = request.get("object") or {}
    if request.get("operation", "CREATE") == "CREATE" and pod.get("kind", "Pod") == "Pod":
        patch = mutation_patch(pod)
        if patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {
        "apiVersion": review.get("apiVersion") or "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }


def _pod_ref(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '?')}/{meta.get('name') or meta.get('generateName', '?') + '*'}"


# ---------------------------------------------------------------------------------------------
# the controller's decisions (pure)


def endpoint_candidates(pod_list: dict) -> list[tuple[str, str, str]]:
    """(namespace, name, podIP) of listed placeholder pods that need the endpoint annotation:
    the placeholder container runs, the pod has an IP, and the annotation is not there yet."""
    found = []
    for pod in pod_list.get("items") or []:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        if not is_placeholder(pod) or meta.get("deletionTimestamp"):
            continue
        if ENDPOINT_ANNOTATION in (meta.get("annotations") or {}):
            continue
        ip = status.get("podIP")
        running = any(
            cs.get("name") == PLACEHOLDER_NAME and "running" in (cs.get("state") or {})
            for cs in status.get("containerStatuses") or []
        )
        if ip and running:
            found.append((meta["namespace"], meta["name"], ip))
    return found


def endpoint_patch(ip: str) -> dict:
    return {"metadata": {"annotations": {ENDPOINT_ANNOTATION: ip}}}


# ---------------------------------------------------------------------------------------------
# the controller (I/O)


class ApiServer:
    """A minimal client of the API server, authenticated with a client certificate.

    http.client directly (not urllib): no proxy from the environment may ever be used."""

    def __init__(self, url: str, ca_file: str, cert_file: str, key_file: str, timeout: float = 10) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 443
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file)
        self.context.load_cert_chain(cert_file, key_file)
        self._conn: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None, content_type: str = "") -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):  # a kept-alive connection the server closed: one fresh retry
            if self._conn is None:
                self._conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=self.context
                )
            try:
                self._conn.request(method, path, body=data, headers=headers)
                resp = self._conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
                continue
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {payload[:300]!r}")
            return json.loads(payload or b"{}")
        raise AssertionError("unreachable")


def agent_healthy(ip: str, timeout: float = 1.0) -> bool:
    conn = http.client.HTTPConnection(ip, AGENT_PORT, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Controller(threading.Thread):
    def __init__(self, api: ApiServer, interval: float = 1.0) -> None:
        super().__init__(name="controller", daemon=True)
        self.api = api
        self.interval = interval
        self._last_error = ""

    def run(self) -> None:
        log.info("controller: watching pods labelled %s=true every %.1fs", USE_WIS_LABEL, self.interval)
        while True:
            started = time.monotonic()
            try:
                self.sync_once()
                if self._last_error:
                    log.info("controller: API server reachable again")
                    self._last_error = ""
            except Exception as exc:
                text = f"{type(exc).__name__}: {exc}"
                if text != self._last_error:  # say it once, not every second
                    log.warning("controller: %s", text)
                    self._last_error = text
            time.sleep(max(0.05, self.interval - (time.monotonic() - started)))

    def sync_once(self) -> None:
        selector = urllib.parse.quote(f"{USE_WIS_LABEL}=true", safe="")
        pods = self.api.request("GET", f"/api/v1/pods?labelSelector={selector}")
        for namespace, name, ip in endpoint_candidates(pods):
            if not agent_healthy(ip):
                continue
            path = f"/api/v1/namespaces/{urllib.parse.quote(namespace)}/pods/{urllib.parse.quote(name)}"
            try:
                self.api.request("PATCH", path, endpoint_patch(ip), "application/merge-patch+json")
            except RuntimeError as exc:
                if "HTTP 404" in str(exc):  # deleted meanwhile
                    continue
                raise
            log.info("controller: %s/%s: agent answers, %s=%s", namespace, name, ENDPOINT_ANNOTATION, ip)


# ---------------------------------------------------------------------------------------------
# the webhook server (I/O)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "peervm-webhook"
    timeout = 30  # an idle kept-alive connection is closed after this many seconds

    def setup(self) -> None:
        # The TLS handshake happens here, in the connection's own thread, so a slow or broken
        # client cannot stall the accept loop.
        self.request.settimeout(self.timeout)
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client went away (ssl.SSLError is an OSError)
            super().handle()

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?")[0] in ("/healthz", "/readyz"):
            self._reply(200, b"ok\n", "text/plain")
        else:
            self._reply(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/mutate":
            self._reply(404, b"not found\n", "text/plain")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            review = json.loads(self.rfile.read(length))
            answer = review_response(review)
        except Exception as exc:
            log.warning("webhook: bad AdmissionReview from %s: %s: %s", self.client_address, type(exc).__name__, exc)
            self._reply(400, json.dumps({"error": str(exc)}).encode())
            return
        pod = (review.get("request") or {}).get("object") or {}
        if "patch" in answer["response"]:
            log.info("webhook: %s -> placeholder (%d containers)", _pod_ref(pod), len(pod["spec"]["containers"]))
        elif is_placeholder(pod):
            log.info("webhook: %s: unchanged (already a placeholder)", _pod_ref(pod))
        else:
            log.info("webhook: %s: unchanged (no %s annotation)", _pod_ref(pod), GCE_VM_ANNOTATION)
        self._reply(200, json.dumps(answer).encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged by do_POST; health probes are not worth a line


class Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        log.warning("webhook: connection from %s failed: %s", client_address, exc)


def serve(port: int, cert_file: str, key_file: str) -> ThreadingHTTPServer:
    server = Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pki-dir", required=True, help="the cluster's PKI dir (ca.crt, admin.*, peervm-webhook.*)")
    parser.add_argument("--api-server", default="https://127.0.0.1:6443")
    parser.add_argument("--interval", type=float, default=1.0, help="controller period, seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    pki = args.pki_dir
    api = ApiServer(
        args.api_server,
        os.path.join(pki, "ca.crt"),
        os.path.join(pki, "admin.crt"),
        os.path.join(pki, "admin.key"),
    )
    server = serve(args.port, os.path.join(pki, "peervm-webhook.crt"), os.path.join(pki, "peervm-webhook.key"))
    Controller(api, args.interval).start()
    log.info("webhook: serving https://127.0.0.1:%d/mutate (pid %d)", args.port, os.getpid())
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
