"""The soak's verdicts: what a run did wrong, from the facts recorded after it. Pure: no I/O, no clock.

The facts (``tests/soak/run.py`` collects them): per task, Airflow's final state, its tries (state,
start, end), each try's task log, the XCom; per pod, from the Kubernetes watch and from the pods'
own ledger (each pod appends ``start`` and, as its script's last step, ``end`` to a file on the
node): its task and try labels, phase, main container exit code and end time, whether the script
reached its end, whether it still exists; per injected fault, when it began and when the component
was back (``FaultWindow``). Times are epoch seconds of this machine's clock, which Airflow,
Kubernetes and the runner share.

Which faults touch what:

* A fault **aimed at one task** (``task_cleared``, ``pod_evicted``) touches only that task, and of
  its tries the one in progress at that moment.
* **Every other fault** (a component restarted, the node drained, ...) touches every task in
  progress while it lasted, and for ``SETTLE_SECONDS`` after the component was back.
* A try is in progress from the end of the previous try (the first: from the trigger) to its own
  end: waiting in the queue counts, since a lost broker message or a dead scheduler hits it there.

The rules, each a kind of violation:

``wrong_state``
  * ``success`` needs work that finished: some pod of the task whose main container exited 0, or
    whose ledger says its script reached its end. A ``fail`` task (its pod exits 3 every time) is
    never ``success``. An ``xcom`` task's ``success`` needs the XCom with its own token.
  * ``failed`` for a task whose work succeeds (every kind but ``fail``) is wrong when its last try
    was touched by no fault: a retry after a fault starts clean and must reattach to the pod or run
    a new one to the end. Also wrong, whatever came earlier: a pod of the task exited 0, the last
    try's log holds the pod's last line (the success was reported), and no fault touched the task
    from the pod's end to the try's end.
  * A final state other than ``success`` / ``failed`` (``upstream_failed``, ``skipped``, ...).
  * A ``failed`` is never wrong for a ``fail`` task.
``stuck``
  The task had no final state (``success``, ``failed``, ...) by the runner's deadline. Its other
  rules are not judged.
``doubled``
  More than one pod labelled with the same try of the same task ("at most one pod per try").
``leaked``
  A pod still there (not being deleted) once its task ended, or a soak pod of no task of the run.
``lost_log``
  * ``success``: the last try's log lacks the pod's last line (``soak-done <token>``); for
    ``big_log``, a numbered line in no try's log, unless the last try's log names the gap (the
    operator's warning for lines the kubelet rotated away). Not when the log is gone from
    Kubernetes itself: the last try's pod finished its work, an eviction or a node drain touched
    that try, and its log names the deletion (a deferred task reads its pod's log when it resumes;
    a drain in between deletes the pod and its log, as ``kubectl drain`` deletes finished pods).
  * ``failed`` ``fail`` task whose last try no fault touched: its log lacks the pod's failure line
    (``soak-failing <token>``), i.e. the log of the finished pod that failed the task.
``doubled_log``
  A numbered line twice in one try's log (a resumed log read must not repeat lines).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tests.soak.plan import TARGETED, TaskSpec

FINAL_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
#: Seconds after a component is back during which its fault still counts as touching a task.
SETTLE_SECONDS = 30.0
RULES = ("wrong_state", "stuck", "doubled", "leaked", "lost_log", "doubled_log")
#: The operator's notes for lines the kubelet no longer serves: rotated while a stream was broken
#: (tests/faults/driver.py GAP_NOTE), or before the log's first read (lifecycle/log_replay.LateStart, EmptyLog).
GAP_NOTE = "are missing from this log: the kubelet rotated"
LATE_START_NOTE = "the kubelet had rotated those lines away"
#: The operator's note for a pod deleted between its end and the task's resume (lifecycle/ending.py).
DELETED_NOTE = "was deleted before the task resumed; its log is gone"
#: The faults that delete pods: the only ones that may take a finished pod's log away.
DELETING_FAULTS = frozenset({"node_drain", "pod_evicted"})
_NUMBERED = re.compile(r"\bsoak-line (\d+) (\S+)")


@dataclass(frozen=True)
class LogFacts:
    """What one try's task log says about the task's pod."""

    done: bool = False  # the pod's last line, "soak-done <token>"
    failing: bool = False  # "soak-failing <token>", printed before exit 3
    lines: dict[int, int] = field(default_factory=dict)  # numbered line -> times seen
    gap_noted: bool = False
    deletion_noted: bool = False  # DELETED_NOTE


def log_facts(lines: Iterable[str], token: str) -> LogFacts:
    """Read one try's task log (one string per line) for the pod lines of ``token``."""
    done = failing = gap = deleted = False
    seen: Counter[int] = Counter()
    for line in lines:
        if f"soak-done {token}" in line:
            done = True
        if f"soak-failing {token}" in line:
            failing = True
        if GAP_NOTE in line or LATE_START_NOTE in line:
            gap = True
        if DELETED_NOTE in line:
            deleted = True
        for match in _NUMBERED.finditer(line):
            if match.group(2) == token:
                seen[int(match.group(1))] += 1
    return LogFacts(done, failing, dict(seen), gap, deleted)


@dataclass(frozen=True)
class TryFacts:
    number: int
    state: str | None
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class TaskFacts:
    spec: TaskSpec
    token: str
    state: str | None
    tries: tuple[TryFacts, ...]
    triggered: float
    logs: dict[int, LogFacts] = field(default_factory=dict)
    xcom: object = None
    error: str | None = None  # the last error line of the last try's log, for messages

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def last_try(self) -> TryFacts | None:
        return max(self.tries, key=lambda t: t.number) if self.tries else None

    def window(self, number: int) -> tuple[float, float]:
        """When try ``number`` was in progress: from the previous try's end (or the trigger) to its end."""
        ordered = sorted(self.tries, key=lambda t: t.number)
        start = self.triggered
        for attempt in ordered:
            if attempt.number == number:
                return start, attempt.end if attempt.end is not None else float("inf")
            if attempt.end is not None:
                start = max(start, attempt.end)
        return self.triggered, float("inf")


@dataclass(frozen=True)
class PodFacts:
    name: str
    task: int | None  # None: a soak pod of no task of this run
    try_number: int | None
    phase: str
    exit_code: int | None = None  # the main container's, once it terminated
    finished_at: float | None = None
    exists: bool = False  # still there at the end, and not being deleted
    work_done: bool = False  # its ledger says the script reached its end
    reason: str = ""

    def text(self) -> str:
        code = "" if self.exit_code is None else f", exit {self.exit_code}"
        return f"{self.name} try {self.try_number} {self.phase}{code}{' ' + self.reason if self.reason else ''}"


@dataclass(frozen=True)
class FaultWindow:
    """An injected fault (or a component the runner found dead and started again), as delivered."""

    kind: str
    start: float
    end: float
    target: int | None = None

    def touches(self, task: int, start: float, end: float) -> bool:
        if self.kind in TARGETED:
            return self.target == task and start <= self.start <= end
        return self.start <= end and self.end + SETTLE_SECONDS >= start


@dataclass(frozen=True)
class Violation:
    rule: str
    task: int | None
    message: str


def judge(tasks: Sequence[TaskFacts], pods: Sequence[PodFacts], faults: Sequence[FaultWindow]) -> list[Violation]:
    """Every violation of the rules in the module docstring, task by task, then pods of no task."""
    found: list[Violation] = []
    by_task: dict[int, list[PodFacts]] = {}
    for pod in pods:
        if pod.task is not None:
            by_task.setdefault(pod.task, []).append(pod)
    known = {t.spec.index for t in tasks}
    for task in tasks:
        found.extend(_judge_task(task, by_task.get(task.spec.index, []), faults))
    for pod in pods:
        if pod.exists and (pod.task is None or pod.task not in known):
            found.append(Violation("leaked", pod.task, f"pod {pod.text()} belongs to no task of this run"))
    return found


def _touched(task: TaskFacts, faults: Sequence[FaultWindow], start: float, end: float) -> list[FaultWindow]:
    return [f for f in faults if f.touches(task.spec.index, start, end)]


def _judge_task(task: TaskFacts, pods: list[PodFacts], faults: Sequence[FaultWindow]) -> list[Violation]:
    spec, found = task.spec, []
    name = f"{spec.describe()} {task.token}"

    def add(rule: str, message: str) -> None:
        found.append(Violation(rule, spec.index, f"{name}: {message}"))

    per_try = Counter(p.try_number for p in pods if p.try_number is not None)
    for number, count in sorted(per_try.items()):
        if count > 1:
            add(
                "doubled",
                f"{count} pods for try {number}: {'; '.join(p.text() for p in pods if p.try_number == number)}",
            )

    if not task.final:
        alive = [p.text() for p in pods if p.exists]
        add("stuck", f"state {task.state} at the deadline{'; pods: ' + '; '.join(alive) if alive else ''}")
        return found

    for pod in pods:
        if pod.exists:
            add("leaked", f"pod {pod.text()} still there after the task ended {task.state}")

    last = task.last_try
    last_number = last.number if last else 1
    last_window = task.window(last_number)
    last_touched = _touched(task, faults, *last_window)
    last_log = task.logs.get(last_number, LogFacts())
    finished = [p for p in pods if p.exit_code == 0 or p.work_done]
    pods_text = "; ".join(p.text() for p in pods) or "none seen"
    why = f" (error: {task.error})" if task.error else ""

    if task.state == "success":
        if spec.kind == "fail":
            add("wrong_state", f"success, but its pod exits 3 on every try; pods: {pods_text}")
        elif not finished:
            add("wrong_state", f"success, but no pod of it finished its work; pods: {pods_text}")
        if spec.kind == "xcom" and task.xcom != {"token": task.token}:
            add("wrong_state", f"success, but its XCom is {task.xcom!r}, not {{'token': {task.token!r}}}")
        log_deleted = (
            last_log.deletion_noted
            and any(p.work_done and p.try_number == last_number for p in pods)
            and any(f.kind in DELETING_FAULTS for f in last_touched)
        )
        if spec.kind != "fail" and not log_deleted:
            if not last_log.done:
                add("lost_log", f"success, but try {last_number}'s log lacks the pod's last line (soak-done)")
            if spec.lines:
                seen = set().union(*(set(log.lines) for log in task.logs.values())) if task.logs else set()
                missing = [n for n in range(1, spec.lines + 1) if n not in seen]
                if missing and not last_log.gap_noted:
                    add(
                        "lost_log",
                        f"{len(missing)} of {spec.lines} log lines in no try's log, no gap named: {_ranges(missing)}",
                    )
    elif task.state == "failed":
        if spec.kind != "fail":
            if not last_touched:
                add("wrong_state", f"failed on try {last_number}, which no fault touched{why}; pods: {pods_text}")
            elif last_log.done:
                for pod in finished:
                    if pod.finished_at is None:
                        continue
                    after = _touched(task, faults, pod.finished_at, last_window[1])
                    if not after:
                        add(
                            "wrong_state",
                            f"failed, though pod {pod.name} exited 0 and try {last_number}'s log "
                            f"reported it, with no fault after{why}",
                        )
                        break
        elif not last_touched and not last_log.failing:
            add("lost_log", f"failed, but try {last_number}'s log lacks the pod's failure line (soak-failing)")
    else:
        add("wrong_state", f"final state {task.state}")

    for number, log in sorted(task.logs.items()):
        twice = sorted(n for n, times in log.lines.items() if times > 1)
        if twice:
            add("doubled_log", f"{len(twice)} log lines twice in try {number}'s log: {_ranges(twice)}")
    return found


def _ranges(numbers: list[int], limit: int = 6) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``, at most ``limit`` ranges."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = [f"{a}-{b}" if a != b else str(a) for a, b in spans[:limit]]
    return ", ".join(text) + (", ..." if len(spans) > limit else "")


def counts(violations: Iterable[Violation]) -> dict[str, int]:
    """Violations per rule, every rule present."""
    counted = Counter(v.rule for v in violations)
    return {rule: counted.get(rule, 0) for rule in RULES}
