"""ComposerPodOperator against the real local cluster: what a task really does.

Every test runs real pods through the real API server, scheduler and kubelet; the leak check
(`no_leaked_pods`) proves that no pod of ours is left in the namespace afterwards.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import (
    ComposerPodOperator,
    PodFailedError,
    PodKilledError,
    PodPreflightError,
    PodStartupError,
    PodStartupTimeout,
    Secret,
    gke_node_pool_affinity,
)
from airflow_provider_composer_kpo.compat import KubernetesPodOperator

from .operator_harness import BUSYBOX, DEBIAN, MEMORY_HOG, PERL, make_dag, run

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("composer_environment", "no_leaked_pods")]

MIDDLE_STEP_FAILS = "echo step-1\nfalse\necho step-3"


def composer_pod(**kwargs) -> ComposerPodOperator:
    kwargs.setdefault("task_id", f"t-{uuid.uuid4().hex[:6]}")
    kwargs.setdefault("image", BUSYBOX)
    return ComposerPodOperator(dag=make_dag(), **kwargs)


def output(capfd, caplog) -> str:
    """Everything the task logged: Airflow 2 logs through logging, Airflow 3 to stdout."""
    captured = capfd.readouterr()
    return caplog.text + captured.out + captured.err


def test_pod_prints_and_succeeds_with_its_log_in_the_task_log(capfd, caplog):
    op = composer_pod(cmds=["sh", "-c", "echo hello-from-the-pod-$((6 * 7))"])
    run(op)
    assert "hello-from-the-pod-42" in output(capfd, caplog)


def test_exit_code_fails_the_task_and_is_named():
    op = composer_pod(cmds=["sh", "-c", "echo about to fail; exit 3"])
    with pytest.raises(PodFailedError) as err:
        run(op)
    message = str(err.value)
    assert "exited with code 3" in message
    # The last log lines are quoted, one a line, as text (not the repr of the log's bytes).
    assert "Last 1 log lines of 'base':\n  about to fail" in message, message


#: Runs of the fast-fail case: a race between the container's end and the log read showed once in
#: about 40 runs of the examples (the pod's lines missing from the task log).
FAST_FAIL_RUNS = 10


def test_a_pod_that_fails_at_once_logs_every_line_once_in_order_every_time(capfd, caplog):
    # One stream: the runtime orders the lines of stdout and stderr only within each.
    script = "echo fast-1; echo fast-2; echo fast-3; ls /no/such/input 2>&1; echo never"
    expected = ["fast-1", "fast-2", "fast-3", "ls: /no/such/input: No such file or directory"]
    for attempt in range(FAST_FAIL_RUNS):
        caplog.clear()
        op = composer_pod(cmds=["sh", "-c", script])
        with pytest.raises(PodFailedError) as err:
            run(op)
        captured = capfd.readouterr()
        # Airflow 2 logs through logging (caplog, maybe a console copy), Airflow 3 to stdout: in each
        # place the pod's lines appear (upstream prefixes them with the container), each is once, in order.
        sources = [caplog.text, captured.out + captured.err]
        pod_line = re.compile(r"\[base\] (.*?)(?:\s{2,}\[|\s*$)")
        sequences = [
            [m.group(1) for m in map(pod_line.search, text.splitlines()) if m and m.group(1) in expected]
            for text in sources
        ]
        assert expected in sequences, (attempt, sources)
        assert all(seq in ([], expected) for seq in sequences), (attempt, sequences)
        assert not any("[base] never" in text for text in sources)
        # The error quotes the last lines decoded, one a line.
        assert "  fast-3\n  ls: /no/such/input: No such file or directory" in str(err.value), (attempt, str(err.value))


def test_stock_kpo_reports_success_for_a_failed_middle_step(kubeconfig_path):
    stock = KubernetesPodOperator(
        task_id="stock",
        dag=make_dag(),
        image=BUSYBOX,
        namespace="composer-user-workloads",
        config_file=kubeconfig_path,
        cmds=["sh", "-c", MIDDLE_STEP_FAILS],
    )
    run(stock)  # no exception: the shell's last command succeeded


def test_composer_pod_fails_a_failed_middle_step(capfd, caplog):
    op = composer_pod(cmds=["sh", "-c", MIDDLE_STEP_FAILS])
    with pytest.raises(PodFailedError, match="exited with code 1"):
        run(op)
    log = output(capfd, caplog)
    assert "step-1" in log
    assert "step-3" not in log


def test_xcom_from_the_pod_is_returned():
    script = "mkdir -p /airflow/xcom && echo '{\"rows\": 42}' > /airflow/xcom/return.json"
    result, ti = run(composer_pod(cmds=["sh", "-c", script], do_xcom_push=True))
    assert result == {"rows": 42}
    assert ti.pushed["pod_namespace"] == "composer-user-workloads"


@pytest.fixture
def secrets(core_v1, namespace):
    names = []

    def create(name: str, data: dict[str, str]) -> None:
        body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), string_data=data)
        core_v1.create_namespaced_secret(namespace, body)
        names.append(name)

    yield create
    for name in names:
        core_v1.delete_namespaced_secret(name, namespace)


GUIDE_SECRETS = [
    Secret("env", "SQL_CONN", "airflow-secrets", "sql_alchemy_conn"),
    Secret("volume", "/var/secrets/google", "service-account", "service-account.json"),
]
CHECK_SECRETS = (
    # ${#VAR} would open a Jinja comment ({#): count with wc instead
    'echo "env:$(printf %s "$SQL_CONN" | wc -c)"; echo "file:$(wc -c < /var/secrets/google/service-account.json)"; '
    'test "$SQL_CONN" = "postgresql://canary"'
)


@pytest.mark.guide_secrets
def test_secret_as_env_and_volume_reaches_the_container(secrets, capfd, caplog):
    secrets("airflow-secrets", {"sql_alchemy_conn": "postgresql://canary"})
    secrets("service-account", {"service-account.json": '{"type": "x"}'})
    run(composer_pod(cmds=["sh", "-c", CHECK_SECRETS], secrets=GUIDE_SECRETS))
    log = output(capfd, caplog)
    assert "env:19" in log and "file:13" in log


@pytest.mark.guide_secrets
def test_missing_secret_fails_before_any_pod_exists(core_v1, namespace):
    op = composer_pod(cmds=["sh", "-c", CHECK_SECRETS], secrets=GUIDE_SECRETS)
    with pytest.raises(PodPreflightError) as err:
        run(op)
    message = str(err.value)
    assert "airflow-secrets" in message and "service-account" in message
    assert "kubectl create secret generic airflow-secrets -n composer-user-workloads" in message
    assert core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={op.task_id}").items == []


@pytest.mark.guide_secrets
def test_missing_env_secret_without_preflight_fails_fast_with_the_reason():
    op = composer_pod(cmds=["sh", "-c", "true"], secrets=GUIDE_SECRETS[:1], preflight="off")
    with pytest.raises(PodStartupError) as err:
        run(op)
    assert not isinstance(err.value, PodStartupTimeout)  # well before the 600 s timeout
    assert err.value.reason == "CreateContainerConfigError"
    assert 'secret "airflow-secrets" not found' in str(err.value)


@pytest.mark.guide_secrets
def test_missing_volume_secret_without_preflight_fails_fast_with_the_reason():
    """The kubelet cannot mount the volume: the pod would stay ContainerCreating forever."""
    op = composer_pod(cmds=["sh", "-c", "true"], secrets=GUIDE_SECRETS[1:], preflight="off")
    with pytest.raises(PodStartupError) as err:
        run(op)
    assert not isinstance(err.value, PodStartupTimeout)
    assert err.value.reason == "FailedMount"
    assert 'secret "service-account" not found' in str(err.value)


@pytest.mark.guide_secrets
def test_missing_secret_key_fails_naming_the_key(secrets):
    secrets("airflow-secrets", {"other_key": "x"})
    secrets("service-account", {"service-account.json": "{}"})
    with pytest.raises(PodPreflightError, match="sql_alchemy_conn"):
        run(composer_pod(cmds=["sh", "-c", "true"], secrets=GUIDE_SECRETS))


def test_a_pod_kubernetes_refuses_fails_naming_the_api_servers_reason(core_v1, namespace):
    """No image: the API server answers 422; the task says so, not that the pod was deleted."""
    op = composer_pod(image=None, cmds=["sh", "-c", "true"])
    with pytest.raises(PodStartupError) as err:
        run(op)
    message = str(err.value)
    assert message.startswith(f"Kubernetes refused to create pod {namespace}/"), message
    assert "(422 Invalid)" in message and "spec.containers[0].image: Required value" in message
    assert "deleted from outside" not in message
    assert core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={op.task_id}").items == []


def test_missing_configmap_without_preflight_fails_fast():
    env_from = [k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name="no-such-configmap"))]
    op = composer_pod(cmds=["sh", "-c", "true"], env_from=env_from, preflight="off")
    with pytest.raises(PodStartupError, match='configmap "no-such-configmap" not found'):
        run(op)


def test_bad_image_name_fails_fast():
    op = composer_pod(image="Busybox:1.36", cmds=["sh", "-c", "true"])
    with pytest.raises(PodStartupError) as err:
        run(op)
    assert err.value.reason == "InvalidImageName"


def test_unreachable_registry_is_logged_at_once_and_fails_after_the_pull_grace(capfd, caplog):
    """A registry the nodes cannot resolve (a private-IP Composer environment without NAT pulling from
    gcr.io): the error is in the task log the moment it appears, once, and the task fails after the
    pull grace naming it, not after startup_timeout_seconds."""
    from airflow_provider_composer_kpo.lifecycle.diagnosis import PULL_UNREACHABLE_GRACE_SECONDS, PULL_WAITING_REASONS

    op = composer_pod(image="registry.invalid/team/app:1", cmds=["sh", "-c", "true"])
    with pytest.raises(PodStartupError) as err:
        run(op)
    assert not isinstance(err.value, PodStartupTimeout)
    assert err.value.reason in PULL_WAITING_REASONS
    message = str(err.value)
    assert re.search(r"lookup registry\.invalid.*(no such host|server misbehaving|i/o timeout)", message), message
    assert f"cannot reach (DNS, connection, TLS) is {PULL_UNREACHABLE_GRACE_SECONDS} s" in message
    # Once: Airflow 2 logs through logging (caplog, and maybe a console copy), Airflow 3 to stdout.
    captured = capfd.readouterr()
    copies = [
        caplog.text.count("cannot pull its image yet"),
        (captured.out + captured.err).count("cannot pull its image yet"),
    ]
    assert max(copies) == 1, copies


def test_affinity_to_missing_pool_fails_unschedulable_with_the_scheduler_reason():
    op = composer_pod(cmds=["sh", "-c", "true"], affinity=gke_node_pool_affinity("pool-0", "pool-1"))
    with pytest.raises(PodStartupError) as err:
        run(op)
    assert not isinstance(err.value, PodStartupTimeout)
    assert err.value.reason == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in str(err.value)


def test_affinity_to_default_pool_runs(capfd, caplog):
    op = composer_pod(
        image=PERL,
        cmds=["perl"],
        arguments=["-Mbignum=bpi", "-wle", "print bpi(50)"],
        affinity=gke_node_pool_affinity("default-pool"),
    )
    run(op)
    assert "3.1415926535897932384626433832795028841971693993751" in output(capfd, caplog)


def test_memory_limit_enforced_and_oom_named():
    script = MEMORY_HOG
    resources = k8s.V1ResourceRequirements(limits={"memory": "32Mi"}, requests={"memory": "32Mi"})
    with pytest.raises(PodFailedError) as err:
        run(composer_pod(cmds=["sh", "-c", script], container_resources=resources))
    assert "OOMKilled" in str(err.value)
    assert "memory limit of 32Mi" in str(err.value)


def test_bash_pipefail_injected_into_a_real_bash(capfd, caplog):
    op = composer_pod(image=DEBIAN, cmds=["bash", "-c", "false | cat\necho not-reached"])
    with pytest.raises(PodFailedError):
        run(op)
    assert "not-reached" not in output(capfd, caplog)


@pytest.mark.parametrize(("action", "kept"), [("keep_pod", True), ("delete_pod", False)])
def test_finish_action_after_failure(core_v1, namespace, action, kept):
    op = composer_pod(cmds=["sh", "-c", "exit 2"], on_finish_action=action)
    with pytest.raises(PodFailedError):
        run(op)
    remaining = core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={op.task_id}").items
    assert bool([p for p in remaining if not p.metadata.deletion_timestamp]) is kept
    for pod in remaining:  # the leak check would flag the kept pod; remove it here
        core_v1.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


@pytest.mark.disrupts_cluster
def test_task_survives_api_server_down_for_15_seconds(core_v1, namespace, api_client):
    """A GKE control-plane upgrade looks like this: the task must finish, with exactly one pod."""
    assert_survives_api_server_restarts(core_v1, namespace, api_client, restarts=1, down_seconds=15, run_seconds=40)


@pytest.mark.disrupts_cluster
def test_task_survives_two_api_server_restarts(core_v1, namespace, api_client):
    assert_survives_api_server_restarts(core_v1, namespace, api_client, restarts=2, down_seconds=5, run_seconds=60)


@pytest.mark.disrupts_cluster
def test_lines_written_while_the_kubelet_restarts_reach_the_task_log(core_v1, namespace, capfd, caplog):
    """The kubelet restarts while the task follows the log, and the container ends meanwhile.

    The log read fails while the kubelet is down; retried with the same "last N seconds" it came
    back after the container had ended and read nothing of what it wrote meanwhile (found by the soak).
    """
    from .cluster_control import restart_kubelet_when_running

    op = composer_pod(cmds=["sh", "-c", "for i in $(seq 1 40); do echo line-$i; sleep 0.2; done; echo work-done"])
    restarter = restart_kubelet_when_running(
        core_v1, namespace, f"task_id={op.task_id}", after_seconds=2, down_seconds=12
    )
    try:
        run(op)
    finally:
        restarter.join()
    assert restarter.results, "the kubelet was not restarted as planned"
    text = output(capfd, caplog)
    logged = [int(n) for n in re.findall(r"\[base\] line-(\d+)\b", text)]
    assert sorted(set(logged)) == list(range(1, 41)), logged
    assert "[base] work-done" in text


def assert_survives_api_server_restarts(core_v1, namespace, api_client, *, restarts, down_seconds, run_seconds):
    from .cluster_control import restart_apiserver_when_running

    op = composer_pod(
        cmds=["sh", "-c", f"for i in $(seq 1 {run_seconds}); do echo tick $i; sleep 1; done; echo finished"],
        on_finish_action="keep_pod",
    )
    selector = f"task_id={op.task_id}"
    restarter = restart_apiserver_when_running(
        core_v1, api_client, namespace, selector, restarts=restarts, down_seconds=down_seconds
    )
    try:
        run(op)
    finally:
        restarter.join()
    assert len(restarter.results) == restarts, "the API server was not restarted as planned"
    pods = core_v1.list_namespaced_pod(namespace, label_selector=selector).items
    assert [p.status.phase for p in pods] == ["Succeeded"]  # one pod, and it finished
    for pod in pods:
        core_v1.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


class KilledTry:
    """Task tries in their own processes (tests/integration/task_process.py): try 1 is SIGKILLed like a dying worker."""

    def __init__(self, kubeconfig_path: str, pod_ledger, tmp_path) -> None:
        unique = uuid.uuid4().hex[:6]
        self.spec = {
            "dag_id": f"reattach_{unique}",
            "task_id": f"reattach-{unique}",
            "run_id": f"manual__{unique}",
            "kubeconfig": kubeconfig_path,
            "script": "echo work-started; sleep 20; echo work-done",
        }
        self.selector = f"task_id={self.spec['task_id']}"
        self.tmp_path = tmp_path
        pod_ledger.claim_labels(task_id=self.spec["task_id"])  # made by the task processes started here
        # `python -m` puts its working directory first on sys.path: a folder holding only a link to tests/,
        # so the task process imports the installed package, not the checkout's source beside tests/.
        (tmp_path / "tests").symlink_to(Path(__file__).resolve().parents[1])

    def start(self, try_number: int) -> subprocess.Popen:
        argument = json.dumps({**self.spec, "try_number": try_number})
        return subprocess.Popen([sys.executable, "-m", "tests.integration.task_process", argument], cwd=self.tmp_path)

    def kill_first_when_running(self, core_v1, namespace: str) -> k8s.V1Pod:
        first = self.start(1)
        deadline = time.monotonic() + 120
        running: list[k8s.V1Pod] = []
        while time.monotonic() < deadline and not running:
            pods = core_v1.list_namespaced_pod(namespace, label_selector=self.selector).items
            running = [p for p in pods if p.status.phase == "Running"]
            time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert first.returncode == -signal.SIGKILL
        assert running, "try 1's pod never ran"
        return running[0]

    def pods(self, core_v1, namespace: str) -> list[k8s.V1Pod]:
        return core_v1.list_namespaced_pod(namespace, label_selector=self.selector).items


def work_log(core_v1, namespace: str, pod: k8s.V1Pod) -> str:
    return core_v1.read_namespaced_pod_log(pod.metadata.name, namespace, _preload_content=False).data.decode()


def test_retry_after_worker_sigkill_reattaches_to_the_same_pod(
    core_v1, namespace, kubeconfig_path, pod_ledger, tmp_path
):
    """The worker dies mid-task; the retry finds the running pod instead of starting the work again."""
    tries = KilledTry(kubeconfig_path, pod_ledger, tmp_path)
    tries.kill_first_when_running(core_v1, namespace)
    assert tries.start(2).wait(timeout=180) == 0
    pods = tries.pods(core_v1, namespace)
    try:
        assert len(pods) == 1, [p.metadata.name for p in pods]
        assert pods[0].status.phase == "Succeeded"
        assert work_log(core_v1, namespace, pods[0]).count("work-started") == 1  # the work ran once
    finally:
        for pod in pods:
            core_v1.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


def test_retry_does_not_reattach_to_a_pod_being_deleted(core_v1, namespace, kubeconfig_path, pod_ledger, tmp_path):
    """Try 1's pod is being deleted when the retry looks (a finalizer holds it): the retry runs a new pod."""
    hold = {"metadata": {"finalizers": ["composer-kpo.test/hold"]}}
    tries = KilledTry(kubeconfig_path, pod_ledger, tmp_path)
    old = tries.kill_first_when_running(core_v1, namespace)
    core_v1.patch_namespaced_pod(old.metadata.name, namespace, hold)
    try:
        core_v1.delete_namespaced_pod(old.metadata.name, namespace, grace_period_seconds=1)
        assert tries.start(2).wait(timeout=180) == 0
        pods = {p.metadata.name: p for p in tries.pods(core_v1, namespace)}
        assert old.metadata.name in pods and len(pods) == 2, list(pods)
        assert pods[old.metadata.name].metadata.deletion_timestamp is not None
        assert pods[old.metadata.name].metadata.labels.get("already_checked") == "True"  # no later try finds it
        (new,) = [p for name, p in pods.items() if name != old.metadata.name]
        assert new.status.phase == "Succeeded"
        assert new.metadata.labels["try_number"] == "2"
        assert "work-done" in work_log(core_v1, namespace, new)
    finally:
        core_v1.patch_namespaced_pod(old.metadata.name, namespace, {"metadata": {"finalizers": None}})
        for pod in tries.pods(core_v1, namespace):
            core_v1.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


@pytest.mark.guide_secrets
def test_secret_canary_never_reaches_logs_errors_or_rendered_fields(secrets, capfd, caplog):
    """A Secret's value used as env and as a file appears in no log line, error or rendered field."""
    canary = f"canary-{uuid.uuid4().hex}"
    secrets("airflow-secrets", {"sql_alchemy_conn": canary})
    secrets("service-account", {"service-account.json": canary})
    script = 'test -n "$SQL_CONN"; test -s /var/secrets/google/service-account.json; echo checked; exit 4'
    op = composer_pod(cmds=["sh", "-c", script], secrets=GUIDE_SECRETS, do_xcom_push=False)
    with pytest.raises(PodFailedError) as err:
        run(op)
    rendered = {field: repr(getattr(op, field, None)) for field in op.template_fields}
    everything = output(capfd, caplog) + str(err.value) + repr(err.value.__cause__) + repr(rendered)
    assert "checked" in everything  # the pod's log did reach the task log
    assert canary not in everything


@pytest.mark.parametrize(("action", "kept"), [("keep_pod", True), ("delete_pod", False)])
def test_finish_action_after_startup_timeout(core_v1, namespace, action, kept):
    """A pod that cannot be scheduled yet (not enough CPU) times out; then the finish policy applies."""
    too_big = k8s.V1ResourceRequirements(requests={"cpu": "500"})
    op = composer_pod(
        cmds=["sh", "-c", "true"], container_resources=too_big, schedule_timeout_seconds=30, on_finish_action=action
    )
    with pytest.raises(PodStartupTimeout, match="Insufficient cpu"):
        run(op)
    remaining = core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={op.task_id}").items
    assert bool([p for p in remaining if not p.metadata.deletion_timestamp]) is kept
    for pod in remaining:
        core_v1.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


def test_finish_action_after_success_keeps_or_deletes(core_v1, namespace):
    kept = composer_pod(cmds=["sh", "-c", "true"], on_finish_action="delete_succeeded_pod")
    run(kept)
    remaining = core_v1.list_namespaced_pod(namespace, label_selector=f"task_id={kept.task_id}").items
    assert [p for p in remaining if not p.metadata.deletion_timestamp] == []  # succeeded -> deleted


def test_on_kill_deletes_the_running_pod_and_fails_the_task(core_v1, namespace):
    """SIGTERM or marking the task failed calls on_kill: the pod must go, and the task must fail."""
    import threading
    import time

    op = composer_pod(cmds=["sh", "-c", "sleep 120"])
    selector = f"task_id={op.task_id}"

    def kill_once_running() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pods = core_v1.list_namespaced_pod(namespace, label_selector=selector).items
            if pods and pods[0].status.phase == "Running":
                op.on_kill()
                return
            time.sleep(0.5)

    killer = threading.Thread(target=kill_once_running)
    killer.start()
    started = time.monotonic()
    # Upstream's execute returns normally after on_kill (cleanup skips), which ends a SIGTERM'd
    # task as a success on Airflow 3 (apache/airflow#71202); ours must fail.
    with pytest.raises(PodKilledError, match="was stopped while pod"):
        run(op)
    killer.join()
    assert time.monotonic() - started < 60  # it did not wait for the sleep, nor the pod's 30 s grace
    deadline = time.monotonic() + 60
    while core_v1.list_namespaced_pod(namespace, label_selector=selector).items and time.monotonic() < deadline:
        time.sleep(0.5)
    assert core_v1.list_namespaced_pod(namespace, label_selector=selector).items == []


def test_pod_deleted_from_outside_fails_at_once_naming_the_deletion(core_v1, namespace):
    """kubectl delete (or preemption) of a running pod: not a wait for its 30 s grace period, nor a stale error."""
    import threading
    import time

    op = composer_pod(cmds=["sh", "-c", "while true; do echo tick; sleep 1; done"])
    selector = f"task_id={op.task_id}"
    deleted_at: list[float] = []

    def delete_once_running() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pods = core_v1.list_namespaced_pod(namespace, label_selector=selector).items
            if pods and pods[0].status.phase == "Running":
                time.sleep(3)  # the operator is following the log
                core_v1.delete_namespaced_pod(pods[0].metadata.name, namespace)  # default grace: 30 s
                deleted_at.append(time.monotonic())
                return
            time.sleep(0.5)

    deleter = threading.Thread(target=delete_once_running)
    deleter.start()
    with pytest.raises(PodFailedError, match="was deleted from outside the task while it ran"):
        run(op)
    failed_after = time.monotonic() - deleted_at[0]
    deleter.join()
    assert failed_after < 20, f"failed {failed_after:.1f} s after the deletion: it waited for the grace period"


def test_without_watch_permission_the_task_reads_the_pod_instead_and_says_so(
    core_v1, api_client, namespace, kubeconfig_path, tmp_path, capfd, caplog
):
    """RBAC that allows get but not watch on pods: the pod is read every 2 s instead of watched, the
    task log says so once, and the task runs as usual."""
    import yaml
    from kubernetes.client import RbacAuthorizationV1Api

    rbac = RbacAuthorizationV1Api(api_client)
    name = f"no-watch-{uuid.uuid4().hex[:6]}"
    rules = [
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "create", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
    ]
    core_v1.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    try:
        rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        )
        token = core_v1.create_namespaced_service_account_token(
            name, namespace, {"spec": {"expirationSeconds": 600}}
        ).status.token
        admin = yaml.safe_load(Path(kubeconfig_path).read_text())
        limited = dict(admin, users=[{"name": name, "user": {"token": token}}])
        limited["contexts"] = [dict(c, context=dict(c["context"], user=name)) for c in admin["contexts"]]
        path = tmp_path / "no-watch.kubeconfig"
        path.write_text(yaml.safe_dump(limited))

        # The default preflight: a missing watch is reported, not a failure.
        op = composer_pod(cmds=["sh", "-c", "echo polled-pod-ran"], config_file=str(path))
        run(op)
    finally:
        rbac.delete_namespaced_role_binding(name, namespace)
        rbac.delete_namespaced_role(name, namespace)
        core_v1.delete_namespaced_service_account(name, namespace)
    logged = output(capfd, caplog)
    assert "polled-pod-ran" in logged
    assert "RBAC allows no 'watch' on pods); reading it every 2 s instead" in logged
    assert "watch pods" in logged  # the preflight's report
