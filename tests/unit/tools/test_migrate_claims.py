"""Every fix of ``composer-kpo check`` that says ``composer-kpo migrate`` does something: migrate does it.

For each source below and each target, check reads the source; every finding whose fix names migrate
must be gone from what check finds in migrate's output. The sources come from the version tables (each
import, argument and template variable they know, in each way a DAG writes it), the DAG corpus and a
few shapes of our own, so a claim made for a fact of the tables is tested without a line here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from airflow_provider_composer_kpo.tools.check import check_source
from airflow_provider_composer_kpo.tools.target import Target
from airflow_provider_composer_kpo.tools.upgrade_facts import ARGUMENTS, KPO_NAME, SYMBOLS, TEMPLATE_VARIABLES

libcst = pytest.importorskip("libcst", reason="the [migrate] extra is in every test environment's lock")
from airflow_provider_composer_kpo.tools.migrate import migrate_source  # noqa: E402

CLAIM = "composer-kpo migrate"
TARGETS = (
    Target(airflow=(2, 5), cncf_kubernetes=(5, 0)),
    Target(airflow=(2, 10), cncf_kubernetes=(10, 1)),
    Target(airflow=(2, 10), cncf_kubernetes=(10, 10), composer=2),
    Target(airflow=(3, 0), cncf_kubernetes=(10, 5)),
    Target(airflow=(3, 3), cncf_kubernetes=(10, 25), composer=3),
)
STOCK = f"from airflow.providers.cncf.kubernetes.operators.pod import {KPO_NAME}\n"
COMPOSER = "from airflow_provider_composer_kpo import ComposerPodOperator\n"
#: A value each argument took, as DAG files pass it.
VALUES = {
    "resources": '{"limit_memory": "250M", "limit_cpu": "100m"}',
    "node_selectors": '{"cloud.google.com/gke-nodepool": "pool-0"}',
    "xcom_push": "True",
    "is_delete_operator_pod": "False",
    "on_finish_action": '"keep_pod"',
    "schedule_timeout_seconds": "600",
    "schedule_interval": '"@daily"',
    "timetable": "None",
    "concurrency": "4",
    "task_concurrency": "1",
}
CORPUS = Path(__file__).resolve().parents[2] / "dag_corpus" / "input"


def _imports() -> dict[str, str]:
    sources = {}
    for symbol in SYMBOLS:
        calls = {KPO_NAME: '(task_id="t", image="i")', "days_ago": "(1)"}  # check's claims are about these calls
        use = f"x = {symbol.name}{calls.get(symbol.name, '')}"
        sources[f"from {symbol.qualified}"] = f"from {symbol.module} import {symbol.name}\n{use}\n"
        parent, _, last = symbol.module.rpartition(".")
        if parent and symbol.module_goes_too:
            sources[f"{symbol.qualified} via its module"] = f"from {parent} import {last}\nx = {last}.{symbol.name}\n"
    sources["Task SDK names from two Airflow 2 modules"] = "from airflow.sdk import DAG, task\nDAG, task\n"
    sources["Port and Resources in one import"] = (
        "from airflow.kubernetes.pod import Port, Resources\nport = Port('http', 80)\nresources = Resources()\n"
    )
    return sources


def _arguments() -> dict[str, str]:
    bash = "from airflow.operators.bash import BashOperator\n"
    calls = {
        "stock": [
            STOCK + f'{KPO_NAME}(task_id="t", image="i", {{}})\n',
            STOCK + f'{KPO_NAME}.partial(task_id="t", image="i", {{}}).expand(cmds=[["true"]])\n',
        ],
        "composer": [COMPOSER + 'ComposerPodOperator(task_id="t", image="i", {})\n'],
        "operator": [bash + 'BashOperator(task_id="t", bash_command="true", {})\n'],
        "dag": ['from airflow import DAG\nDAG("d", {})\n'],
    }
    calls["kpo"] = calls["stock"] + calls["composer"]
    return {
        f"{argument.applies_to} {argument.name}= #{number}": call.format(f"{argument.name}={VALUES[argument.name]}")
        for argument in ARGUMENTS
        for number, call in enumerate(calls[argument.applies_to])
    }


def _templates() -> dict[str, str]:
    def task(argument: str) -> str:
        return STOCK + f'{KPO_NAME}(task_id="t", image="i", {argument})\n'

    sources = {
        f"template {variable.name}": task(f'arguments=["{{{{ {variable.name} }}}}"]') for variable in TEMPLATE_VARIABLES
    }
    sources["Composer's kubeconfig from airflow.cfg"] = task("config_file=\"{{ conf.get('core', 'kube_config') }}\"")
    sources["a stock shell script without set -e"] = task('cmds=["sh", "-c", "a\\nb"]')
    return sources


SOURCES = {
    **_imports(),
    **_arguments(),
    **_templates(),
    **{f"corpus {path.name}": path.read_text() for path in sorted(CORPUS.glob("*.py")) if path.name != "not_python.py"},
}


@lru_cache(maxsize=None)  # the coverage test asks again
def _claims(text: str, target: Target) -> set[tuple[str, str]]:
    return {(finding.code, finding.message) for finding in _findings(text, target) if CLAIM in finding.fix}


def _findings(text: str, target: Target) -> list:
    return check_source("dag.py", text, target).findings


def _unkept(text: str) -> list[str]:
    """Return '<target>: <code> <message>' for each claim about ``text`` that migrate's output still shows."""
    unkept = []
    for target in TARGETS:
        claims = _claims(text, target)
        if claims:
            migrated = migrate_source("dag.py", text, target).migrated
            after = {(finding.code, finding.message) for finding in _findings(migrated, target)}
            unkept += [f"{target}: {code} {message}" for code, message in sorted(claims & after)]
    return unkept


@pytest.mark.parametrize("text", list(SOURCES.values()), ids=list(SOURCES))
def test_what_check_says_migrate_does_migrate_does(text: str):
    assert _unkept(text) == []


def test_the_sources_make_check_claim_migrate_for_every_kind_of_finding():
    """The sources above keep exercising each kind of claim; a kind no source triggers would go untested."""
    codes = {code for text in SOURCES.values() for target in TARGETS for code, _ in _claims(text, target)}
    assert codes >= {"CK101", "CK102", "CK201", "CK203", "CK301", "CK401", "CK801"}
