"""The soak on the local Airflow deployment, at a size for `make test` (tests/soak/run.py does the work).

Needs the deployment's exports in the environment and the soak DAGs in its DAGs folder
(``EXTRA_DAGS=$PWD/tests/soak/dags`` for airflow-up.sh); without the exports it is skipped with the
reason, or fails with ``COMPOSER_KPO_REQUIRE_AIRFLOW=1`` (the ``airflow_api`` fixture,
tests/conftest.py). The seed is ``$COMPOSER_KPO_SOAK_SEED`` or the major's ``DEFAULT_SEEDS``; it is printed first,
and the failure message repeats it, so that ``make soak N=20 SEED=...`` replays the plan.
"""

from __future__ import annotations

import io
import os

import pytest

# Last in make test's fault stage, on the same deployment, after the fault cases: its faults
# (scheduler, worker, Postgres, Redis restarts; the kubelet's and API server's) would disturb them.
pytestmark = [pytest.mark.faults, pytest.mark.disrupts_cluster]

#: Tasks and faults per run in `make test` (tests/soak/plan.py's default: one fault per five tasks).
SOAK_TASKS = 20
#: Per Airflow major: together their plans inject eight of the eleven fault kinds (tests/soak/plan.py);
#: 20261204 kubelet, Redis, a cleared task, worker SIGTERM; 20261209 API server, eviction, triggerer,
#: worker SIGKILL.
DEFAULT_SEEDS = {2: 20261204, 3: 20261209}


def test_soak_has_no_violation(airflow_api):
    from airflow_provider_composer_kpo.compat import AIRFLOW_V_3_PLUS
    from tests.soak.run import run

    seed = int(os.environ.get("COMPOSER_KPO_SOAK_SEED") or DEFAULT_SEEDS[3 if AIRFLOW_V_3_PLUS else 2])
    print(f"soak seed {seed} ({SOAK_TASKS} tasks)", flush=True)
    output = io.StringIO()

    class Tee:
        def write(self, text: str) -> None:
            output.write(text)
            print(text, end="", flush=True)

        def flush(self) -> None:
            pass

    violations = run(SOAK_TASKS, seed, out=Tee())
    assert not violations, f"seed {seed}: {len(violations)} violation(s)\n" + "\n".join(
        f"[{v.rule}] {v.message}" for v in violations
    )
