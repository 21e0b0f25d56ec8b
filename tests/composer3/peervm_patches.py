"""TEST DOUBLE of Google's Composer 3 PodManager patches -- not Google's code, not for production.

On Cloud Composer 3 a KubernetesPodOperator pod becomes a ``peervm-placeholder`` pod while the real
containers run on a separate VM, so upstream's PodManager cannot read their logs or exec into them.
Google's Airflow build patches PodManager to talk to the VM instead. Public sources
(GoogleCloudPlatform/composer-airflow):

* Airflow 2 images: ``airflow/composer/kubernetes/pod_manager.py`` (``patch_fetch_container_logs``
  and the wrappers), ``airflow/composer/kubernetes/utils.py`` (``exec_on_placeholder_pod``, container
  statuses, the websocket-frame payload parser, ``await_pod_endpoint_creation``) and
  ``airflow/composer/kubernetes/trigger.py``; mirrored: commits 26d55e6e (utils, with the exec retry)
  and 28f05465 (pod_manager);
* Airflow 3 images: ``airflow-core/src/airflow/composer/patches/kubernetes/utils.py``,
  ``.../kubernetes/monkey_patching/airflow_providers_cncf_kubernetes_utils_pod_manager.py`` and
  ``.../kubernetes/monkey_patching/airflow_providers_cncf_kubernetes_triggers_pod.py``, installed by
  ``airflow-core/src/airflow/composer/patches/core/airflow_local_settings.py``; mirrored: a44693f5
  (``3.1.8+composer``) for Airflow 3.0-3.2 and 49bcd2dc (``3.3.1+composer``) for 3.3 and later.

This module is our own, smaller re-implementation of that behaviour for the local simulation
(tests/composer3/CONTRACT.md); it was written from the public description, not copied.
Which image it imitates follows the installed Airflow (:func:`google_shape`):

* Airflow 2: patches installed on the first ``pod_mutation_hook`` call; every exec in the placeholder
  is tried 5 times, 1 s apart; it runs to its end and all of its stdout is read; "container not found"
  anywhere in the error or stderr means the placeholder container is gone; no trigger patch.
* Airflow 3 (3.1 and 3.3 alike -- the files tied to those two commits do not differ in anything
  simulated here): patches installed when ``airflow_local_settings`` is imported (every process);
  no exec retry; the exec is opened with stdin and read as Google reads it (it returns after the
  first stdout it sees, while the socket is still open; any stderr is an error); "container not
  found" only from the Kubernetes ``ApiException``'s ``reason``; and
  ``KubernetesPodTrigger.define_container_state`` is patched too (``install_trigger``).

``install()`` (idempotent; ``uninstall()`` undoes it) wraps six PodManager methods. Each wrapper reads
the pod and calls upstream's method unchanged unless ``spec.containers[0].name`` is
``peervm-placeholder``:

* ``get_container_names`` -> ``["base"]`` for a placeholder, so upstream starts "following" logs;
* ``fetch_container_logs`` -> waits for the ``node.gke.io/peer-vm-endpoint`` annotation, waits
  ``COMPOSER3_LOGS_FIRST_READ_DELAY`` s (Google: 10), then every ``COMPOSER3_LOGS_READ_INTERVAL`` s
  (Google: 1) reads ``GET http://<endpoint>:9080/logs`` into ``self.log``, until the base container
  is TERMINATED and ``COMPOSER3_LOGS_READS_AFTER_TERMINATION`` (Google: 10) more reads were done.
  Returns None, as Google's does (upstream returns a PodLoggingStatus);
* ``container_is_running`` / ``await_container_completion`` -> ``placeholder-pod container-statuses``
  exec'd in the placeholder;
* ``extract_xcom_json`` -> ``placeholder-pod exec airflow-xcom-sidecar '["/bin/sh","-c",...]'``, whose
  stdout is base64 websocket frames, decoded by ``decode_exec_frames`` (our own RFC 6455 parser);
* ``extract_xcom_kill`` -> the same exec with ``kill -2 1``.

``install_trigger()`` (Airflow 3; ``uninstall_trigger()`` undoes it) wraps
``KubernetesPodTrigger.define_container_state``: for a placeholder it answers ``undefined`` while the
pod is Pending, waits for the endpoint, then returns the base container's VM state in lower case
(``terminated`` when the placeholder container is gone) -- never ``failed``.

Timings are read from the environment on every call so tests can shorten them; the defaults are
Google's. ``COMPOSER3_ENDPOINT_POLL_INTERVAL`` (Google: 5) is the wait for the endpoint annotation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import os
import struct
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PLACEHOLDER_CONTAINER = "peervm-placeholder"
ENDPOINT_ANNOTATION = "node.gke.io/peer-vm-endpoint"
SIDECAR_CONTAINER = "airflow-xcom-sidecar"
XCOM_MOUNT_PATH = "/airflow/xcom"
EMPTY_XCOM_RESULT = "__airflow_xcom_result_empty__"
PEER_VM_LOGS_PORT = 9080
MAX_LOG_LINES = 1000
VM_SHUT_DOWN_EXIT_CODE = 137

#: (environment variable, Google's value)
LOGS_FIRST_READ_DELAY = ("COMPOSER3_LOGS_FIRST_READ_DELAY", 10.0)
LOGS_READ_INTERVAL = ("COMPOSER3_LOGS_READ_INTERVAL", 1.0)
LOGS_READS_AFTER_TERMINATION = ("COMPOSER3_LOGS_READS_AFTER_TERMINATION", 10)
ENDPOINT_POLL_INTERVAL = ("COMPOSER3_ENDPOINT_POLL_INTERVAL", 5.0)
EXEC_ATTEMPTS, EXEC_RETRY_WAIT = 5, 1.0  # Google's Airflow 2 images: tenacity, 5 attempts 1 s apart
XCOM_ATTEMPTS = 5  # Google: tenacity, 5 attempts, exponential wait 4..10 s

PATCHED_METHODS = (
    "fetch_container_logs",
    "get_container_names",
    "container_is_running",
    "extract_xcom_json",
    "extract_xcom_kill",
    "await_container_completion",
)
TRIGGER_PATCHED_METHODS = ("define_container_state",)
_MARK = "_composer3_double_original"


@dataclass(frozen=True)
class GoogleShape:
    """Which of Google's images the double imitates, and what differs between them."""

    name: str
    #: composer-airflow commits mirrored
    source: str
    #: patches installed when airflow_local_settings is imported (else on the first pod_mutation_hook)
    patch_at_import: bool
    #: every exec in the placeholder tried EXEC_ATTEMPTS times, EXEC_RETRY_WAIT s apart
    exec_retry: bool
    #: Google's Airflow 3 exec: stdin open, returns after the first stdout read, any stderr is an
    #: error, "container not found" only from ApiException.reason (else: run to the end, read all)
    first_stdout_exec: bool
    #: KubernetesPodTrigger.define_container_state patched
    trigger_patch: bool


AIRFLOW2 = GoogleShape(
    "airflow2", "airflow/composer/kubernetes/{utils.py@26d55e6e,pod_manager.py@28f05465}", False, True, False, False
)
AIRFLOW3_1 = GoogleShape(
    "airflow3.1", "airflow-core/src/airflow/composer/patches/kubernetes@a44693f5", True, False, True, True
)
AIRFLOW3_3 = GoogleShape(
    "airflow3.3", "airflow-core/src/airflow/composer/patches/kubernetes@49bcd2dc", True, False, True, True
)


def airflow_version() -> str:
    """The installed Airflow's version (read while ``airflow`` is still being imported, too)."""
    module = sys.modules.get("airflow")
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    from importlib.metadata import version as dist_version

    return dist_version("apache-airflow")


def google_shape(version: str | None = None) -> GoogleShape:
    """The image of Google's the double imitates under Airflow ``version`` (default: installed)."""
    parts = [int(p) if p.isdigit() else 0 for p in (version or airflow_version()).split("+")[0].split(".")[:2]]
    major, minor = [*parts, 0, 0][:2]
    if major < 3:
        return AIRFLOW2
    return AIRFLOW3_1 if (major, minor) < (3, 3) else AIRFLOW3_3


class PeerVmShutDown(Exception):
    """The placeholder pod is shut down (exec exit 137, or no exit status at all)."""


class PeerVmContainerNotFound(Exception):
    """The placeholder container (or the simulated container) is gone."""


class PeerVmExecError(Exception):
    """An exec in the placeholder failed otherwise (stderr, or a non-zero exit code)."""


def _setting(spec: tuple[str, float]) -> float:
    name, default = spec
    raw = os.environ.get(name, "").strip()
    return type(default)(raw) if raw else default


def _xcom_retry_wait(attempt: int) -> float:
    """Google's exponential wait (multiplier 1, min 4, max 10) after failed attempt ``attempt``."""
    return float(min(max(2 ** (attempt - 1), 4), 10))


# --- websocket frames ---------------------------------------------------------------------------


_OPCODES = {0x0, 0x1, 0x2, 0x8, 0x9, 0xA}  # RFC 6455: continuation, text, binary, close, ping, pong


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split a byte string into RFC 6455 frames: ``[(opcode, payload), ...]`` (masks removed).

    Raises ValueError on a truncated frame or a reserved opcode ("invalid opcode").
    """
    frames, pos, end = [], 0, len(data)

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > end:
            raise ValueError(f"truncated websocket frame at byte {pos}: need {n}, have {end - pos}")
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    while pos < end:
        first, second = take(2)
        opcode, masked, length = first & 0x0F, second & 0x80, second & 0x7F
        if opcode not in _OPCODES:
            raise ValueError("invalid opcode")
        if length == 126:
            (length,) = struct.unpack("!H", take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", take(8))
        key = take(4) if masked else b""
        payload = take(length)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frames.append((opcode, payload))
    return frames


def decode_exec_frames(response: str | bytes) -> str:
    """The stdout carried by ``placeholder-pod exec``'s answer (base64 of websocket frames).

    The real stream (Google's test vectors) is a binary header frame (data ``\x01``), binary stdout
    frames (``\x01`` + at most 24 KiB each) and a WebSocket CLOSE frame (``88 02 03 E8``). Stdout
    payloads of binary frames on channel 1 are joined, then decoded as UTF-8 (Google drops the first
    and the last frame whatever they are and decodes each frame on its own). Raises
    PeerVmExecError when the answer cannot be parsed.
    """
    try:
        raw = base64.b64decode(response, validate=False)
        frames = parse_frames(raw)
    except (binascii.Error, ValueError) as exc:
        raise PeerVmExecError(f"Unable to parse response from exec command: {exc}") from exc
    stdout = b"".join(payload[1:] for op, payload in frames if op == 0x2 and payload[:1] == b"\x01")
    return stdout.decode("utf-8")


# --- exec in the placeholder --------------------------------------------------------------------


def _open_exec(pod_manager: Any, pod: Any, command: list[str], *, stdin: bool = False) -> Any:
    """Open the exec websocket (separate so unit tests can replace it)."""
    from kubernetes.stream import stream

    return stream(
        pod_manager._client.connect_get_namespaced_pod_exec,
        pod.metadata.name,
        pod.metadata.namespace,
        container=PLACEHOLDER_CONTAINER,
        command=command,
        stdin=stdin,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )


def _exec_to_the_end(pod_manager: Any, pod: Any, command: list[str]) -> str:
    """Airflow 2 images (as the double always did): run to the end, read all stdout and the status."""
    from kubernetes.client.exceptions import ApiException

    try:
        resp = _open_exec(pod_manager, pod, command)
    except Exception as exc:
        # the kubelet's answer once the placeholder container is gone: an ApiException or, with
        # some clients, websocket's bad-handshake error -- either way the text says so
        text = f"{exc} {getattr(exc, 'body', '') or ''}" if isinstance(exc, ApiException) else str(exc)
        if "container not found" in text:
            raise PeerVmContainerNotFound(text.strip()) from exc
        raise
    try:
        resp.run_forever(timeout=60)
        stdout = resp.read_stdout() or ""
        stderr = resp.read_stderr() or ""
        try:
            code = resp.returncode
        except Exception as exc:  # no status on the error channel: the pod went away mid-exec
            raise PeerVmShutDown(f"no exit status for {command[:2]}: {exc}") from exc
    finally:
        resp.close()
    if "container not found" in stderr:
        raise PeerVmContainerNotFound(stderr.strip())
    if code == VM_SHUT_DOWN_EXIT_CODE:
        raise PeerVmShutDown(f"exit code 137 for {command[:2]}")
    if stderr or code:
        raise PeerVmExecError(f"exec {command[:2]} in {PLACEHOLDER_CONTAINER} failed (exit {code}): {stderr.strip()}")
    pod_manager.log.debug("exec %s -> %r", command[:2], stdout[:200])
    return stdout


def _exec_until_first_stdout(pod_manager: Any, pod: Any, command: list[str]) -> str:
    """Airflow 3 images: the exec read the way Google's ``exec_on_placeholder_pod`` reads it.

    The exec is opened with stdin. While the socket is open: wait up to 1 s for one message, take the
    stdout and stderr that have arrived by then; any stderr is an error; leave as soon as some stdout
    was read. Then the return code: None while the socket is still open (the usual case after leaving
    early) counts as success; a ValueError reading it means the pod shut down; 137 too. Only an
    ``ApiException`` whose ``reason`` says ``container not found`` means the container is gone; any
    other exception propagates as it is. No overall timeout, as Google's.

    Consequence (Google's too): stdout that reaches the client in several websocket messages, not all
    there yet when the first one was read, comes back cut short.
    """
    from kubernetes.client.exceptions import ApiException

    try:
        resp = _open_exec(pod_manager, pod, command, stdin=True)
        try:
            result = ""
            while resp.is_open():
                resp.update(timeout=1)
                while resp.peek_stdout():
                    result += resp.read_stdout()
                errors = ""
                while resp.peek_stderr():
                    errors += resp.read_stderr()
                if errors:
                    raise PeerVmExecError(f"There was an error in calling kubernetes API: {errors}")
                if result:
                    break
            try:
                code = resp.returncode
            except ValueError as exc:
                raise PeerVmShutDown("Error on parsing exit code") from exc
        finally:
            resp.close()
    except ApiException as exc:
        if "container not found" in (exc.reason or ""):
            raise PeerVmContainerNotFound(exc.reason) from exc
        raise
    pod_manager.log.debug("exec %s -> %r, return code %s", command[:2], result[:200], code)
    if code == VM_SHUT_DOWN_EXIT_CODE:
        raise PeerVmShutDown("Got 137 exit code on exec")
    if code:
        raise PeerVmExecError(f"There was an error in calling kubernetes API, return code: {code}")
    return result


def exec_on_placeholder(pod_manager: Any, pod: Any, command: list[str]) -> str:
    """Run ``command`` in the placeholder container; its stdout.

    Airflow 2 images: run to the end and tried 5 times, 1 s apart. Airflow 3 images: once, read as
    :func:`_exec_until_first_stdout` describes.
    """
    shape = google_shape()
    run_once = _exec_until_first_stdout if shape.first_stdout_exec else _exec_to_the_end
    attempts = EXEC_ATTEMPTS if shape.exec_retry else 1
    for attempt in range(1, attempts + 1):
        try:
            return run_once(pod_manager, pod, command)
        except Exception as exc:
            if attempt == attempts:
                raise
            pod_manager.log.warning("exec in %s failed (%s); attempt %s", PLACEHOLDER_CONTAINER, exc, attempt + 1)
            time.sleep(EXEC_RETRY_WAIT)
    raise AssertionError("unreachable")


def container_statuses(pod_manager: Any, pod: Any) -> list[dict]:
    """``[{"container": NAME, "state": "RUNNING"|"TERMINATED"|...}, ...]`` of the simulated VM."""
    return json.loads(exec_on_placeholder(pod_manager, pod, ["placeholder-pod", "container-statuses"]))


def base_container_terminated(pod_manager: Any, pod: Any) -> bool:
    """Whether the one container that is not the XCom sidecar has terminated."""
    statuses = container_statuses(pod_manager, pod)
    others = [s for s in statuses if s["container"] != SIDECAR_CONTAINER]
    if len(others) != 1:
        raise ValueError(f"Unexpected list of containers in KubernetesPodOperator pod, container statuses: {statuses}")
    return others[0]["state"] == "TERMINATED"


def exec_in_vm_container(pod_manager: Any, pod: Any, container: str, argv: list[str]) -> str:
    """``placeholder-pod exec CONTAINER '<json argv>'``; the base64 frames it answers."""
    return exec_on_placeholder(pod_manager, pod, ["placeholder-pod", "exec", container, json.dumps(argv)])


def await_endpoint(pod_manager: Any, pod: Any, remote_pod: Any, *, required: bool = True) -> Any:
    """Wait while the placeholder is Running without its endpoint annotation; the pod then.

    No endpoint once it stops Running (the VM was never created): raise, or return None.
    """
    while remote_pod.status.phase == "Running" and not _endpoint(remote_pod):
        pod_manager.log.info("Awaiting for pod to start execution")
        time.sleep(_setting(ENDPOINT_POLL_INTERVAL))
        remote_pod = pod_manager.read_pod(pod)
    if _endpoint(remote_pod):
        return remote_pod
    if required:
        raise PeerVmExecError(f"Not found {ENDPOINT_ANNOTATION} annotation for pod")
    pod_manager.log.info("Not found %s annotation for pod", ENDPOINT_ANNOTATION)
    return None


def _endpoint(remote_pod: Any) -> str | None:
    return (remote_pod.metadata.annotations or {}).get(ENDPOINT_ANNOTATION)


# --- logs ---------------------------------------------------------------------------------------


def read_vm_logs(pod_manager: Any, container: str, endpoint: str, after: str) -> str:
    """One ``GET /logs`` read; each line to ``pod_manager.log``; the timestamp to read after next.

    Errors are logged at debug level and leave ``after`` unchanged, as Google's do.
    """
    params = {"container_name": container, "after_timestamp": after, "max_log_lines": MAX_LOG_LINES}
    query = urllib.parse.urlencode(params)
    url = f"http://{endpoint}:{PEER_VM_LOGS_PORT}/logs?{query}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # pod IPs never go through a proxy
    try:
        with opener.open(url, timeout=30) as resp:
            lines = json.loads(resp.read().decode("utf-8")).get("logs") or []
    except Exception as exc:
        pod_manager.log.debug("reading %s failed: %s", url, exc)
        return after
    for line in lines:
        # "2023-05-02T10:11:12.2Z stdout F Creating dataset"
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        after = parts[0]
        pod_manager.log.info("%s", parts[3])
    return after


def stream_vm_logs(pod_manager: Any, pod: Any, container: str, endpoint: str, after: str) -> None:
    """Read the VM's logs until the base container terminated and N more reads were done."""
    time.sleep(_setting(LOGS_FIRST_READ_DELAY))
    terminated, reads_after = False, 0
    while True:
        if not terminated:
            try:
                terminated = base_container_terminated(pod_manager, pod)
            except PeerVmContainerNotFound:
                pod_manager.log.debug("container not found; it terminated already")
                terminated = True
            except PeerVmShutDown:
                pod_manager.log.debug("the peer VM is shut down")
                terminated = True
        time.sleep(_setting(LOGS_READ_INTERVAL))
        after = read_vm_logs(pod_manager, container, endpoint, after)
        if terminated:
            reads_after += 1
            if reads_after >= _setting(LOGS_READS_AFTER_TERMINATION):
                return


# --- the wrappers -------------------------------------------------------------------------------


def _is_placeholder(remote_pod: Any) -> bool:
    containers = (remote_pod.spec.containers or []) if remote_pod and remote_pod.spec else []
    return bool(containers) and containers[0].name == PLACEHOLDER_CONTAINER


def _arg(args: tuple, kwargs: dict, index: int, name: str) -> Any:
    return kwargs[name] if name in kwargs else args[index]


def _wrap_fetch_container_logs(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def fetch_container_logs(self, *args, **kwargs):
        pod, container = _arg(args, kwargs, 0, "pod"), _arg(args, kwargs, 1, "container_name")
        remote_pod = self.read_pod(pod)
        if not _is_placeholder(remote_pod):
            return upstream(self, *args, **kwargs)
        self.log.info("Fetching container logs")
        remote_pod = await_endpoint(self, pod, remote_pod, required=False)
        if remote_pod is None:
            return None
        after = remote_pod.metadata.creation_timestamp.strftime("%Y-%m-%dT%H:%M:%S.0") + "Z"
        stream_vm_logs(self, pod, container, _endpoint(remote_pod), after)
        return None

    return fetch_container_logs


def _wrap_get_container_names(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def get_container_names(self, *args, **kwargs):
        names = upstream(self, *args, **kwargs)
        # a placeholder pretends to be a KPO pod with a "base" container, so its logs get followed
        return ["base"] if PLACEHOLDER_CONTAINER in names else names

    return get_container_names


def _wrap_container_is_running(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def container_is_running(self, pod, container_name):
        if not _is_placeholder(self.read_pod(pod)):
            return upstream(self, pod, container_name)
        for status in container_statuses(self, pod):
            if status["container"] == container_name:
                return status["state"] == "RUNNING"
        raise ValueError(f"Not found container named as '{container_name}' for pod '{pod.metadata.name}'")

    return container_is_running


def _wrap_extract_xcom_json(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def extract_xcom_json(self, pod):
        if not _is_placeholder(self.read_pod(pod)):
            return upstream(self, pod)
        script = (
            f"if [ -s {XCOM_MOUNT_PATH}/return.json ]; then cat {XCOM_MOUNT_PATH}/return.json; "
            f"else echo {EMPTY_XCOM_RESULT}; fi"
        )
        for attempt in range(1, XCOM_ATTEMPTS + 1):
            try:
                answer = exec_in_vm_container(self, pod, SIDECAR_CONTAINER, ["/bin/sh", "-c", script])
                payload = decode_exec_frames(answer)
                if payload.rstrip() != EMPTY_XCOM_RESULT:
                    json.loads(payload)  # must be JSON; the caller parses it again
                return payload
            except Exception:
                if attempt == XCOM_ATTEMPTS:
                    raise
                time.sleep(_xcom_retry_wait(attempt))
        raise AssertionError("unreachable")

    return extract_xcom_json


def _wrap_extract_xcom_kill(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def extract_xcom_kill(self, pod):
        if not _is_placeholder(self.read_pod(pod)):
            return upstream(self, pod)
        for attempt in range(1, XCOM_ATTEMPTS + 1):
            try:
                exec_in_vm_container(self, pod, SIDECAR_CONTAINER, ["/bin/sh", "-c", "kill -2 1"])
                return None
            except Exception:
                if attempt == XCOM_ATTEMPTS:
                    raise
                time.sleep(_xcom_retry_wait(attempt))
        return None

    return extract_xcom_kill


def _wrap_await_container_completion(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def await_container_completion(self, pod, container_name, *args, **kwargs):
        # polling_time is absent from old providers' signature: pass through what the caller gave
        remote_pod = self.read_pod(pod)
        if not _is_placeholder(remote_pod):
            return upstream(self, pod, container_name, *args, **kwargs)
        polling_time = kwargs.get("polling_time", args[0] if args else 1)
        await_endpoint(self, pod, remote_pod)
        while True:
            statuses = container_statuses(self, pod)
            match = [s for s in statuses if s["container"] == container_name]
            if not match:
                raise ValueError(f"Not found container named as '{container_name}' in {statuses}")
            if match[0]["state"] == "TERMINATED":
                return None
            self.log.info("Waiting for container '%s' state to be completed", container_name)
            time.sleep(polling_time)

    return await_container_completion


_WRAPPERS: dict[str, Callable[[Callable], Callable]] = {
    "fetch_container_logs": _wrap_fetch_container_logs,
    "get_container_names": _wrap_get_container_names,
    "container_is_running": _wrap_container_is_running,
    "extract_xcom_json": _wrap_extract_xcom_json,
    "extract_xcom_kill": _wrap_extract_xcom_kill,
    "await_container_completion": _wrap_await_container_completion,
}


# --- the trigger (Airflow 3 images) -------------------------------------------------------------


def _trigger_pod_manager(trigger: Any) -> Any:
    """A synchronous PodManager on the trigger's connection, as Google's patch builds in the triggerer."""
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    hook = KubernetesHook(
        conn_id=trigger.kubernetes_conn_id,
        in_cluster=trigger.in_cluster,
        config_dict=trigger.config_dict,
        cluster_context=trigger.cluster_context,
    )
    return PodManager(kube_client=hook.core_v1_client)


def _is_gke_trigger(trigger: Any) -> bool:
    try:
        from airflow.providers.google.cloud.triggers.kubernetes_engine import GKEStartPodTrigger
    except Exception:  # the google provider is not installed
        return False
    return isinstance(trigger, GKEStartPodTrigger)


def _wrap_define_container_state(upstream: Callable) -> Callable:
    @functools.wraps(upstream)
    def define_container_state(self, pod):
        # Google's (sync, on the triggerer's event loop): GKEStartPodTrigger and normal pods go upstream
        if _is_gke_trigger(self):
            return upstream(self, pod)
        pod_manager = _trigger_pod_manager(self)
        remote_pod = pod_manager.read_pod(pod)
        if not _is_placeholder(remote_pod):
            return upstream(self, pod)
        from airflow.providers.cncf.kubernetes.triggers.pod import ContainerState

        if remote_pod.status.phase == "Pending":
            return ContainerState.UNDEFINED
        await_endpoint(pod_manager, pod, remote_pod)  # blocking 5 s polls; raises without a VM
        try:
            statuses = container_statuses(pod_manager, pod)
        except PeerVmContainerNotFound:
            self.log.debug("KubernetesPodOperator pod container is not found. Looks like it was terminated already.")
            return ContainerState.TERMINATED
        if statuses is None:
            return ContainerState.UNDEFINED
        status = next(s for s in statuses if s["container"] == self.base_container_name)
        return status["state"].lower()  # "running", "terminated" or "waiting": never "failed"

    return define_container_state


_TRIGGER_WRAPPERS: dict[str, Callable[[Callable], Callable]] = {
    "define_container_state": _wrap_define_container_state,
}


# --- install ------------------------------------------------------------------------------------


def _pod_manager_class() -> type:
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    return PodManager


def _trigger_class() -> type:
    from airflow.providers.cncf.kubernetes.triggers.pod import KubernetesPodTrigger

    return KubernetesPodTrigger


def _is_wrapped(cls: type, names: tuple[str, ...]) -> bool:
    return any(hasattr(getattr(cls, name, None), _MARK) for name in names)


def _wrap(cls: type, wrappers: dict[str, Callable[[Callable], Callable]]) -> bool:
    if _is_wrapped(cls, tuple(wrappers)):
        return False
    for name, make in wrappers.items():
        upstream = getattr(cls, name, None)
        if upstream is None:
            continue
        wrapper = make(upstream)
        setattr(wrapper, _MARK, (upstream, name in cls.__dict__))
        setattr(cls, name, wrapper)
    return True


def _unwrap(cls: type, names: tuple[str, ...]) -> None:
    for name in names:
        current = cls.__dict__.get(name)
        if hasattr(current, _MARK):
            upstream, own = getattr(current, _MARK)
            if own:
                setattr(cls, name, upstream)
            else:
                delattr(cls, name)


def is_installed(cls: type | None = None) -> bool:
    return _is_wrapped(cls or _pod_manager_class(), PATCHED_METHODS)


def install(cls: type | None = None) -> bool:
    """Wrap the methods ``cls`` (default: PodManager) has; False when they are wrapped already.

    Old providers lack some methods (cncf-kubernetes 5.0/6.0 have no ``extract_xcom_json``): those
    are skipped. Composer 3 images ship cncf-kubernetes 10.x, which has all six.
    """
    return _wrap(cls or _pod_manager_class(), _WRAPPERS)


def uninstall(cls: type | None = None) -> None:
    """Put upstream's methods back (for tests that share a process with other tests)."""
    _unwrap(cls or _pod_manager_class(), PATCHED_METHODS)


def is_trigger_installed(cls: type | None = None) -> bool:
    return _is_wrapped(cls or _trigger_class(), TRIGGER_PATCHED_METHODS)


def install_trigger(cls: type | None = None) -> bool:
    """Wrap ``define_container_state`` of ``cls`` (default: KubernetesPodTrigger); False if wrapped already."""
    return _wrap(cls or _trigger_class(), _TRIGGER_WRAPPERS)


def uninstall_trigger(cls: type | None = None) -> None:
    _unwrap(cls or _trigger_class(), TRIGGER_PATCHED_METHODS)


def install_for_airflow(shape: GoogleShape | None = None) -> bool:
    """Everything the image of ``shape`` (default: the installed Airflow's) patches; False if done already."""
    shape = shape or google_shape()
    done = install()
    if shape.trigger_patch:
        done = install_trigger() or done
    return done


def uninstall_all() -> None:
    uninstall()
    with contextlib.suppress(ImportError):  # providers without the trigger
        uninstall_trigger()
