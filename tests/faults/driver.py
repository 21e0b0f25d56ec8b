"""Drive the local Airflow deployment (make airflow-up) and its cluster through the fault matrix.

A case triggers its DAG through the REST API, waits for the pod to run, delivers its fault the way
Composer would (a signal to the worker's task process, a pod deleted, a state set from the UI's
API, a clear), and records what a user would look at: the task's final state and try count, every
pod the task made (phases, left behind), seconds from the fault to the final state, and the error
the task log ends with. Used by tests/faults (ComposerPodOperator) and benchmarks/faults.py (both
operators, one table).

Needs the environment ``make airflow-up`` exports (AIRFLOW_HOME, KUBECONFIG, ...) and
``COMPOSER_KPO_AIRFLOW_API`` (its REST API base URL).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from tests.faults.dags.composer_kpo_faults import LOG_CASES, NAMESPACE, NUMBERED_LINES, dag_id

FINAL_STATES = frozenset({"success", "failed", "skipped", "upstream_failed"})
TASK_ID = "pod"
#: The longest any case may take from trigger to final state before it counts as a hang.
CASE_DEADLINE_SECONDS = 600
REPO = Path(__file__).resolve().parents[2]
#: The local deployment's run directory (dev/airflow/lib.sh): component PID files and logs.
AIRFLOW_RUN_DIR = Path(os.environ.get("COMPOSER_KPO_AIRFLOW_DIR", "/var/tmp/composer-kpo-airflow"))


#: A SIGTERM not acted on within this many seconds is sent again (see Airflow.kill_component).
RESEND_SIGNAL_SECONDS = 20


class Airflow:
    """The deployment's REST API, logs and task processes, on Airflow 2 or 3."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = (base_url or os.environ["COMPOSER_KPO_AIRFLOW_API"]).rstrip("/")
        self.major = 3 if self.base_url.endswith("/v2") else 2
        self.home = Path(os.environ["AIRFLOW_HOME"])
        self.log_folder = Path(os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or self.home / "logs")
        self._token: str | None = None

    # --- REST -----------------------------------------------------------------------------------
    #: How long one REST call may take: make test runs up to four deployments and the other suites
    #: on two cores, and Airflow 3's API server once took over 30 s to answer (a timing of no case).
    REQUEST_TIMEOUT = 120

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:  # Airflow 2 answers 400 to a JSON content type without a body
            req.add_header("Content-Type", "application/json")
        for name, value in self._auth_headers().items():
            req.add_header(name, value)
        with urllib.request.urlopen(req, timeout=self.REQUEST_TIMEOUT) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def _auth_headers(self) -> dict[str, str]:
        if self.major == 2:  # basic auth backend; the deployment's admin user
            user = os.environ.get("COMPOSER_KPO_AIRFLOW_USER", "admin:admin")
            return {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}
        if self._token is None:
            root = self.base_url.rsplit("/api/", 1)[0]
            login = os.environ.get("COMPOSER_KPO_AIRFLOW_USER")  # the deployment's UI_LOGIN, when it has one
            if login:
                body = {"username": login.split(":", 1)[0], "password": login.split(":", 1)[1]}
                req = urllib.request.Request(root + "/auth/token", data=json.dumps(body).encode(), method="POST")
                req.add_header("Content-Type", "application/json")
            else:
                # All-admins mode: Airflow 3.1 wants a token, which GET hands out without
                # credentials; 3.3 also takes requests without one.
                req = urllib.request.Request(root + "/auth/token", method="GET")
            try:
                with urllib.request.urlopen(req, timeout=self.REQUEST_TIMEOUT) as response:
                    self._token = json.loads(response.read())["access_token"]
            except urllib.error.HTTPError:
                self._token = ""  # all-admins mode without tokens
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def wait_for_dag(self, dag: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", f"/dags/{dag}")
                return
            except urllib.error.HTTPError as error:
                if error.code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def trigger(self, dag: str) -> str:
        body: dict[str, Any] = {"conf": {}}
        if self.major == 3:
            body["logical_date"] = None
        return self.request("POST", f"/dags/{dag}/dagRuns", body)["dag_run_id"]

    def dag_run_state(self, dag: str, run_id: str) -> str:
        return str(self.request("GET", f"/dags/{dag}/dagRuns/{quote_run_id(run_id)}").get("state"))

    def task_instance(self, dag: str, run_id: str, task: str = TASK_ID) -> dict[str, Any]:
        return self.request("GET", f"/dags/{dag}/dagRuns/{quote_run_id(run_id)}/taskInstances/{task}")

    def set_state(self, dag: str, run_id: str, state: str) -> None:
        body: dict[str, Any] = {"new_state": state}
        if self.major == 2:
            body["dry_run"] = False
        self.request("PATCH", f"/dags/{dag}/dagRuns/{quote_run_id(run_id)}/taskInstances/{TASK_ID}", body)

    def clear(self, dag: str, run_id: str) -> None:
        # reset_dag_runs: the finished run goes back to queued, or its cleared task is never scheduled
        # (Airflow 2's API defaults it to False).
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [TASK_ID],
            "only_failed": False,
            "reset_dag_runs": True,
        }
        self.request("POST", f"/dags/{dag}/clearTaskInstances", body)

    def wait_final(self, dag: str, run_id: str, deadline: float, task: str = TASK_ID) -> dict[str, Any]:
        while True:
            ti = self.task_instance(dag, run_id, task)
            if ti.get("state") in FINAL_STATES or time.monotonic() > deadline:
                return ti
            time.sleep(1)

    # --- the worker's task process ----------------------------------------------------------------
    def task_process(self, dag: str, run_id: str) -> int | None:
        """Return the PID of the process that runs the operator's ``execute`` for this task."""
        if self.major == 3:  # the task SDK titles it "airflow worker -- <task instance id>"
            title = f"airflow worker -- {self.task_instance(dag, run_id)['id']}"
        else:  # StandardTaskRunner titles it "airflow task runner: <dag> <task> <run> <job>"
            title = f"airflow task runner: {dag} {TASK_ID} {run_id}"
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            if cmdline.startswith(title):
                return int(proc.name)
        return None

    # --- the Celery worker ---------------------------------------------------------------------------
    def kill_component(self, component: str, signum: int = signal.SIGKILL) -> float:
        """Stop a deployment component (``celery-worker``, ``triggerer``, ...); return when the signal went out.

        SIGKILL goes to every process of the component, as when Composer loses its pod; SIGTERM
        to its main process only, as a pod shutdown or an upgrade sends it, which then stops the rest.
        """
        # The deployment's own definition of a component's processes (dev/airflow/lib.sh).
        script = 'source "$0" && pid_of "$1" && group_pids "$(pid_of "$1")"'
        listed = subprocess.run(
            ["bash", "-c", script, str(REPO / "dev/airflow/lib.sh"), component],
            capture_output=True,
            text=True,
            check=True,
        )
        main, *rest = [int(pid) for pid in listed.stdout.split()]
        victims = [main, *rest]
        for pid in victims if signum == signal.SIGKILL else [main]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        at = resent = time.monotonic()
        while any(_alive(pid) for pid in victims):
            if time.monotonic() - at > 90:
                raise TimeoutError(f"{component} still running 90 s after signal {signum}")
            if signum != signal.SIGKILL and time.monotonic() - resent > RESEND_SIGNAL_SECONDS and _alive(main):
                # Airflow 2.10's handler exits by raising SystemExit; a signal that lands while the
                # interpreter runs a garbage-collection callback loses it ("Exception ignored in").
                with contextlib.suppress(ProcessLookupError):
                    os.kill(main, signum)
                resent = time.monotonic()
            time.sleep(0.1)
        return at

    def terminate_component(self, component: str, signum: int = signal.SIGTERM, grace: float = 60) -> float:
        """Stop a component as Kubernetes stops a pod: ``signum`` to its main process, SIGKILL after ``grace`` s.

        Return when the signal went out. Unlike :meth:`kill_component`'s SIGTERM, a component that takes longer
        than ``grace`` to stop (a Celery worker's warm shutdown waits for its running tasks) is not an error: what
        is left of its process group and session is killed.
        """
        script = 'source "$0" && pid_of "$1" && group_pids "$(pid_of "$1")"'
        listed = subprocess.run(
            ["bash", "-c", script, str(REPO / "dev/airflow/lib.sh"), component],
            capture_output=True,
            text=True,
            check=True,
        )
        victims = [int(pid) for pid in listed.stdout.split()]
        with contextlib.suppress(ProcessLookupError):
            os.kill(victims[0], signum)
        at = time.monotonic()
        while any(_alive(pid) for pid in victims) and time.monotonic() - at < grace:
            time.sleep(0.2)
        group = ["bash", "-c", 'source "$0" && group_pids "$1"', str(REPO / "dev/airflow/lib.sh"), str(victims[0])]
        while True:  # SIGKILL to what is left of its process group and session, until nothing is
            left = [int(pid) for pid in subprocess.run(group, capture_output=True, text=True).stdout.split()]
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        return at

    def start_component(self, component: str) -> None:
        """Start a component again, as ``make airflow-up`` does; wait until it is ready."""
        subprocess.run(["bash", str(REPO / "dev/airflow/airflow-up.sh"), "--restart", component], check=True)

    # --- task logs ----------------------------------------------------------------------------------
    def log_lines(self, dag: str, run_id: str, attempt: int) -> list[str]:
        """Return the text of one attempt's task log, one entry per line (JSON logs rendered)."""
        path = (
            self.home / "logs" / f"dag_id={dag}" / f"run_id={run_id}" / f"task_id={TASK_ID}" / f"attempt={attempt}.log"
        )
        if not path.exists():
            return []
        lines = []
        for raw in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(raw)
            except ValueError:
                lines.append(raw)
                continue
            text = str(record.get("event", ""))
            # The raised exception comes first, its causes after: print them as a traceback does.
            for detail in reversed(record.get("error_detail") or []):
                text += f"\n{detail.get('exc_type')}: {detail.get('exc_value')}"
            lines.extend(text.splitlines())
        return lines


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


_NUMBERED = re.compile(r"\bline (\d+) x")
#: The operator's note for lines the kubelet no longer serves (log_replay.LogGap).
GAP_NOTE = "are missing from this log: the kubelet rotated"


@dataclass(frozen=True)
class LineCount:
    """How often each numbered line of a log case reached the task log."""

    total: int
    missing: list[int]
    doubled: list[int]
    gap_noted: bool

    def text(self) -> str:
        total = self.total
        if not self.missing and not self.doubled:
            return f"all {total} lines once"
        return (
            f"{total - len(self.missing)} of {total} lines, {len(self.missing)} missing"
            f"{' (gap noted in the log)' if self.gap_noted else ''}, {len(self.doubled)} doubled"
        )


def count_numbered_lines(lines: list[str], total: int = NUMBERED_LINES) -> LineCount:
    seen: dict[int, int] = {}
    for line in lines:
        match = _NUMBERED.search(line)
        if match:
            number = int(match.group(1))
            seen[number] = seen.get(number, 0) + 1
    return LineCount(
        total=total,
        missing=[n for n in range(1, total + 1) if n not in seen],
        doubled=sorted(n for n, times in seen.items() if times > 1),
        gap_noted=any(GAP_NOTE in line for line in lines),
    )


_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Timeout|Terminated|Failure)\w*): (.+)$")


def final_error(lines: list[str]) -> str | None:
    """Return the last ``ExceptionType: message`` line of a task log, or None if it has none."""
    for line in reversed(lines):
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            return f"{match.group(1)}: {match.group(2)}"
    return None


def quote_run_id(run_id: str) -> str:
    return urllib.request.quote(run_id, safe="")


class Cluster:
    """The local cluster: the fault namespace's pods, watched per DAG."""

    def __init__(self) -> None:
        configuration = k8s_client.Configuration()
        k8s_config.load_kube_config(os.environ.get("KUBECONFIG"), client_configuration=configuration)
        configuration.connection_pool_maxsize = 32  # one pod recorder per case, all at once
        self.core = k8s_client.CoreV1Api(k8s_client.ApiClient(configuration))

    def ensure_namespace(self) -> None:
        try:
            self.core.read_namespace(NAMESPACE)
        except k8s_client.ApiException as error:
            if error.status != 404:
                raise
            self.core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=NAMESPACE)))

    def pods(self, dag: str) -> list[k8s_client.V1Pod]:
        return self.core.list_namespaced_pod(NAMESPACE, label_selector=f"dag_id={dag}").items

    def delete_all(self, dag: str) -> None:
        for pod in self.pods(dag):
            self.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)


@dataclass
class PodSeen:
    name: str
    phase: str
    reason: str = ""
    gone: bool = False


@dataclass
class PodRecorder:
    """Polls the pods of one DAG every half second, so even a pod that lived briefly is counted."""

    cluster: Cluster
    dag: str
    seen: dict[str, PodSeen] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PodRecorder:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.poll()

    def poll(self) -> None:
        try:
            pods = self.cluster.pods(self.dag)
        except Exception:
            return  # an API-server hiccup: the next poll sees the pods
        live = set()
        for pod in pods:
            live.add(pod.metadata.uid)
            phase = pod.status.phase or "Pending"
            if pod.metadata.deletion_timestamp is not None:
                phase += ", deleting"
            self.seen[pod.metadata.uid] = PodSeen(pod.metadata.name, phase, pod.status.reason or "")
        for uid, pod_seen in self.seen.items():
            if uid not in live:
                pod_seen.gone = True

    def running(self) -> bool:
        return any(p.phase == "Running" and not p.gone for p in self.seen.values())

    def wait_running(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self.running():
                return True
            time.sleep(0.5)
        return False


@dataclass
class Outcome:
    """What one case did, as a user would see it."""

    case: str
    operator: str
    state: str
    try_number: int
    pods: list[PodSeen]
    seconds_to_final: float | None
    error: str | None
    notes: list[str] = field(default_factory=list)
    logs: dict[int, list[str]] = field(default_factory=dict)

    @property
    def left_behind(self) -> list[PodSeen]:
        return [p for p in self.pods if not p.gone and "deleting" not in p.phase]

    def pods_text(self) -> str:
        parts = [f"{p.phase}{' ' + p.reason if p.reason else ''}" for p in self.pods]
        kept = len(self.left_behind)
        return f"{len(self.pods)} ({'; '.join(parts)}){f', {kept} left behind' if kept else ''}"


Fault = Callable[["CaseRun"], "float | None"]


@dataclass
class CaseRun:
    """One case in progress: what a fault needs to reach the task and its pods."""

    airflow: Airflow
    cluster: Cluster
    dag: str
    run_id: str
    recorder: PodRecorder
    deadline: float
    notes: list[str] = field(default_factory=list)


def run_case(airflow: Airflow, cluster: Cluster, case: str, operator: str, fault: Fault) -> Outcome:
    """Trigger the case's DAG, deliver its fault once the pod runs, and return what happened."""
    dag = dag_id(case, operator)
    cluster.delete_all(dag)
    deadline = time.monotonic() + CASE_DEADLINE_SECONDS
    with PodRecorder(cluster, dag) as recorder:
        run = CaseRun(airflow, cluster, dag, airflow.trigger(dag), recorder, deadline)
        fault_at = fault(run)
        ti = airflow.wait_final(dag, run.run_id, deadline)
        finished = time.monotonic()
        time.sleep(8)  # pods the task deletes on its way out are gone within this
        later = airflow.task_instance(dag, run.run_id)
        if (later.get("state"), later.get("try_number")) != (ti.get("state"), ti.get("try_number")):
            run.notes.append(f"state changed after it was final: {later.get('state')}, try {later.get('try_number')}")
            ti = later
    tries = int(ti.get("try_number") or 1)
    logs = {attempt: airflow.log_lines(dag, run.run_id, attempt) for attempt in range(1, tries + 1)}
    error = next((e for e in (final_error(logs[a]) for a in sorted(logs, reverse=True)) if e), None)
    if case in LOG_CASES:
        run.notes.append(count_numbered_lines(logs[tries]).text())
    return Outcome(
        case=case,
        operator=operator,
        state=str(ti.get("state")),
        try_number=tries,
        pods=list(recorder.seen.values()),
        seconds_to_final=None if fault_at is None else round(finished - fault_at, 1),
        error=error,
        notes=run.notes,
        logs=logs,
    )


def signal_task_process(run: CaseRun, signum: int, after_running: float = 5) -> float | None:
    """Once the pod runs, send ``signum`` to the worker's task process; return when it was sent."""
    if not run.recorder.wait_running(run.deadline):
        run.notes.append("the pod never ran")
        return None
    time.sleep(after_running)
    pid = run.airflow.task_process(run.dag, run.run_id)
    if pid is None:
        run.notes.append("no task process found")
        return None
    os.kill(pid, signum)
    return time.monotonic()
