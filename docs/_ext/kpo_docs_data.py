"""The data behind the documentation's generated tables, read from the code and the repository's files.

Nothing here imports Sphinx: ``kpo_docs.py`` (the Sphinx extension) turns these rows into tables,
and ``tests/unit/test_docs.py`` calls the same functions in every unit environment, so a table in
the docs cannot disagree with the code it is made from. Each function imports the package only
when called (the docs build and the tests both have it installed, with Airflow).

=======================  ====================================================================
table                    made from
=======================  ====================================================================
defaults                 ``ComposerPodOperator.__init__``'s own keyword arguments (and upstream's
                         it documents, e.g. ``deferrable``), the values an
                         operator built with no arguments ends up with (ours and stock KPO's,
                         from the installed provider), and the class docstring's ``:param:``
                         text
support matrix           ``requirements/<id>.in`` (``# what:`` and ``# python:`` lines) and
                         ``<id>.txt`` (the pins), the cluster suites' two environments from
                         ``dev/lib/pairs.sh``
check codes              ``tools/codes.py``'s ``CODES``
connection form          ``hooks/connection_form.py``'s ``FIELDS``
numbers in the prose     the package's module-level constants (``constant``: ``kpo-value`` role)
=======================  ====================================================================
"""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_composer_kpo"

#: requirements/*.in that are tools, not supported environments: no support-matrix row, no unit suite.
TOOL_LOCKS = ("lint", "docs")
#: The packages whose versions a support-matrix row shows (setup.cfg bounds each).
BOUNDED = ("apache-airflow", "apache-airflow-providers-cncf-kubernetes", "kubernetes")
#: Every environment runs the unit suite; these run on dev/lib/pairs.sh's two environments only.
CLUSTER_SUITES = ("integration", "Composer 3 simulation", "faults", "browser", "example DAGs")
#: What a cell shows for an argument stock KubernetesPodOperator does not take.
NOT_AN_ARGUMENT = "not an argument"


# --- the operator's defaults ----------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultRow:
    """One argument ComposerPodOperator declares, or takes from upstream and changes: its default, stock
    KPO's, and what it means."""

    name: str
    ours: str  # the value an operator built without the argument has, as Python source
    stock: str  # the same for stock KubernetesPodOperator, or NOT_AN_ARGUMENT
    meaning: str  # the class docstring's :param: text (reStructuredText)


def operator_arguments() -> list[str]:
    """The keyword arguments ``ComposerPodOperator.__init__`` declares itself (the rest go to upstream)."""
    from airflow_provider_composer_kpo import ComposerPodOperator

    parameters = inspect.signature(ComposerPodOperator.__init__).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def param_texts(cls: type) -> dict[str, str]:
    """``{name: text}`` of the ``:param name: text`` fields of ``cls``'s docstring, each joined into one line."""
    fields: dict[str, str] = {}
    current: str | None = None
    for line in (inspect.getdoc(cls) or "").splitlines():
        found = re.match(r"^:param (\w+):\s*(.*)$", line)
        if found:
            current = found.group(1)
            fields[current] = found.group(2).strip()
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            fields[current] += " " + line.strip()
        else:
            current = None
    return fields


def python_value(value: Any) -> str:
    """A default as it would be written in a DAG file: an enum by its value, everything else by repr."""
    if isinstance(value, enum.Enum):
        value = value.value
    return repr(value)


def _built_with_defaults(cls: type) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what Composer would change (ComposerPlatformWarning) and the like
        return cls(task_id="defaults", image="busybox")


def changed_upstream_arguments() -> list[str]:
    """Upstream arguments ComposerPodOperator does not declare but documents, because it changes what
    they do (``deferrable``: its own trigger), in the docstring's order."""
    from airflow_provider_composer_kpo import ComposerPodOperator

    declared = operator_arguments()
    return [name for name in param_texts(ComposerPodOperator) if name not in declared]


def defaults_rows() -> list[DefaultRow]:
    """One row per argument of :func:`operator_arguments` (in the signature's order), then per
    argument of :func:`changed_upstream_arguments`."""
    from airflow_provider_composer_kpo import ComposerPodOperator
    from airflow_provider_composer_kpo.compat import KubernetesPodOperator

    ours, stock = _built_with_defaults(ComposerPodOperator), _built_with_defaults(KubernetesPodOperator)
    our_signature = inspect.signature(ComposerPodOperator.__init__).parameters
    stock_signature = inspect.signature(KubernetesPodOperator.__init__).parameters
    texts = param_texts(ComposerPodOperator)
    rows = []
    for name in operator_arguments() + changed_upstream_arguments():
        # The value the operator holds after __init__ (schedule_timeout_seconds: the startup timeout);
        # the signature's default for an argument it does not keep under its own name.
        if hasattr(ours, name):
            ours_text = python_value(getattr(ours, name))
        elif name in our_signature or name in stock_signature:
            ours_text = python_value((our_signature.get(name) or stock_signature[name]).default)
        else:  # an upstream argument this provider version does not have yet (deferrable before 5.2)
            ours_text = NOT_AN_ARGUMENT
        if name in stock_signature:
            stock_value = getattr(stock, name) if hasattr(stock, name) else stock_signature[name].default
            stock_text = python_value(stock_value)
        else:
            stock_text = NOT_AN_ARGUMENT
        rows.append(DefaultRow(name, ours_text, stock_text, texts.get(name, "")))
    return rows


def installed_version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


# --- the support matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """A locked test environment: one row of the support matrix."""

    id: str
    airflow: str
    cncf_kubernetes: str
    kubernetes: str
    python: str
    what: str
    suites: tuple[str, ...]

    def version(self, package: str) -> str:
        return {BOUNDED[0]: self.airflow, BOUNDED[1]: self.cncf_kubernetes, BOUNDED[2]: self.kubernetes}[package]


def header_value(source: str, key: str) -> str | None:
    """The value of the first ``# key: value`` line of a requirements/*.in file."""
    found = re.search(rf"^# {key}: *(.+?)\s*$", source, re.MULTILINE)
    return found.group(1) if found else None


def cluster_environments() -> tuple[str, str]:
    """The environments the cluster suites run on: dev/lib/pairs.sh's two lines (as dev/run_suites.py reads them)."""
    text = (REPO / "dev" / "lib" / "pairs.sh").read_text()
    found = dict(re.findall(r"^(AIRFLOW[23]_PAIR)=(\S+)$", text, re.MULTILINE))
    return found["AIRFLOW2_PAIR"], found["AIRFLOW3_PAIR"]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def environments() -> list[Environment]:
    """Every supported environment (requirements/*.in but the tools'): Composer's images first, then
    the version pairs, each newest first."""
    cluster = cluster_environments()
    rows = []
    for source in sorted((REPO / "requirements").glob("*.in")):
        if source.stem in TOOL_LOCKS:
            continue
        text = source.read_text()
        lock = source.with_suffix(".txt").read_text()
        pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, re.MULTILINE))
        suites = ("unit", *CLUSTER_SUITES) if source.stem in cluster else ("unit",)
        rows.append(
            Environment(
                id=source.stem,
                airflow=pins[BOUNDED[0]],
                cncf_kubernetes=pins[BOUNDED[1]],
                kubernetes=pins[BOUNDED[2]],
                python=header_value(text, "python") or "3.11",
                what=header_value(text, "what") or "",
                suites=suites,
            )
        )
    return sorted(
        rows,
        key=lambda env: (
            not env.id.startswith("composer-"),
            tuple(-part for part in _version_key(env.airflow) + _version_key(env.cncf_kubernetes)),
        ),
    )


# --- composer-kpo check's codes, the connection form, constants --------------------------------------


@dataclass(frozen=True)
class CodeRow:
    code: str
    severity: str
    meaning: str
    action: str


def check_code_rows() -> list[CodeRow]:
    """``composer-kpo check``'s codes, in the order ``composer-kpo codes`` lists them."""
    from airflow_provider_composer_kpo.tools.codes import CODES

    return [CodeRow(c.code, c.severity, c.title, c.action) for c in CODES.values()]


@dataclass(frozen=True)
class FieldRow:
    extra: str
    label: str
    kind: str
    empty: str
    description: str


def connection_field_rows() -> list[FieldRow]:
    """The "Kubernetes (Cloud Composer)" connection form's fields, as stored in the connection's extras."""
    from airflow_provider_composer_kpo.hooks.connection_form import FIELDS

    rows = []
    for field in FIELDS:
        kind = "switch" if field.boolean else ("secret text" if field.secret else "text")
        rows.append(FieldRow(field.name, field.label, kind, field.placeholder, field.description))
    return rows


def constant(name: str) -> str:
    """The value of the package's module-level constant ``name``, as prose shows it (``30.0`` -> ``30``).

    ``name`` alone (``MAX_TIMEOUT_SECONDS``) is looked up in every module of the package, so prose
    survives a constant's move; every module that has it must agree on its value. ``module.NAME``
    (relative to the package, e.g. ``pod.timeouts.MAX_TIMEOUT_SECONDS``) names the module.
    """
    if "." in name:
        module, _, attribute = name.rpartition(".")
        values = [getattr(importlib.import_module(f"{PACKAGE}.{module}"), attribute)]
    else:
        values = package_constants().get(name, [])
        if not values:
            raise LookupError(f"no module of {PACKAGE} defines {name}")
    shown = {_shown(value) for value in values}
    if len(shown) != 1:
        raise LookupError(f"{name} has different values in the package's modules: {sorted(shown)}")
    return shown.pop()


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@functools.lru_cache(maxsize=None)
def package_constants() -> dict[str, tuple[Any, ...]]:
    """``{NAME: (value, ...)}`` of every upper-case number or string of every importable module of the package."""
    import pkgutil

    package = importlib.import_module(PACKAGE)
    found: dict[str, list[Any]] = {}
    for module_info in pkgutil.walk_packages(package.__path__, prefix=f"{PACKAGE}."):
        if module_info.name.endswith(".__main__"):  # runs the command line when imported
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ImportError:  # an optional dependency (libcst for `composer-kpo migrate`) not installed
            continue
        for attribute, value in vars(module).items():
            if attribute.isupper() and isinstance(value, (int, float, str)) and not isinstance(value, bool):
                found.setdefault(attribute, []).append(value)
    return {attribute: tuple(values) for attribute, values in found.items()}
