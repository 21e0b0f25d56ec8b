"""Every fact composer-kpo check and migrate rely on, checked against the Airflow and provider installed here.

Run in every locked environment (Airflow 2.5 to 3.3, cncf-kubernetes 5.0 to 10.25), so each version
boundary in upgrade_facts.py is tested on both of its sides wherever an environment sits there.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

from airflow_provider_composer_kpo.tools.target import resolve_target
from airflow_provider_composer_kpo.tools.upgrade_facts import (
    ARGUMENTS,
    SYMBOLS,
    TEMPLATE_VARIABLES,
    Symbol,
    module_span,
)

INSTALLED = resolve_target(environ={})


def _importable(module: str, name: str | None = None) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            return False
        if name is None:
            return True
        try:
            getattr(loaded, name)
        except (AttributeError, ImportError):
            return False
        return True


@pytest.mark.parametrize("symbol", SYMBOLS, ids=lambda s: s.qualified)
def test_each_import_exists_exactly_where_the_table_says(symbol: Symbol):
    assert _importable(symbol.module, symbol.name) == symbol.span.holds_on(INSTALLED), INSTALLED
    span = module_span(symbol.module)
    if span is not None and span.holds_on(INSTALLED):
        # Only this way round: Airflow 2.7+ answers `import airflow.kubernetes.volume` with a shim
        # module from which nothing can be imported (the name check above covers that).
        assert _importable(symbol.module)


@pytest.mark.parametrize("symbol", [s for s in SYMBOLS if s.moves_to], ids=lambda s: s.qualified)
def test_each_new_home_is_importable_on_the_installed_versions(symbol: Symbol):
    home = symbol.new_home(INSTALLED)
    if home is None:  # nowhere to move to yet (Secret before cncf-kubernetes 7.4): it must still work
        assert symbol.span.holds_on(INSTALLED)
    else:
        assert _importable(*home)


def _known_context_keys() -> set[str]:
    try:
        from airflow.sdk.definitions.context import Context  # Airflow 3

        return set(Context.__annotations__)
    except ImportError:
        from airflow.utils.context import KNOWN_CONTEXT_KEYS

        return set(KNOWN_CONTEXT_KEYS)


@pytest.mark.parametrize("variable", TEMPLATE_VARIABLES, ids=lambda v: v.name)
def test_each_template_variable_exists_exactly_where_the_table_says(variable):
    assert (variable.name in _known_context_keys()) == variable.span.holds_on(INSTALLED)
    if variable.rename:
        assert variable.rename in _known_context_keys()


#: A value each argument took before its removal, as DAG files pass it.
SAMPLES = {
    "on_finish_action": "keep_pod",
    "schedule_timeout_seconds": 600,
    "resources": {"limit_memory": "250M", "limit_cpu": "100m"},
    "node_selectors": {"cloud.google.com/gke-nodepool": "pool-0"},
    "xcom_push": True,
    "is_delete_operator_pod": False,
    "schedule_interval": "@daily",
    "timetable": None,
    "concurrency": 4,
    "task_concurrency": 1,
}


def _build(kind: str, name: str, value: object) -> None:
    """Build what the argument is given to, the way a DAG file does; raises when it is refused."""
    if name == "timetable":
        from airflow.timetables.simple import NullTimetable

        value = NullTimetable()
    if kind == "dag":
        import pendulum
        from airflow import DAG

        DAG(dag_id="facts", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), **{name: value})
        return
    if kind == "operator":
        from airflow.models.baseoperator import BaseOperator

        class Noop(BaseOperator):
            def execute(self, context):
                return None

        Noop(task_id="facts", **{name: value})
        return
    if kind == "composer":
        from airflow_provider_composer_kpo import ComposerPodOperator as operator
    else:
        from airflow_provider_composer_kpo.compat import KubernetesPodOperator as operator
    operator(task_id="facts", image="busybox:1.36", **{name: value})


def _accepted(kind: str, name: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _build(kind, name, SAMPLES[name])
        except Exception:  # what Airflow raises for an unknown argument differs by version
            return False
        return True


@pytest.mark.parametrize("argument", ARGUMENTS, ids=lambda a: f"{a.applies_to}-{a.name}")
def test_each_argument_is_accepted_exactly_where_the_table_says(argument):
    kinds = ("stock", "composer") if argument.applies_to == "kpo" else (argument.applies_to,)
    for kind in kinds:
        # An ignored argument is still accepted after its removal, without effect.
        assert _accepted(kind, argument.name) == (argument.span.holds_on(INSTALLED) or argument.ignored), (
            kind,
            INSTALLED,
        )
        if argument.renames:
            assert _accepted(kind, argument.replacement) if argument.replacement in SAMPLES else True


def _signature_keywords(operator: type) -> set[str]:
    """Return every keyword ``operator`` takes: each ``__init__`` up its MRO to BaseOperator, as Airflow counts."""
    import inspect

    try:
        from airflow.sdk import BaseOperator  # Airflow 3
    except ImportError:
        from airflow.models.baseoperator import BaseOperator
    mro = operator.mro()
    keywords = set()
    for klass in mro[: mro.index(BaseOperator) + 1]:
        init = vars(klass).get("__init__")
        parameters = inspect.signature(init).parameters.values() if init is not None else ()
        named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        keywords |= {p.name for p in parameters if p.kind in named and p.name != "self"}
    return keywords


@pytest.mark.parametrize("kind", ["stock", "composer"])
def test_the_keyword_table_is_the_installed_signatures(kind):
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator
    from airflow_provider_composer_kpo.tools.parameters import accepted_keywords

    operator = ComposerPodOperator if kind == "composer" else KubernetesPodOperator
    table = accepted_keywords(kind, INSTALLED)
    installed = _signature_keywords(operator)
    assert (sorted(table - installed), sorted(installed - table)) == ([], []), INSTALLED
