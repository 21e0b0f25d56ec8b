"""DAG parse cost: import the operator and build 200 tasks, ours versus stock KPO.

Composer's DAG processor re-parses every DAG file continuously, so what a DAG file costs to
import is paid all day. Each sample is a fresh interpreter (imports included), ours and stock
interleaved; the table shows medians and spread, and the ratio ours / stock.

    python benchmarks/parse_cost.py [--runs 9] [--tasks 200]

Run it with a venv's Python (e.g. .venvs/af210-k1010/bin/python). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

DAG_FILE = textwrap.dedent(
    """
    import datetime, time
    started = time.perf_counter()
    from airflow import DAG
    {import_line}
    with DAG("parse_bench", start_date=datetime.datetime(2024, 1, 1), schedule=None):
        for i in range({tasks}):
            {cls}(
                task_id=f"t{{i}}", name=f"t{{i}}", image="busybox:1.36",
                cmds=["sh", "-c"], arguments=[f"echo {{i}}; false; echo done"],
                {extra}
            )
    print(time.perf_counter() - started)
    """
)

VARIANTS = {
    "stock KPO": dict(
        import_line="from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator",
        cls="KubernetesPodOperator",
        extra='namespace="composer-user-workloads",',
    ),
    "ComposerPodOperator": dict(
        import_line="from airflow_provider_composer_kpo import ComposerPodOperator",
        cls="ComposerPodOperator",
        extra="",
    ),
}


def sample(variant: str, tasks: int, env: dict[str, str]) -> float:
    code = DAG_FILE.format(tasks=tasks, **VARIANTS[variant])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()
    env = {
        **os.environ,
        "AIRFLOW_HOME": tempfile.mkdtemp(prefix="parse-bench-"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    sample("stock KPO", 1, env)  # warm the file cache and .pyc files
    sample("ComposerPodOperator", 1, env)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.runs):
        for name in VARIANTS:
            times[name].append(sample(name, args.tasks, env))
    import airflow

    print(
        f"DAG parse: import + {args.tasks} operators, {args.runs} fresh interpreters each,"
        f" Airflow {airflow.__version__}"
    )
    print(f"{'variant':<22} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, values in times.items():
        print(f"{name:<22} {statistics.median(values):>9.3f} {min(values):>7.3f} {max(values):>7.3f}")
    ratio = statistics.median(times["ComposerPodOperator"]) / statistics.median(times["stock KPO"])
    print(f"ratio ComposerPodOperator / stock KPO (medians): {ratio:.3f}")


if __name__ == "__main__":
    main()
