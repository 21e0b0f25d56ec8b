"""The DAG corpus (tests/dag_corpus): what `composer-kpo check` finds in it and what `migrate` makes of it.

``input/`` holds DAG files as users wrote them for older Composer images (Airflow 1.10 contrib style,
Composer's own samples, a team subclass, ComposerPodOperator misuse, a broken file); ``expected/`` the
findings (``LINE:COL CODE``) and the migrated file for Airflow 3.3 / cncf-kubernetes 10.25 / Composer 3.
The DagBag tests load the originals and the migrations with the Airflow installed here.
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

CORPUS = Path(__file__).resolve().parents[1] / "dag_corpus"
INPUTS = sorted((CORPUS / "input").glob("*.py"))
EXPECTED = CORPUS / "expected"
NEWEST = Target(airflow=(3, 3), cncf_kubernetes=(10, 25), composer=3)
INSTALLED = resolve_target(environ={})
#: Findings that mean Airflow cannot load the file on the target (the others show at run time).
FAILS_TO_LOAD = {"CK001", "CK101", "CK102", "CK201", "CK204", "CK402", "CK501"}
#: Files that stay unloadable after migration, on purpose: what a person must decide.
UNLOADABLE_AFTER_MIGRATION = {
    "not_python.py": "unmatched ')'",  # migrate never touches a file it cannot parse
    "composer_operator_settings.py": "errexit_policy='require'",  # CK402/CK501: the author's call
}


def _ids(paths):
    return [path.name for path in paths]


@pytest.mark.parametrize("path", INPUTS, ids=_ids(INPUTS))
def test_check_finds_what_is_expected(path: Path):
    report = check_source(path.name, path.read_text(), NEWEST)
    found = [f"{finding.line}:{finding.col} {finding.code}" for finding in report.findings]
    assert found == (EXPECTED / f"{path.stem}.findings").read_text().splitlines()


def test_the_corpus_covers_every_code():
    found = {line.split()[1] for path in EXPECTED.glob("*.findings") for line in path.read_text().splitlines() if line}
    found |= {"CK102", "CK204"}  # older targets only: tests/unit/test_check.py
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
@pytest.mark.parametrize("path", [p for p in INPUTS if p.name != "not_python.py"], ids=_ids(INPUTS[:-1]))
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


@pytest.mark.parametrize("path", INPUTS, ids=_ids(INPUTS))
def test_check_predicts_whether_airflow_can_load_the_original(path: Path, tmp_path: Path):
    shutil.copy(path, tmp_path / path.name)
    errors, _ = _load(tmp_path)
    findings = check_source(path.name, path.read_text(), INSTALLED).findings
    predicted = sorted({finding.code for finding in findings} & FAILS_TO_LOAD)
    assert bool(predicted) == (path.name in errors), (INSTALLED, predicted, errors)


def test_every_migrated_file_loads_and_runs_composer_pod_operator(tmp_path: Path):
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    for path in INPUTS:
        text = path.read_text()
        with contextlib.suppress(libcst.ParserSyntaxError):  # left as is, as migrate does
            text = migrate_source(path.name, text, INSTALLED).migrated
        (tmp_path / path.name).write_text(text)
    errors, bag = _load(tmp_path)
    assert sorted(errors) == sorted(UNLOADABLE_AFTER_MIGRATION), errors
    for name, reason in UNLOADABLE_AFTER_MIGRATION.items():
        assert reason in errors[name]
    pod_tasks = [task for dag in bag.dags.values() for task in dag.tasks if isinstance(task, KubernetesPodOperator)]
    assert len(pod_tasks) >= 10
    assert all(isinstance(task, ComposerPodOperator) for task in pod_tasks)
    for path in INPUTS:
        if path.name in UNLOADABLE_AFTER_MIGRATION:
            continue
        findings = check_source(path.name, (tmp_path / path.name).read_text(), INSTALLED).findings
        assert not {finding.code for finding in findings} & FAILS_TO_LOAD, path.name
