"""A fresh interpreter of the test's venv, for tests that need one (import-time state, a worker's view)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from typing import Any


def run_python(*args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    """``sys.executable ARGS`` from a working directory outside the checkout: ``-c`` and ``-m`` put
    their working directory first on ``sys.path``, and the checkout's root holds the package's
    source, which must not stand in for the installed wheel under test."""
    kwargs.setdefault("cwd", tempfile.gettempdir())
    return subprocess.run([sys.executable, *args], **kwargs)
