"""platform/peer_vm_client.exec_in_placeholder: an exec into the placeholder through the real
``kubernetes.stream`` client, over a socket pair in place of the API server's websocket."""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest
from kubernetes.client import ApiClient, Configuration
from kubernetes.client import models as k8s
from kubernetes.stream import ws_client
from kubernetes.stream.ws_client import ABNF

from airflow_provider_composer_kpo.platform import peer_vm_client
from airflow_provider_composer_kpo.platform.peer_vm_client import exec_in_placeholder

STDOUT, STDERR = "\x01", "\x02"


class Websocket:
    """What ``create_websocket`` returns: frames queued here, each made readable on a real socket."""

    def __init__(self, frames: list[tuple[int, str]]) -> None:
        self.sock, self._peer = socket.socketpair()
        self.connected = True
        self.closed = False
        self.subprotocol = "v4.channel.k8s.io"  # what the API server answers to kubernetes' client
        self._frames = list(frames)
        self._peer.send(b"." * len(frames))

    def recv_data_frame(self, control_frame: bool):
        self.sock.recv(1)
        opcode, text = self._frames.pop(0)
        return opcode, SimpleNamespace(data=text.encode())

    def close(self, **kwargs) -> None:
        self.closed = True
        self.connected = False
        self.sock.close()
        self._peer.close()


@pytest.fixture
def serve(monkeypatch):
    """Answer the next exec with these frames; return the websocket."""

    def serve(frames: list[tuple[int, str]]) -> Websocket:
        websocket = Websocket(frames)
        monkeypatch.setattr(ws_client, "create_websocket", lambda *args, **kwargs: websocket)
        return websocket

    return serve


def placeholder_exec():
    pod = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="task-pod", namespace="team"))
    return exec_in_placeholder(ApiClient(Configuration()), pod)


def test_the_commands_stdout_comes_back(serve):
    websocket = serve([(ABNF.OPCODE_TEXT, STDOUT + '{"base": "RUNNING"}'), (ABNF.OPCODE_CLOSE, "")])
    assert placeholder_exec()(["placeholder-pod", "container-statuses"]) == '{"base": "RUNNING"}'
    assert websocket.closed


def test_stderr_is_raised(serve):
    serve([(ABNF.OPCODE_TEXT, STDERR + "container not found"), (ABNF.OPCODE_CLOSE, "")])
    with pytest.raises(RuntimeError, match="container not found"):
        placeholder_exec()(["placeholder-pod", "container-statuses"])


def test_an_exec_that_never_ends_times_out_instead_of_holding_its_thread(serve, monkeypatch):
    """The connection stays open and sends nothing: the call ends after its timeout, closed."""
    monkeypatch.setattr(peer_vm_client, "READ_TIMEOUT_SECONDS", 0.2)
    websocket = serve([])
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            placeholder_exec()(["placeholder-pod", "container-statuses"])
        except BaseException as error:  # the test reads what it was
            outcome.append(error)

    thread = threading.Thread(target=call, daemon=True)  # daemon: a hang fails the test, not the run
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the exec is still waiting for a frame"
    assert isinstance(outcome[0], TimeoutError) and "did not end within 0.2 s" in str(outcome[0])
    assert websocket.closed
