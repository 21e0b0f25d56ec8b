"""One local cluster, several pytest processes at once (dev/test.sh runs suites side by side).

* The **cluster lock**: every test that uses the cluster holds it shared; a test that disturbs
  the cluster for everyone (stops the API server or the kubelet) holds it exclusive, so it runs
  while no test of any process does. dev/test.sh's suites order those tests last in their session
  (``disrupts_cluster`` marker, tests/conftest.py), so they wait for the others to end rather than
  stall them.
* **Named locks** guard state that two processes' tests would both change: the guide's Secrets
  ``airflow-secrets`` and ``service-account`` in composer-user-workloads (``GUIDE_SECRETS``), which
  some tests create and others expect missing; the example scenarios hold the same lock for their
  Secret ``partner-api`` (dev/run_examples.py).

Order, so that no two processes wait on each other: the cluster lock first, then named locks; a
holder of a named lock never asks for the cluster lock. The locks are flock(2) locks on files in
``$COMPOSER_KPO_LOCK_DIR`` (default: ``locks/`` in the cluster's run dir): a process that dies
releases them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

GUIDE_SECRETS = "guide-secrets"
#: Seconds this process waited for the cluster lock: (shared, exclusive), for the session summary.
WAITED = {"shared": 0.0, "exclusive": 0.0}


def lock_dir() -> Path:
    default = Path(os.environ.get("COMPOSER_KPO_CLUSTER_DIR", "/var/tmp/composer-kpo-cluster")) / "locks"
    path = Path(os.environ.get("COMPOSER_KPO_LOCK_DIR") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _flock(name: str, mode: int, waited: str | None = None) -> Iterator[None]:
    started = time.monotonic()
    with open(lock_dir() / f"{name}.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), mode)
        if waited is not None:
            WAITED[waited] += time.monotonic() - started
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def cluster(*, exclusive: bool = False) -> contextlib.AbstractContextManager:
    """Hold the cluster lock: shared (uses the cluster) or exclusive (disturbs it for everyone)."""
    if exclusive:
        return _flock("cluster", fcntl.LOCK_EX, "exclusive")
    return _flock("cluster", fcntl.LOCK_SH, "shared")


def waited_summary() -> str | None:
    """One line on the time this process waited for the cluster, if it waited at all."""
    if sum(WAITED.values()) < 1:
        return None
    return f"cluster lock: waited {WAITED['shared']:.0f} s to share it, {WAITED['exclusive']:.0f} s to have it alone"


def named(name: str) -> contextlib.AbstractContextManager:
    """Hold one named lock (exclusive); take it after the cluster lock, never before."""
    return _flock(name, fcntl.LOCK_EX)
