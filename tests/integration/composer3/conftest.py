"""Composer 3 simulation runs: stock KubernetesPodOperator + our test double of Google's code.

These tests need Airflow to have imported tests/composer3/airflow_local_settings.py with
``COMPOSER_VERSION=3.x`` -- that happens once, when Airflow is first imported -- so they run in
their own pytest process (dev/test.sh does this):

    PYTHONPATH=tests/composer3 COMPOSER_VERSION=3.0.1 \\
        .venvs/af210-k1010/bin/python -m pytest tests/integration/composer3 -m integration

The other integration runs ignore this directory (``--ignore=tests/integration/composer3``).
Without that set-up every test here is skipped with the reason; with
``COMPOSER_KPO_REQUIRE_CLUSTER=1`` (CI, dev/test.sh) it fails instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

DOUBLE = Path(__file__).resolve().parents[2] / "composer3" / "airflow_local_settings.py"


def double_problem() -> str | None:
    """None when Airflow loaded the Composer 3 double, else why not."""
    version = os.environ.get("COMPOSER_VERSION", "")
    if version.split(".")[0] != "3":
        return f"COMPOSER_VERSION is {version!r}, not 3.x"
    import airflow.settings  # noqa: F401  (imports airflow_local_settings, if it is on sys.path)

    module = sys.modules.get("airflow_local_settings")
    if module is None or Path(module.__file__).resolve() != DOUBLE:
        where = getattr(module, "__file__", None)
        return f"Airflow did not load {DOUBLE} as airflow_local_settings (loaded: {where}); is it on PYTHONPATH?"
    if not hasattr(module, "pod_mutation_hook"):
        return "airflow_local_settings has no pod_mutation_hook"
    return None


@pytest.fixture(scope="session")
def composer3_double() -> None:
    problem = double_problem()
    if problem:
        hint = "run with PYTHONPATH=tests/composer3 COMPOSER_VERSION=3.0.1 (see this conftest)"
        if os.environ.get("COMPOSER_KPO_REQUIRE_CLUSTER", "") not in ("", "0", "false", "no"):
            pytest.fail(f"Composer 3 simulation not set up: {problem}; {hint}", pytrace=False)
        pytest.skip(f"Composer 3 simulation not set up: {problem}; {hint}")
