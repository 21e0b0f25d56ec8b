"""What changed between the Airflow and cncf-kubernetes versions a DAGs folder may meet: one table each.

``composer-kpo check`` reports from these tables and ``composer-kpo migrate`` rewrites from them, so a
fact is written once. Each version below was checked against the installed packages of every test
environment (tests/unit/tools/test_upgrade_facts.py imports each module and reads each context): a fact
that disagrees with a real install fails there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .target import AIRFLOW, CNCF_KUBERNETES, LABELS, Target, Version, show_version

KPO_NAME = "KubernetesPodOperator"
COMPOSER_MODULE = "airflow_provider_composer_kpo"
COMPOSER_OPERATOR = "ComposerPodOperator"
#: Every place a stock KubernetesPodOperator was ever imported from.
STOCK_KPO_MODULES = (
    "airflow.contrib.operators.kubernetes_pod_operator",
    "airflow.providers.cncf.kubernetes.operators.kubernetes_pod",
    "airflow.providers.cncf.kubernetes.operators.pod",
)
COMPOSER_KPO_NAMES = frozenset(
    {f"{COMPOSER_MODULE}.{COMPOSER_OPERATOR}", f"{COMPOSER_MODULE}.operators.composer_pod.{COMPOSER_OPERATOR}"}
)
STOCK_KPO_NAMES = frozenset(f"{module}.{KPO_NAME}" for module in STOCK_KPO_MODULES)
#: Operators of other providers built on KubernetesPodOperator: they run the pod on a cluster of their own
#: choosing, so ``migrate`` keeps them and only updates the KubernetesPodOperator arguments they pass on.
KPO_SUBCLASS_NAMES = frozenset({"airflow.providers.google.cloud.operators.kubernetes_engine.GKEStartPodOperator"})
DAG_NAMES = frozenset(
    {"airflow.DAG", "airflow.models.DAG", "airflow.models.dag.DAG", "airflow.sdk.DAG", "airflow.decorators.dag",
     "airflow.sdk.dag", "airflow.models.dag.dag"}
)  # fmt: skip


@dataclass(frozen=True)
class Span:
    """The versions of one package where something exists: ``added <= version < removed``."""

    package: str
    added: Version | None = None
    removed: Version | None = None

    def holds_on(self, target: Target) -> bool:
        version = target.version_of(self.package)
        return (self.added is None or version >= self.added) and (self.removed is None or version < self.removed)

    def why_not(self, target: Target) -> str:
        """Say why the thing is missing on ``target``, e.g. "removed in Airflow 3.0"."""
        label = LABELS[self.package]
        version = target.version_of(self.package)
        if self.removed is not None and version >= self.removed:
            return f"removed in {label} {show_version(self.removed)}"
        assert self.added is not None
        return f"added in {label} {show_version(self.added)}"


@dataclass(frozen=True)
class Symbol:
    """A name that can be imported (``module.name``), where it exists, and where it lives now.

    ``moves_to`` lists candidate new homes, best first; the first that exists on the target is used.
    """

    module: str
    name: str
    span: Span
    moves_to: tuple[tuple[str, str, Span], ...] = ()
    #: False when only the name goes and the module stays (``airflow.utils.dates``).
    module_goes_too: bool = True

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"

    def new_home(self, target: Target) -> tuple[str, str] | None:
        for module, name, span in self.moves_to:
            if span.holds_on(target):
                return module, name
        return None


_ALWAYS = Span(AIRFLOW)
# Ours picks the provider's or Airflow 2's Secret, whichever the installed versions have (compat.py).
_OUR_SECRET = (COMPOSER_MODULE, "Secret", _ALWAYS)
_STANDARD = Span(AIRFLOW, added=(3, 0))  # the standard provider ships with Airflow 3
_CORE_OPERATORS = Span(AIRFLOW, removed=(3, 0))  # still there on Airflow 3, deprecated, via the standard provider
_AIRFLOW_2 = Span(AIRFLOW, removed=(3, 0))  # where Airflow 2 kept what Airflow 3 moved to the Task SDK


def _models(name: str) -> tuple[tuple[str, str, Span], ...]:
    return (("kubernetes.client.models", name, _ALWAYS),)


def _airflow2(module: str, name: str) -> Symbol:
    """Return ``airflow.sdk.<name>`` (Airflow 3's Task SDK), which Airflow 2 has as ``module.name``."""
    return Symbol("airflow.sdk", name, Span(AIRFLOW, added=(3, 0)), ((module, name, _AIRFLOW_2),))


def _standard(module: str, name: str) -> tuple[tuple[str, str, Span], ...]:
    return (
        (f"airflow.providers.standard.operators.{module}", name, _STANDARD),
        (f"airflow.operators.{module}", name, _ALWAYS),
    )


#: Imports that break on some supported target, and where each name lives instead.
SYMBOLS: tuple[Symbol, ...] = (
    Symbol("airflow.contrib.operators.kubernetes_pod_operator", KPO_NAME, Span(AIRFLOW, removed=(3, 0))),
    Symbol("airflow.providers.cncf.kubernetes.operators.kubernetes_pod", KPO_NAME,
           Span(CNCF_KUBERNETES, removed=(10, 0))),
    Symbol("airflow.providers.cncf.kubernetes.operators.pod", KPO_NAME, Span(CNCF_KUBERNETES, added=(5, 3))),
    Symbol("airflow.contrib.kubernetes.secret", "Secret", Span(AIRFLOW, removed=(2, 0)), (_OUR_SECRET,)),
    Symbol("airflow.kubernetes.secret", "Secret", Span(AIRFLOW, removed=(3, 0)), (_OUR_SECRET,)),
    Symbol("airflow.providers.cncf.kubernetes.secret", "Secret", Span(CNCF_KUBERNETES, added=(7, 4)), (_OUR_SECRET,)),
    Symbol("airflow.contrib.kubernetes.volume", "Volume", Span(AIRFLOW, removed=(2, 0)), _models("V1Volume")),
    Symbol("airflow.kubernetes.volume", "Volume", Span(AIRFLOW, removed=(2, 0)), _models("V1Volume")),
    Symbol("airflow.contrib.kubernetes.volume_mount", "VolumeMount", Span(AIRFLOW, removed=(2, 0)),
           _models("V1VolumeMount")),
    Symbol("airflow.kubernetes.volume_mount", "VolumeMount", Span(AIRFLOW, removed=(2, 0)), _models("V1VolumeMount")),
    Symbol("airflow.contrib.kubernetes.pod", "Resources", Span(AIRFLOW, removed=(2, 0)),
           _models("V1ResourceRequirements")),
    Symbol("airflow.kubernetes.pod", "Resources", Span(AIRFLOW, removed=(2, 0)), _models("V1ResourceRequirements")),
    Symbol("airflow.contrib.kubernetes.pod", "Port", Span(AIRFLOW, removed=(2, 0)), _models("V1ContainerPort")),
    Symbol("airflow.kubernetes.pod", "Port", Span(AIRFLOW, removed=(2, 0)), _models("V1ContainerPort")),
    Symbol("airflow.contrib.kubernetes.pod_runtime_info_env", "PodRuntimeInfoEnv", Span(AIRFLOW, removed=(2, 0)),
           _models("V1EnvVar")),
    Symbol("airflow.kubernetes.pod_runtime_info_env", "PodRuntimeInfoEnv", Span(AIRFLOW, removed=(2, 0)),
           _models("V1EnvVar")),
    Symbol("airflow.operators.bash_operator", "BashOperator", _CORE_OPERATORS, _standard("bash", "BashOperator")),
    Symbol("airflow.operators.python_operator", "PythonOperator", _CORE_OPERATORS,
           _standard("python", "PythonOperator")),
    Symbol("airflow.operators.dummy_operator", "DummyOperator", _CORE_OPERATORS, _standard("empty", "EmptyOperator")),
    Symbol("airflow.operators.dummy", "DummyOperator", _CORE_OPERATORS, _standard("empty", "EmptyOperator")),
    Symbol("airflow.utils.dates", "days_ago", Span(AIRFLOW, removed=(3, 0)), module_goes_too=False),
    _airflow2("airflow", "DAG"),
    _airflow2("airflow.decorators", "dag"),
    _airflow2("airflow.decorators", "task"),
    _airflow2("airflow.decorators", "task_group"),
    _airflow2("airflow.utils.task_group", "TaskGroup"),
    _airflow2("airflow.models", "Variable"),
    _airflow2("airflow.models.connection", "Connection"),
    _airflow2("airflow.models.param", "Param"),
    _airflow2("airflow.models.baseoperator", "BaseOperator"),
    _airflow2("airflow.models.baseoperator", "chain"),
    _airflow2("airflow.models.baseoperator", "cross_downstream"),
    _airflow2("airflow.models.xcom_arg", "XComArg"),
    _airflow2("airflow.sensors.base", "BaseSensorOperator"),
    _airflow2("airflow.sensors.base", "PokeReturnValue"),
    _airflow2("airflow.hooks.base", "BaseHook"),
    _airflow2("airflow.utils.edgemodifier", "Label"),
    _airflow2("airflow.utils.context", "Context"),
    _airflow2("airflow.operators.python", "get_current_context"),
    _airflow2("airflow.utils.dag_parsing_context", "get_parsing_context"),
)  # fmt: skip
SYMBOLS_BY_NAME = {symbol.qualified: symbol for symbol in SYMBOLS}


def module_span(module: str) -> Span | None:
    """Return where a module of :data:`SYMBOLS` exists, when the module itself comes or goes."""
    for symbol in SYMBOLS:
        if symbol.module == module and symbol.module_goes_too:
            return symbol.span
    return None


@dataclass(frozen=True)
class Argument:
    """An operator or DAG argument that a target removed, ignores or deprecated, and what replaces it.

    ``applies_to``: "stock" (KubernetesPodOperator and its subclasses), "composer" (ComposerPodOperator
    and its subclasses), "kpo" (both), "operator" (any operator), "dag".
    ``span`` is where the argument works; outside it the argument fails the DAG at parse time, except
    when ``ignored`` (accepted, no effect: worse, nothing says so).
    """

    applies_to: str
    name: str
    span: Span
    replacement: str
    ignored: bool = False
    renames: bool = True  # the replacement takes the same value
    deprecated_from: Version | None = None


ARGUMENTS: tuple[Argument, ...] = (
    Argument("stock", "on_finish_action", Span(CNCF_KUBERNETES, added=(7, 2)), "is_delete_operator_pod", renames=False),
    Argument("stock", "schedule_timeout_seconds", Span(CNCF_KUBERNETES, added=(10, 5)), "startup_timeout_seconds",
             renames=False),
    Argument("stock", "resources", Span(CNCF_KUBERNETES, removed=(5, 0)), "container_resources", renames=False),
    # ComposerPodOperator translates the pre-5.0 dict on every provider version, with a deprecation warning.
    Argument("composer", "resources", Span(CNCF_KUBERNETES), "container_resources", renames=False,
             deprecated_from=(0, 0)),
    Argument("kpo", "node_selectors", Span(CNCF_KUBERNETES, removed=(5, 0)), "node_selector"),
    Argument("kpo", "xcom_push", Span(AIRFLOW, removed=(2, 0)), "do_xcom_push"),
    Argument("stock", "is_delete_operator_pod", Span(CNCF_KUBERNETES, removed=(10, 0)), "on_finish_action",
             ignored=True, renames=False, deprecated_from=(7, 2)),
    # ComposerPodOperator accepts it on every provider version, with a deprecation warning.
    Argument("composer", "is_delete_operator_pod", Span(CNCF_KUBERNETES), "on_finish_action", renames=False,
             deprecated_from=(0, 0)),
    Argument("dag", "schedule_interval", Span(AIRFLOW, removed=(3, 0)), "schedule"),
    Argument("dag", "timetable", Span(AIRFLOW, removed=(3, 0)), "schedule"),
    Argument("dag", "concurrency", Span(AIRFLOW, removed=(3, 0)), "max_active_tasks"),
    Argument("operator", "task_concurrency", Span(AIRFLOW, removed=(3, 0)), "max_active_tis_per_dag"),
)  # fmt: skip


@dataclass(frozen=True)
class TemplateVariable:
    """A variable of Airflow's template context that a target removed, and what to write instead."""

    name: str
    span: Span
    instead: str
    #: The replacement, when it is one name with the same value (migrate rewrites only those).
    rename: str | None = None


_GONE_IN_3 = Span(AIRFLOW, removed=(3, 0))
TEMPLATE_VARIABLES: tuple[TemplateVariable, ...] = (
    TemplateVariable("conf", _GONE_IN_3, "read configuration in code, or pass the value itself"),
    TemplateVariable("execution_date", _GONE_IN_3, "logical_date", rename="logical_date"),
    TemplateVariable("next_execution_date", _GONE_IN_3, "data_interval_end"),
    TemplateVariable("prev_execution_date", _GONE_IN_3, "prev_data_interval_start_success"),
    TemplateVariable("prev_execution_date_success", _GONE_IN_3, "prev_data_interval_start_success"),
    TemplateVariable("next_ds", _GONE_IN_3, "{{ data_interval_end | ds }}"),
    TemplateVariable("next_ds_nodash", _GONE_IN_3, "{{ data_interval_end | ds_nodash }}"),
    TemplateVariable("prev_ds", _GONE_IN_3, "{{ prev_data_interval_start_success | ds }}"),
    TemplateVariable("prev_ds_nodash", _GONE_IN_3, "{{ prev_data_interval_start_success | ds_nodash }}"),
    TemplateVariable("tomorrow_ds", _GONE_IN_3, "{{ macros.ds_add(ds, 1) }}"),
    TemplateVariable("tomorrow_ds_nodash", _GONE_IN_3, "{{ macros.ds_add(ds, 1) | replace('-', '') }}"),
    TemplateVariable("yesterday_ds", _GONE_IN_3, "{{ macros.ds_add(ds, -1) }}"),
    TemplateVariable("yesterday_ds_nodash", _GONE_IN_3, "{{ macros.ds_add(ds, -1) | replace('-', '') }}"),
)  # fmt: skip
TEMPLATE_VARIABLES_BY_NAME = {variable.name: variable for variable in TEMPLATE_VARIABLES}

#: A Jinja expression or statement block in a string.
JINJA_BLOCK = re.compile(r"{{.*?}}|{%.*?%}", re.S)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_VARIABLE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)")  # a name, not an attribute (dag_run.conf)


def removed_template_variables(text: str, target: Target) -> list[TemplateVariable]:
    """Return the context variables ``text``'s templates use that ``target`` no longer defines, once each."""
    found: dict[str, TemplateVariable] = {}
    for block in JINJA_BLOCK.findall(text):
        for name in _VARIABLE.findall(_QUOTED.sub("''", block)):
            variable = TEMPLATE_VARIABLES_BY_NAME.get(name)
            if variable is not None and not variable.span.holds_on(target):
                found.setdefault(name, variable)
    return list(found.values())


#: Composer 2's sample: the template that reads it from Airflow's configuration.
COMPOSER_KUBECONFIG_TEMPLATE = r"{{\s*conf\.get\(\s*['\"]core['\"]\s*,\s*['\"]kube_config['\"]\s*\)\s*}}"

#: Stock KPO's startup timeout when none is given (every supported provider).
STOCK_STARTUP_TIMEOUT_SECONDS = 120


def arguments_for(kind: str) -> Sequence[Argument]:
    """Return the argument facts for a call of ``kind``: "stock", "composer", "operator" or "dag"."""
    kinds = {"stock": ("stock", "kpo", "operator"), "composer": ("composer", "kpo", "operator")}.get(
        kind, (kind,) if kind == "dag" else ("operator",)
    )
    return [argument for argument in ARGUMENTS if argument.applies_to in kinds]
