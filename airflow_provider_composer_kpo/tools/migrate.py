"""``composer-kpo migrate``: rewrite stock KubernetesPodOperator tasks to ComposerPodOperator, and what the
target removed to its current form, keeping the file's formatting and comments (libcst).

What it rewrites, all from :mod:`.upgrade_facts`: imports that moved (and the KPO import to
ComposerPodOperator; on Airflow 2, ``airflow.sdk`` names to where Airflow 2 has them), ``days_ago(n)``,
``execution_date`` in templates; in calls (:mod:`.migrate_calls`), renamed arguments, the pre-5.0
``resources`` dict, ``is_delete_operator_pod``, Composer's kubeconfig ``config_file`` (ComposerPodOperator
finds it) and Airflow 1.10's ``Volume``/``VolumeMount``/``Port``/``Resources``/``PodRuntimeInfoEnv``
(:mod:`.legacy_models`). ``try``/``except ImportError`` guards left empty by moved imports go. What changes
meaning (namespace and startup timeout defaults, ``set -e`` injection) or cannot be rewritten safely is
said in a note, never changed silently. A second run changes nothing.

Needs the ``migrate`` extra (``pip install 'airflow-provider-composer-kpo[migrate]'``); ``check`` does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from .migrate_calls import CallRewriter, Note
from .target import Target
from .upgrade_facts import (
    COMPOSER_MODULE,
    COMPOSER_OPERATOR,
    JINJA_BLOCK,
    STOCK_KPO_NAMES,
    SYMBOLS,
    TEMPLATE_VARIABLES_BY_NAME,
    removed_template_variables,
)

__all__ = ["Migration", "Note", "migrate_source"]

_KUBERNETES_MODELS = "kubernetes.client.models"


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
        if rewriter.guarded_imports:
            migrated = migrated.visit(_EmptyTryRemover())
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


class _Rewriter(CallRewriter):
    def __init__(self, context: CodemodContext, target: Target) -> None:
        super().__init__(context, target)
        self.moves = _moves(target)
        self.moved_modules = {name.rsplit(".", 1)[0] for name in self.moves}
        self.tries = 0
        #: Whether an import that may go is inside a ``try`` (the guard may be left empty).
        self.guarded_imports = False

    def visit_Try(self, node: cst.Try) -> None:
        self.tries += 1

    def leave_Try(self, original_node: cst.Try, updated_node: cst.Try) -> cst.Try:
        self.tries -= 1
        return updated_node

    # names and imports
    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            name = _dotted(alias.name)
            if name in self.moved_modules:
                RemoveImportsVisitor.remove_unused_import(self.context, name, asname=_asname(alias))
                self.guarded_imports = self.guarded_imports or self.tries > 0
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
                self.guarded_imports = self.guarded_imports or self.tries > 0
            if qualified == _KUBERNETES_MODELS:
                self.k8s_alias = _asname(alias) or name
        return False

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        """Point ``from old import Name`` at the new module of each name that keeps its own name there.

        Adding the new import and dropping the old one would leave both binding the same name. A name
        that changes (KubernetesPodOperator) is imported anew, and the old import goes once unused.
        """
        node = updated_node.body[0] if len(updated_node.body) == 1 else None
        if not isinstance(node, cst.ImportFrom) or node.relative or isinstance(node.names, cst.ImportStar):
            return updated_node
        module = _dotted(node.module) if node.module else ""
        staying: list[cst.ImportAlias] = []
        moving: dict[str, list[cst.ImportAlias]] = {}
        for alias in node.names:
            home = self.moves.get(f"{module}.{_dotted(alias.name)}")
            if home and home[1] == _dotted(alias.name):
                moving.setdefault(home[0], []).append(alias)
            else:
                staying.append(alias)
        if not moving:
            return updated_node
        if not staying and len(moving) == 1:  # the statement as written, from its new module
            return updated_node.with_changes(body=[node.with_changes(module=cst.parse_expression(next(iter(moving))))])
        lines = []
        if staying:
            staying[-1] = staying[-1].with_changes(comma=node.names[-1].comma)
            lines.append(updated_node.with_changes(body=[node.with_changes(names=staying)]))
        for new_module, aliases in moving.items():
            names = [alias.with_changes(comma=cst.MaybeSentinel.DEFAULT) for alias in aliases]
            dotted = cast("cst.Attribute | cst.Name", cst.parse_expression(new_module))  # a module's dotted name
            line = cst.SimpleStatementLine([cst.ImportFrom(module=dotted, names=names)])
            # The first line keeps the statement's comments, above it and after it.
            lines.append(line if lines else updated_node.with_changes(body=line.body))
        return cst.FlattenSentinel(lines)

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


class _EmptyTryRemover(cst.CSTTransformer):
    """Drop ``try:`` statements left with nothing but ``pass`` once their moved imports went.

    ``try: from new import X`` / ``except ImportError: from old import X`` guards become two imports of
    ComposerPodOperator's module, or nothing: then the statement goes (an emptied block prints ``pass``).
    """

    def leave_Try(self, original_node: cst.Try, updated_node: cst.Try) -> cst.BaseStatement | cst.RemovalSentinel:
        blocks = [updated_node.body, *(handler.body for handler in updated_node.handlers)]
        blocks += [part.body for part in (updated_node.orelse, updated_node.finalbody) if part is not None]
        if all(_only_pass(block) for block in blocks):
            return cst.RemoveFromParent()
        return updated_node


def _only_pass(block: cst.BaseSuite) -> bool:
    statements = block.body if isinstance(block, cst.IndentedBlock) else [block]
    return all(
        isinstance(line, cst.SimpleStatementLine) and all(isinstance(small, cst.Pass) for small in line.body)
        for line in statements
    )
