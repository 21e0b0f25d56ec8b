"""Bad operator inputs (tests/unit/bad_inputs.py): the operator refuses each at DAG parse time, naming the
parameter and a fix; ``composer-kpo check`` reports each from the source; and check reports an error
exactly where Airflow cannot load the DAG file.

Nothing here talks to a cluster: the errors are raised while the operator is constructed, so no
pod can exist for any of them.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
from airflow.exceptions import AirflowException

from airflow_provider_composer_kpo import ComposerPodConfigError, ComposerPodOperator
from airflow_provider_composer_kpo.tools.check import check_source
from airflow_provider_composer_kpo.tools.codes import ERROR
from airflow_provider_composer_kpo.tools.target import resolve_target
from tests.unit.bad_inputs import AIRFLOW, BAD_INPUTS, GOOD_INPUTS, VERSIONED_INPUTS, Row, dag_source

INSTALLED = resolve_target(environ={})
STATIC_BAD = [row for row in BAD_INPUTS if row.static]


def _ids(rows: list[Row]) -> list[str]:
    return [row.id for row in rows]


@pytest.mark.parametrize("row", BAD_INPUTS, ids=_ids(BAD_INPUTS))
def test_bad_input_fails_at_parse_time_naming_the_task(row: Row):
    arguments = {"task_id": "load", "image": "busybox:1.36", **row.arguments}
    if row.raised_by == AIRFLOW:  # Airflow's BaseOperator: AirflowException on Airflow 2, TypeError on 3
        with pytest.raises((TypeError, AirflowException)) as err:
            ComposerPodOperator(**arguments)
        assert "Invalid arguments were passed to ComposerPodOperator (task_id: load)" in str(err.value)
    else:
        with pytest.raises(ComposerPodConfigError) as err, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecated forms some rows use
            ComposerPodOperator(**arguments)
        assert "Task 'load'" in str(err.value)
    assert row.expected in str(err.value)


def test_corpus_is_large():
    assert len(BAD_INPUTS) >= 45


def _errors(source: str) -> list:
    return [f for f in check_source("dag.py", source, INSTALLED).findings if f.severity == ERROR]


@pytest.mark.parametrize("row", STATIC_BAD, ids=_ids(STATIC_BAD))
def test_check_reports_each_bad_input_with_the_operators_message(row: Row):
    errors = _errors(dag_source("bad", row.arguments))
    assert any(row.expected in finding.message for finding in errors), errors
    if row.hint:
        assert any(row.hint in finding.fix for finding in errors), errors


@pytest.mark.parametrize("row", [row for row in BAD_INPUTS if not row.static], ids=lambda row: row.id)
def test_a_value_check_cannot_read_is_left_to_the_operator(row: Row):
    # If this fails, check learned to read the value: drop static=False from the row.
    assert not any(row.expected in finding.message for finding in _errors(dag_source("bad", row.arguments)))


@pytest.mark.parametrize("row", GOOD_INPUTS, ids=_ids(GOOD_INPUTS))
def test_good_inputs_build_and_check_clean(row: Row):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ComposerPodOperator(task_id="load", **{"image": "busybox:1.36", **row.arguments})
    assert _errors(dag_source("good", row.arguments)) == []


def test_raw_block_keeps_bash_length_usable():
    op = ComposerPodOperator(task_id="t", image="busybox:1.36", cmds=["sh", "-c", "{% raw %}echo ${#HOME}{% endraw %}"])
    op.render_template_fields({})
    assert op.cmds[2].endswith("echo ${#HOME}")


# What check cannot know from one row's arguments: the call's shape, a team's subclass, the package's helper.
_HEADER = dag_source("x", {}).split("with DAG")[0]
_DAG = 'with DAG(dag_id="{}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):\n'
_TEAM = """
class Team(ComposerPodOperator):
    def __init__(self, *, team, **kwargs):
        kwargs.setdefault("labels", {"team": team})
        self.squad = kwargs.pop("squad", None)
        super().__init__(**kwargs)


class Plain(ComposerPodOperator):
    pass


"""
SHAPES = {
    "positional task id": 'ComposerPodOperator("load", image="busybox:1.36")',
    "no task id": 'ComposerPodOperator(image="busybox:1.36")',
    "keywords from a dict": 'ComposerPodOperator(task_id="load", **{"image": "busybox:1.36"})',
    "subclass keywords": 'Team(task_id="load", image="busybox:1.36", team="data", squad="a")',
    "subclass given a typo": 'Team(task_id="load", image="busybox:1.36", team="data", startup_timeout=900)',
    "plain subclass given a typo": 'Plain(task_id="load", image="busybox:1.36", namespaces="team")',
    "node pool helper": (
        'ComposerPodOperator(task_id="load", image="busybox:1.36", affinity=gke_node_pool_affinity("pool-1"))'
    ),
    "expand with a typo": (
        'ComposerPodOperator.partial(task_id="load", image="busybox:1.36").expand(cmd=[["a"], ["b"]])'
    ),
}


def _shape_source(name: str, task: str) -> str:
    header = _HEADER + "from airflow_provider_composer_kpo import gke_node_pool_affinity\n"
    return header + _TEAM + _DAG.format(name) + textwrap.indent(task, "    ") + "\n"


#: name -> DAG file: every row as a task and as a mapped task, and the shapes above.
CASES = {
    **{
        f"{row.id} ({mode})": dag_source(f"case_{i}_{mode}", row.arguments, mapped=mode == "mapped")
        for i, row in enumerate(STATIC_BAD + GOOD_INPUTS + VERSIONED_INPUTS)
        for mode in ("task", "mapped")
    },
    **{name: _shape_source(f"shape_{i}", task) for i, (name, task) in enumerate(SHAPES.items())},
}


def _file_name(case: str) -> str:
    return f"dag_{sorted(CASES).index(case)}.py"


@pytest.fixture(scope="module")
def import_errors(tmp_path_factory) -> dict[str, str]:
    """Load every case with Airflow, once: {file name: import error} for each file it cannot load."""
    folder = tmp_path_factory.mktemp("cases")
    for case, source in CASES.items():
        (folder / _file_name(case)).write_text(source)
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
    return {Path(path).name: str(error) for path, error in bag.import_errors.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_reports_an_error_exactly_when_airflow_cannot_load_the_file(case: str, import_errors):
    errors = _errors(CASES[case])
    import_error = import_errors.get(_file_name(case))
    assert bool(errors) == bool(import_error), (INSTALLED, errors, import_error)


def test_the_cases_cover_both_outcomes(import_errors):
    assert 20 < len(import_errors) < len(CASES) - 20
