"""Disturb the local cluster on purpose: stop a component (API server, kubelet) for a while, then start it again.

A component is restarted with exactly the command line cluster-up gave it, and its PID file is
updated, so cluster-down still stops it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

RUN_DIR = Path(os.environ.get("COMPOSER_KPO_CLUSTER_DIR", "/var/tmp/composer-kpo-cluster"))
LOG_FILE = RUN_DIR / "logs" / "kube-apiserver.log"


def api_server_ready(api_client) -> bool:
    """Return True if the API server answers a version request within two seconds."""
    from kubernetes.client import VersionApi

    try:
        VersionApi(api_client).get_code(_request_timeout=2)
        return True
    except Exception:
        return False


def when_running(core_v1, namespace: str, selector: str, steps: list[Callable[[], object]]) -> threading.Thread:
    """Start a thread that, once the pod matching ``selector`` runs, calls each of ``steps`` in turn.

    The thread's ``results`` list holds what each step returned.
    """

    def follow() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                pods = core_v1.list_namespaced_pod(namespace, label_selector=selector).items
            except Exception:
                pods = []
            if pods and pods[0].status.phase == "Running":
                for step in steps:
                    thread.results.append(step())  # type: ignore[attr-defined]
                return
            time.sleep(0.3)

    thread = threading.Thread(target=follow)
    thread.results = []  # type: ignore[attr-defined]
    thread.start()
    return thread


def restart_apiserver_when_running(
    core_v1,
    api_client,
    namespace: str,
    selector: str,
    *,
    restarts: int,
    down_seconds: float,
    signum: int = signal.SIGTERM,
) -> threading.Thread:
    """Once the pod matching ``selector`` runs, restart the API server ``restarts`` times, 3 s apart;
    the thread's ``results`` are each restart's seconds until ready."""

    def restart() -> float:
        time.sleep(3)  # let the operator settle into following the logs
        return restart_apiserver(down_seconds, lambda: api_server_ready(api_client), signum=signum)

    return when_running(core_v1, namespace, selector, [restart] * restarts)


def restart_kubelet_when_running(
    core_v1, namespace: str, selector: str, *, after_seconds: float, down_seconds: float
) -> threading.Thread:
    """``after_seconds`` once the pod matching ``selector`` runs, stop the kubelet for
    ``down_seconds`` (its containers run on under containerd), then start it again."""

    def restart() -> bool:
        time.sleep(after_seconds)
        argv = stop_component("kubelet")
        time.sleep(down_seconds)
        start_component("kubelet", argv)
        return True

    return when_running(core_v1, namespace, selector, [restart])


def stop_component(name: str, signum: int = signal.SIGTERM) -> list[bytes]:
    """Stop a cluster component (``kube-apiserver``, ``kubelet``, ...); return its command line.

    SIGTERM is a graceful stop (kube-apiserver keeps serving open streams while it drains);
    SIGKILL is a crash, which cuts every open stream at once.
    """
    pid = int((RUN_DIR / "pids" / f"{name}.pid").read_text().split()[0])  # "<pid> <start time>"
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signum)
    stopped = time.monotonic()
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        if time.monotonic() - stopped > 30:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    return argv


def start_component(name: str, argv: list[bytes]) -> None:
    """Start a component stopped by :func:`stop_component` again, logging where cluster-up logs it."""
    with open(RUN_DIR / "logs" / f"{name}.log", "ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    (RUN_DIR / "pids" / f"{name}.pid").write_text(f"{process.pid}\n")


def restart_apiserver(
    down_seconds: float, ready_check, ready_timeout: float = 120.0, signum: int = signal.SIGTERM
) -> float:
    """Stop kube-apiserver, keep it down ``down_seconds``, start it; return seconds until ready."""
    stopped = time.monotonic()
    argv = stop_component("kube-apiserver", signum)
    time.sleep(max(0.0, down_seconds - (time.monotonic() - stopped)))
    start_component("kube-apiserver", argv)
    started = time.monotonic()
    while time.monotonic() - started < ready_timeout:
        if ready_check():
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"kube-apiserver not ready {ready_timeout:.0f} s after restart; see {LOG_FILE}")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return "zombie"
