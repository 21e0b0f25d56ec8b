"""One task try in its own process, so a test can SIGKILL it like a dying worker.

python -m tests.integration.task_process '{"dag_id": ..., "task_id": ..., "run_id": ...,
                                           "try_number": 1, "script": "...", "kubeconfig": ...}'
"""

from __future__ import annotations

import json
import os
import sys

from .operator_harness import BUSYBOX, CONNECTION, make_dag, run


def main() -> None:
    spec = json.loads(sys.argv[1])
    os.environ["COMPOSER_KPO_KUBECONFIG"] = spec["kubeconfig"]
    os.environ["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = CONNECTION
    from airflow_provider_composer_kpo import ComposerPodOperator

    operator = ComposerPodOperator(
        dag=make_dag(spec["dag_id"]),
        task_id=spec["task_id"],
        image=BUSYBOX,
        cmds=["sh", "-c", spec["script"]],
        on_finish_action="keep_pod",
    )
    run(operator, run_id=spec["run_id"], try_number=spec["try_number"])


if __name__ == "__main__":
    main()
