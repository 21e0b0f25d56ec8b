"""Disturb the local cluster on purpose: stop the API server for a while, then start it again.

The API server is restarted with exactly the command line cluster-up gave it, and its PID file
is updated, so cluster-down still stops it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

RUN_DIR = Path(os.environ.get("COMPOSER_KPO_CLUSTER_DIR", "/var/tmp/composer-kpo-cluster"))
PID_FILE = RUN_DIR / "pids" / "kube-apiserver.pid"
LOG_FILE = RUN_DIR / "logs" / "kube-apiserver.log"


def restart_apiserver(down_seconds: float, ready_check, ready_timeout: float = 120.0) -> float:
    """Stop kube-apiserver, keep it down ``down_seconds``, start it; return seconds until ready."""
    pid = int(PID_FILE.read_text())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signal.SIGTERM)
    stopped = time.monotonic()
    while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
        if time.monotonic() - stopped > 30:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    time.sleep(max(0.0, down_seconds - (time.monotonic() - stopped)))
    with open(LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    PID_FILE.write_text(f"{process.pid}\n")
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
