"""The DAG corpus (tests/dag_corpus): what `composer-kpo check` finds in it and what `migrate` makes of it.

``input/`` holds DAG files as users wrote them for older Composer images (Airflow 1.10 contrib style,
Composer's own samples, a team subclass, ComposerPodOperator misuse, a broken file), and real public DAGs
of every era, each naming its repository, path, commit and license in its first lines (Airflow's own
examples and system tests, Google's Composer samples of 2019 and 2026, a GKEStartPodOperator sample,
a generated DAG with import fallbacks and ``**dict`` arguments); ``expected/`` the findings
(``LINE:COL CODE``) and the migrated file for Airflow 3.3 / cncf-kubernetes 10.25 / Composer 3.
The DagBag tests load the originals and the migrations, one file at a time (several real DAGs share a
dag_id), with the Airflow installed here.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from pathlib import Path

import pytest

from airflow_provider_composer_kpo.tools.check import check_source
from airflow_provider_composer_kpo.tools.codes import CODES
from airflow_provider_composer_kpo.tools.target import Target, resolve_target

libcst = pytest.importorskip("libcst", reason="the [migrate] extra is in every test environment's lock")
from airflow_provider_composer_kpo.tools.migrate import migrate_source  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "dag_corpus"
INPUTS = sorted((CORPUS / "input").glob("*.py"))
EXPECTED = CORPUS / "expected"
NEWEST = Target(airflow=(3, 3), cncf_kubernetes=(10, 25), composer=3)
INSTALLED = resolve_target(environ={})
#: Findings that mean Airflow cannot load the file on the target (the others show at run time).
FAILS_TO_LOAD = {"CK001", "CK101", "CK102", "CK201", "CK204", "CK205", "CK402", "CK501"}
#: Files that stay unloadable after migration, on purpose: what a person must decide.
UNLOADABLE_AFTER_MIGRATION = {
    "not_python.py": "unmatched ')'",  # migrate never touches a file it cannot parse
    "composer_operator_settings.py": "errexit_policy='require'",  # CK402/CK501: the author's call
    # Airflow's example writes its node affinity's matchExpressions as a dict, not a list: its own bug,
    # which no version accepts (the Kubernetes client refuses the term); migrate leaves the author's values.
    "airflow2_provider_example_kubernetes.py": "Invalid value for `key`, must not be `None`",
}
#: Files that need a package no test environment has: their DagBag tests are skipped, saying so.
NEEDS = {"composer1_gke_sample.py": "apache-airflow-providers-google"}


#: Where check misjudges whether the original loads (a known gap of check.py, not of the file).
def _ids(paths):
    return [path.name for path in paths]


def _loadable(paths):
    """Return ``paths`` as parameters, those needing a package not installed here skipped with its name."""
    return [
        pytest.param(path, id=f"{path.name}-needs-{NEEDS[path.name]}", marks=pytest.mark.skipif(
            not _installed(NEEDS[path.name]), reason=f"needs {NEEDS[path.name]}, which no test environment has"))
        if path.name in NEEDS else pytest.param(path, id=path.name)
        for path in paths
    ]  # fmt: skip


def _installed(distribution: str) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version(distribution)
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize("path", INPUTS, ids=_ids(INPUTS))
def test_check_finds_what_is_expected(path: Path):
    report = check_source(path.name, path.read_text(), NEWEST)
    found = [f"{finding.line}:{finding.col} {finding.code}" for finding in report.findings]
    assert found == (EXPECTED / f"{path.stem}.findings").read_text().splitlines()


def test_the_corpus_covers_every_code():
    found = {line.split()[1] for path in EXPECTED.glob("*.findings") for line in path.read_text().splitlines() if line}
    found |= {"CK102", "CK204"}  # older targets only: tests/unit/tools/test_check.py
    found |= {"CK205", "CK206"}  # the operator's argument rules: tests/unit/bad_inputs.py's table
    assert found == set(CODES)


@pytest.mark.parametrize("path", INPUTS, ids=_ids(INPUTS))
def test_migration_is_what_is_expected(path: Path):
    text = path.read_text()
    if path.name in ("not_python.py",):
        with pytest.raises(libcst.ParserSyntaxError):
            migrate_source(path.name, text, NEWEST)
        return
    migrated = migrate_source(path.name, text, NEWEST).migrated
    expected = EXPECTED / path.name
    assert migrated == (expected.read_text() if expected.exists() else text)


@pytest.mark.parametrize("target", [NEWEST, INSTALLED], ids=["newest", "installed"])
@pytest.mark.parametrize("path", [p for p in INPUTS if p.name != "not_python.py"], ids=lambda p: p.name)
def test_a_second_migration_changes_nothing(path: Path, target: Target):
    once = migrate_source(path.name, path.read_text(), target)
    twice = migrate_source(path.name, once.migrated, target)
    assert twice.migrated == once.migrated
    assert not twice.changed


def _load(folder: Path):
    """Return ({file name: import error} for every file a DagBag cannot load, the DagBag) for ``folder``."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            bag = DagBag(dag_folder=str(folder), include_examples=False, safe_mode=False)
        except TypeError:  # Airflow 3.3 dropped include_examples
            bag = DagBag(dag_folder=str(folder), safe_mode=False)
    return {Path(path).name: str(error) for path, error in bag.import_errors.items()}, bag


@pytest.mark.parametrize("path", _loadable(INPUTS))
def test_check_predicts_whether_airflow_can_load_the_original(path: Path, tmp_path: Path):
    shutil.copy(path, tmp_path / path.name)
    errors, _ = _load(tmp_path)
    findings = check_source(path.name, path.read_text(), INSTALLED).findings
    predicted = sorted({finding.code for finding in findings} & FAILS_TO_LOAD)
    assert bool(predicted) == (path.name in errors), (INSTALLED, predicted, errors)


@pytest.mark.parametrize("path", _loadable(INPUTS))
def test_each_migrated_file_loads_and_runs_composer_pod_operator(path: Path, tmp_path: Path):
    """Migrated for the Airflow installed here (2.5, 2.10 or 3.3 by environment), each file loads alone."""
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    text = path.read_text()
    with contextlib.suppress(libcst.ParserSyntaxError):  # left as is, as migrate does
        text = migrate_source(path.name, text, INSTALLED).migrated
    (tmp_path / path.name).write_text(text)
    errors, bag = _load(tmp_path)
    if path.name in UNLOADABLE_AFTER_MIGRATION:
        assert UNLOADABLE_AFTER_MIGRATION[path.name] in errors[path.name]
        return
    assert not errors, (INSTALLED, errors)
    tasks = [task for dag in bag.dags.values() for task in dag.tasks]
    assert tasks
    # @task.kubernetes builds its own KubernetesPodOperator subclass, which migrate leaves.
    pod_tasks = [
        task for task in tasks
        if isinstance(task, KubernetesPodOperator) and not type(task).__name__.endswith("DecoratedOperator")
    ]  # fmt: skip
    assert all(isinstance(task, ComposerPodOperator) for task in pod_tasks), [type(task) for task in pod_tasks]
    findings = check_source(path.name, text, INSTALLED).findings
    assert not {finding.code for finding in findings} & FAILS_TO_LOAD, [f.as_text() for f in findings]


def test_the_corpus_has_pod_tasks_of_every_kind():
    """The corpus keeps its range: each KubernetesPodOperator module, GKE, the decorator, **dict arguments."""
    text = "\n".join(path.read_text() for path in INPUTS)
    for written in (
        "airflow.contrib.operators.kubernetes_pod_operator",
        "airflow.providers.cncf.kubernetes.operators.kubernetes_pod",
        "airflow.providers.cncf.kubernetes.operators.pod",
        "GKEStartPodOperator(",
        "@task.kubernetes(",
        "KubernetesPodOperator(**",
        "xcom_push=",
        "from airflow.sdk import",
    ):
        assert written in text, written
