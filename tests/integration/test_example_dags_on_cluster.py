"""Every example DAG, run with `airflow dags test` on the local cluster, behaves as its docstring says.

The scenarios (including the documented failures) live in dev/run_examples.py, which `make demo`
runs too; this test runs them under the current venv's Airflow and checks each one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaked_pods")]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def results(kubeconfig_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("examples") / "results.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "dev" / "run_examples.py"), "--kubeconfig", kubeconfig_path, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if not out.exists():
        pytest.fail(f"run_examples.py produced no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return {(r["dag_id"], r["scenario"]): r for r in json.loads(out.read_text())}


def scenario_ids():
    sys.path.insert(0, str(REPO / "dev"))
    try:
        from run_examples import SCENARIOS
    finally:
        sys.path.pop(0)
    return [(s.dag_id, s.label) for s in SCENARIOS]


@pytest.mark.parametrize("key", scenario_ids(), ids=lambda k: f"{k[0]}[{k[1]}]")
def test_example_behaves_as_documented(results, key):
    result = results[key]
    assert result["state"] == result["expected"], result["output_tail"]
    assert result["as_documented"], result["output_tail"]


def test_every_example_dag_has_a_scenario():
    dag_ids = {dag_id for dag_id, _ in scenario_ids()}
    files = sorted((REPO / "example_dags").glob("example_*.py"))
    defined = {line.split('"')[1] for f in files for line in f.read_text().splitlines() if "dag_id=" in line}
    assert defined == dag_ids
