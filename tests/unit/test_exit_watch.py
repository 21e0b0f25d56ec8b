"""tests/exit_watch.py: a test process held at exit by a thread prints the stacks and ends itself."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.exit_watch import HUNG_AT_EXIT

REPO = Path(__file__).resolve().parents[2]


def test_a_process_held_at_exit_by_a_worker_prints_its_stack_and_exits_with_the_sessions_status():
    script = textwrap.dedent(
        """
        import concurrent.futures, threading
        from tests.exit_watch import watch_exit

        def stuck_forever():
            threading.Event().wait()

        concurrent.futures.ThreadPoolExecutor(1).submit(stuck_forever)  # joined at exit: never ends
        watch_exit(3, grace_seconds=0.5)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert HUNG_AT_EXIT in done.stderr and "in stuck_forever" in done.stderr


def test_a_process_that_exits_is_not_held_for_the_grace():
    script = "from tests.exit_watch import watch_exit; watch_exit(0, grace_seconds=30)"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and HUNG_AT_EXIT not in done.stderr
