"""Test session set-up shared by unit and integration tests.

Airflow reads its configuration on first import, so the environment is prepared here, before any
test module imports Airflow: a throw-away AIRFLOW_HOME, no example DAGs.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="composer-kpo-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
