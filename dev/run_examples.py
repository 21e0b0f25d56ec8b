"""Run every example DAG with `airflow dags test` on the local cluster; print a table.

    python dev/run_examples.py --kubeconfig PATH [--composer 3 | --corpus] [--json FILE] [--only DAG_ID ...]

Run it with the Python of a venv that has Airflow and this package (make demo does). Each
scenario is a documented behaviour of an example: most succeed, some fail on purpose (a missing
Variable, missing Secrets, a failing script step) and must fail with the documented message.
``--composer 3`` runs the Composer 3 set on the local simulation of Composer 3 (tests/composer3:
Google's pod mutation and PodManager patches, enabled by COMPOSER_VERSION; the cluster turns the
pods into peer-VM placeholders). ``--corpus`` runs the runnable DAGs of the composer-kpo corpus
(tests/dag_corpus/input/runnable_*.py, stock KPO as users wrote it for older images) after
``composer-kpo migrate --write`` has rewritten them. Exit status 0 only when every scenario behaved
as documented.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import cluster_lock  # noqa: E402  (the repository's, found through the line above)

NAMESPACE = "composer-user-workloads"
SIDECAR_IMAGE = "busybox:1.36"  # the local cluster has no registry; KPO's default sidecar is alpine
POD_ENDED = re.compile(
    r"Task (\S+): pod \S+ (?:\(Composer 3 placeholder\) )?ended in phase (\w+), container \S+ "
    r"(exit code \S+|did not run|was \w+ on the peer VM)"
)
#: What the Composer 3 simulation needs in Airflow's environment (see tests/composer3).
COMPOSER3_ENV = {
    "COMPOSER_VERSION": "3.1.0",
    "GCP_TENANT_PROJECT": "local-tenant",
    "PYTHONPATH": str(REPO / "tests" / "composer3"),
}


@dataclass
class Scenario:
    dag_id: str
    label: str
    expect: str  # "success" or "failed"
    message: str = ""  # a regular expression that must match the output
    conf: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Any], None] | None = None
    teardown: Callable[[Any], None] | None = None
    #: Creates, or expects missing, the example's Secret: another run of this set (the other
    #: Airflow) may be doing either at the same time (tests/cluster_lock.py).
    guide_secrets: bool = False


#: The Secret example_secrets_pod.py reads (its token has 14 bytes).
EXAMPLE_SECRETS = {"partner-api": {"token": "t0ken-for-demo", "client.pem": "-----BEGIN CERTIFICATE-----\n"}}


def create_example_secrets(core_v1: Any) -> None:
    from kubernetes.client import models as k8s

    for name, data in EXAMPLE_SECRETS.items():
        core_v1.create_namespaced_secret(
            NAMESPACE, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), string_data=data)
        )


def delete_example_secrets(core_v1: Any) -> None:
    for name in EXAMPLE_SECRETS:
        core_v1.delete_namespaced_secret(name, NAMESPACE)


SCENARIOS = [
    Scenario(
        "composer_kpo_minimal",
        "defaults only",
        "success",
        # The task log's header block, then the pod's own output.
        r"ComposerPodOperator task '[^']+':(.|\n)*?kubeconfig: (.|\n)*?Preflight: no problems found"
        r"(.|\n)*Hello from a pod on Cloud Composer",
    ),
    Scenario(
        "composer_kpo_templated",
        "Variable my_value missing",
        "failed",
        r"Variable my_value (does not exist|not found)",  # Airflow 2 | Airflow 3
        env={"AIRFLOW_VAR_MY_VALUE": ""},
    ),
    Scenario("composer_kpo_templated", "Variable my_value set", "success", "MY_VALUE=hello"),
    Scenario(
        "composer_kpo_secrets",
        "Secrets missing",
        "failed",
        # Both uses of the one Secret, where the DAG mounts it (not the generated volume name), and
        # the file key in the fix.
        r"Secret 'partner-api': not found; used by env PARTNER_API_TOKEN, volume mounted at "
        r"/var/secrets/partner-api; fix: [^\n]*--from-literal=token=VALUE --from-file=client\.pem=PATH",
        guide_secrets=True,
    ),
    Scenario(
        "composer_kpo_secrets",
        "Secrets created",
        "success",
        "PARTNER_API_TOKEN has 14 bytes; client certificate present",
        setup=create_example_secrets,
        teardown=delete_example_secrets,
        guide_secrets=True,
    ),
    Scenario("composer_kpo_full_pod", "every option", "success", r"3\.14159265358979323846"),
    Scenario("composer_kpo_set_e", "all steps pass", "success", "step 3: publish"),
    Scenario("composer_kpo_set_e", "step 2 fails", "failed", "exited with code 1", conf={"fail_step": 2}),
    Scenario("composer_kpo_xcom", "value passed downstream", "success", "received 42 rows for sales"),
    Scenario("composer_kpo_team_operator", "team defaults", "success", "report for"),
    Scenario("composer_kpo_deferrable", "deferred, XCom downstream", "success", "report: 20 batches"),
    Scenario(
        "composer_kpo_deferrable",
        "deferred, bad image name",
        "failed",
        "cannot start: InvalidImageName",
        conf={"image": "Busybox:1.36"},
    ),
    Scenario(
        "composer_kpo_mapped",
        "three mapped pods",
        "success",
        r"(?s)(?=.*exported orders for \d{4}-\d\d-\d\d)(?=.*exported customers for)(?=.*exported payments for)",
    ),
    Scenario("composer_kpo_sizing", "requests equal to limits", "success", "largest: 200000"),
    # The success needs GKE's metadata server and Google's image; the preflight refusal needs neither.
    Scenario(
        "composer_kpo_workload_identity",
        "Kubernetes service account missing",
        "failed",
        r"ServiceAccount 'etl-runner': not found; used by serviceAccountName; "
        r"fix: kubectl create serviceaccount etl-runner -n composer-user-workloads",
    ),
]

#: Example DAGs with no scenario here, and why: they are checked by the unit tests only.
NOT_RUN_HERE = {
    "composer_kpo_artifact_registry": "its image is in a private Artifact Registry repository; no registry is "
    "reachable from the local cluster, and the Composer 3 simulation runs every container in its own image",
}


def _scenario(dag_id: str, label: str, **changes: Any) -> Scenario:
    found = next(s for s in SCENARIOS if (s.dag_id, s.label) == (dag_id, label))
    return dataclasses.replace(found, **changes)


#: Composer 3: the same DAGs, their pods run on (simulated) peer VMs behind placeholder pods. A
#: failed container is reported from the VM, which gives its state and logs but no exit code.
COMPOSER3_SCENARIOS = [
    _scenario("composer_kpo_minimal", "defaults only"),
    _scenario("composer_kpo_secrets", "Secrets missing"),
    _scenario("composer_kpo_secrets", "Secrets created"),
    _scenario("composer_kpo_set_e", "all steps pass"),
    _scenario(
        "composer_kpo_set_e",
        "step 2 fails",
        message=r"'base' was TERMINATED on the Composer 3 peer VM(.|\n)*step 2: check the input \(fail_step=2\)",
    ),
    _scenario("composer_kpo_xcom", "value passed downstream"),
    _scenario(
        "composer_kpo_sizing",
        "requests equal to limits",
        # The VM Google's hook sizes from the resources, named in the task log before the pod starts.
        message=r"peer VM e2-custom-small-2048 \(0\.5 vCPU, 2 GB\) with a 31 GB disk(.|\n)*largest: 200000",
    ),
]


#: The corpus's runnable DAGs, each run after `composer-kpo migrate --write` (see --corpus).
CORPUS_SCENARIOS = [
    Scenario(
        "corpus_contrib_pod", "Airflow 1.10 contrib task, migrated", "success", r"migrated pod says hello on \d{4}-"
    ),
    Scenario(
        "corpus_failing_step",
        "failing middle step, migrated: set -e stops it",
        "failed",
        # stdout and stderr reach the log through separate pipes: either line may come first.
        r"(?s)(?=.*step 1 ok)(?=.*No such file or directory).*ended in phase Failed",
    ),
]
CORPUS = REPO / "tests" / "dag_corpus" / "input"


def migrated_corpus(folder: Path) -> Path:
    """Copy the corpus's runnable DAGs to ``folder`` and migrate them with the installed console script."""
    for path in CORPUS.glob("runnable_*.py"):
        shutil.copy(path, folder)
    command = [str(Path(sys.executable).with_name("composer-kpo")), "migrate", "--write", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    print(done.stdout, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"composer-kpo migrate --write failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return folder


def airflow_env(home: Path, kubeconfig: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        COMPOSER_KPO_KUBECONFIG=kubeconfig,
        AIRFLOW_CONN_KUBERNETES_DEFAULT=json.dumps(
            {"conn_type": "kubernetes", "extra": {"xcom_sidecar_container_image": SIDECAR_IMAGE}}
        ),
        AIRFLOW_VAR_MY_VALUE="hello",
    )
    return env


def airflow(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def init_db(env: dict[str, str]) -> None:
    for verb in ("migrate", "upgrade", "init"):  # 2.7+, 2.6, 2.5
        done = airflow("db", verb, env=env)
        if done.returncode == 0:
            return
    raise SystemExit(f"airflow db {verb} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def last_run(home: Path, dag_id: str) -> tuple[str, list[tuple[str, str, float | None]]]:
    """Return the newest run's state and its tasks (task_id, state, seconds) from Airflow's DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        run_id, state = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        tasks = db.execute(
            "SELECT task_id, state, start_date, end_date FROM task_instance WHERE dag_id = ? AND run_id = ?"
            " ORDER BY start_date",
            (dag_id, run_id),
        ).fetchall()
    return state, [(task, task_state or "none", _seconds(start, end)) for task, task_state, start, end in tasks]


def _seconds(start: str | None, end: str | None) -> float | None:
    """Airflow stores times as text, with or without an offset; `dags test` on 2.x leaves no start."""
    if not start or not end:
        return None
    parse = datetime.datetime.fromisoformat
    return (parse(end) - parse(start)).total_seconds()


def run_scenario(scenario: Scenario, base_env: dict[str, str], home: Path, core_v1: Any) -> dict[str, Any]:
    env = {**base_env, **scenario.env}
    env = {k: v for k, v in env.items() if v != ""}  # an empty value means "unset"
    lock = cluster_lock.named(cluster_lock.GUIDE_SECRETS) if scenario.guide_secrets else contextlib.nullcontext()
    with lock:
        if scenario.setup:
            scenario.setup(core_v1)
        started = time.monotonic()
        try:
            args = ["dags", "test", scenario.dag_id]
            if scenario.conf:
                args += ["-c", json.dumps(scenario.conf)]
            done = airflow(*args, env=env)
        finally:
            if scenario.teardown:
                scenario.teardown(core_v1)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    state, tasks = last_run(home, scenario.dag_id)
    phases = {task: f"{phase}, {exit_code}" for task, phase, exit_code in POD_ENDED.findall(output)}
    as_documented = state == scenario.expect and re.search(scenario.message, output) is not None
    return {
        "dag_id": scenario.dag_id,
        "scenario": scenario.label,
        "expected": scenario.expect,
        "state": state,
        "tasks": [
            {"task_id": t, "state": s, "seconds": None if d is None else round(d, 1), "pod_phase": phases.get(t, "-")}
            for t, s, d in tasks
        ],
        "seconds": round(seconds, 1),
        "as_documented": as_documented,
        "output_tail": "" if as_documented else output[-4000:],
    }


def print_table(results: list[dict[str, Any]]) -> None:
    header = ("DAG", "scenario", "task", "pod", "result", "expected", "task s", "run s", "ok")
    rows = []
    for r in results:
        for task in r["tasks"] or [{"task_id": "-", "state": r["state"], "pod_phase": "-", "seconds": None}]:
            rows.append(
                (
                    r["dag_id"],
                    r["scenario"],
                    task["task_id"],
                    task["pod_phase"],
                    task["state"],
                    r["expected"],
                    "-" if task["seconds"] is None else f"{task['seconds']:.1f}",
                    f"{r['seconds']:.1f}",
                    "yes" if r["as_documented"] else "NO",
                )
            )
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--only", nargs="*", help="DAG ids to run")
    parser.add_argument("--composer", type=int, choices=(2, 3), default=2, help="3: the Composer 3 simulation")
    parser.add_argument("--corpus", action="store_true", help="the composer-kpo corpus's runnable DAGs, migrated")
    args = parser.parse_args()

    from kubernetes import client, config

    core_v1 = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))
    home = Path(tempfile.mkdtemp(prefix="composer-kpo-demo-"))
    try:
        env = airflow_env(home, args.kubeconfig)
        scenarios = COMPOSER3_SCENARIOS if args.composer == 3 else SCENARIOS
        if args.composer == 3:
            env.update(COMPOSER3_ENV)
        if args.corpus:
            scenarios = CORPUS_SCENARIOS
            env["AIRFLOW__CORE__DAGS_FOLDER"] = str(migrated_corpus(Path(tempfile.mkdtemp(dir=home))))
        init_db(env)
        results = []
        for scenario in scenarios:
            if args.only and scenario.dag_id not in args.only:
                continue
            result = run_scenario(scenario, env, home, core_v1)
            print(f"{scenario.dag_id} [{scenario.label}]: {result['state']} in {result['seconds']} s", flush=True)
            if not result["as_documented"]:
                print(result["output_tail"], flush=True)
            results.append(result)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print()
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    failures = [r for r in results if not r["as_documented"]]
    print(f"\n{len(results) - len(failures)} of {len(results)} scenarios behaved as documented")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
