"""Every example DAG, run with `airflow dags test` on the local cluster, behaves as its docstring says.

The scenarios (including the documented failures) live in dev/run_examples.py, which `make demo`
runs too; this test runs them under the current venv's Airflow and checks each one. The Composer 3
set runs on the local Composer 3 simulation (tests/composer3 + tests/composer3/peervm).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_leaked_pods")]

REPO = Path(__file__).resolve().parents[2]


_results: dict[int, dict] = {}


#: The sets of scenarios: Composer 2, the Composer 3 simulation, the composer-kpo corpus after migration.
SET_OPTIONS = {2: ["--composer", "2"], 3: ["--composer", "3"], "corpus": ["--corpus"]}


def results_for(composer: int | str, kubeconfig_path: str, tmp_path_factory) -> dict:
    """Run every scenario of one set (a key of SET_OPTIONS) once per session."""
    if composer not in _results:
        out = tmp_path_factory.mktemp(f"examples-{composer}") / "results.json"
        command = [sys.executable, str(REPO / "dev" / "run_examples.py"), "--kubeconfig", kubeconfig_path]
        done = subprocess.run(
            [*command, *SET_OPTIONS[composer], "--json", str(out)], capture_output=True, text=True, timeout=1500
        )
        if not out.exists():
            pytest.fail(f"run_examples.py produced no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        _results[composer] = {(r["dag_id"], r["scenario"]): r for r in json.loads(out.read_text())}
    return _results[composer]


def scenario_ids(composer: int | str = 2):
    sys.path.insert(0, str(REPO / "dev"))
    try:
        from run_examples import COMPOSER3_SCENARIOS, CORPUS_SCENARIOS, SCENARIOS
    finally:
        sys.path.pop(0)
    scenarios = {2: SCENARIOS, 3: COMPOSER3_SCENARIOS, "corpus": CORPUS_SCENARIOS}[composer]
    return [(composer, s.dag_id, s.label) for s in scenarios]


#: In `make test` each Composer generation's set runs on one Airflow major (`make demo` runs every
#: set on both): Composer 2 runs Airflow 2 only; Composer 3's default is Airflow 3. The corpus runs
#: on both. A set takes three to five minutes per run.
SET_MAJOR = {2: 2, 3: 3}


def _set_runs_here(composer: int | str) -> bool:
    from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS

    return SET_MAJOR.get(composer, 3 if AIRFLOW_V_3_PLUS else 2) == (3 if AIRFLOW_V_3_PLUS else 2)


@pytest.mark.parametrize(
    "key", scenario_ids(2) + scenario_ids(3) + scenario_ids("corpus"), ids=lambda k: f"{k[0]}-{k[1]}[{k[2]}]"
)
def test_example_behaves_as_documented(key, kubeconfig_path, tmp_path_factory, pod_ledger):
    composer, dag_id, label = key
    if not _set_runs_here(composer):
        major = SET_MAJOR[composer]
        pytest.skip(f"make test runs the Composer {composer} example set on Airflow {major} only; make demo on both")
    from airflow.version import version

    # `airflow dags test` makes the pods: claim the set's, of this Airflow (KPO's airflow_version
    # label), not the same DAGs run by another suite on the other Airflow meanwhile.
    dag_ids = {dag for _, dag, _ in scenario_ids(composer)}
    pod_ledger.claim_labels(dag_id=dag_ids, airflow_version=version.replace("+", "-"))
    result = results_for(composer, kubeconfig_path, tmp_path_factory)[(dag_id, label)]
    assert result["state"] == result["expected"], result["output_tail"]
    assert result["as_documented"], result["output_tail"]


def test_every_example_dag_has_a_scenario():
    """Or is listed, with the reason, in run_examples.NOT_RUN_HERE (unit-tested only)."""
    sys.path.insert(0, str(REPO / "dev"))
    try:
        from run_examples import NOT_RUN_HERE
    finally:
        sys.path.pop(0)
    dag_ids = {dag_id for _, dag_id, _ in scenario_ids()}
    files = sorted((REPO / "example_dags").glob("example_*.py"))
    defined = {line.split('"')[1] for f in files for line in f.read_text().splitlines() if "dag_id=" in line}
    assert defined == dag_ids | set(NOT_RUN_HERE)
    assert not dag_ids & set(NOT_RUN_HERE)
