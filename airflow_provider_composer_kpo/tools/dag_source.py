"""A DAG file as source: names resolved through its imports, values known without running it.

Nothing here imports or executes the file. A value is known when it is written out in the file (a
literal, a module-level constant, a Kubernetes model built from literals); everything else is
:data:`UNKNOWN`, and checks on it are skipped rather than guessed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Iterator, cast

from .upgrade_facts import COMPOSER_KPO_NAMES, COMPOSER_MODULE, DAG_NAMES, STOCK_KPO_NAMES


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
_KUBERNETES_MODELS = ("kubernetes.client.models.", "kubernetes.client.")
#: The package's DAG helpers that are pure, by every name a DAG file imports them under.
_HELPERS = {
    f"{module}.{name}": name
    for name in ("gke_node_pool_affinity",)
    for module in (COMPOSER_MODULE, f"{COMPOSER_MODULE}.pod.helpers")
}


@dataclass
class DagSource:
    """One parsed DAG file: its tree, what its names refer to, and its module-level constants."""

    path: str
    text: str
    tree: ast.Module
    #: local name -> qualified name, from every import in the file.
    imports: dict[str, str] = field(default_factory=dict)
    #: local classes that subclass an operator kind ("stock" or "composer").
    local_operators: dict[str, str] = field(default_factory=dict)
    #: local operator class -> the keywords its ``__init__`` (or a local base's) adds; absent: no ``__init__``.
    local_keywords: dict[str, frozenset[str]] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: str, text: str) -> DagSource:
        """Parse ``text``; raises SyntaxError (or ValueError for NUL bytes) when it is not Python."""
        source = cls(path, text, ast.parse(text, filename=path))
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        source.imports[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".", 1)[0]
                        source.imports[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    source.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in source.tree.body:  # in order: a constant may use the ones above it
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = source.evaluate(node.value)
                if value is not UNKNOWN:
                    source.constants[node.targets[0].id] = value
            elif isinstance(node, ast.ClassDef):
                kinds = {source.call_kind_of(base) for base in node.bases}
                kind = "composer" if "composer" in kinds else "stock" if "stock" in kinds else None
                if kind:
                    source.local_operators[node.name] = kind
                    source._record_keywords(node)
        return source

    def _record_keywords(self, node: ast.ClassDef) -> None:
        """Record the keywords a local operator class takes beyond its base: ``__init__``'s parameters and the
        keys it reads from ``**kwargs`` (``kwargs.pop("team")``), with those of local bases."""
        keywords: set[str] = set()
        defines_init = False
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self.local_keywords:
                keywords |= self.local_keywords[base.id]
                defines_init = True
        for init in node.body:
            if not (isinstance(init, ast.FunctionDef) and init.name == "__init__"):
                continue
            defines_init = True
            arguments = init.args
            keywords |= {a.arg for a in [*arguments.posonlyargs, *arguments.args[1:], *arguments.kwonlyargs]}
            if arguments.kwarg is not None:
                keywords |= _keys_read(init, arguments.kwarg.arg)
        if defines_init:
            self.local_keywords[node.name] = frozenset(keywords)

    def qualified_name(self, node: ast.AST) -> str | None:
        """Return what a name or dotted name refers to through the file's imports, e.g.
        ``kubernetes_pod_operator.KubernetesPodOperator`` -> ``airflow.contrib...KubernetesPodOperator``."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.imports.get(node.id)
        if base is None:
            return None
        return ".".join([base, *reversed(parts)])

    def call_kind_of(self, func: ast.AST) -> str | None:
        """Return "composer", "stock", "dag", "operator" or None for what ``func`` names."""
        if isinstance(func, ast.Attribute) and func.attr == "partial":  # Operator.partial(...).expand(...)
            func = func.value
        if isinstance(func, ast.Name) and func.id in self.local_operators:
            return self.local_operators[func.id]
        name = self.qualified_name(func)
        if name is None:
            return None
        if name in COMPOSER_KPO_NAMES:
            return "composer"
        if name in STOCK_KPO_NAMES:
            return "stock"
        if name in DAG_NAMES:
            return "dag"
        if name.startswith("airflow.") and name.endswith(("Operator", "Sensor")):
            return "operator"
        return None

    def calls(self) -> Iterator[tuple[ast.Call, str]]:
        """Yield every call of an operator or DAG, with its kind (see :meth:`call_kind_of`)."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                kind = self.call_kind_of(node.func)
                if kind:
                    yield node, kind

    def evaluate(self, node: ast.AST | None) -> Any:
        """Return the value ``node`` has without running anything, or :data:`UNKNOWN`."""
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.evaluate(item) for item in node.elts]
            return UNKNOWN if any(item is UNKNOWN for item in items) else list(items)
        if isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):  # {**other}
                return UNKNOWN
            keys = [self.evaluate(key) for key in node.keys]
            values = [self.evaluate(value) for value in node.values]
            if any(item is UNKNOWN for item in keys + values):
                return UNKNOWN
            return dict(zip(keys, values))
        if isinstance(node, ast.Name):
            return self.constants.get(node.id, UNKNOWN)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.evaluate(node.operand)
            return -operand if isinstance(operand, (int, float)) and not isinstance(operand, bool) else UNKNOWN
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.evaluate(node.left), self.evaluate(node.right)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            return UNKNOWN
        if isinstance(node, ast.Call):
            helper = _HELPERS.get(self.qualified_name(node.func) or "")
            return self._helper(helper, node) if helper else self._kubernetes_model(node)
        return UNKNOWN

    def keyword(self, call: ast.Call, name: str) -> ast.keyword | None:
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword
        return None

    def kubernetes_model_name(self, func: ast.AST) -> str | None:
        """Return ``V1Affinity`` for ``k8s.V1Affinity`` and the like, None for anything else."""
        name = self.qualified_name(func)
        if name is None or not name.startswith(_KUBERNETES_MODELS):
            return None
        last = name.rsplit(".", 1)[-1]
        return last if last[:2] in ("V1", "V2") else None

    def _helper(self, name: str, call: ast.Call) -> Any:
        """Return what one of the package's pure helpers (pod/helpers.py) returns for literal arguments."""
        args = [self.evaluate(arg) for arg in call.args]
        if call.keywords or any(arg is UNKNOWN for arg in args):
            return UNKNOWN
        from ..pod import helpers

        try:
            return getattr(helpers, name)(*args)
        except (TypeError, ValueError):
            return UNKNOWN

    def _kubernetes_model(self, call: ast.Call) -> Any:
        model = self.kubernetes_model_name(call.func)
        if model is None:
            return UNKNOWN
        args = [self.evaluate(arg) for arg in call.args]
        kwargs = {keyword.arg: self.evaluate(keyword.value) for keyword in call.keywords}
        if None in kwargs or any(value is UNKNOWN for value in [*args, *kwargs.values()]):
            return UNKNOWN
        from kubernetes.client import models

        cls = getattr(models, model, None)
        if cls is None:
            return UNKNOWN
        try:  # the client's constructors only store and validate their arguments
            return cls(*args, **cast("dict[str, Any]", kwargs))  # no None key: checked above
        except (TypeError, ValueError):
            return UNKNOWN


def is_partial(call: ast.Call) -> bool:
    """Return True for ``Operator.partial(...)``."""
    return isinstance(call.func, ast.Attribute) and call.func.attr == "partial"


def callee(call: ast.Call) -> str:
    """Return the name a call uses for its operator: ``KPO`` for ``KPO(...)`` and ``KPO.partial(...)``."""
    func = cast(ast.Attribute, call.func).value if is_partial(call) else call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "call")


def _keys_read(function: ast.FunctionDef, kwargs: str) -> set[str]:
    """Return the string keys ``function`` reads from its ``**kwargs`` dict: ``kwargs["a"]``, ``kwargs.pop("a")``."""
    keys = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == kwargs:
            key = node.slice
            if type(key).__name__ == "Index":  # Python 3.8 wraps the key
                key = key.value  # type: ignore[attr-defined]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == kwargs
            and node.func.attr in ("pop", "get", "setdefault")
            and node.args
        ):
            key = node.args[0]
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value)
    return keys
