"""``composer-kpo migrate``: rewrite stock KubernetesPodOperator tasks to ComposerPodOperator, and what the
target removed to its current form, keeping the file's formatting and comments (libcst).

What it rewrites, all from :mod:`.upgrade_facts`: imports that moved (and the KPO import to
ComposerPodOperator), ``days_ago(n)``, renamed arguments, the pre-5.0 ``resources`` dict,
``is_delete_operator_pod``, Composer's kubeconfig ``config_file`` (ComposerPodOperator finds it),
``execution_date`` in templates. What changes meaning (namespace and startup timeout defaults, ``set -e``
injection) or cannot be rewritten safely is said in a note, never changed silently. A second run
changes nothing.

Needs the ``migrate`` extra (``pip install 'airflow-provider-composer-kpo[migrate]'``); ``check`` does not.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Sequence

import libcst as cst
from libcst.codemod import CodemodContext, ContextAwareTransformer
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import PositionProvider, QualifiedNameProvider

from ..platform.composer import COMPOSER_KUBECONFIG_PATH, COMPOSER_USER_WORKLOADS_NAMESPACE
from ..pod.entrypoint import errexit_gap
from ..pod.resources import LEGACY_RESOURCE_KEYS
from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS
from .target import Target
from .upgrade_facts import (
    COMPOSER_KPO_NAMES,
    COMPOSER_KUBECONFIG_TEMPLATE,
    COMPOSER_MODULE,
    COMPOSER_OPERATOR,
    DAG_NAMES,
    JINJA_BLOCK,
    STOCK_KPO_NAMES,
    STOCK_STARTUP_TIMEOUT_SECONDS,
    SYMBOLS,
    TEMPLATE_VARIABLES_BY_NAME,
    arguments_for,
    removed_template_variables,
)

_KUBERNETES_MODELS = "kubernetes.client.models"


@dataclass(frozen=True)
class Note:
    line: int
    message: str


@dataclass
class Migration:
    path: str
    original: str
    migrated: str
    notes: list[Note] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.migrated != self.original


def migrate_source(path: str, text: str, target: Target) -> Migration:
    """Return ``text`` migrated for ``target``; raises ``libcst.ParserSyntaxError`` when it does not parse."""
    module = cst.parse_module(text)
    context = CodemodContext(filename=path)
    rewriter = _Rewriter(context, target)
    migrated = cst.MetadataWrapper(module, unsafe_skip_copy=True).visit(rewriter)  # the tree is ours alone
    # Each import pass re-analyses the whole file: run it only when the rewrite asked for it.
    if context.scratch.get(AddImportsVisitor.CONTEXT_KEY):
        migrated = AddImportsVisitor(context).transform_module(migrated)
    if context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY):
        migrated = RemoveImportsVisitor(context).transform_module(migrated)
    return Migration(path, text, migrated.code, sorted(rewriter.notes, key=lambda note: note.line))


def _moves(target: Target) -> dict[str, tuple[str, str]]:
    """Return qualified name -> (module, name) for every import ``migrate`` moves on ``target``."""
    moves = {name: (COMPOSER_MODULE, COMPOSER_OPERATOR) for name in STOCK_KPO_NAMES}
    for symbol in SYMBOLS:
        # A name that works on the target but is on its way out (it has a removal version) moves too.
        if symbol.qualified in moves or (symbol.span.holds_on(target) and symbol.span.removed is None):
            continue
        home = symbol.new_home(target)
        if home and home != (symbol.module, symbol.name):
            moves[symbol.qualified] = home
    return moves


class _Rewriter(ContextAwareTransformer):
    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider)

    def __init__(self, context: CodemodContext, target: Target) -> None:
        super().__init__(context)
        self.target = target
        self.moves = _moves(target)
        self.moved_modules = {name.rsplit(".", 1)[0] for name in self.moves}
        self.notes: list[Note] = []
        self.local_operators: dict[str, str] = {}
        self.k8s_alias: str | None = None
        self.dropped_strings: set[int] = set()

    # names and imports
    def _qualified(self, node: cst.CSTNode) -> set[str]:
        return {name.name for name in self.get_metadata(QualifiedNameProvider, node, set())}

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def _note(self, node: cst.CSTNode, message: str) -> None:
        self.notes.append(Note(self._line(node), message))

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            name = _dotted(alias.name)
            if name in self.moved_modules:
                RemoveImportsVisitor.remove_unused_import(self.context, name, asname=_asname(alias))
            if name == _KUBERNETES_MODELS and _asname(alias):
                self.k8s_alias = _asname(alias)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if node.module is None or node.relative or isinstance(node.names, cst.ImportStar):
            return False
        module = _dotted(node.module)
        for alias in node.names:
            name = _dotted(alias.name)
            qualified = f"{module}.{name}"
            if (
                qualified in self.moves
                or qualified in self.moved_modules
                or qualified == "airflow.utils.dates.days_ago"
            ):
                RemoveImportsVisitor.remove_unused_import(self.context, module, name, _asname(alias))
            if qualified == _KUBERNETES_MODELS:
                self.k8s_alias = _asname(alias) or name
        return False

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        """Point ``from old import Name`` at the new module when every name keeps its own name there.

        Adding the new import and dropping the old one would leave both binding the same name.
        """
        if updated_node.module is None or updated_node.relative or isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        module = _dotted(updated_node.module)
        homes = {self.moves.get(f"{module}.{_dotted(alias.name)}") for alias in updated_node.names}
        names = {_dotted(alias.name) for alias in updated_node.names}
        if len(homes) != 1 or None in homes:
            return updated_node
        ((new_module, new_name),) = homes
        if names != {new_name}:
            return updated_node
        return updated_node.with_changes(module=cst.parse_expression(new_module))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for base in node.bases:
            kind = self._kind(base.value)
            if kind in ("stock", "composer"):
                self.local_operators[node.name.value] = kind

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self._moved(original_node, updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        return self._moved(original_node, updated_node)

    def _moved(self, original: cst.BaseExpression, updated: cst.BaseExpression) -> cst.BaseExpression:
        for name in self._qualified(original):
            home = self.moves.get(name)
            if home:
                AddImportsVisitor.add_needed_import(self.context, home[0], home[1])
                return cst.Name(home[1])
        return updated

    # calls
    def _kind(self, func: cst.BaseExpression) -> str | None:
        if isinstance(func, cst.Attribute) and func.attr.value == "partial":
            func = func.value
        if isinstance(func, cst.Name) and func.value in self.local_operators:
            return self.local_operators[func.value]
        names = self._qualified(func)
        if names & STOCK_KPO_NAMES:
            return "stock"
        if names & COMPOSER_KPO_NAMES:
            return "composer"
        if names & DAG_NAMES:
            return "dag"
        if any(name.startswith("airflow.") and name.endswith(("Operator", "Sensor")) for name in names):
            return "operator"
        return None

    def visit_Call(self, node: cst.Call) -> None:
        if self._kind(node.func) in ("stock", "composer"):
            for arg in node.args:
                if _keyword(arg) == "config_file" and _is_composer_kubeconfig(arg.value):
                    self.dropped_strings.add(id(arg.value))

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if "airflow.utils.dates.days_ago" in self._qualified(original_node.func):
            return self._days_ago(original_node, updated_node)
        kind = self._kind(original_node.func)
        if kind is None:
            return updated_node
        if kind == "stock":
            self._stock_notes(original_node)
        args: list[cst.Arg] = []
        for original_arg, arg in zip(original_node.args, updated_node.args):
            new = self._argument(original_arg, arg, kind, updated_node)
            if new is not None:
                args.append(new)
            elif args:
                # The comma after the argument before it holds the dropped argument's comment lines and
                # indent; the dropped argument's own comma holds what follows it.
                args[-1] = args[-1].with_changes(comma=arg.comma)
        return updated_node.with_changes(args=args)

    def _argument(self, original: cst.Arg, arg: cst.Arg, kind: str, call: cst.Call) -> cst.Arg | None:
        name = _keyword(arg)
        if name is None:
            return arg
        if kind in ("stock", "composer"):
            if name == "resources":
                return self._resources(original, arg)
            if name == "is_delete_operator_pod":
                return self._finish_action(original, arg, call)
            if name == "config_file" and id(original.value) in self.dropped_strings:
                self._note(
                    original,
                    f"config_file removed: ComposerPodOperator finds Composer's kubeconfig "
                    f"({COMPOSER_KUBECONFIG_PATH}) itself",
                )
                return None
        applicable = "dag" if kind == "dag" else ("composer" if kind in ("stock", "composer") else "operator")
        for fact in arguments_for(applicable):
            if fact.name == name and fact.renames:
                return arg.with_changes(keyword=cst.Name(fact.replacement))
        return arg

    def _resources(self, original: cst.Arg, arg: cst.Arg) -> cst.Arg:
        value = arg.value
        parts: dict[str, list[str]] = {"requests": [], "limits": []}
        if isinstance(value, cst.Dict):
            for element in value.elements:
                key = _string(element.key) if isinstance(element, cst.DictElement) else None
                if key not in LEGACY_RESOURCE_KEYS:
                    break
                field_name, resource = LEGACY_RESOURCE_KEYS[key]
                quote = element.key.value.lstrip("rRuU")[0]  # the file's own quote style
                value_code = cst.Module([]).code_for_node(element.value)
                parts[field_name].append(f"{quote}{resource}{quote}: {value_code}")
            else:
                alias = self._k8s()
                fields = ", ".join(f"{name}={{{', '.join(items)}}}" for name, items in parts.items() if items)
                expression = cst.parse_expression(f"{alias}.V1ResourceRequirements({fields})")
                return arg.with_changes(keyword=cst.Name("container_resources"), value=expression)
        self._note(original, "resources= is not a dict literal of request_*/limit_* keys: rewrite it by hand as "
                        "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...})")  # fmt: skip
        return arg

    def _k8s(self) -> str:
        if self.k8s_alias is None:
            self.k8s_alias = "k8s"
            AddImportsVisitor.add_needed_import(self.context, "kubernetes.client", "models", "k8s")
        return self.k8s_alias

    def _finish_action(self, original: cst.Arg, arg: cst.Arg, call: cst.Call) -> cst.Arg | None:
        value = arg.value.value if isinstance(arg.value, cst.Name) else None
        if value not in ("True", "False"):
            self._note(original, "is_delete_operator_pod is not True or False here: replace it by hand with "
                            "on_finish_action='delete_pod' or 'keep_pod'")  # fmt: skip
            return arg
        action = "delete_pod" if value == "True" else "keep_pod"
        if any(_keyword(other) == "on_finish_action" for other in call.args):
            self._note(original, f"is_delete_operator_pod={value} removed: on_finish_action is given")
            return None
        return arg.with_changes(keyword=cst.Name("on_finish_action"), value=cst.SimpleString(f'"{action}"'))

    def _days_ago(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if len(updated.args) != 1 or updated.args[0].keyword is not None:
            self._note(original, "days_ago(...) with more than a day count: replace it by hand (Airflow 3 removed it)")
            return updated
        AddImportsVisitor.add_needed_import(self.context, "pendulum")
        days = cst.Module([]).code_for_node(updated.args[0].value)
        days = (
            days[1:] if days.startswith("-") else f"-{days}" if days.isidentifier() or days.isdigit() else f"-({days})"
        )
        return cst.parse_expression(f'pendulum.today("UTC").add(days={days})')

    def _stock_notes(self, call: cst.Call) -> None:
        given = {_keyword(arg): arg for arg in call.args}
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

    # templates
    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> cst.SimpleString:
        if "{{" not in updated_node.value and "{%" not in updated_node.value:
            return updated_node
        value = JINJA_BLOCK.sub(self._template_block, updated_node.value)
        if id(original_node) not in self.dropped_strings:
            for variable in sorted(removed_template_variables(value, self.target), key=lambda v: v.name):
                message = f"template variable `{variable.name}` is gone on {self.target}: write {variable.instead}"
                self._note(original_node, message)
        return updated_node.with_changes(value=value)

    def _template_block(self, match: re.Match[str]) -> str:
        def rename(word: re.Match[str]) -> str:
            variable = TEMPLATE_VARIABLES_BY_NAME.get(word.group(1))
            return variable.rename if variable and variable.rename else word.group(0)

        return re.sub(r"(?<![\w.'\"])([A-Za-z_]\w*)", rename, match.group(0))


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    assert isinstance(node, cst.Attribute)
    return f"{_dotted(node.value)}.{node.attr.value}"


def _asname(alias: cst.ImportAlias) -> str | None:
    if alias.asname is None:
        return None
    name = alias.asname.name
    return name.value if isinstance(name, cst.Name) else None


def _keyword(arg: cst.Arg) -> str | None:
    return arg.keyword.value if arg.keyword is not None else None


def _string(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _is_composer_kubeconfig(node: cst.BaseExpression) -> bool:
    value = _string(node)
    return value is not None and (
        value == COMPOSER_KUBECONFIG_PATH or bool(re.fullmatch(COMPOSER_KUBECONFIG_TEMPLATE, value.strip()))
    )


def _string_list(arg: cst.Arg | None) -> Sequence[str] | None:
    """Return a literal list of strings, [] when not given, None when not a literal."""
    if arg is None:
        return []
    try:
        value = ast.literal_eval(cst.Module([]).code_for_node(arg.value))
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, list) and all(isinstance(item, str) for item in value) else None
