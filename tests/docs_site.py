"""The documentation site's sources (docs/), for tests that hold them to the code without Sphinx.

``docs/_ext/kpo_docs_data.py`` is the data behind the site's generated tables and imports no
Sphinx, so every unit environment can load it; the pages are read as text.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
_DATA_MODULE = "kpo_docs_data"


def docs_data() -> ModuleType:
    """``docs/_ext/kpo_docs_data.py``, loaded once under its own name (as the Sphinx extension imports it)."""
    if _DATA_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(_DATA_MODULE, DOCS / "_ext" / f"{_DATA_MODULE}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_DATA_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[_DATA_MODULE]


def pages() -> dict[str, str]:
    """``{name: text}`` of every page of the site (``index``, ``operator``, ...), Markdown and reST."""
    return {
        path.relative_to(DOCS).with_suffix("").as_posix(): path.read_text()
        for path in sorted(DOCS.rglob("*"))
        if path.suffix in (".md", ".rst") and not path.relative_to(DOCS).parts[0].startswith("_")
    }


def directives(text: str, name: str) -> list[str]:
    """The arguments of every ``name`` directive in a page: MyST's ```` ```{name} arg```` and reST's
    ``.. name:: arg``."""
    myst = re.findall(rf"^(?:```+|:::+)\{{{re.escape(name)}\}}[ \t]*(.*)$", text, re.MULTILINE)
    rst = re.findall(rf"^\s*\.\. {re.escape(name)}::[ \t]*(.*)$", text, re.MULTILINE)
    return [argument.strip() for argument in myst + rst]


def roles(text: str, name: str) -> list[str]:
    """The contents of every ``{name}`...``` role (MyST) and ``:name:`...``` role (reST) in a page."""
    return re.findall(rf"\{{{re.escape(name)}\}}`([^`]+)`", text) + re.findall(rf":{re.escape(name)}:`([^`]+)`", text)
