"""What happens when things break: the fault matrix, ComposerPodOperator beside stock KPO.

Every case of tests/faults/cases.py runs with both operators at once on the local Airflow
deployment (scheduler, Celery worker, PostgreSQL, Redis) and the local cluster; the table shows,
per case and operator: the task's final state and try count, the pods the task made (phases;
how many were left behind), seconds from the fault to the final state, and the error the task log
ends with. Stock KPO's outcome is reported as measured.

    eval "$(make -s airflow-up AIRFLOW=3 | grep '^export ')"
    python benchmarks/faults.py [--only CASE ...] [--markdown]

Or `make fault-table`, which does this on both Composer package sets. Prints; asserts nothing.
Takes about six minutes per Airflow major (the silent case sleeps five).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.cases import FAULTS, ONE_OPERATOR_AT_A_TIME, RUN_ALONE
from tests.faults.dags.composer_kpo_faults import OPERATORS, dag_id
from tests.faults.driver import Airflow, Cluster, Outcome, run_case

MESSAGE_WIDTH = 110


def run_all(cases: list[str]) -> list[Outcome]:
    airflow, cluster = Airflow(), Cluster()
    cluster.ensure_namespace()
    jobs = [(case, operator) for case in cases for operator in OPERATORS]
    for case, operator in jobs:
        airflow.wait_for_dag(dag_id(case, operator))
    together = [(case, operator) for case, operator in jobs if case not in RUN_ALONE | ONE_OPERATOR_AT_A_TIME]
    in_turn = [case for case in cases if case in ONE_OPERATOR_AT_A_TIME]

    def each_operator(case: str) -> list[Outcome]:
        return [run_case(airflow, cluster, case, op, FAULTS[case][0]) for op in OPERATORS]

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, len(together) + len(in_turn))) as pool:
        futures = [pool.submit(run_case, airflow, cluster, case, op, FAULTS[case][0]) for case, op in together]
        sequences = [pool.submit(each_operator, case) for case in in_turn]
        outcomes += [future.result() for future in futures]
        outcomes += [outcome for sequence in sequences for outcome in sequence.result()]
    for case, operator in jobs:  # cluster-wide faults alone, one operator at a time
        if case in RUN_ALONE:
            outcomes.append(run_case(airflow, cluster, case, operator, FAULTS[case][0]))
    for case, operator in jobs:
        cluster.delete_all(dag_id(case, operator))
    return outcomes


def print_table(outcomes: list[Outcome], *, markdown: bool, major: int) -> None:
    print(f"\nFault matrix on Airflow {major} (CeleryExecutor), ComposerPodOperator (ours) vs stock KPO\n")
    if markdown:
        print("| case | operator | state (try) | pods | s to final | task log ends with |")
        print("|---|---|---|---|---|---|")
    for outcome in outcomes:
        seconds = "-" if outcome.seconds_to_final is None else f"{outcome.seconds_to_final:.1f}"
        message = (outcome.error or "(no error)").replace("\n", " ")
        notes = f" [{'; '.join(outcome.notes)}]" if outcome.notes else ""
        name = "ours" if outcome.operator == "composer" else "stock"
        if markdown:
            message = message.replace("|", "\\|")[:300]
            print(
                f"| {FAULTS[outcome.case][1]} | {name} | {outcome.state} ({outcome.try_number}) | "
                f"{outcome.pods_text()} | {seconds} | {message}{notes} |"
            )
            continue
        state = f"{outcome.state} (try {outcome.try_number})"
        print(f"{FAULTS[outcome.case][1]}\n  {name:5} {state}, pods {outcome.pods_text()}, {seconds} s{notes}")
        for line in textwrap.wrap(message, MESSAGE_WIDTH):
            print(f"        {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(FAULTS), help="run only these cases")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    outcomes = run_all(args.only or list(FAULTS))
    print_table(outcomes, markdown=args.markdown, major=Airflow().major)


if __name__ == "__main__":
    main()
