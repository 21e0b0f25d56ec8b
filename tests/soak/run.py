"""The soak runner: a seeded schedule of pod tasks on the local Airflow deployment, faults at random moments.

    python -m tests.soak.run --tasks N --seed S [--faults F] [--concurrency C] [--markdown]

Needs the deployment's exports in the environment (as tests/faults), the soak DAGs in its DAGs
folder (``airflow-up.sh`` with ``EXTRA_DAGS=tests/soak/dags``) and the local cluster. Prints the seed
first: the same seed replays the same plan (tests/soak/plan.py). Triggers the plan's tasks with at
most C in progress, injects each fault at its moment (tests/soak/inject.py; holding the cluster
lock exclusive for the cluster-wide ones), waits for every task to end (a task still going at its
deadline is stuck), collects the facts from the REST API, the pod watch, the pods' ledger and the
task logs, judges them (tests/soak/verdicts.py), prints a table and every violation, deletes every
soak pod, and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import http.client
import json
import logging
import secrets
import sys
import threading
import time
import urllib.error
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client

from tests import cluster_lock
from tests.faults.driver import Airflow, Cluster, final_error
from tests.soak.dags.composer_kpo_soak import LEDGER_DIR, NAMESPACE, SOAK_LABEL
from tests.soak.inject import ClusterLock, Injector, PodWatch, dead_components, start_again
from tests.soak.plan import CLUSTER_WIDE, FAULT_KINDS, MODES, FaultEvent, Plan, TaskSpec, plan
from tests.soak.verdicts import (
    FINAL_STATES,
    FaultWindow,
    LogFacts,
    PodFacts,
    TaskFacts,
    TryFacts,
    Violation,
    counts,
    judge,
    log_facts,
)

SELECTOR = f"{SOAK_LABEL}=1"
#: Seconds between two triggers: a dozen task processes starting in one second hold the CPU.
STAGGER_SECONDS = 2.0
#: How long a task may take from its trigger to its final state before it counts as stuck: two
#: tries of the slowest pod, the heartbeat timeout, a worker's warm shutdown, Airflow's 600 s for a
#: task stuck in the queue (a message lost with Redis), with room for a busy machine.
TASK_DEADLINE_SECONDS = 1500
#: How long a targeted fault waits for its task's pod to run.
TARGET_WAIT_SECONDS = 600
#: After the last task ended: time for the pods a task deletes on its way out to go.
SETTLE_SECONDS = 15
#: Seconds between two looks for dead components (between faults).
SUPERVISE_SECONDS = 5


class SoakAirflow(Airflow):
    """The REST client of tests/faults, patient with a deployment that faults disturb (500s, refused connections)."""

    RETRY_SECONDS = 300

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        deadline = time.monotonic() + self.RETRY_SECONDS
        while True:
            try:
                return super().request(method, path, body)
            except urllib.error.HTTPError as error:
                if (error.code < 500 and error.code not in (401, 403, 429)) or time.monotonic() > deadline:
                    raise
                if error.code in (401, 403):
                    self._token = None  # a restarted API server may want a new token
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def trigger_run(self, dag: str, run_id: str, conf: dict[str, Any]) -> None:
        body: dict[str, Any] = {"dag_run_id": run_id, "conf": conf}
        if self.major == 3:
            body["logical_date"] = None
        deadline = time.monotonic() + self.RETRY_SECONDS
        while True:
            try:
                self.request("POST", f"/dags/{dag}/dagRuns", body)
                return
            except urllib.error.HTTPError as error:
                if error.code == 409:  # a retried POST whose first attempt went through
                    return
                # 404: Airflow 3.1's API server briefly found no DAG while the DAG processor, started
                # again after a fault, wrote the DAGs again (seen once in a 200-task run).
                if error.code != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def tries(self, dag: str, run_id: str) -> list[dict[str, Any]]:
        answer = self.request("GET", f"/dags/{dag}/dagRuns/{run_id}/taskInstances/pod/tries")
        return list(answer.get("task_instances") or [])

    def xcom(self, dag: str, run_id: str) -> object:
        try:
            answer = self.request("GET", f"/dags/{dag}/dagRuns/{run_id}/taskInstances/pod/xcomEntries/return_value")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise
        value = answer.get("value")
        for _ in range(3):  # the stored JSON (Airflow 3), or its str() (Airflow 2), maybe as a JSON string
            if not isinstance(value, str):
                break
            for parse in (json.loads, ast.literal_eval):
                try:
                    value = parse(value)
                    break
                except (ValueError, SyntaxError):
                    continue
            else:
                break
        return value


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Progress:
    """What the trigger loop and the fault thread share."""

    plan: Plan
    tokens: list[str]
    triggered: dict[int, float] = field(default_factory=dict)
    ended: dict[int, str] = field(default_factory=dict)  # index -> final state
    states: dict[int, str | None] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def in_progress(self) -> list[int]:
        return [i for i in self.triggered if i not in self.ended]


@dataclass
class Delivered:
    event: FaultEvent | None
    kind: str
    start: float
    end: float
    note: str
    target: int | None = None
    missed: bool = False
    failed: bool = False


class FaultThread(threading.Thread):
    """Delivers the plan's faults in order, each at its moment; between them, starts dead components again."""

    def __init__(self, progress: Progress, injector: Injector, airflow: SoakAirflow, watch: PodWatch, say: Any) -> None:
        super().__init__(daemon=True, name="faults")
        self.progress, self.injector, self.airflow, self.watch, self.say = progress, injector, airflow, watch, say
        self.delivered: list[Delivered] = []
        self.error: BaseException | None = None
        self._last_check = 0.0

    def run(self) -> None:
        try:
            for event in self.progress.plan.faults:
                if self.progress.done.is_set():
                    break
                self._one(event)
            while not self.progress.done.wait(SUPERVISE_SECONDS):
                self._supervise()
        except BaseException as error:  # reported by the runner
            self.error = error

    def _wait(self, until: Any) -> bool:
        """Supervise until ``until()`` is true (True) or the run is over (False)."""
        while not until():
            if self.progress.done.is_set():
                return False
            self._supervise()
            time.sleep(1)
        return True

    def _supervise(self) -> None:
        if time.monotonic() - self._last_check < SUPERVISE_SECONDS:
            return
        self._last_check = time.monotonic()
        for name in dead_components():
            start = time.time() - SUPERVISE_SECONDS  # it died at most this long ago (between two faults)
            try:
                start_again(self.airflow, name)
                note = "found dead, started again"
            except Exception as error:
                note = f"found dead, start failed: {error}"
            self._log(Delivered(None, f"{name}_died", start, time.time(), note))

    def _log(self, record: Delivered) -> None:
        self.delivered.append(record)
        what = record.event.describe() if record.event else record.kind
        self.say(f"[{time.strftime('%H:%M:%S')}] {what}: {record.note}")

    def _one(self, event: FaultEvent) -> None:
        progress = self.progress
        if event.target is not None:
            target, token = event.target, progress.tokens[event.target]
            spec = progress.plan.tasks[target]
            if not self._wait(lambda: target in progress.triggered):
                return
            limit = time.monotonic() + TARGET_WAIT_SECONDS
            if not self._wait(
                lambda: self.watch.running_pod(token) or target in progress.ended or time.monotonic() > limit
            ):
                return
            due = time.monotonic() + event.delay
            self._wait(lambda: time.monotonic() >= due)
            pod = self.watch.running_pod(token)
            state = progress.states.get(target)
            if target in progress.ended or pod is None or state not in ("running", "deferred"):
                self._missed(event, f"task {target} not running then (state {state}, pod {pod and pod.name})")
                return
            self._deliver(event, spec.dag_id, token, pod.name)
            return
        if not self._wait(lambda: event.after_task in progress.triggered):
            return
        due = progress.triggered[event.after_task] + event.delay
        if not self._wait(lambda: time.time() >= due):
            return
        if not progress.in_progress():
            self._missed(event, "no task in progress then")
            return
        self._deliver(event, None, None, "")

    def _deliver(self, event: FaultEvent, dag: str | None, run_id: str | None, pod: str) -> None:
        start, failed = time.time(), False
        try:
            note = self.injector.deliver(event, dag, run_id, pod)
        except Exception as error:  # counted apart; its window still counts, as it may have done part of it
            note, failed = f"delivery failed: {type(error).__name__}: {error}", True
        self._log(Delivered(event, event.kind, start, time.time(), note, event.target, failed=failed))

    def _missed(self, event: FaultEvent, why: str) -> None:
        now = time.time()
        self._log(Delivered(event, event.kind, now, now, f"missed: {why}", event.target, missed=True))


def token_of(seed: int, index: int, nonce: str) -> str:
    return f"soak-{seed}-{index:04d}-{nonce}"


def conf_of(spec: TaskSpec, token: str) -> dict[str, Any]:
    return {"token": token, "seconds": spec.seconds, "lines": spec.lines}


def run(
    n_tasks: int,
    seed: int,
    n_faults: int | None = None,
    concurrency: int = 8,
    fault_kinds: tuple[str, ...] = FAULT_KINDS,
    markdown: bool = False,
    modes: tuple[str, ...] = MODES,
    out: Any = None,
) -> list[Violation]:
    """Run the soak; print the table and violations to ``out`` (stdout); return the violations."""
    out = out or sys.stdout
    # The Kubernetes client's retries while kube-apiserver is down by design: noise in the record.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    say(
        f"soak seed {seed}: replay with `make soak N={n_tasks} SEED={seed}` (python -m tests.soak.run --tasks "
        f"{n_tasks} --seed {seed}{f' --faults {n_faults}' if n_faults is not None else ''})"
    )
    the_plan = plan(seed, n_tasks, n_faults, fault_kinds=fault_kinds, modes=modes)
    say(f"tasks: {the_plan.task_counts()}")
    say(f"faults planned: {the_plan.fault_counts()}")
    for event in the_plan.faults:
        say(f"  {event.describe()}")
    airflow = SoakAirflow()
    core = Cluster().core
    # Shared: another suite's API-server restart would leave the namespace without its service
    # account for a while (the controller manager's informers reconnecting).
    with cluster_lock.cluster():
        _ensure_namespace(core)
        _delete_pods(core)  # an earlier run's, which no task of this run would own
    nonce = secrets.token_hex(2)
    tokens = [token_of(seed, t.index, nonce) for t in the_plan.tasks]
    for dag in sorted({t.dag_id for t in the_plan.tasks}):
        airflow.wait_for_dag(dag)
    try:
        return _run(the_plan, airflow, core, tokens, concurrency, markdown, say)
    finally:
        _delete_pods(core)  # also after a failure of the runner itself


def _run(
    the_plan: Plan,
    airflow: SoakAirflow,
    core: k8s_client.CoreV1Api,
    tokens: list[str],
    concurrency: int,
    markdown: bool,
    say: Any,
) -> list[Violation]:
    began = time.time()
    progress = Progress(the_plan, tokens)
    with PodWatch(core, NAMESPACE, SELECTOR) as watch, ClusterLock() as lock:
        faults = FaultThread(progress, Injector(airflow, core, NAMESPACE, SELECTOR, lock), airflow, watch, say)
        faults.start()
        try:
            _trigger_all(airflow, progress, concurrency, say)
            _wait_all(airflow, progress)
        finally:
            progress.done.set()
            faults.join()
        if faults.error:
            say(f"the fault thread failed: {faults.error!r}")
        time.sleep(SETTLE_SECONDS)
    minutes = (time.time() - began) / 60
    tasks = [_task_facts(airflow, spec, tokens[spec.index], progress) for spec in the_plan.tasks]
    pods = _pod_facts(core, watch.snapshot(), tokens)
    windows = [FaultWindow(d.kind, d.start, d.end, d.target) for d in faults.delivered if not d.missed]
    violations = judge(tasks, pods, windows)
    _report(say, the_plan, tasks, pods, faults.delivered, violations, minutes, markdown, airflow.major)
    return violations


def _ensure_namespace(core: k8s_client.CoreV1Api) -> None:
    try:
        core.read_namespace(NAMESPACE)
    except k8s_client.ApiException as error:
        if error.status != 404:
            raise
        core.create_namespace(k8s_client.V1Namespace(metadata=k8s_client.V1ObjectMeta(name=NAMESPACE)))
    # A pod needs the namespace's default service account, which the controller manager makes.
    Injector._retry(lambda: core.read_namespaced_service_account("default", NAMESPACE), timeout=180)


def _delete_pods(core: k8s_client.CoreV1Api) -> None:
    for pod in Injector._retry(lambda: core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items):
        with contextlib.suppress(k8s_client.ApiException):
            core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)


def _poll(airflow: SoakAirflow, progress: Progress) -> None:
    for index in progress.in_progress():
        spec = progress.plan.tasks[index]
        with contextlib.suppress(urllib.error.HTTPError):
            state = airflow.task_instance(spec.dag_id, progress.tokens[index]).get("state")
            progress.states[index] = state
            if state in FINAL_STATES:
                progress.ended[index] = state
            elif time.time() > progress.triggered[index] + TASK_DEADLINE_SECONDS:
                progress.ended[index] = f"stuck ({state})"


def _trigger_all(airflow: SoakAirflow, progress: Progress, concurrency: int, say: Any) -> None:
    for spec in progress.plan.tasks:
        while len(progress.in_progress()) >= concurrency:
            time.sleep(3)
            _poll(airflow, progress)
        airflow.trigger_run(spec.dag_id, progress.tokens[spec.index], conf_of(spec, progress.tokens[spec.index]))
        progress.triggered[spec.index] = time.time()
        say(f"[{time.strftime('%H:%M:%S')}] triggered {spec.describe()} {progress.tokens[spec.index]}")
        time.sleep(STAGGER_SECONDS)
        _poll(airflow, progress)


def _wait_all(airflow: SoakAirflow, progress: Progress) -> None:
    while progress.in_progress():
        time.sleep(3)
        _poll(airflow, progress)


def _task_facts(airflow: SoakAirflow, spec: TaskSpec, token: str, progress: Progress) -> TaskFacts:
    ti = airflow.task_instance(spec.dag_id, token)
    state = ti.get("state")
    try:
        raw = airflow.tries(spec.dag_id, token)
    except urllib.error.HTTPError:
        raw = []
    tries = {
        int(t["try_number"]): TryFacts(
            int(t["try_number"]), t.get("state"), _epoch(t.get("start_date")), _epoch(t.get("end_date"))
        )
        for t in raw
        if t.get("try_number")
    }
    number = int(ti.get("try_number") or 1)
    tries.setdefault(number, TryFacts(number, state, _epoch(ti.get("start_date")), _epoch(ti.get("end_date"))))
    logs: dict[int, LogFacts] = {}
    last_lines: list[str] = []
    for attempt in range(1, max(tries) + 1):
        lines = airflow.log_lines(spec.dag_id, token, attempt)
        logs[attempt] = log_facts(lines, token)
        if attempt == max(tries):
            last_lines = lines
    xcom = airflow.xcom(spec.dag_id, token) if spec.kind == "xcom" and state == "success" else None
    return TaskFacts(
        spec,
        token,
        state if state in FINAL_STATES else progress.ended.get(spec.index, state),
        tuple(sorted(tries.values(), key=lambda t: t.number)),
        progress.triggered.get(spec.index, 0.0),
        logs,
        xcom,
        final_error(last_lines),
    )


def _ledger(token: str) -> dict[str, dict[str, Any]]:
    """The pods' own record for one task: pod name -> {"try": n, "end": exit code or None}."""
    pods: dict[str, dict[str, Any]] = {}
    path = Path(LEDGER_DIR) / token
    if not path.exists():
        return pods
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("start", "end"):
            record = pods.setdefault(parts[1], {"try": int(parts[2]) if parts[2].isdigit() else None, "end": None})
            if parts[0] == "end" and len(parts) >= 5:
                record["end"] = int(parts[4]) if parts[4].lstrip("-").isdigit() else None
    return pods


def _pod_facts(core: k8s_client.CoreV1Api, seen: list[Any], tokens: list[str]) -> list[PodFacts]:
    index_of = {token: i for i, token in enumerate(tokens)}
    now = Injector._retry(lambda: core.list_namespaced_pod(NAMESPACE, label_selector=SELECTOR).items)
    existing = {p.metadata.name for p in now if p.metadata.deletion_timestamp is None}
    ledgers = {token: _ledger(token) for token in tokens}
    facts, named = [], set()
    # Pods of another run (an earlier, interrupted one whose tasks still retry) are not this run's to judge.
    others = sorted({r.name for r in seen if r.run_id not in index_of})
    if others:
        print(f"ignored {len(others)} soak pod(s) of other runs: {', '.join(others)}", flush=True)
    seen = [r for r in seen if r.run_id in index_of]
    for record in seen:
        ledger = ledgers.get(record.run_id, {}).get(record.name, {})
        named.add(record.name)
        facts.append(
            PodFacts(
                record.name,
                index_of.get(record.run_id),
                record.try_number if record.try_number is not None else ledger.get("try"),
                record.phase + (", deleted" if record.gone else ", deleting" if record.deleting else ""),
                record.exit_code,
                record.finished_at,
                record.name in existing,
                ledger.get("end") == 0,
                record.reason,
            )
        )
    for token, pods in ledgers.items():  # pods that lived and went between two looks of the watch
        for name, ledger in pods.items():
            if name not in named:
                facts.append(
                    PodFacts(
                        name,
                        index_of[token],
                        ledger["try"],
                        "seen only in its ledger",
                        None,
                        None,
                        name in existing,
                        ledger["end"] == 0,
                    )
                )
    return facts


def _report(
    say: Any,
    the_plan: Plan,
    tasks: list[TaskFacts],
    pods: list[PodFacts],
    delivered: list[Delivered],
    violations: list[Violation],
    minutes: float,
    markdown: bool,
    major: int,
) -> None:
    pods_of = Counter(p.task for p in pods)
    say("")
    for task in tasks:
        tries = ", ".join(f"{t.number}:{t.state}" for t in task.tries)
        say(
            f"{task.spec.describe()} {task.token}: {task.state} (tries {tries}), pods {pods_of.get(task.spec.index, 0)}"
            f"{', ' + task.error if task.error and task.state != 'success' else ''}"
        )
    injected = Counter(d.kind for d in delivered if d.event and not d.missed)
    missed = Counter(d.kind for d in delivered if d.event and d.missed)
    restarted = Counter(d.kind for d in delivered if not d.event)
    unreached = len(the_plan.faults) - sum(1 for d in delivered if d.event)
    failed = Counter(d.kind for d in delivered if d.failed)
    found = counts(violations)
    # Not a rule: a retry that found its task's pod already finished (the try's end lost with its worker) ran it again.
    twice = sorted(
        {
            p.task
            for p in pods
            if p.work_done and p.task is not None and sum(1 for q in pods if q.task == p.task and q.work_done) > 1
        }
    )
    outcomes = Counter(str(t.state) for t in tasks)
    rows = [
        ("seed", str(the_plan.seed)),
        ("Airflow major", str(major)),
        ("tasks", f"{len(tasks)} ({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))})"),
        ("faults injected", f"{sum(injected.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(injected.items()))),
        ("faults missed (target not running)", ", ".join(f"{k} {v}" for k, v in sorted(missed.items())) or "0"),
        ("faults not reached (every task over)", str(unreached)),
        ("faults whose delivery failed", ", ".join(f"{k} {v}" for k, v in sorted(failed.items())) or "0"),
        ("components found dead, started again", ", ".join(f"{k} {v}" for k, v in sorted(restarted.items())) or "0"),
        ("tasks whose work finished twice (no rule)", f"{len(twice)}{f' (tasks {twice})' if twice else ''}"),
        ("wrong states", str(found["wrong_state"])),
        ("leaked pods", str(found["leaked"])),
        ("doubled (pods per try > 1)", str(found["doubled"])),
        ("stuck", str(found["stuck"])),
        ("lost logs", str(found["lost_log"])),
        ("log lines twice", str(found["doubled_log"])),
        ("minutes", f"{minutes:.1f}"),
    ]
    say("")
    if markdown:
        say("| | |")
        say("|---|---|")
        for name, value in rows:
            say(f"| {name} | {value} |")
    else:
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            say(f"{name:<{width}}  {value}")
    if violations:
        say("")
        say(f"{len(violations)} violation(s), seed {the_plan.seed}:")
        for violation in violations:
            say(f"  [{violation.rule}] {violation.message}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed first")
    parser.add_argument("--faults", type=int, default=None, help="default: one per five tasks")
    parser.add_argument("--concurrency", type=int, default=8, help="tasks in progress at once")
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS), help="comma-separated; default: all")
    parser.add_argument("--no-cluster-wide", action="store_true", help=f"leave out {', '.join(sorted(CLUSTER_WIDE))}")
    parser.add_argument("--markdown", action="store_true", help="the summary as a Markdown table")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated (sync, deferrable); default: both")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    kinds = tuple(k for k in args.fault_kinds.split(",") if k and not (args.no_cluster_wide and k in CLUSTER_WIDE))
    assert set(kinds) <= set(FAULT_KINDS), f"unknown fault kinds: {set(kinds) - set(FAULT_KINDS)}"
    modes = tuple(args.modes.split(","))
    violations = run(args.tasks, seed, args.faults, args.concurrency, kinds, args.markdown, modes)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
