"""A test process that does not exit after its session: its threads' stacks, then its exit.

A thread that never ends (a blocked executor worker, say) holds a Python process at exit, and so
its stage of ``make test``, until CI's own limit. tests/conftest.py starts this watch when pytest
unconfigures; dev/run_suites.py names the stage when its log has HUNG_AT_EXIT.
"""

from __future__ import annotations

import faulthandler
import os
import threading
import time

#: Seconds a test process may take to exit after its session ended.
EXIT_GRACE_SECONDS = 120
HUNG_AT_EXIT = "composer-kpo tests: the process had not exited"


def watch_exit(status: int, grace_seconds: float = EXIT_GRACE_SECONDS) -> None:
    """Unless the process has exited ``grace_seconds`` from now, print every thread's stack to
    stderr and end it with ``status`` (the session's: the tests' verdict stands)."""
    stderr = os.fdopen(os.dup(2), "w")  # stays open past pytest's own capture teardown

    def exit_if_still_here() -> None:
        time.sleep(grace_seconds)
        stderr.write(f"\n{HUNG_AT_EXIT} {grace_seconds} s after its session; its threads:\n")
        stderr.flush()
        faulthandler.dump_traceback(file=stderr, all_threads=True)
        stderr.flush()
        os._exit(status)

    threading.Thread(target=exit_if_still_here, name="exit-watch", daemon=True).start()
