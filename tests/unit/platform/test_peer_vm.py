"""Composer 3 placeholder pods: the verdicts, the VM reads, and the startup wait for the VM."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.exceptions import PodStartupError, PodStartupTimeout
from airflow_provider_composer_kpo.platform import peer_vm_client
from airflow_provider_composer_kpo.platform.peer_vm import (
    VmSnapshot,
    is_placeholder,
    log_line_text,
    may_become_placeholder,
    parse_container_states,
    placeholder_succeeded,
    vm_failure,
    vm_machine,
    vm_outcome,
    vm_start_blocker,
)
from airflow_provider_composer_kpo.platform.peer_vm_client import read_log_tail, snapshot_vm
from tests.unit.lifecycle.test_startup import watch

GCE_VM = "selector:\n  matchLabels:\n    diskSizeGb: '30'\n    machineType: e2-custom-small-2048\n"
CREATED = datetime.datetime(2026, 11, 27, 10, 0, 0, tzinfo=datetime.timezone.utc)


def placeholder(phase="Running", endpoint=None, terminated=None) -> k8s.V1Pod:
    annotations = {"node.gke.io/gce-vm": GCE_VM}
    if endpoint:
        annotations["node.gke.io/peer-vm-endpoint"] = endpoint
    state = k8s.V1ContainerState(terminated=terminated) if terminated else k8s.V1ContainerState()
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name="task-abc", namespace="composer-user-workloads", annotations=annotations, creation_timestamp=CREATED
        ),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="peervm-placeholder")]),
        status=k8s.V1PodStatus(
            phase=phase,
            container_statuses=[
                k8s.V1ContainerStatus(
                    name="peervm-placeholder", state=state, image="i", image_id="", ready=False, restart_count=0
                )
            ],
        ),
    )


def ordinary_pod() -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace="ns"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase="Running"),
    )


def test_placeholder_is_recognised_by_its_first_container_only():
    assert is_placeholder(placeholder())
    assert not is_placeholder(ordinary_pod())
    assert not is_placeholder(None)


def test_a_pod_google_sized_a_vm_for_may_become_a_placeholder():
    requested = ordinary_pod()
    assert not may_become_placeholder(requested)
    requested.metadata.annotations = {"node.gke.io/gce-vm": GCE_VM}
    assert may_become_placeholder(requested)
    assert may_become_placeholder(placeholder())


def test_machine_is_read_from_the_gce_vm_annotation():
    assert vm_machine(placeholder()) == "e2-custom-small-2048, 30 GB disk"
    broken = placeholder()
    broken.metadata.annotations["node.gke.io/gce-vm"] = "not: [yaml"
    assert vm_machine(broken) == ""


def test_ordinary_pod_and_placeholder_with_endpoint_have_started():
    assert vm_start_blocker(ordinary_pod()) is None
    assert vm_start_blocker(placeholder(endpoint="10.88.0.5")) is None


def test_running_placeholder_without_endpoint_is_still_creating_its_vm():
    blocker = vm_start_blocker(placeholder())
    assert blocker is not None and not blocker.fatal
    assert blocker.reason == "PeerVmStarting"
    assert "e2-custom-small-2048" in blocker.message


def test_placeholder_ending_before_its_endpoint_means_the_vm_could_not_be_created():
    terminated = k8s.V1ContainerStateTerminated(exit_code=1, reason="Error", message="quota exceeded for e2 CPUs")
    blocker = vm_start_blocker(placeholder(phase="Failed", terminated=terminated))
    assert blocker is not None and blocker.fatal
    assert blocker.reason == "PeerVmNotCreated"
    assert "could not create the peer VM (e2-custom-small-2048, 30 GB disk)" in blocker.message
    assert "Error: quota exceeded for e2 CPUs" in blocker.message


def test_container_states_are_parsed_from_the_exec_answer():
    text = '[{"container": "airflow-xcom-sidecar", "state": "RUNNING"}, {"container": "base", "state": "TERMINATED"}]'
    assert parse_container_states(text) == {"airflow-xcom-sidecar": "RUNNING", "base": "TERMINATED"}
    with pytest.raises(ValueError, match="JSON list"):
        parse_container_states('{"container": "base"}')


def test_log_line_text_keeps_spaces_in_the_text():
    assert log_line_text("2026-11-27T10:00:01.5Z stdout F step 2 of 3") == "step 2 of 3"
    assert log_line_text("garbage") == ""


def test_failure_names_the_vm_state_and_says_the_exit_code_is_not_reported():
    terminated = k8s.V1ContainerStateTerminated(exit_code=1, reason="Error", message="container base failed")
    pod = placeholder(phase="Failed", endpoint="10.88.0.5", terminated=terminated)
    message = vm_failure(pod, VmSnapshot(states={"base": "TERMINATED"}), "base")
    assert message is not None
    assert "container 'base' was TERMINATED on the Composer 3 peer VM" in message
    assert "(Error: container base failed)" in message
    assert "reports no exit code or OOM kill" in message


def test_failure_without_a_snapshot_says_the_state_is_unknown():
    message = vm_failure(placeholder(phase="Failed", endpoint="10.88.0.5"), VmSnapshot(problem="VM gone"), "base")
    assert message is not None and "in an unknown state (VM gone)" in message


def test_succeeded_placeholder_is_no_failure():
    assert vm_failure(placeholder(phase="Succeeded", endpoint="10.88.0.5"), VmSnapshot(), "base") is None


def test_failed_placeholder_that_never_had_a_vm_gets_the_startup_verdict():
    message = vm_failure(placeholder(phase="Failed"), None, "base")
    assert message is not None and "could not create the peer VM" in message


def test_only_a_succeeded_placeholder_counts_as_success():
    assert placeholder_succeeded(placeholder(phase="Succeeded", endpoint="e"))
    assert not placeholder_succeeded(placeholder(phase="Failed", endpoint="e"))
    succeeded_pod = ordinary_pod()
    succeeded_pod.status.phase = "Succeeded"
    assert not placeholder_succeeded(succeeded_pod)


def test_outcome_line_names_the_placeholder_and_the_vm_state():
    line = vm_outcome(placeholder(phase="Succeeded", endpoint="e"), VmSnapshot(states={"base": "TERMINATED"}), "base")
    assert line == (
        "pod composer-user-workloads/task-abc (Composer 3 placeholder) ended in phase Succeeded, "
        "container 'base' was TERMINATED on the peer VM"
    )


# -- reading the VM ------------------------------------------------------------------------


def log_lines(count: int, start: int = 0) -> list[str]:
    return [f"2026-11-27T10:00:{i // 1000:02d}.{i:09d}Z stdout F line {i}" for i in range(start, start + count)]


def test_log_tail_pages_through_long_logs_and_keeps_the_last_lines():
    pages = {"2026-11-27T10:00:00Z": log_lines(1000), log_lines(1000)[-1].split(" ")[0]: log_lines(5, 1000)}
    asked = []

    def fetch(endpoint, container, after):
        asked.append(after)
        return pages[after]

    tail = read_log_tail("10.88.0.5", "base", "2026-11-27T10:00:00Z", 3, fetch=fetch)
    assert tail == ("line 1002", "line 1003", "line 1004")
    assert len(asked) == 2


class _LogsHandler(BaseHTTPRequestHandler):
    lines = log_lines(4)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.server.queries.append(query)  # type: ignore[attr-defined]
        body = json.dumps({"logs": self.lines if query["container_name"] == ["base"] else []}).encode()
        self.send_response(200 if url.path == "/logs" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def logs_server(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _LogsHandler)
    server.queries = []  # type: ignore[attr-defined]
    monkeypatch.setattr(peer_vm_client, "LOGS_PORT", server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_snapshot_reads_states_by_exec_and_the_tail_over_http(logs_server):
    commands = []

    def run_exec(command):
        commands.append(command)
        return '[{"container": "base", "state": "TERMINATED"}]'

    snapshot = snapshot_vm(placeholder(endpoint="127.0.0.1"), "base", run_exec=run_exec, tail_lines=2)
    assert snapshot == VmSnapshot(states={"base": "TERMINATED"}, log_tail=("line 2", "line 3"), problem=None)
    assert commands == [["placeholder-pod", "container-statuses"]]
    query = logs_server.queries[0]
    assert query["container_name"] == ["base"]
    assert query["after_timestamp"] == ["2026-11-27T10:00:00Z"]
    assert query["max_log_lines"] == ["1000"]


def test_snapshot_of_a_vm_that_is_gone_records_why_and_never_raises():
    def run_exec(command):
        raise RuntimeError("container not found")

    pod = placeholder(endpoint="127.0.0.1")
    snapshot = snapshot_vm(pod, "base", run_exec=run_exec, tail_lines=2, fetch=_refused)
    assert snapshot.states == {} and snapshot.log_tail == ()
    assert snapshot.problem == (
        "container states unavailable: the placeholder container is gone (the VM has shut down); "
        "logs unavailable: refused"
    )


def _refused(*args):
    raise ConnectionRefusedError("refused")


# -- the startup wait covers the VM --------------------------------------------------------


def test_startup_waits_for_the_vm_endpoint_after_the_placeholder_runs():
    w, clock, _ = watch([placeholder(), placeholder(), placeholder(endpoint="10.88.0.5")])
    w.still_starting = vm_start_blocker
    assert w.wait().metadata.annotations["node.gke.io/peer-vm-endpoint"] == "10.88.0.5"
    assert clock.now == 4


def test_startup_fails_at_once_when_the_vm_cannot_be_created():
    terminated = k8s.V1ContainerStateTerminated(exit_code=1, reason="Error", message="machine type not available")
    w, clock, _ = watch([placeholder(), placeholder(phase="Failed", terminated=terminated)])
    w.still_starting = vm_start_blocker
    with pytest.raises(PodStartupError, match="PeerVmNotCreated: Composer 3 could not create the peer VM") as error:
        w.wait()
    assert error.value.reason == "PeerVmNotCreated"
    assert clock.now == 2


def test_a_vm_that_never_starts_times_out_naming_the_wait():
    w, _, _ = watch([placeholder()], startup=30)
    w.still_starting = vm_start_blocker
    with pytest.raises(
        PodStartupTimeout, match=r"did not start within 30 s \(startup_timeout_seconds\); last state: PeerVmStarting"
    ):
        w.wait()
