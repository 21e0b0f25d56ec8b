"""The soak's schedule: which pod tasks run, and which faults hit them when. Pure: no I/O, no clock.

``plan(seed, n_tasks)`` is deterministic for a seed (``random.Random(seed)`` only), so a failing run
is replayed exactly by running the same seed again: the same tasks in the same order, the same
faults after the same tasks.

Tasks (one DAG run each, ``tests/soak/dags/composer_kpo_soak.py``):

=========  =====================================================  ========
kind       the pod                                                expected
=========  =====================================================  ========
succeed    works a few seconds, exits 0                           success
fail       works a few seconds, exits 3 (every try)               failed
slow       works one to two and a half minutes, exits 0           success
big_log    prints ``lines`` numbered lines over some seconds      success
xcom       writes its token to ``/airflow/xcom/return.json``      success
=========  =====================================================  ========

each ``sync`` or ``deferrable``. The pod's log lines and XCom carry the task's token, so a line or a
value can never be taken for another task's.

Faults: a fault is injected ``delay`` seconds after task ``after_task`` was triggered; the two that
aim at one task (``task_cleared``, ``pod_evicted``) wait for that task's pod to run first, then
``delay`` seconds. The fault kinds cycle through a shuffled list, so each kind comes once before any
comes twice.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

TASK_KINDS = ("succeed", "fail", "slow", "big_log", "xcom")
MODES = ("sync", "deferrable")
#: How often each task kind is drawn (out of the sum).
TASK_WEIGHTS = {"succeed": 4, "fail": 1, "slow": 2, "big_log": 1, "xcom": 2}

FAULT_KINDS = (
    "worker_sigkill",  # every Celery worker process SIGKILLed (Composer lost the worker pod), a new one started
    "worker_sigterm",  # SIGTERM to the worker (warm shutdown: running tasks may finish), SIGKILL after a grace
    "triggerer_restart",  # the triggerer stopped (SIGTERM or SIGKILL) and started again
    "scheduler_restart",  # the scheduler stopped (SIGTERM or SIGKILL) and started again
    "apiserver_restart",  # kube-apiserver crashed (SIGKILL), down some seconds, started again
    "kubelet_restart",  # the node's kubelet stopped some seconds, started again (its pods keep running)
    "pod_evicted",  # one task's pod evicted through the Eviction API
    "node_drain",  # node cordoned, every soak pod on it evicted, uncordoned some seconds later
    "postgres_restart",  # the metadata database stopped (fast shutdown), down some seconds, started again
    "redis_restart",  # the Celery broker stopped, down some seconds, started again (empty: no persistence)
    "task_cleared",  # one running task cleared, as from the UI
)
#: Faults aimed at one task; every other kind hits whatever runs at that moment.
TARGETED = frozenset({"pod_evicted", "task_cleared"})
#: Faults that disturb every pod on the shared cluster: the runner holds tests/cluster_lock exclusive.
CLUSTER_WIDE = frozenset({"apiserver_restart", "kubelet_restart", "node_drain"})

#: (low, high) seconds a pod of each kind works; big_log prints for about that long.
SECONDS = {"succeed": (5, 20), "fail": (3, 10), "slow": (60, 150), "big_log": (8, 15), "xcom": (3, 15)}
#: Lines a big_log pod prints: about 70 bytes each, 110 in the kubelet's file with its prefix
#: (``<RFC 3339 nanoseconds> stdout F ``), so 220 KB, under the local kubelet's 256 KiB log file: no
#: line can be rotated away before it is read (a documented limit, docs/faults.md), and every line
#: must reach the task log once. (At 100 bytes a line the file crossed 256 KiB in the last second:
#: rotated as the container ended, it left the kubelet serving an empty log.)
BIG_LOG_LINES = 2000
#: (low, high) seconds a restarted component or a cordoned node stays down.
DOWN_SECONDS = {
    "worker_sigkill": (0, 5),
    "worker_sigterm": (0, 5),
    "triggerer_restart": (0, 10),
    "scheduler_restart": (0, 10),
    "apiserver_restart": (3, 10),
    "kubelet_restart": (5, 30),
    "node_drain": (5, 20),
    "postgres_restart": (2, 10),
    "redis_restart": (2, 10),
}
#: Largest delay (seconds) after the moment's task was triggered, or after a target's pod runs.
MAX_DELAY = 40


@dataclass(frozen=True)
class TaskSpec:
    index: int
    kind: str
    mode: str
    seconds: int
    lines: int = 0

    @property
    def expected(self) -> str:
        return "failed" if self.kind == "fail" else "success"

    @property
    def dag_id(self) -> str:
        return f"composer_kpo_soak_{self.kind}_{self.mode}"

    def describe(self) -> str:
        return f"task {self.index} ({self.kind}, {self.mode})"


@dataclass(frozen=True)
class FaultEvent:
    index: int
    kind: str
    after_task: int
    delay: float
    target: int | None = None
    signal: str = ""
    down_seconds: float = 0.0

    def describe(self) -> str:
        what = self.kind + (f" {self.signal}" if self.signal else "")
        where = f"task {self.target}" if self.target is not None else f"after task {self.after_task}"
        return f"fault {self.index} {what} ({where} + {self.delay:.0f} s)"


@dataclass(frozen=True)
class Plan:
    seed: int
    tasks: tuple[TaskSpec, ...]
    faults: tuple[FaultEvent, ...] = field(default=())

    def fault_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f.kind for f in self.faults).items()))

    def task_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f"{t.kind}/{t.mode}" for t in self.tasks).items()))


def default_faults(n_tasks: int) -> int:
    """One fault per five tasks, at least one."""
    return max(1, math.ceil(n_tasks / 5))


def plan(
    seed: int,
    n_tasks: int,
    n_faults: int | None = None,
    *,
    fault_kinds: tuple[str, ...] | list[str] = FAULT_KINDS,
    task_kinds: tuple[str, ...] | list[str] = TASK_KINDS,
    modes: tuple[str, ...] | list[str] = MODES,
) -> Plan:
    """Return the seed's tasks and faults. ``fault_kinds`` may leave kinds out (e.g. the cluster-wide ones)."""
    if n_tasks < 1:
        raise ValueError("n_tasks must be at least 1")
    unknown = (set(fault_kinds) - set(FAULT_KINDS)) | (set(task_kinds) - set(TASK_KINDS)) | (set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"unknown kinds: {sorted(unknown)}")
    rng = random.Random(seed)
    kinds = [k for k in TASK_KINDS if k in task_kinds]
    weights = [TASK_WEIGHTS[k] for k in kinds]
    tasks = []
    for index in range(n_tasks):
        kind = rng.choices(kinds, weights)[0]
        mode = rng.choice([m for m in MODES if m in modes])
        low, high = SECONDS[kind]
        tasks.append(TaskSpec(index, kind, mode, rng.randint(low, high), BIG_LOG_LINES if kind == "big_log" else 0))

    n_faults = default_faults(n_tasks) if n_faults is None else n_faults
    chosen = [k for k in FAULT_KINDS if k in fault_kinds]
    faults = []
    cycle: list[str] = []
    targeted: set[int] = set()
    for _ in range(n_faults if chosen else 0):
        if not cycle:
            cycle = list(chosen)
            rng.shuffle(cycle)
        kind = cycle.pop()
        signal = ""
        if kind in ("triggerer_restart", "scheduler_restart"):
            signal = rng.choice(["SIGTERM", "SIGKILL"])
        low, high = DOWN_SECONDS.get(kind, (0, 0))
        down = float(rng.randint(low, high))
        if kind in TARGETED:
            # A task not aimed at yet, and whose pod works long enough for the fault to land while it runs.
            free = [t.index for t in tasks if t.index not in targeted and t.seconds >= 8] or [
                t.index for t in tasks if t.index not in targeted
            ]
            if not free:
                continue
            target = rng.choice(free)
            targeted.add(target)
            delay = float(rng.randint(2, max(2, min(MAX_DELAY, tasks[target].seconds - 4))))
            faults.append(FaultEvent(0, kind, target, delay, target, signal, down))
        else:
            faults.append(
                FaultEvent(0, kind, rng.randrange(n_tasks), float(rng.randint(0, MAX_DELAY)), None, signal, down)
            )
    faults.sort(key=lambda f: (f.after_task, f.delay, f.kind))
    numbered = tuple(
        FaultEvent(i, f.kind, f.after_task, f.delay, f.target, f.signal, f.down_seconds) for i, f in enumerate(faults)
    )
    return Plan(seed, tuple(tasks), numbered)
