"""The example DAGs are the documentation: they must load cleanly on every supported pair."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

import airflow_provider_composer_kpo

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"
EXAMPLE_FILES = sorted(EXAMPLES.glob("example_*.py"))
# The installed package (the wheel in CI), wherever it is.
OUR_CODE = (str(EXAMPLES), str(Path(airflow_provider_composer_kpo.__file__).resolve().parent))


def load_dagbag():
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag
    try:
        return DagBag(dag_folder=str(EXAMPLES), include_examples=False)
    except TypeError:  # Airflow 3.3 dropped include_examples (examples are never bundled there)
        return DagBag(dag_folder=str(EXAMPLES))


@pytest.fixture(scope="module")
def dagbag_and_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dagbag = load_dagbag()
    return dagbag, caught


#: Examples a provider version cannot load, and the error that says why (documented in each).
NEEDS_DEFERRABLE = {"example_deferrable_pod.py": "deferrable=True needs apache-airflow-providers-cncf-kubernetes 6.0"}


def test_every_example_imports(dagbag_and_warnings):
    from airflow_provider_composer_kpo.compat import HAS_DEFERRABLE

    dagbag, _ = dagbag_and_warnings
    unloadable = {} if HAS_DEFERRABLE else NEEDS_DEFERRABLE
    errors = {Path(path).name: message for path, message in dagbag.import_errors.items()}
    assert sorted(errors) == sorted(unloadable)
    for name, expected in unloadable.items():
        assert expected in errors[name]
    assert len(dagbag.dag_ids) == len(EXAMPLE_FILES) - len(unloadable)


def test_no_deprecation_warning_from_our_code(dagbag_and_warnings):
    _, caught = dagbag_and_warnings
    ours = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning) and w.filename.startswith(OUR_CODE)
    ]
    assert ours == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_docstring_is_the_documentation(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{path.name} has no module docstring"
    for section in ("What it shows", "Before you run it", "What to expect"):
        assert section in doc, f"{path.name}: docstring lacks '{section}'"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_use_only_our_operator_and_public_imports(path):
    tree = ast.parse(path.read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "airflow.providers.cncf.kubernetes.operators.pod" not in modules
    assert "airflow.kubernetes.secret" not in modules
    assert not any(m.startswith("airflow_provider_composer_kpo.") for m in modules), "use the package's top level"
