"""The Composer 3 test double (tests/composer3/) without a cluster.

tests/composer3/ is OUR test double of Google's Composer 3 code (GoogleCloudPlatform/composer-airflow:
Airflow 2 images ``airflow/composer/kubernetes/utils.py`` and ``pod_manager.py``; Airflow 3 images
``airflow-core/src/airflow/composer/patches/kubernetes/utils.py`` and ``monkey_patching/*``); these
tests pin the behaviour it must share with Google's: the peer-VM sizing table, the pod mutation, the
exec-answer frame decoding, the exec in the placeholder as each image reads it, the PodManager and
trigger patches and their fallback to upstream for a normal pod, when they are installed, and that
Airflow really loads it as ``airflow_local_settings`` and stock KubernetesPodOperator calls its hook.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import struct
import sys
import textwrap
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from kubernetes.client import models as k8s

from tests.composer3 import airflow_local_settings as settings_double
from tests.composer3 import peervm_patches as patches
from tests.interpreter import run_python

DOUBLE_DIR = Path(settings_double.__file__).resolve().parent
REPO = DOUBLE_DIR.parents[2]
R = k8s.V1ResourceRequirements
SHAPES = {"airflow2": patches.AIRFLOW2, "airflow3.1": patches.AIRFLOW3_1, "airflow3.3": patches.AIRFLOW3_3}
AIRFLOW3_SHAPES = ("airflow3.1", "airflow3.3")


@pytest.fixture(autouse=True)
def _patches_removed_afterwards():
    """Loading the settings double under Airflow 3 patches the real classes: undo it after each test."""
    yield
    patches.uninstall_all()


def kpo_trigger_module():
    """cncf-kubernetes' trigger module; the test is skipped on providers without it (5.0)."""
    return pytest.importorskip("airflow.providers.cncf.kubernetes.triggers.pod")


def use_shape(monkeypatch, name: str) -> patches.GoogleShape:
    """Make the double imitate the image ``name`` whatever Airflow is installed."""
    shape = SHAPES[name]
    monkeypatch.setattr(patches, "google_shape", lambda version=None: shape)
    return shape


# --- sizing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "machine", "disk"),
    [
        (None, "e2-custom-small-2048", 30),
        (R(), "e2-custom-small-2048", 30),
        (R(requests={"cpu": "1", "memory": "4Gi"}), "e2-custom-medium-5120", 30),  # 4Gi = 4.29 GB -> 5
        (R(requests={"cpu": "1", "memory": "4G"}), "e2-custom-medium-4096", 30),
        (R(requests={"cpu": "250m"}), "e2-custom-micro-2048", 30),
        (R(limits={"cpu": "3"}), "e2-custom-4-16384", 30),  # 3 -> 4 vCPUs, default 4 GB per vCPU
        (R(requests={"cpu": "1"}, limits={"cpu": "2"}), "e2-custom-2-8192", 30),  # max(request, limit)
        (R(requests={"cpu": "0"}), "e2-custom-small-2048", 30),  # zero = not given
        (R(requests={"memory": "100Gi"}), "e2-custom-small-4096", 30),  # clamped to 8 GB/vCPU
        (R(requests={"cpu": "8", "memory": "1Gi"}), "e2-custom-8-4096", 30),  # raised to 0.5 GB/vCPU
        (R(requests={"cpu": "40"}), "e2-custom-32-131072", 30),  # clamped to 32 vCPUs, 4 GB each
        (R(requests={"ephemeral-storage": "50G"}), "e2-custom-small-2048", 80),
        (R(requests={"ephemeral-storage": "50Gi"}), "e2-custom-small-2048", 84),  # 53.7 GB rounds up
        (R(requests={"ephemeral-storage": "10G"}, limits={"ephemeral-storage": "20G"}), "e2-custom-small-2048", 50),
        (R(limits={"ephemeral-storage": "101G"}), "e2-custom-small-2048", 130),  # clamped to 100 + 30
        (R(limits={"ephemeral-storage": "1T"}), "e2-custom-small-2048", 130),
    ],
)
def test_machine_type_and_disk(resources, machine, disk):
    assert settings_double.machine_type(resources) == machine
    assert settings_double.disk_size_gb(resources) == disk


def test_every_machine_type_is_one_the_agent_accepts():
    """CONTRACT: e2-custom-<micro|small|medium|2..32 even>-<MB>, whole GB 2..128, 0.5..8 GB per vCPU."""
    cpus = {"micro": 0.25, "small": 0.5, "medium": 1.0, **{str(n): float(n) for n in range(2, 33, 2)}}
    for cpu in ("100m", "250m", "500m", "1", "1500m", "3", "17", "32", "64"):
        for memory in (None, "512Mi", "1G", "3G", "7Gi", "64Gi", "1Ti"):
            res = R(requests={"cpu": cpu, **({"memory": memory} if memory else {})})
            _, _, name, mb = settings_double.machine_type(res).split("-")
            gb = int(mb) / 1024
            assert gb.is_integer() and 2 <= gb <= 128
            assert 0.5 <= gb / cpus[name] <= 8, (cpu, memory)


# --- the pod mutation ---------------------------------------------------------------------------


def make_pod(resources=None, namespace="default") -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace=namespace, labels={"kept": "yes"}, annotations={"a": "b"}),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", image="busybox:1.36", resources=resources)]),
    )


def test_mutation_forces_namespace_label_annotation_and_clears_resources(monkeypatch):
    monkeypatch.setenv("GCP_TENANT_PROJECT", "tenant-42")
    pod = make_pod(R(requests={"cpu": "2", "ephemeral-storage": "5G"}, limits={"memory": "6G"}))
    settings_double.mutate_pod(pod)
    assert pod.metadata.namespace == "composer-user-workloads"
    assert pod.metadata.labels == {"kept": "yes", "node.gke.io/use-workload-identity-service": "true"}
    assert pod.metadata.annotations["a"] == "b"
    assert yaml.safe_load(pod.metadata.annotations["node.gke.io/gce-vm"]) == {
        "selector": {"matchLabels": {"machineType": "e2-custom-2-6144", "diskSizeGb": "35"}},
        "logging": ["Workload", "System"],
        "vmServiceAccount": "peervm-vm@tenant-42.iam.gserviceaccount.com",
    }
    assert pod.spec.containers[0].resources is None


def test_tenant_project_defaults_to_local_tenant(monkeypatch):
    monkeypatch.delenv("GCP_TENANT_PROJECT", raising=False)
    text = settings_double.gce_vm_annotation(None)
    assert yaml.safe_load(text)["vmServiceAccount"] == "peervm-vm@local-tenant.iam.gserviceaccount.com"


def load_settings_fresh(monkeypatch, version: str | None):
    """Import airflow_local_settings.py as Airflow would, under a throw-away name."""
    monkeypatch.setitem(sys.modules, "peervm_patches", patches)  # its `import peervm_patches`
    if version is None:
        monkeypatch.delenv("COMPOSER_VERSION", raising=False)
    else:
        monkeypatch.setenv("COMPOSER_VERSION", version)
    spec = importlib.util.spec_from_file_location("_c3_local_settings_probe", DOUBLE_DIR / "airflow_local_settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("version", "hooked"), [("3.0.1", True), ("3", True), ("2.9.7", False), (None, False)])
def test_hook_exported_only_on_composer_3(monkeypatch, version, hooked):
    module = load_settings_fresh(monkeypatch, version)
    assert hasattr(module, "pod_mutation_hook") is hooked
    # Airflow copies every exported name into airflow.settings: only the hook may be exported
    assert module.__all__ == (["pod_mutation_hook"] if hooked else [])


@pytest.mark.parametrize(("shape", "at_import"), [("airflow2", False), ("airflow3.1", True), ("airflow3.3", True)])
def test_patches_installed_at_import_under_airflow_3_on_first_hook_call_under_airflow_2(monkeypatch, shape, at_import):
    """Google's Airflow 3 images patch every process when airflow_local_settings is imported
    (patches/core/initialize.py); its Airflow 2 images patch from the hook."""
    KubernetesPodTrigger = kpo_trigger_module().KubernetesPodTrigger

    use_shape(monkeypatch, shape)
    assert not patches.is_installed() and not patches.is_trigger_installed(KubernetesPodTrigger)
    module = load_settings_fresh(monkeypatch, "3.0.1")
    assert patches.is_installed() is at_import
    assert patches.is_trigger_installed(KubernetesPodTrigger) is at_import  # Airflow 3 only
    module.pod_mutation_hook(make_pod())
    assert patches.is_installed()
    assert patches.is_trigger_installed(KubernetesPodTrigger) is at_import


def test_no_patches_without_composer_3(monkeypatch):
    use_shape(monkeypatch, "airflow3.3")
    load_settings_fresh(monkeypatch, "2.9.7")
    assert not patches.is_installed()


@pytest.mark.parametrize(
    ("version", "shape"),
    [
        ("2.10.5", "airflow2"),
        ("3.0.6", "airflow3.1"),
        ("3.1.8+composer", "airflow3.1"),
        ("3.3.1+composer", "airflow3.3"),
    ],
)
def test_shape_follows_the_airflow_version(version, shape):
    assert patches.google_shape(version) is SHAPES[shape]


# --- websocket frames ---------------------------------------------------------------------------


def frame(data: bytes, opcode: int = 2, mask: bytes | None = None) -> bytes:
    """One final websocket frame, built by hand."""
    head = bytes([0x80 | opcode])
    n, mask_bit = len(data), 0x80 if mask else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if mask:
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return head + data


CLOSE_1000 = b"\x88\x02\x03\xe8"  # the WebSocket CLOSE frame ending every real exec answer


def exec_answer(stdout: bytes, chunks: int = 1) -> str:
    """What ``placeholder-pod exec`` prints: base64 of the header frame, data frames, a CLOSE frame."""
    size = max(1, -(-len(stdout) // chunks))
    data = [frame(b"\x01" + stdout[i : i + size]) for i in range(0, len(stdout), size)]
    return base64.b64encode(frame(b"\x01") + b"".join(data) + CLOSE_1000).decode()


def test_frames_decode_to_the_stdout():
    assert patches.decode_exec_frames(exec_answer(b'{"rows": 42}\n')) == '{"rows": 42}\n'


def test_frames_with_16_and_64_bit_lengths_and_split_utf8():
    text = ("héllo wörld " * 40 + "€" * 30000).encode()  # 126+ and 65536+ byte frames, split characters
    answer = exec_answer(text, chunks=3)
    assert patches.decode_exec_frames(answer) == text.decode()


def test_masked_frames_and_empty_stdout():
    raw = frame(b"\x01", mask=b"\x01\x02\x03\x04") + frame(b"\x01abc", mask=b"\xff\x00\xaa\x55") + CLOSE_1000
    assert patches.decode_exec_frames(base64.b64encode(raw)) == "abc"
    assert patches.decode_exec_frames(exec_answer(b"")) == ""


def test_googles_test_vectors():
    """composer-airflow's Airflow 3 patches/kubernetes tests: header, "222\\n", CLOSE 1000; header, CLOSE;
    a reserved opcode. The agent builds the first two byte for byte (frames_test.go)."""
    assert patches.decode_exec_frames("ggEBggUBMjIyCogCA+g=") == "222\n"
    assert patches.decode_exec_frames("ggEBiAID6A==") == ""
    with pytest.raises(patches.PeerVmExecError, match="invalid opcode"):
        patches.decode_exec_frames("fgEBiAID6A==")


def test_truncated_frames_are_an_error():
    raw = base64.b64decode(exec_answer(b"0123456789"))
    with pytest.raises(patches.PeerVmExecError, match="Unable to parse"):
        patches.decode_exec_frames(base64.b64encode(raw[:-3]))
    with pytest.raises(patches.PeerVmExecError):
        patches.decode_exec_frames("not base64 at all!")


# --- PodManager patches -------------------------------------------------------------------------


def placeholder_pod(endpoint: str | None = "127.0.0.1", phase: str = "Running") -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name="p",
            namespace="composer-user-workloads",
            annotations={patches.ENDPOINT_ANNOTATION: endpoint} if endpoint else {},
            creation_timestamp=datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc),
        ),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="peervm-placeholder")]),
        status=k8s.V1PodStatus(phase=phase),
    )


def normal_pod(running: bool = True) -> k8s.V1Pod:
    state = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning() if running else None)
    status = k8s.V1ContainerStatus(name="base", image="i", image_id="", ready=True, restart_count=0, state=state)
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace="default"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase="Running", container_statuses=[status]),
    )


class Recorder:
    """Stands in for PodManager.log."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def _add(self, level, msg, *args, **_):
        self.lines.append((level, msg % args if args else msg))

    def info(self, *a, **k):
        self._add("info", *a, **k)

    def debug(self, *a, **k):
        self._add("debug", *a, **k)

    def warning(self, *a, **k):
        self._add("warning", *a, **k)

    def infos(self) -> list[str]:
        return [m for level, m in self.lines if level == "info"]


UPSTREAM_CALLS: list[str] = []


def sentinel_pod_manager_class():
    """A PodManager whose six methods are stand-ins for upstream's, then patched by the double."""
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    def upstream(name):
        def method(self, *args, **kwargs):
            UPSTREAM_CALLS.append(name)
            return ["base", "peervm-placeholder"] if name == "get_container_names" else f"upstream {name}"

        return method

    UPSTREAM_CALLS.clear()
    body = {name: upstream(name) for name in patches.PATCHED_METHODS}
    body["log"] = None
    cls = type("SentinelPodManager", (PodManager,), body)
    assert patches.install(cls) is True
    assert patches.install(cls) is False  # idempotent
    return cls


GAP = None  # in FakeExec messages: nothing arrives within one update() wait
LATE = [GAP] * 3  # a message that is not there yet for the next few update() calls


class FakeExec:
    """A kubernetes.stream WSClient, read to its end (Airflow 2 images) or Google's Airflow 3 way.

    ``messages``: what arrives, one websocket message per ``update()`` -- ``(channel, text)`` or
    ``GAP``; the socket closes on the ``update()`` after the last one. Default: the stdout, then the
    stderr, each in one message.
    """

    def __init__(self, stdout: str = "", stderr: str = "", code: int | None = 0, messages=None):
        self.stdout, self.stderr, self.code = stdout, stderr, code
        if messages is None:
            messages = ([(1, stdout)] if stdout else []) + ([(2, stderr)] if stderr else [])
        self.script = list(messages)
        self.messages, self.channels, self.open, self.updates = list(messages), {}, True, 0
        self.opened = False

    def fresh(self) -> FakeExec:
        """The same answer, unread (one exec each time it is opened)."""
        return FakeExec(self.stdout, self.stderr, self.code, self.script)

    # -- Airflow 2 images' reading
    def run_forever(self, timeout=None):
        while self.open:
            self.update()

    def read_stdout(self, timeout=None):
        return self.channels.pop(1, "")

    def read_stderr(self, timeout=None):
        return self.channels.pop(2, "")

    # -- Google's Airflow 3 loop
    def is_open(self):
        return self.open

    def update(self, timeout=0):
        if not self.open:
            return
        self.updates += 1
        if not self.messages:
            self.open = False
            return
        message = self.messages.pop(0)
        if message is not GAP:
            channel, text = message
            self.channels[channel] = self.channels.get(channel, "") + text

    def peek_stdout(self, timeout=0):
        self.update(timeout)
        return self.channels.get(1, "")

    def peek_stderr(self, timeout=0):
        self.update(timeout)
        return self.channels.get(2, "")

    @property
    def returncode(self):
        if self.open:
            return None  # what WSClient answers while the socket is open
        if self.code is None:
            raise ValueError("no status")
        return self.code

    def close(self):
        self.open = False


@pytest.fixture
def vm(monkeypatch):
    """A fake placeholder: container states per ``container-statuses`` call, exec answers, commands seen."""
    state = SimpleNamespace(
        statuses=[], execs=[], commands=[], opened_with=[], sidecar_answer=exec_answer(b'{"rows": 42}')
    )

    def open_exec(pod_manager, pod, command, **kwargs):
        state.commands.append(command)
        state.opened_with.append(kwargs)
        if command[1] == "container-statuses":
            current = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            if isinstance(current, FakeExec):
                if current.opened:  # a repeated answer: a new, unread one
                    return current.fresh()
                current.opened = True
                return current
            return FakeExec(json.dumps([{"container": c, "state": s} for c, s in current.items()]))
        return state.execs.pop(0) if state.execs else FakeExec(state.sidecar_answer)

    monkeypatch.setattr(patches, "_open_exec", open_exec)
    monkeypatch.setattr(patches, "EXEC_RETRY_WAIT", 0.0)
    monkeypatch.setattr(patches, "_xcom_retry_wait", lambda attempt: 0.0)
    for name, _ in (patches.LOGS_FIRST_READ_DELAY, patches.LOGS_READ_INTERVAL, patches.ENDPOINT_POLL_INTERVAL):
        monkeypatch.setenv(name, "0")
    monkeypatch.setenv(patches.LOGS_READS_AFTER_TERMINATION[0], "3")
    return state


def manager(cls, remote_pods):
    """An instance of ``cls`` whose read_pod answers the given pods in turn (the last one repeats)."""
    pm = cls.__new__(cls)
    pods = list(remote_pods)
    pm.read_pod = lambda pod: pods.pop(0) if len(pods) > 1 else pods[0]
    pm.__dict__["log"] = Recorder()
    return pm


CALLS = {
    "fetch_container_logs": lambda pm, pod: pm.fetch_container_logs(pod=pod, container_name="base", follow=True),
    "get_container_names": lambda pm, pod: pm.get_container_names(pod),
    "container_is_running": lambda pm, pod: pm.container_is_running(pod, "base"),
    "extract_xcom_json": lambda pm, pod: pm.extract_xcom_json(pod),
    "extract_xcom_kill": lambda pm, pod: pm.extract_xcom_kill(pod),
    "await_container_completion": lambda pm, pod: pm.await_container_completion(pod=pod, container_name="base"),
}


@pytest.mark.parametrize("method", patches.PATCHED_METHODS)
def test_a_normal_pod_goes_to_upstream(vm, method):
    cls = sentinel_pod_manager_class()
    result = CALLS[method](manager(cls, [normal_pod()]), normal_pod())
    assert UPSTREAM_CALLS == [method]
    assert vm.commands == []  # nothing exec'd in a placeholder
    if method != "get_container_names":
        assert result == f"upstream {method}"


def test_real_upstream_container_is_running_for_a_normal_pod(vm):
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    cls = type("RealPodManager", (PodManager,), {"log": None})
    patches.install(cls)
    assert manager(cls, [normal_pod(running=True)]).container_is_running(normal_pod(), "base") is True
    assert manager(cls, [normal_pod(running=False)]).container_is_running(normal_pod(), "base") is False
    if hasattr(cls, "get_container_names"):  # cncf-kubernetes 7.x and later
        assert manager(cls, [normal_pod()]).get_container_names(normal_pod()) == ["base"]
    assert vm.commands == []


def test_install_and_uninstall_on_the_real_pod_manager():
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    before = {n: PodManager.__dict__.get(n) for n in patches.PATCHED_METHODS}
    assert not patches.is_installed()
    try:
        assert patches.install() is True
        assert patches.install() is False
        assert patches.is_installed()
        present = [n for n, f in before.items() if f is not None]
        assert all(PodManager.__dict__[n] is not before[n] for n in present)
    finally:
        patches.uninstall()
    assert {n: PodManager.__dict__.get(n) for n in patches.PATCHED_METHODS} == before


def test_placeholder_container_names_pretend_base(vm):
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    assert pm.get_container_names(placeholder_pod()) == ["base"]


def test_placeholder_container_is_running_asks_the_vm(vm):
    vm.statuses = [{"base": "RUNNING", "airflow-xcom-sidecar": "RUNNING"}, {"base": "TERMINATED"}]
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    assert pm.container_is_running(placeholder_pod(), "airflow-xcom-sidecar") is True
    assert pm.container_is_running(placeholder_pod(), "base") is False
    with pytest.raises(ValueError, match="Not found container named as 'nope'"):
        pm.container_is_running(placeholder_pod(), "nope")
    assert vm.commands[0] == ["placeholder-pod", "container-statuses"]
    assert UPSTREAM_CALLS.count("container_is_running") == 0


def test_placeholder_xcom_is_read_through_the_sidecar_exec(vm):
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    assert pm.extract_xcom_json(placeholder_pod()) == '{"rows": 42}'
    command = vm.commands[-1]
    assert command[:3] == ["placeholder-pod", "exec", "airflow-xcom-sidecar"]
    argv = json.loads(command[3])
    assert argv[:2] == ["/bin/sh", "-c"] and "/airflow/xcom/return.json" in argv[2]


def test_placeholder_empty_xcom_and_invalid_json(vm):
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    vm.sidecar_answer = exec_answer(b"__airflow_xcom_result_empty__\n")
    assert pm.extract_xcom_json(placeholder_pod()).rstrip() == patches.EMPTY_XCOM_RESULT
    vm.sidecar_answer = exec_answer(b"{not json")
    vm.commands.clear()
    with pytest.raises(json.JSONDecodeError):
        pm.extract_xcom_json(placeholder_pod())
    assert len(vm.commands) == patches.XCOM_ATTEMPTS  # retried like Google's


def test_placeholder_xcom_kill_sends_sigint_to_the_sidecar(vm):
    manager(sentinel_pod_manager_class(), [placeholder_pod()]).extract_xcom_kill(placeholder_pod())
    assert vm.commands == [
        ["placeholder-pod", "exec", "airflow-xcom-sidecar", json.dumps(["/bin/sh", "-c", "kill -2 1"])]
    ]


def test_placeholder_await_container_completion_polls_statuses(vm):
    vm.statuses = [{"base": "WAITING"}, {"base": "RUNNING"}, {"base": "TERMINATED"}]
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    pm.await_container_completion(pod=placeholder_pod(), container_name="base", polling_time=0)
    assert len(vm.commands) == 3
    assert pm.log.infos().count("Waiting for container 'base' state to be completed") == 2


def test_await_container_completion_without_endpoint_fails(vm):
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod(endpoint=None, phase="Failed")])
    with pytest.raises(patches.PeerVmExecError, match="peer-vm-endpoint"):
        pm.await_container_completion(placeholder_pod(), "base")


def test_exec_errors_are_told_apart_after_five_attempts(vm, monkeypatch):
    """Airflow 2 images (utils.py@26d55e6e): tenacity, 5 attempts; run to the end, read all."""
    use_shape(monkeypatch, "airflow2")
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    for fake, error in [
        (FakeExec(code=137), patches.PeerVmShutDown),
        (FakeExec(code=None), patches.PeerVmShutDown),
        (FakeExec(stderr="container not found", code=1), patches.PeerVmContainerNotFound),
        (FakeExec(stderr="boom", code=1), patches.PeerVmExecError),
        (FakeExec(code=2), patches.PeerVmExecError),
    ]:
        vm.statuses, vm.commands = [fake], []
        with pytest.raises(error):
            patches.container_statuses(pm, placeholder_pod())
        assert len(vm.commands) == patches.EXEC_ATTEMPTS


@pytest.mark.parametrize("kind", ["api", "websocket"])
def test_exec_handshake_saying_container_not_found(vm, monkeypatch, kind):
    from kubernetes.client.exceptions import ApiException

    use_shape(monkeypatch, "airflow2")

    def refuse(pod_manager, pod, command, **kwargs):
        vm.commands.append(command)
        text = 'Handshake status 500 Internal Server Error -+-+- {} -+-+- container not found ("peervm-placeholder")'
        raise ApiException(status=0, reason=text) if kind == "api" else RuntimeError(text)

    monkeypatch.setattr(patches, "_open_exec", refuse)
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    with pytest.raises(patches.PeerVmContainerNotFound):
        patches.container_statuses(pm, placeholder_pod())
    assert len(vm.commands) == patches.EXEC_ATTEMPTS


def test_exec_recovers_on_a_later_attempt(vm, monkeypatch):
    use_shape(monkeypatch, "airflow2")
    vm.statuses = [FakeExec(code=137), {"base": "RUNNING"}]
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    assert patches.container_statuses(pm, placeholder_pod()) == [{"container": "base", "state": "RUNNING"}]


@pytest.mark.parametrize("shape", AIRFLOW3_SHAPES)
def test_airflow3_exec_is_not_retried(vm, monkeypatch, shape):
    """Airflow 3 images' exec_on_placeholder_pod has no retry (Airflow 2's tried 5 times, 1 s apart)."""
    use_shape(monkeypatch, shape)
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    for fake, error in [
        (FakeExec(code=137), patches.PeerVmShutDown),
        (FakeExec(code=None), patches.PeerVmShutDown),  # ValueError reading the exit code
        (FakeExec(code=2), patches.PeerVmExecError),
        (FakeExec(stderr="boom"), patches.PeerVmExecError),
    ]:
        vm.statuses, vm.commands = [fake], []
        with pytest.raises(error):
            patches.container_statuses(pm, placeholder_pod())
        assert len(vm.commands) == 1
    assert not [m for level, m in pm.log.lines if level == "warning"]  # no "attempt 2"


@pytest.mark.parametrize("shape", AIRFLOW3_SHAPES)
def test_airflow3_container_not_found_only_from_the_api_exception_reason(vm, monkeypatch, shape):
    """Google maps ApiException.reason "container not found" (the kubelet's handshake answer for a gone
    placeholder) to NotFound; stderr is a generic error and other exceptions propagate as they are."""
    from kubernetes.client.exceptions import ApiException

    use_shape(monkeypatch, shape)
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    handshake = 'Handshake status 500 Internal Server Error -+-+- b\'container not found ("peervm-placeholder")'
    raised: list[Exception] = []

    def refuse(pod_manager, pod, command, **kwargs):
        vm.commands.append(command)
        raise raised[-1]

    for exc, expected in [
        (ApiException(status=0, reason=handshake), patches.PeerVmContainerNotFound),
        (RuntimeError(handshake), RuntimeError),
        (ApiException(status=500, reason="Internal Server Error"), ApiException),
    ]:
        raised.append(exc)
        monkeypatch.setattr(patches, "_open_exec", refuse)
        with pytest.raises(expected):
            patches.container_statuses(pm, placeholder_pod())
    body_only = ApiException(status=500, reason="Internal Server Error")
    body_only.body = "container not found"
    raised.append(body_only)
    with pytest.raises(ApiException):
        patches.container_statuses(pm, placeholder_pod())
    assert len(vm.commands) == 4  # once each

    monkeypatch.undo()
    use_shape(monkeypatch, shape)
    monkeypatch.setattr(patches, "_open_exec", lambda *a, **k: FakeExec(stderr="container not found", code=1))
    with pytest.raises(
        patches.PeerVmExecError, match="There was an error in calling kubernetes API: container not found"
    ):
        patches.container_statuses(pm, placeholder_pod())


@pytest.mark.parametrize("shape", AIRFLOW3_SHAPES)
def test_airflow3_exec_reads_as_google(vm, monkeypatch, shape):
    """stdin open; returns after the first stdout that has arrived, with the socket still open (exit
    code None = success); stderr at once is an error; a command without stdout is read to its status."""
    use_shape(monkeypatch, shape)
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    late = FakeExec(messages=[GAP, (1, '[{"container": "base", '), *LATE, (1, '"state": "RUNNING"}]')], code=137)
    vm.statuses = [late]
    assert patches.exec_on_placeholder(pm, placeholder_pod(), ["placeholder-pod", "container-statuses"]) == (
        '[{"container": "base", '  # cut short, as Google's reads it; the 137 is never seen
    )
    assert vm.opened_with == [{"stdin": True}]
    assert late.open is False  # closed by the double (Google: contextlib.closing)
    together = FakeExec(messages=[(1, "[{"), (1, '"container": "base", "state": "RUNNING"}]')])
    vm.statuses = [together]
    assert patches.container_statuses(pm, placeholder_pod()) == [{"container": "base", "state": "RUNNING"}]
    vm.execs = [FakeExec(messages=[GAP, GAP, GAP], code=0)]  # kill -2 1: no stdout, exit 0
    patches.exec_in_vm_container(pm, placeholder_pod(), "airflow-xcom-sidecar", ["/bin/sh", "-c", "kill -2 1"])
    vm.statuses = [FakeExec(messages=[(2, "warning: x"), (1, "[]")])]
    with pytest.raises(patches.PeerVmExecError, match="warning: x"):
        patches.container_statuses(pm, placeholder_pod())


@pytest.mark.parametrize(("shape", "cut_short"), [("airflow2", False), ("airflow3.1", True), ("airflow3.3", True)])
def test_xcom_arriving_in_late_messages_is_cut_short_on_airflow3(vm, monkeypatch, shape, cut_short):
    """FINDING (Google's Airflow 3 images, so the double): ``extract_xcom_json`` of stock KPO, and of
    ComposerPodOperator through upstream's ``extract_xcom``, fails when the exec answer's base64 reaches
    the client in several websocket messages and the later ones are not there yet after the first:
    the payload is cut short, and json.loads fails on all 5 attempts."""
    use_shape(monkeypatch, shape)
    answer = exec_answer(json.dumps({"rows": list(range(2000))}).encode(), chunks=3)
    half = len(answer) // 2

    def slow_answer():
        return FakeExec(messages=[(1, answer[:half]), *LATE, (1, answer[half:])])

    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    vm.execs = [slow_answer() for _ in range(patches.XCOM_ATTEMPTS)]
    if not cut_short:
        assert json.loads(pm.extract_xcom_json(placeholder_pod())) == {"rows": list(range(2000))}
        return
    with pytest.raises(Exception) as caught:
        pm.extract_xcom_json(placeholder_pod())
    assert isinstance(caught.value, (json.JSONDecodeError, patches.PeerVmExecError, UnicodeDecodeError))
    assert len(vm.commands) == patches.XCOM_ATTEMPTS


def trigger(base="base"):
    KubernetesPodTrigger = kpo_trigger_module().KubernetesPodTrigger

    cls = type("SentinelTrigger", (KubernetesPodTrigger,), {})
    UPSTREAM_CALLS.clear()

    def upstream(self, pod):
        UPSTREAM_CALLS.append("define_container_state")
        return "upstream"

    cls.define_container_state = upstream
    assert patches.install_trigger(cls) is True
    assert patches.install_trigger(cls) is False
    return cls.__new__(cls), cls


@pytest.fixture
def trigger_pods(monkeypatch, vm):
    """The PodManager Google's trigger patch builds: answers the given pods in turn."""
    pods: list = []
    pm_class = sentinel_pod_manager_class()

    def pod_manager(trigger):
        pm = manager(pm_class, list(pods))
        return pm

    monkeypatch.setattr(patches, "_trigger_pod_manager", pod_manager)
    return pods


@pytest.mark.parametrize("shape", AIRFLOW3_SHAPES)
def test_airflow3_trigger_define_container_state_on_a_placeholder(vm, monkeypatch, trigger_pods, shape):
    """Google's KubernetesPodTrigger.define_container_state patch (stock KPO deferrable=True)."""
    ContainerState = kpo_trigger_module().ContainerState

    use_shape(monkeypatch, shape)
    t, _ = trigger()
    t.base_container_name = "base"
    t.__dict__["log"] = Recorder()
    trigger_pods[:] = [placeholder_pod(endpoint=None, phase="Pending")]
    assert t.define_container_state(placeholder_pod()) == ContainerState.UNDEFINED
    assert vm.commands == []
    trigger_pods[:] = [placeholder_pod(endpoint=None), placeholder_pod()]  # waits for the endpoint
    vm.statuses = [{"airflow-xcom-sidecar": "RUNNING", "base": "RUNNING"}]
    assert t.define_container_state(placeholder_pod()) == ContainerState.RUNNING
    vm.statuses = [{"airflow-xcom-sidecar": "RUNNING", "base": "TERMINATED"}]
    trigger_pods[:] = [placeholder_pod()]
    assert t.define_container_state(placeholder_pod()) == ContainerState.TERMINATED  # never FAILED
    vm.statuses = [{"base": "WAITING"}]
    assert t.define_container_state(placeholder_pod()) == ContainerState.WAITING
    assert UPSTREAM_CALLS == []


@pytest.mark.parametrize("shape", AIRFLOW3_SHAPES)
def test_airflow3_trigger_container_gone_is_terminated_shutdown_propagates(vm, monkeypatch, trigger_pods, shape):
    """3.1.8 and 3.3.1 catch only NotFound (a later version also maps ShutDown)."""
    ContainerState = kpo_trigger_module().ContainerState
    from kubernetes.client.exceptions import ApiException

    use_shape(monkeypatch, shape)
    t, _ = trigger()
    t.base_container_name = "base"
    t.__dict__["log"] = Recorder()
    trigger_pods[:] = [placeholder_pod()]

    def gone(pod_manager, pod, command, **kwargs):
        raise ApiException(status=0, reason='Handshake status 500 -+-+- container not found ("peervm-placeholder")')

    monkeypatch.setattr(patches, "_open_exec", gone)
    assert t.define_container_state(placeholder_pod()) == ContainerState.TERMINATED
    monkeypatch.setattr(patches, "_open_exec", lambda *a, **k: FakeExec(code=137))
    with pytest.raises(patches.PeerVmShutDown):
        t.define_container_state(placeholder_pod())
    trigger_pods[:] = [placeholder_pod(endpoint=None, phase="Failed")]
    with pytest.raises(patches.PeerVmExecError, match="peer-vm-endpoint"):
        t.define_container_state(placeholder_pod())


def test_trigger_normal_pod_goes_to_upstream(vm, trigger_pods):
    kpo_trigger_module()
    t, _ = trigger()
    trigger_pods[:] = [normal_pod()]
    assert t.define_container_state(normal_pod()) == "upstream"
    assert UPSTREAM_CALLS == ["define_container_state"] and vm.commands == []


def test_install_and_uninstall_trigger_on_the_real_class():
    KubernetesPodTrigger = kpo_trigger_module().KubernetesPodTrigger

    before = KubernetesPodTrigger.__dict__["define_container_state"]
    assert patches.install_trigger() is True and patches.is_trigger_installed()
    patches.uninstall_trigger()
    assert KubernetesPodTrigger.__dict__["define_container_state"] is before


class LogServer:
    """The agent's GET /logs on 127.0.0.1: lines strictly after after_timestamp, at most max_log_lines."""

    def __init__(self, lines: list[str]):
        self.lines, self.queries = lines, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                owner.queries.append(query)
                after = query["after_timestamp"]
                shown = [line for line in owner.lines if line.split(" ")[0] > after]
                body = json.dumps({"logs": shown[: int(query["max_log_lines"])]}).encode()
                self.send_response(200 if url.path == "/logs" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def log_server(monkeypatch):
    server = LogServer([])
    monkeypatch.setattr(patches, "PEER_VM_LOGS_PORT", server.port)
    yield server
    server.close()


def test_placeholder_logs_stream_until_after_termination(vm, log_server):
    log_server.lines = [
        "2024-05-01T10:00:01.000000001Z stdout F first line",
        "2024-05-01T10:00:02.5Z stderr F second: 100% done",
        "2024-05-01T10:00:03Z stdout F ",
    ]
    vm.statuses = [{"base": "RUNNING", "airflow-xcom-sidecar": "RUNNING"}, {"base": "TERMINATED"}]
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    assert pm.fetch_container_logs(pod=placeholder_pod(), container_name="base", follow=True) is None
    assert pm.log.infos() == ["Fetching container logs", "first line", "second: 100% done", ""]
    queries = log_server.queries
    assert len(queries) == 1 + 3  # one while running, then 3 (here) after termination
    assert queries[0] == {
        "container_name": "base",
        "after_timestamp": "2024-05-01T10:00:00.0Z",
        "max_log_lines": "1000",
    }
    assert queries[1]["after_timestamp"] == "2024-05-01T10:00:03Z"
    assert len(vm.commands) == 2  # statuses are not asked once terminated


@pytest.mark.parametrize("shape", ["airflow2", *AIRFLOW3_SHAPES])
def test_placeholder_logs_end_when_the_vm_is_gone(vm, log_server, monkeypatch, shape):
    from kubernetes.client.exceptions import ApiException

    use_shape(monkeypatch, shape)
    log_server.lines = ["2024-05-01T10:00:01Z stdout F bye"]
    if shape == "airflow2":  # its mapping takes the text from stderr too
        vm.statuses = [FakeExec(stderr="container not found", code=1)]
    else:

        def gone(pod_manager, pod, command, **kwargs):
            vm.commands.append(command)
            raise ApiException(status=0, reason='Handshake status 500 -+-+- container not found ("peervm-placeholder")')

        monkeypatch.setattr(patches, "_open_exec", gone)
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    pm.fetch_container_logs(placeholder_pod(), "base")
    assert "bye" in pm.log.infos()
    assert len(log_server.queries) == 3


@pytest.mark.parametrize("shape", AIRFLOW3_SHAPES)
def test_airflow3_stderr_aborts_the_log_stream(vm, log_server, monkeypatch, shape):
    """On Airflow 3 images stderr from the statuses exec is no "VM gone": fetch_container_logs fails."""
    use_shape(monkeypatch, shape)
    vm.statuses = [FakeExec(stderr="container not found", code=1)]
    pm = manager(sentinel_pod_manager_class(), [placeholder_pod()])
    with pytest.raises(patches.PeerVmExecError):
        pm.fetch_container_logs(pod=placeholder_pod(), container_name="base")


def test_placeholder_logs_wait_for_the_endpoint_then_give_up_without_it(vm, log_server):
    pm = manager(
        sentinel_pod_manager_class(),
        [placeholder_pod(endpoint=None), placeholder_pod(endpoint=None, phase="Failed")],
    )
    assert pm.fetch_container_logs(pod=placeholder_pod(), container_name="base") is None
    assert "Awaiting for pod to start execution" in pm.log.infos()
    assert log_server.queries == [] and vm.commands == []


def test_unreachable_log_endpoint_keeps_the_timestamp(monkeypatch):
    monkeypatch.setattr(patches, "PEER_VM_LOGS_PORT", 9)  # discard port: nothing listens
    pm = SimpleNamespace(log=Recorder())
    assert patches.read_vm_logs(pm, "base", "127.0.0.1", "2024-05-01T10:00:00.0Z") == "2024-05-01T10:00:00.0Z"
    assert pm.log.lines and pm.log.lines[0][0] == "debug"


def test_timings_default_to_googles(monkeypatch):
    for name, _ in (patches.LOGS_FIRST_READ_DELAY, patches.LOGS_READ_INTERVAL, patches.LOGS_READS_AFTER_TERMINATION):
        monkeypatch.delenv(name, raising=False)
    assert patches._setting(patches.LOGS_FIRST_READ_DELAY) == 10
    assert patches._setting(patches.LOGS_READ_INTERVAL) == 1
    assert patches._setting(patches.LOGS_READS_AFTER_TERMINATION) == 10
    assert [patches._xcom_retry_wait(n) for n in (1, 2, 3, 4, 5)] == [4, 4, 4, 8, 10]


# --- Airflow loads it ---------------------------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import json, sys
    from kubernetes.client import models as k8s
    try:
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    except ImportError:  # cncf-kubernetes 5.0
        from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import KubernetesPodOperator
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager
    try:
        from airflow.providers.cncf.kubernetes.triggers.pod import KubernetesPodTrigger
        trigger_patched = hasattr(KubernetesPodTrigger.define_container_state, "_composer3_double_original")
    except ImportError:  # providers without the trigger
        trigger_patched = False
    patched_at_import = hasattr(PodManager.fetch_container_logs, "_composer3_double_original")

    op = KubernetesPodOperator(
        task_id="t", image="busybox:1.36", name="p", namespace="default", config_file=sys.argv[1],
        container_resources=k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "4Gi"}),
    )
    pod = op.build_pod_request_obj()
    import airflow_local_settings  # already imported by airflow.settings: this is the module it loaded
    print(json.dumps({
        "file": airflow_local_settings.__file__,
        "namespace": pod.metadata.namespace,
        "labels": pod.metadata.labels,
        "annotation": pod.metadata.annotations.get("node.gke.io/gce-vm"),
        "resources": pod.spec.containers[0].resources,
        "patched": hasattr(PodManager.fetch_container_logs, "_composer3_double_original"),
        "patched_at_import": patched_at_import,
        "trigger_patched": trigger_patched,
    }))
    """
)


def test_airflow_loads_the_double_and_stock_kpo_calls_its_hook(tmp_path, kubeconfig_factory):
    """A fresh interpreter, as a worker: PYTHONPATH=tests/composer3 COMPOSER_VERSION=3.0.1."""
    kubeconfig = kubeconfig_factory("https://composer.invalid:443")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "COMPOSER", "KUBECONFIG"))}
    env.update(
        PYTHONPATH=str(DOUBLE_DIR),
        COMPOSER_VERSION="3.0.1",
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_KUBERNETES_DEFAULT='{"conn_type": "kubernetes"}',  # old providers read it at build
        HOME=str(tmp_path),
    )
    proc = run_python("-c", PROBE, str(kubeconfig), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(result["file"]).resolve() == DOUBLE_DIR / "airflow_local_settings.py"
    assert result["namespace"] == "composer-user-workloads"
    assert result["labels"]["node.gke.io/use-workload-identity-service"] == "true"
    labels = yaml.safe_load(result["annotation"])["selector"]["matchLabels"]
    assert labels == {"machineType": "e2-custom-medium-5120", "diskSizeGb": "30"}
    assert result["resources"] is None
    assert result["patched"] is True
    shape = patches.google_shape()  # the installed Airflow's: the subprocess runs the same interpreter
    assert result["patched_at_import"] is shape.patch_at_import
    assert result["trigger_patched"] is shape.trigger_patch
