"""Worker-slot seconds for a 60-second pod: synchronous vs deferrable, ComposerPodOperator vs stock KPO.

Runs on the local Airflow deployment (``make airflow-up``; the fault matrix's DAGs
``composer_kpo_fault_slots_60s*``), all four tasks at once: ours and stock, synchronous and
``deferrable=True``. The task instance's state is sampled every 0.2 s over the REST API: the
seconds in ``running`` are the seconds a Celery worker slot was held (a deferred task holds none
while the triggerer follows its pod), beside the seconds from trigger to the final state.

    python benchmarks/worker_slots.py [--runs N]

Run it with the deployment's exports in the environment (``eval "$(make -s airflow-up | grep '^export ')"``).
Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.dags.composer_kpo_faults import dag_id
from tests.faults.driver import FINAL_STATES, Airflow

SAMPLE_SECONDS = 0.2
VARIANTS = [
    ("synchronous", "slots_60s", "composer"),
    ("synchronous", "slots_60s", "stock"),
    ("deferrable", "slots_60s_deferred", "composer"),
    ("deferrable", "slots_60s_deferred", "stock"),
]


def measure(airflow: Airflow, dag: str) -> tuple[float, float, str]:
    """Return (seconds in state running, seconds from trigger to final state, final state)."""
    run_id = airflow.trigger(dag)
    started = last = time.monotonic()
    running = 0.0
    state = None
    while state not in FINAL_STATES:
        state = airflow.task_instance(dag, run_id).get("state")
        now = time.monotonic()
        if state == "running":
            running += now - last
        last = now
        time.sleep(SAMPLE_SECONDS)
    return running, time.monotonic() - started, str(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    airflow = Airflow()
    for _, case, operator in VARIANTS:
        airflow.wait_for_dag(dag_id(case, operator))
    results: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for _ in range(args.runs):
        with ThreadPoolExecutor(max_workers=len(VARIANTS)) as pool:
            futures = {
                (mode, operator): pool.submit(measure, airflow, dag_id(case, operator))
                for mode, case, operator in VARIANTS
            }
            for key, future in futures.items():
                results.setdefault(key, []).append(future.result())
    print(f"\nWorker-slot seconds for a 60-second pod, Airflow {airflow.major}, median of {args.runs} runs\n")
    print("| mode | operator | worker-slot s | trigger to final s | states |")
    print("|---|---|---|---|---|")
    for (mode, operator), runs in results.items():
        slot = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        states = ", ".join(sorted({r[2] for r in runs}))
        name = "ours" if operator == "composer" else "stock"
        print(f"| {mode} | {name} | {slot:.1f} | {total:.1f} | {states} |")


if __name__ == "__main__":
    main()
