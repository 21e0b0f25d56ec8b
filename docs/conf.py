"""Sphinx configuration of the documentation site.

Built by ``make docs`` (dev/docs.sh) and make test's docs stage, with warnings as errors and every
reference checked (``-W --keep-going -n``); on Read the Docs by .readthedocs.yaml. No intersphinx:
the build has no internet, so references to Airflow, the Kubernetes client and the standard
library's typing internals are listed in ``nitpick_ignore_regex``; the package's own never are.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# autodoc and the generated tables import Airflow, which reads (and writes) its configuration on
# import: a throw-away AIRFLOW_HOME, as the test suites use. Nothing of this machine's Composer or
# Kubernetes settings may leak into the tables (the operator reads them when it is built).
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="composer-kpo-docs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
for name in ("COMPOSER_VERSION", "COMPOSER_KPO_KUBECONFIG", "KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
    os.environ.pop(name, None)

import airflow_provider_composer_kpo  # noqa: E402 (after the environment above)

project = "airflow-provider-composer-kpo"
author = "The airflow-provider-composer-kpo authors"
copyright = author
release = version = airflow_provider_composer_kpo.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "kpo_docs"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext"]
# `#heading` links in the included CONTRIBUTING.md, CHANGELOG.md and benchmarks/RESULTS.md.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

nitpicky = True
nitpick_ignore_regex = [
    # Airflow, the cncf-kubernetes provider and the Kubernetes client: no intersphinx without internet.
    (r"py:.*", r"airflow(\..+)?"),
    (r"py:.*", r"kubernetes(\..+)?"),
    (r"py:.*", r"k8s\..+"),  # kubernetes.client.models, as the package imports it
    (r"py:.*", r"pendulum(\..+)?"),
    (r"py:.*", r"(typing|collections\.abc)\..+"),
]

autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"

html_theme = "furo"
html_title = f"airflow-provider-composer-kpo {release}"
html_static_path = []
