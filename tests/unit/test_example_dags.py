"""The example DAGs are the documentation: they must load cleanly on every supported pair.

Each example says in its docstring which Composer versions it is for ("Composer versions", first
line "Composer 2 and 3." and the like). On those it must parse without a single warning of ours
(COMPOSER_VERSION set as on a Composer worker) and pass ``composer-kpo check``. The README's quick
start is held to the same on Composer 2 and 3.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import pytest

import airflow_provider_composer_kpo

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "example_dags"
EXAMPLE_FILES = sorted(EXAMPLES.glob("example_*.py"))
# The installed package (the wheel in CI), wherever it is.
PACKAGE = Path(airflow_provider_composer_kpo.__file__).resolve().parent
OUR_CODE = (str(EXAMPLES), str(PACKAGE))
#: COMPOSER_VERSION as Composer sets it on its workers (package lists in composer-images/).
COMPOSER_VERSIONS = {2: "2.9.7", 3: "3.1.7"}
CLAIM = re.compile(r"^Composer versions\n\s+Composer (\d(?:(?:, | and | or )\d)*)", re.MULTILINE)


def load_dagbag(folder: Path):
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag
    try:
        return DagBag(dag_folder=str(folder), include_examples=False)
    except TypeError:  # Airflow 3.3 dropped include_examples (examples are never bundled there)
        return DagBag(dag_folder=str(folder))


def parse(folder: Path, composer_version: str | None) -> tuple:
    """Return the DagBag of ``folder`` parsed with COMPOSER_VERSION set so, and every warning raised."""
    with pytest.MonkeyPatch.context() as env:
        if composer_version is None:
            env.delenv("COMPOSER_VERSION", raising=False)
        else:
            env.setenv("COMPOSER_VERSION", composer_version)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dagbag = load_dagbag(folder)
    return dagbag, caught


def ours(caught: list, path: Path | None = None) -> list[str]:
    """The warnings a user would blame on us: any category of this package, any warning raised in an
    example or in the package (Airflow 3.3 re-emits a DAG file's warnings as UserWarning), and
    deprecations from our code."""
    found = []
    for w in caught:
        from_package = w.category.__module__.startswith("airflow_provider_composer_kpo")
        if (from_package or str(w.filename).startswith(OUR_CODE)) and (path is None or w.filename == str(path)):
            found.append(f"{Path(w.filename).name}:{w.lineno}: {w.category.__name__}: {w.message}")
    return found


def claimed_majors(path: Path) -> set[int]:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    match = CLAIM.search(doc)
    assert match, f"{path.name}: the docstring needs a 'Composer versions' section starting 'Composer 2 and 3.'"
    return {int(major) for major in re.findall(r"\d", match.group(1))}


@pytest.fixture(scope="module")
def dagbag_and_warnings():
    return parse(EXAMPLES, None)


@pytest.fixture(scope="module")
def parsed_on():
    """Composer major -> (DagBag, warnings) of the examples folder parsed as on that Composer."""
    return {major: parse(EXAMPLES, version) for major, version in COMPOSER_VERSIONS.items()}


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
    found = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, DeprecationWarning) and w.filename.startswith(OUR_CODE)
    ]
    assert found == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_docstring_is_the_documentation(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{path.name} has no module docstring"
    for section in ("What it shows", "Composer versions", "Before you run it", "What to expect"):
        assert section in doc, f"{path.name}: docstring lacks '{section}'"
    assert claimed_majors(path) <= {2, 3}  # the supported Composer versions


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_use_only_our_operator_and_public_imports(path):
    tree = ast.parse(path.read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "airflow.providers.cncf.kubernetes.operators.pod" not in modules
    assert "airflow.kubernetes.secret" not in modules
    assert not any(m.startswith("airflow_provider_composer_kpo.") for m in modules), "use the package's top level"


# --- no warnings where an example says it belongs -------------------------------------------------


@pytest.mark.parametrize("major", sorted(COMPOSER_VERSIONS))
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_parses_without_warnings_on_its_composer(path, major, parsed_on):
    dagbag, caught = parsed_on[major]
    if path.name in (Path(p).name for p in dagbag.import_errors):
        pytest.skip(f"{path.name} does not load with this provider (test_every_example_imports)")
    if major not in claimed_majors(path):
        pytest.skip(f"{path.name} is not for Composer {major} (its docstring says why)")
    assert ours(caught, path) == [], f"{path.name} on Composer {major} ({COMPOSER_VERSIONS[major]})"


@pytest.mark.parametrize("major", sorted(COMPOSER_VERSIONS))
def test_every_warning_of_ours_points_at_an_example_line(major, parsed_on):
    # stacklevel: a warning must name the user's line, or the per-example test above cannot see it.
    _, caught = parsed_on[major]
    names = {path.name for path in EXAMPLE_FILES}
    assert [line for line in ours(caught) if line.split(":", 1)[0] not in names] == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_passes_check_on_its_composer(path):
    from airflow_provider_composer_kpo.compat import HAS_DEFERRABLE
    from airflow_provider_composer_kpo.tools.check import check_source
    from airflow_provider_composer_kpo.tools.codes import INFO
    from airflow_provider_composer_kpo.tools.target import resolve_target

    if not HAS_DEFERRABLE and path.name in NEEDS_DEFERRABLE:
        pytest.skip(f"{path.name}: {NEEDS_DEFERRABLE[path.name]} (documented; the check says so too)")
    for major in sorted(claimed_majors(path)):
        target = resolve_target(composer=str(major), environ={})
        findings = check_source(str(path), path.read_text(), target).findings
        assert [f.as_text() for f in findings if f.severity != INFO] == [], f"{path.name} against {target}"


# --- the README's quick start ---------------------------------------------------------------------


def quick_start() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.parametrize("major", sorted(COMPOSER_VERSIONS))
def test_readme_quick_start_parses_without_warnings(major, tmp_path):
    path = tmp_path / "quick_start.py"
    path.write_text(quick_start())
    dagbag, caught = parse(tmp_path, COMPOSER_VERSIONS[major])
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids == ["nightly"]
    found = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if w.filename == str(path) or w.category.__module__.startswith("airflow_provider_composer_kpo")
    ]
    assert found == []
