"""The documentation site (docs/) agrees with the code, checked without Sphinx in every unit environment.

The site's tables of defaults, environments, check codes and connection fields are made at build time
by ``docs/_ext/kpo_docs.py`` from ``docs/_ext/kpo_docs_data.py``; these tests call that data module
against the installed package, and read the pages as text for what they must mention. ``make docs``
(and make test's docs stage) builds the site itself, with warnings as errors.
"""

from __future__ import annotations

import inspect
import re

import pytest

import airflow_provider_composer_kpo as package
from airflow_provider_composer_kpo import exceptions
from tests.docs_site import DOCS, REPO, directives, docs_data, pages, roles

PAGES = pages()


def toctree_entries() -> list[str]:
    entries = []
    for text in PAGES.values():
        for block in re.findall(r"^```\{toctree\}[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            entries += [line.strip() for line in block.splitlines() if line.strip() and not line.startswith(":")]
    return entries


def test_every_page_is_in_the_toctree_and_every_entry_is_a_page():
    entries = toctree_entries()
    assert sorted(set(entries)) == sorted(entries), "a page listed twice"
    assert sorted(entries) == sorted(name for name in PAGES if name != "index")


def test_every_example_dag_is_included_whole_by_a_page():
    included = {
        (DOCS / argument).resolve() for text in PAGES.values() for argument in directives(text, "literalinclude")
    }
    examples = {path.resolve() for path in (REPO / "example_dags").glob("*.py")}
    assert examples, "no example DAGs found"
    assert sorted(p.name for p in examples - included) == [], "example DAGs no page includes"
    assert sorted(str(p) for p in included - examples if not p.is_file()) == [], "included files that do not exist"
    # Whole files: no line ranges that could hide a part the example's docstring explains.
    assert not re.search(r"^:(lines|start-after|end-before|pyobject):", PAGES["examples"], re.MULTILINE)


def test_the_included_files_exist():
    for name, text in PAGES.items():
        for argument in directives(text, "include"):
            assert (DOCS / argument).is_file(), f"{name}: {argument}"
    assert {"changelog", "contributing", "results"} <= set(PAGES)
    assert directives(PAGES["changelog"], "include") == ["../CHANGELOG.md"]
    assert directives(PAGES["contributing"], "include") == ["../CONTRIBUTING.md"]
    assert directives(PAGES["results"], "include") == ["../benchmarks/RESULTS.md"]


# --- the defaults table ------------------------------------------------------------------------------


def test_the_defaults_table_has_every_argument_the_operator_declares():
    """The operator guide's table is made from ComposerPodOperator's own signature: every argument it
    declares (the ones ``composer-kpo check`` accepts on every version, too) has a row, with its
    docstring's ``:param:`` text, so a new argument without a row or a description fails here."""
    from airflow_provider_composer_kpo.tools.parameters import COMPOSER_KEYWORDS

    data = docs_data()
    assert directives(PAGES["operator"], "kpo-defaults-table") == [""]
    rows = data.defaults_rows()
    declared = data.operator_arguments()
    assert sorted(declared) == sorted(COMPOSER_KEYWORDS)
    assert [row.name for row in rows] == declared + data.changed_upstream_arguments()
    undocumented = [row.name for row in rows if not row.meaning]
    assert undocumented == [], "arguments without a :param: line in ComposerPodOperator's docstring"
    # Documented but not declared: upstream arguments whose behaviour ours changes, which it must take.
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    upstream = inspect.signature(KubernetesPodOperator.__init__).parameters
    assert "deferrable" in data.changed_upstream_arguments()
    for row in rows:
        if row.name in data.changed_upstream_arguments() and row.name not in upstream:  # an older provider
            assert row.ours == row.stock == data.NOT_AN_ARGUMENT, row


def test_the_defaults_table_shows_the_defaults_of_the_code():
    from airflow_provider_composer_kpo.pod.entrypoint import ErrexitPolicy
    from airflow_provider_composer_kpo.pod.finish_action import DEFAULT_ON_FINISH_ACTION
    from airflow_provider_composer_kpo.pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS
    from airflow_provider_composer_kpo.preflight.checks import PreflightMode

    ours = {row.name: row.ours for row in docs_data().defaults_rows()}
    assert ours["startup_timeout_seconds"] == repr(DEFAULT_STARTUP_TIMEOUT_SECONDS)
    assert ours["schedule_timeout_seconds"] == repr(DEFAULT_STARTUP_TIMEOUT_SECONDS)  # follows the startup one
    assert ours["namespace"] == repr(package.COMPOSER_USER_WORKLOADS_NAMESPACE)
    assert ours["config_file"] == repr(package.COMPOSER_KUBECONFIG_PATH)
    assert ours["kubernetes_conn_id"] == repr(package.ComposerKubernetesHook.default_conn_name)
    assert ours["errexit_policy"] == repr(ErrexitPolicy.INJECT.value)
    assert ours["preflight"] == repr(PreflightMode.FAIL.value)
    assert ours["on_finish_action"] == repr(DEFAULT_ON_FINISH_ACTION)


def test_the_defaults_table_shows_stock_kpo_as_installed():
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    data = docs_data()
    stock_arguments = inspect.signature(KubernetesPodOperator.__init__).parameters
    for row in data.defaults_rows():
        assert (row.stock == data.NOT_AN_ARGUMENT) == (row.name not in stock_arguments), row
    stock = {row.name: row.stock for row in data.defaults_rows()}
    assert stock["startup_timeout_seconds"] == "120"
    assert stock["errexit_policy"] == stock["preflight"] == data.NOT_AN_ARGUMENT


# --- check codes, connection fields, constants ----------------------------------------------------------


def test_every_check_code_a_page_mentions_exists():
    """The codes table is generated (tests/unit/tools/test_check.py); codes named in prose must be real ones."""
    from airflow_provider_composer_kpo.tools.codes import CODES

    for name, text in PAGES.items():
        stale = sorted(set(re.findall(r"\bCK\d{3}\b", text)) - set(CODES))
        assert stale == [], f"{name} names codes composer-kpo check does not have"


def test_the_connection_table_is_the_form():
    from airflow_provider_composer_kpo.hooks.connection_form import FIELDS

    assert directives(PAGES["connection"], "kpo-connection-fields") == [""]
    assert [row.extra for row in docs_data().connection_field_rows()] == [field.name for field in FIELDS]


def test_every_screenshot_is_shown_and_every_image_exists():
    shown = set()
    for name, text in PAGES.items():
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
            assert (DOCS / target).is_file(), f"{name}: {target}"
            shown.add((DOCS / target).resolve())
    screenshots = {path.resolve() for path in (DOCS / "ui").glob("*.png")}
    assert sorted(p.name for p in screenshots - shown) == []


def test_every_constant_the_prose_quotes_exists():
    """``{kpo-value}`module.NAME``` writes a constant's value into the prose at build time."""
    data = docs_data()
    quoted = [value for text in PAGES.values() for value in roles(text, "kpo-value")]
    assert quoted, "no kpo-value role found"
    for dotted in quoted:
        assert data.constant(dotted), dotted


# --- troubleshooting and the API reference ------------------------------------------------------------


def exception_classes() -> list[type]:
    from airflow_provider_composer_kpo.lifecycle.running import PodDisruptedError

    defined = [
        obj
        for _, obj in inspect.getmembers(exceptions, inspect.isclass)
        if obj.__module__ == exceptions.__name__ and issubclass(obj, (Exception, Warning))
    ]
    return [*defined, PodDisruptedError]


@pytest.mark.parametrize("cls", exception_classes(), ids=lambda cls: cls.__name__)
def test_every_error_and_warning_is_in_troubleshooting_and_the_api_reference(cls):
    assert re.search(rf"\b{cls.__name__}\b", PAGES["troubleshooting"]), f"troubleshooting.md: no {cls.__name__}"
    documented = [argument.rsplit(".", 1)[-1] for argument in directives(PAGES["api"], "autoexception")]
    assert cls.__name__ in documented, f"api.rst: no autoexception of {cls.__name__}"


def test_every_startup_reason_is_in_troubleshooting():
    """The reasons a pod is judged unable to start (lifecycle/diagnosis.py, platform/peer_vm.py)."""
    from airflow_provider_composer_kpo.lifecycle.diagnosis import FATAL_WAITING_REASONS, PULL_WAITING_REASONS

    reasons = {*FATAL_WAITING_REASONS, *PULL_WAITING_REASONS, "FailedMount", "Unschedulable", "PeerVmNotCreated"}
    missing = sorted(reason for reason in reasons if reason not in PAGES["troubleshooting"])
    assert missing == []


def test_every_public_name_is_in_the_api_reference():
    kinds = ("autoclass", "autoexception", "autodata", "autofunction", "py:class")
    documented = {argument.rsplit(".", 1)[-1] for kind in kinds for argument in directives(PAGES["api"], kind)}
    missing = sorted(name for name in package.__all__ if name != "__version__" and name not in documented)
    assert missing == []
    assert "airflow_provider_composer_kpo.triggers.composer_pod.ComposerPodTrigger" in directives(
        PAGES["api"], "autoclass"
    )


# --- the quick start -----------------------------------------------------------------------------------


def test_the_quick_start_is_the_readmes():
    """The README's quick start is parsed on Composer 2 and 3 (tests/unit/test_example_dags.py); the
    docs' front page shows the same code."""

    def quick_start(text: str) -> str:
        section = text.split("## Quick start", 1)[1]
        return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)

    assert quick_start(PAGES["index"]) == quick_start((REPO / "README.md").read_text())
