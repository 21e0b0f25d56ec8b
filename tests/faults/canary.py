"""The canary run of tests/faults/test_secrets_masked.py: connections holding a kubeconfig, and the
DAG run that uses them, started before the fault cases (tests/faults/conftest.py) and followed in a
thread meanwhile, so that it adds no time to the suite."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import urllib.error
from pathlib import Path

import yaml

from tests import cluster_lock
from tests.faults.dags.composer_kpo_canary import BROKEN_CONN, CANARY_CONN, DAG_ID

TOKEN = "canary-token-3c1d9e7a55"
TASKS = ("pod", "deferred", "templated", "broken", "print_connection")


def put_connection(airflow, conn_id: str, kube_config: str) -> None:
    # The XCom sidecar's image from the connection, as on Composer: upstream's default (alpine) is
    # not on the machine, which has no registry access.
    extra = {"kube_config": kube_config, "xcom_sidecar_container_image": "busybox:1.36"}
    body = {"connection_id": conn_id, "conn_type": "kubernetes", "extra": json.dumps(extra)}
    try:
        airflow.request("DELETE", f"/connections/{conn_id}")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    airflow.request("POST", "/connections", body)


class CanaryRun:
    """The DAG run, followed to its end in a thread that holds the cluster lock shared meanwhile."""

    def __init__(self, airflow) -> None:
        self.airflow = airflow
        config = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
        self.key_data = config["users"][0]["user"]["client-key-data"]
        decoded = base64.b64decode(self.key_data).decode().splitlines()
        self.key_line = next(line for line in decoded if line and not line.startswith("-----"))
        put_connection(airflow, CANARY_CONN, json.dumps(config))
        put_connection(airflow, BROKEN_CONN, '{"users": [{"user": {"token": "' + TOKEN + '"}}')
        airflow.wait_for_dag(DAG_ID)
        from tests.faults.driver import Cluster

        Cluster().ensure_namespace()  # the fault cases' namespace, which the pod task runs in
        self.states: dict[str, str] = {}
        self.run_id = ""
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._error: BaseException | None = None
        #: What the database's trigger table held for this package's triggers while they ran:
        #: (the trigger's keywords as Airflow decrypts them, the stored column as is).
        self.trigger_rows: list[tuple[dict, str]] = []
        self._done = threading.Event()
        threading.Thread(target=self._read_trigger_rows, daemon=True).start()
        self._thread.start()

    def _follow(self) -> None:
        try:
            with cluster_lock.cluster():
                self.run_id = self.airflow.trigger(DAG_ID)
                deadline = time.monotonic() + 600
                for task in TASKS:
                    self.states[task] = self.airflow.wait_final(DAG_ID, self.run_id, deadline, task=task)["state"]
        except BaseException as error:  # raised in the test, where pytest reports it
            self._error = error
        finally:
            self._done.set()

    def _read_trigger_rows(self) -> None:
        """Keep the trigger table's rows of this package's triggers, every half second, until the run ends."""
        from airflow.models.trigger import Trigger
        from airflow.utils.session import create_session

        while not self._done.wait(0.5):
            try:
                with create_session() as session:
                    ours = Trigger.classpath.like("airflow_provider_composer_kpo.%")
                    rows = session.query(Trigger).filter(ours).all()
                    for row in rows:
                        stored = getattr(row, "encrypted_kwargs", None) or ""  # Airflow 2.9+ stores them encrypted
                        self.trigger_rows.append((dict(row.kwargs), str(stored)))
            except Exception as error:  # the database restarting (a fault case): read again next time
                print(f"canary: reading the trigger table failed: {type(error).__name__}: {error}")

    def finished(self) -> dict[str, str]:
        self._thread.join(timeout=660)
        if self._error is not None:
            raise self._error
        return self.states

    def log_text(self, task: str) -> str:
        folder = self.airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={self.run_id}" / f"task_id={task}"
        return "\n".join(path.read_text(errors="replace") for path in sorted(folder.glob("attempt=*.log")))
