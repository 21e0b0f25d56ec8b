"""Read a Composer 3 peer VM through its placeholder pod: container states (exec) and logs (HTTP).

The same protocol Google's PodManager patches use on Composer 3 (see :mod:`.peer_vm`). Used only
to read the workload's end before the VM shuts down; following logs stays Google's.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections import deque
from typing import Any, Callable, List

from kubernetes.client import models as k8s

from .peer_vm import LOGS_PORT, PLACEHOLDER_CONTAINER, VmSnapshot, log_line_text, parse_container_states, vm_endpoint

log = logging.getLogger(__name__)

#: Seconds for one exec or HTTP read; the VM answers at once or is gone.
READ_TIMEOUT_SECONDS = 10
#: Lines per /logs request (Google reads 1000 at a time) and requests per tail, to stay bounded.
LOG_PAGE_LINES = 1000
MAX_LOG_PAGES = 50

# typing's aliases: this line runs on Python 3.8 too.
ExecFn = Callable[[List[str]], str]


def exec_in_placeholder(api_client: Any, pod: k8s.V1Pod) -> ExecFn:
    """Return a function running a command in the placeholder container; it returns stdout.

    Raises RuntimeError with the command's stderr when it writes any (``container not found``
    when the VM has shut down).
    """
    from kubernetes.client import CoreV1Api
    from kubernetes.stream import stream

    def run(command: list[str]) -> str:
        # A CoreV1Api of its own: `stream` swaps the request method of the API object it is given.
        api = CoreV1Api(api_client)
        resp = stream(
            api.connect_get_namespaced_pod_exec,
            pod.metadata.name,
            pod.metadata.namespace,
            container=PLACEHOLDER_CONTAINER,
            command=command,
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
        try:
            resp.run_forever(timeout=READ_TIMEOUT_SECONDS)
            if resp.is_open():
                # A read without a timeout would wait for a frame that may never come: a stalled
                # exec held its thread, and the process at exit, for good (found in CI).
                raise TimeoutError(f"exec {command} in the placeholder did not end within {READ_TIMEOUT_SECONDS} s")
            out, err = resp.read_stdout(timeout=0) or "", resp.read_stderr(timeout=0) or ""
        finally:
            resp.close()
        if err.strip():
            raise RuntimeError(err.strip())
        return out

    return run


def fetch_log_lines(endpoint: str, container: str, after_timestamp: str) -> list[str]:
    """Return one page of ``container``'s log lines after ``after_timestamp`` from the VM."""
    query = urllib.parse.urlencode(
        {"container_name": container, "after_timestamp": after_timestamp, "max_log_lines": LOG_PAGE_LINES}
    )
    url = f"http://{endpoint}:{LOGS_PORT}/logs?{query}"
    with urllib.request.urlopen(url, timeout=READ_TIMEOUT_SECONDS) as response:
        return list(json.load(response).get("logs") or [])


def read_log_tail(
    endpoint: str, container: str, since: str, lines: int, *, fetch: Callable[..., list[str]] = fetch_log_lines
) -> tuple[str, ...]:
    """Return the last ``lines`` log lines of ``container`` written after ``since`` (RFC 3339)."""
    tail: deque[str] = deque(maxlen=lines)
    after = since
    for _ in range(MAX_LOG_PAGES):
        page = fetch(endpoint, container, after)
        tail.extend(log_line_text(line) for line in page)
        if len(page) < LOG_PAGE_LINES:
            break
        after = page[-1].split(" ", 1)[0]
    return tuple(tail)


def snapshot_vm(pod: k8s.V1Pod, container: str, *, run_exec: ExecFn, tail_lines: int, **kwargs: Any) -> VmSnapshot:
    """Read the VM's container states and the last log lines of ``container``; never raises."""
    problems = []
    states: dict[str, str] = {}
    try:
        states = parse_container_states(run_exec(["placeholder-pod", "container-statuses"]))
    except Exception as error:
        problems.append(f"container states unavailable: {_short(error)}")
    tail: tuple[str, ...] = ()
    endpoint = vm_endpoint(pod)
    if endpoint:
        since = pod.metadata.creation_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            tail = read_log_tail(endpoint, container, since, tail_lines, **kwargs)
        except Exception as error:
            problems.append(f"logs unavailable: {_short(error)}")
    if problems:
        log.warning("Composer 3 peer VM of pod %s: %s", pod.metadata.name, "; ".join(problems))
    return VmSnapshot(states=states, log_tail=tail, problem="; ".join(problems) or None)


def _short(error: Exception) -> str:
    """Return the gist of an exec or HTTP error: a gone placeholder answers with a whole handshake dump."""
    text = " ".join(str(error).split())
    if "container not found" in text:
        return "the placeholder container is gone (the VM has shut down)"
    return text[:200]
