"""What ``composer-kpo migrate`` does to calls: operator and DAG arguments, Airflow 1.10's Kubernetes classes.

An operator's arguments are rewritten where they are written: as keywords, or as the string keys of a
dict literal passed with ``**`` (inline, or a module-level name assigned once). Which call is which
operator comes from the file's imports (:data:`.upgrade_facts.STOCK_KPO_NAMES` and the like).

========  ===============================================  ==============================================
kind      what                                             migrate
========  ===============================================  ==============================================
stock     KubernetesPodOperator, or a class of the file    moved to ComposerPodOperator; its arguments
          built on it                                      updated; what changes meaning is noted
composer  ComposerPodOperator, or a class built on it      its arguments updated
subclass  another provider's operator built on KPO         kept (it runs the pod on its own cluster); its
          (GKEStartPodOperator)                            KubernetesPodOperator arguments updated
dag       DAG, @dag                                        renamed arguments
operator  any other Airflow operator or sensor             renamed arguments
========  ===============================================  ==============================================
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import AbstractSet, Any, Callable, Iterator, Sequence, Union, cast

import libcst as cst
from libcst.codemod import CodemodContext, ContextAwareTransformer
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import PositionProvider, QualifiedNameProvider

from ..platform.composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE
from ..pod.entrypoint import errexit_gap
from ..pod.resources import LEGACY_RESOURCE_KEYS
from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS
from . import legacy_models
from .target import Target
from .upgrade_facts import (
    ARGUMENTS,
    COMPOSER_KPO_NAMES,
    COMPOSER_KUBECONFIG_TEMPLATE,
    DAG_NAMES,
    KPO_SUBCLASS_NAMES,
    STOCK_KPO_NAMES,
    STOCK_STARTUP_TIMEOUT_SECONDS,
    arguments_for,
)

_POD_KINDS = ("stock", "composer", "subclass")
_MODELS = "kubernetes.client.models"
#: A keyword argument, or an entry of a dict literal passed with ``**``.
Argument = Union[cst.Arg, cst.DictElement]


@dataclass(frozen=True)
class Note:
    line: int
    message: str


class CallRewriter(ContextAwareTransformer):
    """Rewrites calls; :class:`.migrate._Rewriter` adds imports and templates."""

    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider)

    def __init__(self, context: CodemodContext, target: Target) -> None:
        super().__init__(context)
        self.target = target
        self.moves: dict[str, tuple[str, str]] = {}
        self.notes: list[Note] = []
        self.local_operators: dict[str, str] = {}
        self.k8s_alias: str | None = None
        self.dropped_strings: set[int] = set()
        #: Module-level names bound once, to a dict literal.
        self.module_dicts: dict[str, cst.Dict] = {}
        #: id() of each dict literal passed with ``**`` to an operator -> the operator's kind.
        self.argument_dicts: dict[int, str] = {}

    def _qualified(self, node: cst.CSTNode) -> set[str]:
        return {name.name for name in self.get_metadata(QualifiedNameProvider, node, set())}

    def _note(self, node: cst.CSTNode, message: str) -> None:
        self.notes.append(Note(self.get_metadata(PositionProvider, node).start.line, message))

    # which call is what
    def visit_Module(self, node: cst.Module) -> None:
        """Learn, before any call is rewritten, which dicts are arguments and which kubeconfigs go."""
        self.module_dicts = _module_dicts(node)
        nodes = list(_walk(node))
        for statement in nodes:
            if isinstance(statement, cst.ClassDef):
                self.visit_ClassDef(statement)
        for call in nodes:
            kind = self._kind(call.func) if isinstance(call, cst.Call) else None
            if kind not in _POD_KINDS:
                continue
            for value in self._argument_dicts_of(cast(cst.Call, call)):  # only calls have a kind
                self.argument_dicts[id(value)] = kind
            config_file = self._given(cast(cst.Call, call)).get("config_file") if kind != "subclass" else None
            if config_file is not None and _is_composer_kubeconfig(config_file.value):
                self.dropped_strings.add(id(config_file.value))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for base in node.bases:
            kind = self._kind(base.value)
            if kind in ("stock", "composer"):
                self.local_operators[node.name.value] = kind

    def _kind(self, func: cst.BaseExpression) -> str | None:
        if isinstance(func, cst.Attribute) and func.attr.value == "partial":
            func = func.value
        if isinstance(func, cst.Name) and func.value in self.local_operators:
            return self.local_operators[func.value]
        names = self._qualified(func)
        for kind, known in (("stock", STOCK_KPO_NAMES), ("composer", COMPOSER_KPO_NAMES),
                            ("subclass", KPO_SUBCLASS_NAMES), ("dag", DAG_NAMES)):  # fmt: skip
            if names & known:
                return kind
        if any(name.startswith("airflow.") and name.endswith(("Operator", "Sensor")) for name in names):
            return "operator"
        return None

    def _argument_dicts_of(self, call: cst.Call) -> Iterator[cst.Dict]:
        for arg in call.args:
            value = self.module_dicts.get(arg.value.value) if isinstance(arg.value, cst.Name) else arg.value
            if arg.star == "**" and isinstance(value, cst.Dict):
                yield value

    def _given(self, call: cst.Call) -> dict[str, Argument]:
        """Return every argument of ``call`` by name, those of its ``**`` dict literals included."""
        given: dict[str, Argument] = {cast(str, _keyword(arg)): arg for arg in call.args if _keyword(arg)}
        for value in self._argument_dicts_of(call):
            # _key() names only a DictElement
            given.update((key, cast(cst.DictElement, element)) for element in value.elements if (key := _key(element)))
        return given

    # calls
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        names = self._qualified(original_node.func)
        if "airflow.utils.dates.days_ago" in names:
            return self._days_ago(original_node, updated_node)
        legacy = legacy_models.legacy_class(names)
        if legacy and any(name in self.moves for name in names):
            return self._legacy_model(legacy, original_node, updated_node)
        if "airflow.sdk.Variable.get" in names and "airflow.sdk.Variable" in self.moves:
            # Airflow 2's Variable.get names its default default_var.
            args = [arg.with_changes(keyword=cst.Name("default_var")) if _keyword(arg) == "default" else arg
                    for arg in updated_node.args]  # fmt: skip
            return updated_node.with_changes(args=args)
        kind = self._kind(original_node.func)
        if kind is None:
            return updated_node
        if kind == "stock":
            self._stock_notes(original_node)
        if kind == "subclass":
            kept = f"{_callee(original_node)} kept: it starts the pod on the cluster it names, not in Composer's"
            self._note(original_node, f"{kept}; only its KubernetesPodOperator arguments were updated")
        given = set(self._given(original_node))
        args = _kept(original_node.args, updated_node.args, lambda o, a: self._argument(o, a, kind, given))
        return updated_node.with_changes(args=args)

    def leave_Dict(self, original_node: cst.Dict, updated_node: cst.Dict) -> cst.Dict:
        kind = self.argument_dicts.get(id(original_node))
        if kind is None:
            return updated_node
        given = {_key(element) for element in original_node.elements}
        elements = _kept(original_node.elements, updated_node.elements, lambda o, e: self._argument(o, e, kind, given))
        return updated_node.with_changes(elements=elements)

    def _argument(
        self, original: Argument, argument: Argument, kind: str, given: AbstractSet[str | None]
    ) -> Argument | None:
        """Return what one argument of a ``kind`` call becomes: itself, renamed, rewritten, or None (dropped)."""
        name = _keyword(argument) if isinstance(argument, cst.Arg) else _key(argument)
        if name is None:
            return argument
        if kind in _POD_KINDS:
            if name == "resources":
                return self._resources(original, argument)
            if name == "is_delete_operator_pod" and (kind != "subclass" or self._works("stock", "on_finish_action")):
                return self._finish_action(original, argument, given)
            if name == "config_file" and id(original.value) in self.dropped_strings:
                self._note(original, f"config_file removed: ComposerPodOperator finds Composer's kubeconfig "
                                     f"({COMPOSER_KUBECONFIG_PATH}) itself")  # fmt: skip
                return None
        applicable = "dag" if kind == "dag" else ("composer" if kind in _POD_KINDS else "operator")
        for fact in arguments_for(applicable):
            if fact.name == name and fact.renames:
                return _renamed(argument, fact.replacement)
        return argument

    def _works(self, applies_to: str, name: str) -> bool:
        facts = [fact for fact in ARGUMENTS if (fact.applies_to, fact.name) == (applies_to, name)]
        return any(fact.span.holds_on(self.target) for fact in facts)

    def _resources(self, original: Argument, argument: Argument) -> Argument:
        value = argument.value
        if (
            isinstance(original.value, cst.Call)
            and legacy_models.legacy_class(self._qualified(original.value.func)) == "Resources"
        ):
            return _renamed(argument, "container_resources")  # Resources(...): the call is rewritten already
        parts: dict[str, list[str]] = {"requests": [], "limits": []}
        if isinstance(value, cst.Dict):
            for element in value.elements:
                key = _key(element)
                if key not in LEGACY_RESOURCE_KEYS:
                    break
                field_name, resource = LEGACY_RESOURCE_KEYS[key]
                # The file's own quote style; a key _key() read is a DictElement's SimpleString.
                quote = cast(cst.SimpleString, cast(cst.DictElement, element).key).value.lstrip("rRuU")[0]
                parts[field_name].append(f"{quote}{resource}{quote}: {_code(element.value)}")
            else:
                fields = ", ".join(f"{name}={{{', '.join(items)}}}" for name, items in parts.items() if items)
                expression = cst.parse_expression(f"{self._k8s()}.V1ResourceRequirements({fields})")
                return _renamed(argument, "container_resources").with_changes(value=expression)
        self._note(original, "resources= is not a dict literal of request_*/limit_* keys: rewrite it by hand as "
                       "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...})")  # fmt: skip
        return argument

    def _k8s(self) -> str:
        if self.k8s_alias is None:
            self.k8s_alias = "k8s"
            AddImportsVisitor.add_needed_import(self.context, "kubernetes.client", "models", "k8s")
        return self.k8s_alias

    def _finish_action(self, original: Argument, argument: Argument, given: AbstractSet[str | None]) -> Argument | None:
        value = argument.value.value if isinstance(argument.value, cst.Name) else None
        if value not in ("True", "False"):
            self._note(original, "is_delete_operator_pod is not True or False here: replace it by hand with "
                                 "on_finish_action='delete_pod' or 'keep_pod'")  # fmt: skip
            return argument
        if "on_finish_action" in given:
            self._note(original, f"is_delete_operator_pod={value} removed: on_finish_action is given")
            return None
        action = "delete_pod" if value == "True" else "keep_pod"
        return _renamed(argument, "on_finish_action").with_changes(value=cst.SimpleString(f'"{action}"'))

    def _legacy_model(self, cls: str, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        rewritten = legacy_models.rewrite(cls, updated, self.module_dicts)
        if isinstance(rewritten, str):
            self._note(original, f"{rewritten}: rewrite it by hand with the kubernetes.client.models class")
            return updated
        call, models = rewritten
        for model in models:
            AddImportsVisitor.add_needed_import(self.context, _MODELS, model)
        return call

    def _days_ago(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if len(updated.args) != 1 or updated.args[0].keyword is not None:
            self._note(original, "days_ago(...) with more than a day count: replace it by hand (Airflow 3 removed it)")
            return updated
        AddImportsVisitor.add_needed_import(self.context, "pendulum")
        days = _code(updated.args[0].value)
        days = (
            days[1:] if days.startswith("-") else f"-{days}" if days.isidentifier() or days.isdigit() else f"-({days})"
        )
        return cst.parse_expression(f'pendulum.today("UTC").add(days={days})')

    def _stock_notes(self, call: cst.Call) -> None:
        given = self._given(call)
        if "namespace" not in given:
            self._note(call, "namespace: stock KPO used the kubeconfig's namespace ('default' on Composer 2); "
                             f"ComposerPodOperator uses {COMPOSER_USER_WORKLOADS_NAMESPACE!r} (Composer 3 forces it). "
                             "Pass namespace=... to keep the old one.")  # fmt: skip
        timeout = given.get("startup_timeout_seconds")
        if timeout is None:
            self._note(call, f"startup_timeout_seconds: stock KPO waited {STOCK_STARTUP_TIMEOUT_SECONDS} s for the "
                             f"pod to start; ComposerPodOperator waits {DEFAULT_STARTUP_TIMEOUT_SECONDS} s, and fails "
                             "at once when the pod can never start.")  # fmt: skip
        elif isinstance(timeout.value, cst.Integer) and not (
            MIN_TIMEOUT_SECONDS <= int(timeout.value.value) <= MAX_TIMEOUT_SECONDS
        ):
            self._note(timeout, f"startup_timeout_seconds={timeout.value.value} is outside ComposerPodOperator's "
                                f"{MIN_TIMEOUT_SECONDS}..{MAX_TIMEOUT_SECONDS} s: "
                                "the DAG will not load until you change it")  # fmt: skip
        cmds, arguments = _string_list(given.get("cmds")), _string_list(given.get("arguments"))
        if cmds is not None and arguments is not None and errexit_gap(cmds, arguments, allow_templates=True)[0]:
            self._note(call, "errexit: this shell script has no `set -e`; ComposerPodOperator adds it, so a failing "
                             "step now fails the task (errexit_policy='off' keeps the old behaviour)")  # fmt: skip


def _kept(originals: Sequence[Any], updated: Sequence[Any], rewrite: Callable[[Any, Any], Any]) -> list[Any]:
    """Return ``rewrite(original, updated)`` of each argument or dict entry, without those it drops (None)."""
    kept: list[Any] = []
    for original, node in zip(originals, updated):
        new = rewrite(original, node)
        if new is not None:
            kept.append(new)
        elif kept:
            # The comma after the one before holds the dropped one's comment lines and indent; the dropped
            # one's own comma holds what follows it.
            kept[-1] = kept[-1].with_changes(comma=node.comma)
    return kept


def _renamed(argument: Argument, name: str) -> Argument:
    if isinstance(argument, cst.Arg):
        return argument.with_changes(keyword=cst.Name(name))
    assert isinstance(argument.key, cst.SimpleString)
    quote = argument.key.value.lstrip("rRuU")[0]
    return argument.with_changes(key=cst.SimpleString(f"{quote}{name}{quote}"))


def _module_dicts(module: cst.Module) -> dict[str, cst.Dict]:
    """Return the module-level names bound exactly once, to a dict literal."""
    bound: dict[str, list[cst.BaseExpression | None]] = {}
    for statement in module.body:
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    if isinstance(target.target, cst.Name):
                        bound.setdefault(target.target.value, []).append(small.value)
            elif isinstance(small, (cst.AnnAssign, cst.AugAssign)) and isinstance(small.target, cst.Name):
                bound.setdefault(small.target.value, []).append(None)
    return {name: values[0] for name, values in bound.items() if len(values) == 1 and isinstance(values[0], cst.Dict)}


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _callee(call: cst.Call) -> str:
    func = call.func.value if isinstance(call.func, cst.Attribute) and call.func.attr.value == "partial" else call.func
    return func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "the operator")


def _keyword(arg: cst.Arg) -> str | None:
    return arg.keyword.value if arg.keyword is not None else None


def _key(element: cst.BaseDictElement) -> str | None:
    if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
        value = element.key.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _is_composer_kubeconfig(node: cst.BaseExpression) -> bool:
    value = node.evaluated_value if isinstance(node, cst.SimpleString) else None
    return isinstance(value, str) and (
        value == COMPOSER_KUBECONFIG_PATH or bool(re.fullmatch(COMPOSER_KUBECONFIG_TEMPLATE, value.strip()))
    )


def _string_list(argument: Argument | None) -> Sequence[str] | None:
    """Return a literal list of strings, [] when not given, None when not a literal."""
    if argument is None:
        return []
    try:
        value = ast.literal_eval(_code(argument.value))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, list) and all(isinstance(item, str) for item in value) else None
