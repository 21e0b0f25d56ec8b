"""``composer-kpo check``: what in a DAG file breaks, or misbehaves, on a target Airflow / provider / Composer.

Each rule reads the parsed source (:mod:`.dag_source`) and the version tables (:mod:`.upgrade_facts`,
:mod:`.parameters`); the shell and timeout rules are the operator's own (:mod:`..pod.entrypoint`,
:mod:`..pod.timeouts`), so are the argument checks (:mod:`.argument_rules`), and the Composer rules are
:func:`..platform.rules.platform_findings`, so the check and the operator cannot disagree.

What it reports is a :class:`~..findings.Finding`, the operator's own type, placed at a line of the
file under a code (:class:`Diagnostic`); the code says how serious it is.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, cast

from ..findings import PARAMETER, Finding
from ..platform.composer import (
    COMPOSER_KUBECONFIG_PATH,
    COMPOSER_USER_WORKLOADS_NAMESPACE,
    config_map_fix_command,
    image_pull_secret_fix_command,
    secret_fix_command,
)
from ..pod.entrypoint import describe_location, errexit_gap
from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS, timeout_problem
from .argument_rules import expand_calls, refusals
from .codes import CODES, ERROR
from .dag_source import UNKNOWN, DagSource
from .dag_source import callee as _callee
from .dag_source import is_partial as _is_partial
from .target import Target, show_version
from .upgrade_facts import (
    COMPOSER_KUBECONFIG_TEMPLATE,
    STOCK_STARTUP_TIMEOUT_SECONDS,
    SYMBOLS_BY_NAME,
    arguments_for,
    module_span,
    removed_template_variables,
)

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+\d+(?:[\s,]+[A-Z]+\d+)*))?", re.I)
_TIMEOUTS = ("startup_timeout_seconds", "schedule_timeout_seconds")
#: Kubernetes models that name a Secret or ConfigMap: model -> (kind, name field, key field, as files).
_REFERENCING_MODELS = {
    "V1SecretVolumeSource": ("Secret", "secret_name", None, True),
    "V1SecretKeySelector": ("Secret", "name", "key", False),
    "V1SecretEnvSource": ("Secret", "name", None, False),
    "V1SecretProjection": ("Secret", "name", None, True),
    "V1ConfigMapVolumeSource": ("ConfigMap", "name", None, True),
    "V1ConfigMapKeySelector": ("ConfigMap", "name", "key", False),
    "V1ConfigMapEnvSource": ("ConfigMap", "name", None, False),
    "V1ConfigMapProjection": ("ConfigMap", "name", None, True),
}


#: ``Finding.kind`` of what the check finds besides parameters, Secrets and ConfigMaps.
FILE, IMPORT, TEMPLATE_VARIABLE, OPERATOR = "file", "import", "template variable", "operator"


@dataclass(frozen=True)
class Diagnostic:
    """A finding at a line and column of a DAG file, under the code that says how serious it is."""

    path: str
    line: int
    col: int
    code: str
    finding: Finding

    @property
    def message(self) -> str:
        return self.finding.message

    @property
    def fix(self) -> str:
        return self.finding.fix

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    def as_text(self) -> str:
        text = f"{self.path}:{self.line}:{self.col} {self.code} {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Reference:
    """A Secret or ConfigMap a task mounts or reads; ``namespace`` None when the file does not say."""

    kind: str
    name: str
    namespace: str | None
    keys: tuple[str, ...] = ()
    image_pull: bool = False
    files: bool = False  # mounted as a volume: the keys are files


@dataclass
class FileReport:
    findings: list[Diagnostic] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)


def check_source(path: str, text: str, target: Target) -> FileReport:
    """Return the findings for one DAG file's source, never running it."""
    try:
        source = DagSource.parse(path, text)
    except (SyntaxError, ValueError) as e:
        line = getattr(e, "lineno", None) or 1
        col = getattr(e, "offset", None) or 1
        message = getattr(e, "msg", None) or str(e)
        return FileReport([not_checked(path, message, line, col, "fix the syntax error")])
    report = _FileCheck(source, target).run()
    report.findings = _without_noqa(report.findings, text)
    return report


def not_checked(path: str, why: str, line: int = 1, col: int = 1, fix: str = "") -> Diagnostic:
    """Return the CK001 diagnostic for a file that cannot be read as Python, so nothing in it is checked."""
    return Diagnostic(path, line, col, "CK001", Finding(FILE, path, f"not checked: {why}", fix, fatal=True))


class _FileCheck:
    def __init__(self, source: DagSource, target: Target) -> None:
        self.source = source
        self.target = target
        self.report = FileReport()
        self._expands = expand_calls(source.tree)

    def run(self) -> FileReport:
        unreached = self._imports_that_cannot_fail_the_load()
        for node in ast.walk(self.source.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if id(node) not in unreached:
                    self._imports(node)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and ("{{" in node.value or "{%" in node.value)
            ):
                self._templates(node)
        kpo_calls = []
        for call, kind in self.source.calls():
            self._arguments(call, kind)
            if kind in ("stock", "composer"):
                kpo_calls.append((call, kind))
                self._operator_rules(call, kind)
                self._errexit(call, kind)
                self._timeouts(call, kind)
                self._platform(call, kind)
                if kind == "stock":
                    self._add(
                        call, "CK801", (OPERATOR, _callee(call)), "stock KubernetesPodOperator task", _MIGRATE_FIX
                    )
        self._references(kpo_calls)
        self.report.findings.sort(key=lambda f: (f.line, f.col, f.code))
        return self.report

    def _add(
        self, node: ast.AST, code: str, subject: tuple[str, str], message: str, fix: str = "", *, namespace: str = ""
    ) -> None:
        """Report ``message`` about ``subject`` (kind, name) at ``node``; a code of severity error is fatal."""
        kind, name = subject
        fatal = CODES[code].severity == ERROR
        self._place(node, code, Finding(kind, name, message, fix, fatal=fatal, namespace=namespace))

    def _place(self, node: ast.AST, code: str, finding: Finding) -> None:
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
        self.report.findings.append(Diagnostic(self.source.path, line, col, code, finding))

    def _subject(self, call: ast.Call, node: ast.AST) -> tuple[str, str]:
        """Return the parameter whose value ``node`` is (in the call or its ``.expand()``), else the operator."""
        for keyword in [*call.keywords, *getattr(self._expands.get(id(call)), "keywords", [])]:
            if keyword.value is node and keyword.arg:
                return PARAMETER, keyword.arg
        return OPERATOR, _callee(call)

    # CK1xx
    def _imports_that_cannot_fail_the_load(self) -> set[int]:
        """Return the ids of imports guarded by ``try``/``except ImportError``, and of fallbacks never run.

        A guarded import that fails runs its ``except`` branch instead of stopping the load; that
        branch runs only if one of the guarded imports fails on the target, and is checked then.
        """
        skipped: set[int] = set()
        for node in ast.walk(self.source.tree):
            if not (isinstance(node, ast.Try) and any(_catches_import_error(h.type) for h in node.handlers)):
                continue
            guarded = _imports_in(node.body)
            skipped.update(id(n) for n in guarded)
            if not any(self._would_fail(n) for n in guarded):
                skipped.update(id(n) for n in _imports_in(node.handlers))
        return skipped

    def _would_fail(self, node: ast.AST) -> bool:
        before = len(self.report.findings)
        self._imports(node)
        failed = len(self.report.findings) > before
        del self.report.findings[before:]
        return failed

    def _imports(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._module_import(node, alias.name)
            return
        assert isinstance(node, ast.ImportFrom)
        if not node.module or node.level:
            return
        self._module_import(node, node.module)
        for alias in node.names:
            qualified = f"{node.module}.{alias.name}"
            symbol = SYMBOLS_BY_NAME.get(qualified)
            if symbol is None:
                self._module_import(node, qualified)  # from airflow.kubernetes import secret
            elif not symbol.span.holds_on(self.target) and module_span(node.module) is None:
                self._import_finding(node, qualified, symbol.span)

    def _module_import(self, node: ast.AST, module: str) -> None:
        span = module_span(module)
        if span is not None and not span.holds_on(self.target):
            self._import_finding(node, module, span)

    def _import_finding(self, node: ast.AST, name: str, span: Any) -> None:
        why = span.why_not(self.target)
        code = "CK102" if why.startswith("added") else "CK101"
        message = f"`{name}` cannot be imported on {self.target}: {why}"
        self._add(node, code, (IMPORT, name), message, self._import_fix(name))

    def _import_fix(self, name: str) -> str:
        candidates = [symbol for symbol in SYMBOLS_BY_NAME.values() if name in (symbol.qualified, symbol.module)]
        if any(symbol.qualified.endswith(".KubernetesPodOperator") for symbol in candidates):
            return "import ComposerPodOperator from airflow_provider_composer_kpo (`composer-kpo migrate` does it)"
        for symbol in candidates:
            home = symbol.new_home(self.target)
            if home:
                return f"import {home[1]} from {home[0]} (`composer-kpo migrate` does it)"
        if name == "airflow.utils.dates.days_ago":
            return (
                '`composer-kpo migrate` writes days_ago(n) as pendulum.today("UTC").add(days=-n); '
                'a fixed start_date is better, e.g. pendulum.datetime(2024, 1, 1, tz="UTC")'
            )
        return "remove the import"

    # CK2xx
    def _arguments(self, call: ast.Call, kind: str) -> None:
        for argument in arguments_for(kind):
            keyword = self.source.keyword(call, argument.name)
            if keyword is None:
                continue
            version = self.target.version_of(argument.span.package)
            label = f"{_callee(call)}({argument.name}=...)"
            subject = (PARAMETER, argument.name)
            if not argument.span.holds_on(self.target):
                why = argument.span.why_not(self.target)
                if why.startswith("added"):
                    fix = f"use {argument.replacement}, or target a newer version"
                    self._add(keyword.value, "CK204", subject, f"{label}: {why}; {self.target} rejects it", fix)
                elif argument.ignored:
                    message = f"{label}: {why}, now silently ignored"
                    self._add(keyword.value, "CK202", subject, message, self._argument_fix(argument))
                else:
                    self._add(keyword.value, "CK201", subject, f"{label}: {why}", self._argument_fix(argument))
            elif argument.deprecated_from is not None and version >= argument.deprecated_from:
                since = f" since {show_version(argument.deprecated_from)}" if argument.deprecated_from > (0, 0) else ""
                message = f"{label} is deprecated{since}"
                self._add(keyword.value, "CK203", subject, message, self._argument_fix(argument))

    @staticmethod
    def _argument_fix(argument: Any) -> str:
        if argument.name == "resources":
            return (
                "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...}) "
                "(`composer-kpo migrate` converts a literal dict)"
            )
        if argument.name == "is_delete_operator_pod":
            return "on_finish_action='delete_pod' (True) or 'keep_pod' (False) (`composer-kpo migrate` does it)"
        if argument.renames:
            return f"rename it to {argument.replacement} (`composer-kpo migrate` does it)"
        return f"use {argument.replacement}"

    def _operator_rules(self, call: ast.Call, kind: str) -> None:
        for refusal in refusals(self.source, call, kind, self.target, expand=self._expands.get(id(call))):
            subject = self._subject(call, refusal.node)
            self._add(refusal.node, refusal.code, subject, refusal.message, refusal.fix)

    # CK3xx
    def _templates(self, node: ast.Constant) -> None:
        text = cast(str, node.value)  # the caller passes string constants only
        for variable in removed_template_variables(text, self.target):
            name = variable.name
            why = variable.span.why_not(self.target)
            message = f"template variable `{name}` in {_shorten(text)!r}: {why}"
            if name == "conf" and re.search(COMPOSER_KUBECONFIG_TEMPLATE, text):
                fix = (
                    "drop config_file: ComposerPodOperator finds Composer's kubeconfig itself "
                    "(`composer-kpo migrate` does it); with stock KPO write "
                    f"config_file={COMPOSER_KUBECONFIG_PATH!r}"
                )
            elif variable.rename:
                fix = f"write `{variable.rename}` (`composer-kpo migrate` does it)"
            else:
                fix = f"write {variable.instead}"
            self._add(node, "CK301", (TEMPLATE_VARIABLE, name), message, fix)

    # CK4xx
    def _errexit(self, call: ast.Call, kind: str) -> None:
        cmds, arguments = self._static_list(call, "cmds"), self._static_list(call, "arguments")
        if cmds is UNKNOWN or arguments is UNKNOWN:
            return
        policy = self._errexit_policy(call) if kind == "composer" else "off"
        if policy not in ("off", "require"):
            return
        # Templates are checked as written: a placeholder never renders to `set -e`.
        entry, _ = errexit_gap(cmds, arguments)
        if entry is None:
            return
        where = describe_location(entry, len(cmds))
        parameter = "cmds" if where.startswith("cmds") else "arguments"
        node = self.source.keyword(call, parameter)
        what = (
            f"the {entry.shell} script in {where}" if entry.inline else f"{entry.shell} running the script in {where}"
        )
        if policy == "require":
            # A mapped task (.partial) is built, and its script checked, only when it runs.
            self._add(
                node.value if node else call,
                "CK206" if _is_partial(call) else "CK402",
                (PARAMETER, parameter),
                f"{what} does not enable errexit, and errexit_policy='require' rejects it",
                "make `set -e` its first command (bash: `set -eo pipefail`), or use errexit_policy='inject'",
            )
            return
        fix = (
            "make `set -e` its first command (bash: `set -eo pipefail`); ComposerPodOperator adds it "
            "(`composer-kpo migrate`)"
            if kind == "stock"
            else "make `set -e` its first command, or drop errexit_policy='off'"
        )
        self._add(node.value if node else call, "CK401", (PARAMETER, parameter), f"{what} runs without errexit", fix)

    def _errexit_policy(self, call: ast.Call) -> str:
        keyword = self.source.keyword(call, "errexit_policy")
        if keyword is None:
            return "inject"
        if isinstance(keyword.value, ast.Attribute):  # ErrexitPolicy.REQUIRE
            return keyword.value.attr.lower()
        value = self.source.evaluate(keyword.value)
        return str(value) if isinstance(value, str) else "unknown"

    def _static_list(self, call: ast.Call, name: str) -> Any:
        keyword = self.source.keyword(call, name)
        if keyword is None:
            return []
        value = self.source.evaluate(keyword.value)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return UNKNOWN

    # CK5xx
    def _timeouts(self, call: ast.Call, kind: str) -> None:
        given = False
        for parameter in _TIMEOUTS:
            keyword = self.source.keyword(call, parameter)
            if keyword is None:
                continue
            given = given or parameter == "startup_timeout_seconds"
            value = self.source.evaluate(keyword.value)
            if value is UNKNOWN or (value is None and parameter == "schedule_timeout_seconds"):
                continue
            message = timeout_problem(parameter, value)
            if message is not None:
                # A mapped task (.partial) is built, and its arguments checked, only when it runs.
                if kind == "composer" and not _is_partial(call):
                    self._add(
                        keyword.value,
                        "CK501",
                        (PARAMETER, parameter),
                        message,
                        f"use a value in range; the default is {DEFAULT_STARTUP_TIMEOUT_SECONDS}",
                    )
                else:
                    fix = f"use a value in range; ComposerPodOperator's default is {DEFAULT_STARTUP_TIMEOUT_SECONDS}"
                    self._add(keyword.value, "CK502", (PARAMETER, parameter), message, fix)
        if kind == "stock" and not given:
            self._add(
                call,
                "CK503",
                (PARAMETER, "startup_timeout_seconds"),
                f"no startup_timeout_seconds: stock KPO gives up after {STOCK_STARTUP_TIMEOUT_SECONDS} s, "
                "too short for a big image on a new node",
                f"startup_timeout_seconds={DEFAULT_STARTUP_TIMEOUT_SECONDS}, or ComposerPodOperator (its default)",
            )

    # CK6xx
    def _platform(self, call: ast.Call, kind: str) -> None:
        if not self.target.composer or self.target.composer < 2:
            return
        # Imported here for its cost: the rules load the kubernetes client (over a thousand modules),
        # which `composer-kpo check` needs only for a Composer target.
        from ..platform.rules import platform_findings

        values: dict[str, Any] = {}
        for parameter in ("namespace", "container_resources", "affinity", "node_selector", "tolerations"):
            keyword = self.source.keyword(call, parameter)
            value = self.source.evaluate(keyword.value) if keyword else None
            values[parameter] = None if value is UNKNOWN else value
        if kind == "composer" and self.source.keyword(call, "namespace") is None:
            values["namespace"] = COMPOSER_USER_WORKLOADS_NAMESPACE
        for finding in platform_findings(composer_major=self.target.composer, **values):
            keyword = self.source.keyword(call, finding.name)
            message = f"Composer {self.target.composer}: {finding.name}={finding.value}: {finding.message}"
            self._place(keyword.value if keyword else call, "CK601", replace(finding, message=message))

    # CK7xx
    def _references(self, kpo_calls: list[tuple[ast.Call, str]]) -> None:
        namespace_of = self._namespaces_by_node(kpo_calls)
        environ = {"COMPOSER_VERSION": f"{self.target.composer}.0"} if self.target.composer else {}
        for node in ast.walk(self.source.tree):
            if not isinstance(node, ast.Call):
                continue
            for reference in self._referenced(node, namespace_of.get(id(node))):
                self.report.references.append(reference)
                where = reference.namespace or "<the task's namespace>"
                if reference.image_pull:
                    fix = image_pull_secret_fix_command(reference.name, where, environ)
                else:
                    command = secret_fix_command if reference.kind == "Secret" else config_map_fix_command
                    files = reference.keys if reference.files else ()
                    fix = command(
                        reference.name,
                        where,
                        keys=reference.keys,
                        file_keys=files,
                        mounted=reference.files,
                        environ=environ,
                    )
                keys = f" (keys: {', '.join(reference.keys)})" if reference.keys else ""
                code = "CK701" if reference.kind == "Secret" else "CK702"
                self._add(
                    node,
                    code,
                    (reference.kind, reference.name),
                    f"{reference.kind} {where}/{reference.name}{keys} must exist before the task runs",
                    f"if missing: {fix}",
                    namespace=reference.namespace or "",
                )

    def _referenced(self, call: ast.Call, namespace: str | None) -> Iterable[Reference]:
        qualified = self.source.qualified_name(call.func) or ""
        if qualified.endswith(".Secret") and (
            qualified in SYMBOLS_BY_NAME or qualified.startswith("airflow_provider_composer_kpo")
        ):
            name = self._argument(call, 2, "secret")
            key = self._argument(call, 3, "key")
            files = self._argument(call, 0, "deploy_type") == "volume"
            if isinstance(name, str):
                yield Reference("Secret", name, namespace, (key,) if isinstance(key, str) else (), files=files)
            return
        model = self.source.kubernetes_model_name(call.func)
        if model in _REFERENCING_MODELS:
            kind, name_field, key_field, files = _REFERENCING_MODELS[model]
            name = self._argument(call, None, name_field)
            key = self._argument(call, None, key_field) if key_field else None
            if isinstance(name, str):
                yield Reference(kind, name, namespace, (key,) if isinstance(key, str) else (), files=files)
            return
        operator_kind = self.source.call_kind_of(call.func)
        if operator_kind in ("stock", "composer"):
            for name in self._names(call, "configmaps"):
                yield Reference("ConfigMap", name, namespace)
            for name in self._names(call, "image_pull_secrets"):
                yield Reference("Secret", name, namespace, image_pull=True)

    def _names(self, call: ast.Call, parameter: str) -> list[Any]:
        """Return the names given: strings, a model's ``name`` (None for an item without one)."""
        keyword = self.source.keyword(call, parameter)
        value = self.source.evaluate(keyword.value) if keyword else None
        if isinstance(value, str):  # image_pull_secrets="a,b"
            return [name.strip() for name in value.split(",") if name.strip()]
        if isinstance(value, list):
            return [item if isinstance(item, str) else getattr(item, "name", None) for item in value if item]
        return []

    def _argument(self, call: ast.Call, position: int | None, name: str) -> Any:
        keyword = self.source.keyword(call, name)
        if keyword is not None:
            return self.source.evaluate(keyword.value)
        if position is not None and position < len(call.args):
            return self.source.evaluate(call.args[position])
        return None

    def _namespaces_by_node(self, kpo_calls: list[tuple[ast.Call, str]]) -> dict[int, str | None]:
        """Map each call node in or used by a KPO task to that task's namespace (module-level values too)."""
        assigned = {
            node.targets[0].id: node.value
            for node in self.source.tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        }
        namespaces: dict[int, str | None] = {}
        for call, kind in kpo_calls:
            keyword = self.source.keyword(call, "namespace")
            value = self.source.evaluate(keyword.value) if keyword else None
            if self.target.composer and self.target.composer >= 3:
                namespace: str | None = COMPOSER_USER_WORKLOADS_NAMESPACE
            elif isinstance(value, str) and "{{" not in value:
                namespace = value
            elif keyword is None:
                namespace = COMPOSER_USER_WORKLOADS_NAMESPACE if kind == "composer" else "default"
            else:
                namespace = None
            for node in ast.walk(call):
                targets = [node]
                if isinstance(node, ast.Name) and node.id in assigned:
                    targets = list(ast.walk(assigned[node.id]))
                for target in targets:
                    namespaces.setdefault(id(target), namespace)
        return namespaces


_MIGRATE_FIX = "`composer-kpo migrate --write PATH` rewrites it to ComposerPodOperator"


#: Exceptions a failed import raises, or that catch one.
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _imports_in(nodes: Iterable[ast.AST]) -> list[ast.AST]:
    return [n for node in nodes for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _catches_import_error(caught: ast.expr | None) -> bool:
    if caught is None:  # a bare except
        return True
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(
        (n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None) in _IMPORT_ERRORS
        for n in names
    )


def _shorten(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _without_noqa(findings: list[Diagnostic], text: str) -> list[Diagnostic]:
    """Drop findings on lines marked ``# noqa`` (all codes) or ``# noqa: CK401, CK503`` (those)."""
    lines = text.splitlines()
    kept = []
    for finding in findings:
        line = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        match = _NOQA.search(line)
        if match and (not match.group("codes") or finding.code in re.split(r"[\s,]+", match.group("codes").upper())):
            continue
        kept.append(finding)
    return kept
