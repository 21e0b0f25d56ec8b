"""Sphinx extension of this documentation: tables made from the code at build time, and links that work.

Directives (each a table; rows from :mod:`kpo_docs_data`, which the unit tests also read):

``kpo-defaults-table``     every argument ComposerPodOperator takes itself: our default, stock KPO's, meaning
``kpo-support-matrix``     the locked environments of requirements/ and the suites run on each
``kpo-check-codes``        ``composer-kpo check``'s codes (tools/codes.py)
``kpo-connection-fields``  the connection form's fields (hooks/connection_form.py)

Role ``kpo-value``: the value of a constant of the package, e.g. ``{kpo-value}`MAX_TIMEOUT_SECONDS```
writes 10800 (wherever the package defines it), so prose never restates a number by hand.

Also: Markdown files included from outside docs/ (CHANGELOG.md, CONTRIBUTING.md, benchmarks/RESULTS.md)
have their relative links pointed at the repository on GitHub, where those files live; and a
docstring's relative Python reference (``:class:`~..triggers.composer_pod.ComposerPodTrigger```,
relative to the module that holds the docstring) is resolved as Python would resolve the import.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from docutils import nodes
from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective, SphinxRole

sys.path.insert(0, str(Path(__file__).parent))

import kpo_docs_data as data

_ROLE_TARGET = re.compile(r"(:[\w:]+:`~?)(\.+)([\w.]+`)")


def absolute_target(module: str, target: str) -> str:
    """``target`` with leading dots (``..triggers.x``) made absolute from ``module``, as in an import."""
    dots = len(target) - len(target.lstrip("."))
    if not dots:
        return target
    base = module.split(".")[:-dots]
    return ".".join([*base, target[dots:]])


def absolute_references(text: str, module: str) -> str:
    """Every relative Python reference in reST ``text`` made absolute from ``module``."""
    return _ROLE_TARGET.sub(lambda m: m.group(1) + absolute_target(module, m.group(2) + m.group(3)), text)


# --- tables -------------------------------------------------------------------------------------


class TableDirective(SphinxDirective):
    """A table whose cells are text, inline code or reST; subclasses give the header and the rows."""

    has_content = False
    widths: Sequence[int] = ()

    def header(self) -> list[str]:
        raise NotImplementedError

    def rows(self) -> list[list[Any]]:
        """Rows of cells: a str is plain text, ``("code", text)`` inline code, ``("rst", text)`` reST."""
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        header, rows = self.header(), self.rows()
        table = nodes.table(classes=["kpo-generated"])
        group = nodes.tgroup(cols=len(header))
        table += group
        for width in self.widths or [1] * len(header):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += self._row(header)
        group += head
        body = nodes.tbody()
        for row in rows:
            body += self._row(row)
        group += body
        return [table]

    def _row(self, cells: Sequence[Any]) -> nodes.row:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += self._cell(cell)
            row += entry
        return row

    def _cell(self, cell: Any) -> list[nodes.Node]:
        if isinstance(cell, tuple) and cell[0] == "code":
            return [nodes.paragraph("", "", nodes.literal(cell[1], cell[1]))] if cell[1] else []
        if isinstance(cell, tuple) and cell[0] == "rst":
            return self._rst(cell[1])
        return [nodes.paragraph(str(cell), str(cell))]

    def _rst(self, text: str) -> list[nodes.Node]:
        """``text`` parsed as reST (a docstring's markup and roles), whatever parser this page uses."""
        document = new_document(self.state.document["source"], self.state.document.settings)
        Parser().parse(text, document)
        return list(document.children)


class DefaultsTable(TableDirective):
    widths = (16, 16, 16, 52)

    def header(self) -> list[str]:
        return [
            "argument",
            "ComposerPodOperator",
            f"stock KPO (cncf-kubernetes {data.installed_version('apache-airflow-providers-cncf-kubernetes')})",
            "what it does (the class docstring)",
        ]

    def rows(self) -> list[list[Any]]:
        from airflow_provider_composer_kpo import ComposerPodOperator

        module = ComposerPodOperator.__module__
        return [
            [
                ("code", row.name),
                ("code", row.ours),
                row.stock if row.stock == data.NOT_AN_ARGUMENT else ("code", row.stock),
                ("rst", absolute_references(row.meaning, module)),
            ]
            for row in data.defaults_rows()
        ]


class SupportMatrix(TableDirective):
    widths = (22, 8, 10, 9, 7, 26, 18)

    def header(self) -> list[str]:
        return ["environment", "Airflow", "cncf-kubernetes", "kubernetes", "Python", "what it is", "suites"]

    def rows(self) -> list[list[Any]]:
        return [
            [
                ("code", env.id),
                env.airflow,
                env.cncf_kubernetes,
                env.kubernetes,
                env.python,
                env.what,
                ", ".join(env.suites),
            ]
            for env in data.environments()
        ]


class CheckCodes(TableDirective):
    widths = (8, 8, 34, 50)

    def header(self) -> list[str]:
        return ["code", "severity", "meaning", "what to do (composer-kpo explain CODE)"]

    def rows(self) -> list[list[Any]]:
        return [
            [("code", c.code), c.severity, c.meaning, ("rst", _markdown_code(c.action))] for c in data.check_code_rows()
        ]


class ConnectionFields(TableDirective):
    widths = (22, 22, 10, 20, 26)

    def header(self) -> list[str]:
        return ["extra", "form label", "kind", "placeholder", "description"]

    def rows(self) -> list[list[Any]]:
        return [
            [("code", f.extra), f.label, f.kind, ("code", f.empty), f.description] for f in data.connection_field_rows()
        ]


def _markdown_code(text: str) -> str:
    """reST for plain text that marks code with single backticks, as the codes' texts do."""
    return re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", text)


class ValueRole(SphinxRole):
    """``{kpo-value}`NAME``` (or ``module.NAME``): the value of the package's constant (kpo_docs_data.constant)."""

    def run(self):
        try:
            value = data.constant(self.text)
        except (ImportError, AttributeError, LookupError) as error:
            message = self.inliner.reporter.error(f"kpo-value: {self.text}: {error}", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, message)], [message]
        return [nodes.Text(value)], []


# --- links in files included from outside docs/ ------------------------------------------------------

_MARKDOWN_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_REFERENCE_DEFINITION = re.compile(r"^(\[[^\]]+\]:\s*)(\S+)", re.MULTILINE)


def source_url() -> str:
    config = configparser.ConfigParser()
    config.read(data.REPO / "setup.cfg")
    urls = dict(line.split("=", 1) for line in config["metadata"]["project_urls"].strip().splitlines() if "=" in line)
    return {name.strip(): url.strip() for name, url in urls.items()}["Source"]


def repository_link(target: str, included_from: Path) -> str | None:
    """The GitHub URL for a relative link of a file outside docs/, or None to keep the link as it is."""
    if re.match(r"^([a-z]+:|#|/)", target):
        return None
    path, _, fragment = target.partition("#")
    resolved = (included_from.parent / path).resolve()
    try:
        relative = resolved.relative_to(data.REPO)
    except ValueError:
        return None
    if relative.parts[:1] == ("docs",):
        return None
    kind = "tree" if resolved.is_dir() else "blob"
    return f"{source_url()}/{kind}/main/{relative.as_posix()}" + (f"#{fragment}" if fragment else "")


def point_links_at_repository(app: Sphinx, relative_path: Path, parent_docname: str, content: list[str]) -> None:
    included = (Path(app.srcdir) / relative_path).resolve()
    if included.suffix != ".md" or Path(app.srcdir).resolve() in included.parents:
        return

    def fix(match: re.Match[str]) -> str:
        url = repository_link(match.group(2), included)
        return (
            match.group(0) if url is None else match.group(1) + url + (match.group(3) if match.lastindex == 3 else "")
        )

    content[0] = _REFERENCE_DEFINITION.sub(fix, _MARKDOWN_LINK.sub(fix, content[0]))


# --- Python references in docstrings, resolved as Python resolves names ------------------------------


def _named_object(module: str, target: str) -> Any:
    """The object ``target`` names in ``module``'s namespace: ``..x.Y`` relative to its package, ``Y``
    a name the module defines or imports, ``a.b.Y`` absolute; None when there is none."""
    if target.startswith("."):
        target = absolute_target(module, target)
    elif "." not in target:
        try:
            namespace = importlib.import_module(module)
        except ImportError:
            return None
        if hasattr(namespace, target):
            return getattr(namespace, target)
        imported = _imported_for_type_checking(namespace, target)
        return None if imported is None else _named_object(module, imported)
    parts = target.split(".")
    for split in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return None
        return obj
    return None


def _imported_for_type_checking(module: Any, name: str) -> str | None:
    """Where ``module`` imports ``name`` from under ``if TYPE_CHECKING:`` (``kubernetes.client.CoreV1Api`` in
    ``preflight/checks.py``), the names its annotations use without having them at run time; None when it does not."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            original = next(a.name for a in node.names if (a.asname or a.name) == name)
            return "." * node.level + (f"{node.module}." if node.module else "") + original
    return None


def _documented_names(obj: Any) -> list[str]:
    """Where the docs may document ``obj``: its public name in the package, then its own path."""
    import airflow_provider_composer_kpo as package

    names = [f"{package.__name__}.{name}" for name in package.__all__ if getattr(package, name, None) is obj]
    if inspect.ismodule(obj):
        names.append(obj.__name__)
    elif getattr(obj, "__module__", None) and getattr(obj, "__qualname__", None):
        names.append(f"{obj.__module__}.{obj.__qualname__}")
    return names


def resolve_docstring_reference(app: Sphinx, env: Any, node: nodes.Element, contnode: nodes.Node) -> Any:
    """A docstring's reference to one of the package's names that the Python domain did not find:
    ``:class:`~..triggers.composer_pod.ComposerPodTrigger``` (relative to the docstring's module, as an
    import is), ``:class:`PodStartupError``` (a name its module imports). Resolved to wherever these
    docs document the object; an object they do not document still warns."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    # The role dropped one leading dot and marked the reference "specific" (field types are, too).
    targets = ["." + target, target] if node.get("refspecific") else [target]
    owner = node.get("py:module") or ""
    documented = _named_object(owner, node.get("py:class") or "") if node.get("py:class") else None
    if documented is None and owner:
        documented = importlib.import_module(owner)
    module = getattr(documented, "__module__", None) or owner
    if inspect.ismodule(documented):
        module = documented.__name__
    if not module.startswith("airflow_provider_composer_kpo"):
        return None
    domain = env.get_domain("py")
    for candidate in targets:
        obj = _named_object(module, candidate)
        for name in _documented_names(obj) if obj is not None else []:
            found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)
            if found is not None:
                return found
    return None


def setup(app: Sphinx) -> dict:
    app.add_directive("kpo-defaults-table", DefaultsTable)
    app.add_directive("kpo-support-matrix", SupportMatrix)
    app.add_directive("kpo-check-codes", CheckCodes)
    app.add_directive("kpo-connection-fields", ConnectionFields)
    app.add_role("kpo-value", ValueRole())
    app.connect("include-read", point_links_at_repository)
    app.connect("missing-reference", resolve_docstring_reference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
