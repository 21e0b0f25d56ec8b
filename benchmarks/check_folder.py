"""`composer-kpo check` and `migrate` on a generated DAGs folder: time and peak memory by folder size.

The folder holds copies of the DAG corpus (tests/dag_corpus/input: Composer's samples, Airflow 1.10
contrib style, a team subclass, ...), each with its own dag_id, so every file has findings. Each
size runs in a fresh process (`python -m airflow_provider_composer_kpo`, as a user runs it); the
peak resident memory is that process's. `ruff check --select AIR3` (Airflow 3 rules, no KPO
knowledge) on the same folder is the anchor, when ruff is installed (.venvs/lint).

    python benchmarks/check_folder.py [--sizes 100 1000 3000] [--migrate]

Run with a venv's Python that has the package (and libcst for --migrate). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "dag_corpus" / "input"
RUFF = REPO / ".venvs" / "lint" / "bin" / "ruff"
TARGET = ["--airflow", "3.3", "--cncf-kubernetes", "10.25", "--composer", "3"]


def make_folder(size: int) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"composer-kpo-dags-{size}-"))
    sources = [(path.stem, path.read_text()) for path in sorted(CORPUS.glob("*.py"))]
    for i in range(size):
        stem, text = sources[i % len(sources)]
        team = folder / f"team_{i % 20:02d}"  # a DAGs folder has subfolders
        team.mkdir(exist_ok=True)
        (team / f"{stem}_{i:05d}.py").write_text(text.replace('dag_id="', f'dag_id="n{i}_'))
    return folder


def timed(command: list[str]) -> tuple[float, float, int, str]:
    """Run ``command``; return (seconds, peak RSS MiB of that process, exit status, last output line)."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        last = (out.read().strip().splitlines() or [""])[-1]
    return seconds, usage.ru_maxrss / 1024, process.returncode, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 1000, 3000])
    parser.add_argument("--migrate", action="store_true", help="also time `migrate` (diff only, nothing written)")
    args = parser.parse_args()
    tool = [sys.executable, "-m", "airflow_provider_composer_kpo"]
    rows = []
    for size in sorted(args.sizes):
        folder = make_folder(size)
        try:
            seconds, rss, status, last = timed([*tool, "check", str(folder), *TARGET])
            rows.append(("check", size, seconds, rss, status, last))
            if args.migrate:
                seconds, rss, status, last = timed([*tool, "migrate", str(folder), *TARGET])
                rows.append(("migrate", size, seconds, rss, status, last))
            if RUFF.exists():
                started = time.perf_counter()
                subprocess.run([str(RUFF), "check", "--no-cache", "--select", "AIR3", "--preview", "-q", str(folder)],
                               capture_output=True)  # fmt: skip
                rows.append(("ruff AIR3", size, time.perf_counter() - started, float("nan"), 0, "(anchor)"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{'command':10} {'files':>6} {'seconds':>8} {'ms/file':>8} {'peak MiB':>9} {'exit':>4}  summary line")
    for command, size, seconds, rss, status, last in rows:
        summary = last.split(": ", 1)[-1][:100]
        per_file = 1000 * seconds / size
        print(f"{command:10} {size:>6} {seconds:>8.2f} {per_file:>8.2f} {rss:>9.0f} {status:>4}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
