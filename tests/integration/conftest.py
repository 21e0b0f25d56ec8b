"""Fixtures for tests that run real pods on the local cluster (dev/localcluster, `make cluster-up`).

The cluster is found through the kubeconfig in ``KUBECONFIG`` or, failing that, the one
``cluster-up`` writes (``$COMPOSER_KPO_CLUSTER_DIR/admin.kubeconfig``, default run dir
``/var/tmp/composer-kpo-cluster``). When its API server does not answer, every test that uses
these fixtures is skipped with the reason -- unless ``COMPOSER_KPO_REQUIRE_CLUSTER=1``, then
they fail (CI sets it: a cluster that should be there and is not is a failure, not a skip).

Reusable by any module under tests/integration:

* ``kubeconfig_path``, ``api_client``, ``core_v1``, ``namespace`` -- session fixtures;
* ``no_leaked_pods`` -- after the test, no pod of this test that appeared in the namespace
  during it may remain (deleting ones are waited for); use it with
  ``pytestmark = pytest.mark.usefixtures("no_leaked_pods")``. Other suites' processes share the
  cluster (dev/test.sh), so "of this test" means created through this process's kubernetes
  client (``POD_LEDGER``) or claimed by the test for a process it started (``pod_ledger.claim``);
* every test holds the shared cluster's lock (tests/cluster_lock.py): shared, or exclusive when
  marked ``disrupts_cluster``; ``guide_secrets`` adds the named lock of the guide's Secrets;
* ``pods`` -- a small helper that creates pods, waits on them, reads logs, execs, and deletes
  everything it created at teardown (before ``no_leaked_pods`` checks).
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import cluster_lock

NAMESPACE = "composer-user-workloads"
DEFAULT_RUN_DIR = "/var/tmp/composer-kpo-cluster"
TEST_LABEL = "composer-kpo-test"  # every pod made by the `pods` fixture carries it
WAIT_SECONDS = 90.0
LEAK_GRACE_SECONDS = 60.0

_problem: str | None = None  # why the cluster is unusable; set by the `kubeconfig_path` fixture


def _kubeconfig_candidate() -> str:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    if first:
        return first
    run_dir = os.environ.get("COMPOSER_KPO_CLUSTER_DIR", DEFAULT_RUN_DIR)
    return os.path.join(run_dir, "admin.kubeconfig")


def _cluster_problem(path: str) -> str | None:
    """None when the API server behind `path` answers, else a one-line reason."""
    try:
        from kubernetes import client, config
    except ImportError as exc:  # pragma: no cover - depends on the venv
        return f"the kubernetes Python client is not installed ({exc})"
    if not os.path.exists(path):
        return f"no kubeconfig at {path} (run `make cluster-up` and export the KUBECONFIG it prints)"
    try:
        api = config.new_client_from_config(config_file=path)
        try:
            version = client.VersionApi(api).get_code(_request_timeout=5)
        finally:
            api.close()
    except Exception as exc:
        # urllib3's MaxRetryError keeps the useful part ("Connection refused") in .reason
        text = str(getattr(exc, "reason", None) or exc).strip() or type(exc).__name__
        return f"API server in {path} is not reachable: {text.splitlines()[0][-160:]}"
    if not version.git_version:
        return f"API server in {path} gave no version"
    return None


def _required() -> bool:
    return os.environ.get("COMPOSER_KPO_REQUIRE_CLUSTER", "") not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def kubeconfig_path() -> str:
    """Path of a kubeconfig whose API server answers; skips (or fails) the test otherwise."""
    global _problem
    path = _kubeconfig_candidate()
    _problem = _cluster_problem(path)
    if _problem:
        if _required():
            pytest.fail(f"COMPOSER_KPO_REQUIRE_CLUSTER is set but {_problem}", pytrace=False)
        pytest.skip(f"local cluster unavailable: {_problem}")
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly why integration tests were skipped (the skip reason alone is easy to miss)."""
    if _problem and not _required():
        terminalreporter.write_line(f"integration tests skipped: {_problem}", yellow=True)


@pytest.fixture(scope="session")
def api_client(kubeconfig_path: str) -> Iterator[Any]:
    from kubernetes import config

    api = config.new_client_from_config(config_file=kubeconfig_path)
    yield api
    api.close()


@pytest.fixture(scope="session")
def core_v1(api_client: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def namespace(core_v1: Any) -> str:
    core_v1.read_namespace(NAMESPACE)  # cluster-up creates it; fail loudly if it is missing
    return NAMESPACE


@pytest.fixture(autouse=True)
def _cluster_turn(request: Any) -> Iterator[None]:
    """The test's turn on the shared cluster: its lock, then the named locks its markers ask for."""
    exclusive = request.node.get_closest_marker("disrupts_cluster") is not None
    with cluster_lock.cluster(exclusive=exclusive):
        if request.node.get_closest_marker("guide_secrets"):
            with cluster_lock.named(cluster_lock.GUIDE_SECRETS):
                yield
        else:
            yield


class PodLedger:
    """The pods this process made: every pod created through its kubernetes client, and those a
    test claims (``claim(predicate)``) for a process it started (``airflow dags test``, a task
    process). Claims last for one test."""

    def __init__(self) -> None:
        self.created: set[tuple[str, str]] = set()
        self.claims: list[Callable[[Any], bool]] = []

    def claim(self, predicate: Callable[[Any], bool]) -> None:
        self.claims.append(predicate)

    def claim_labels(self, **labels: str | set[str]) -> None:
        """Claim the pods whose labels have these values (a set: any of them)."""

        def matches(pod: Any) -> bool:
            have = pod.metadata.labels or {}
            return all(have.get(k) in (v if isinstance(v, set) else {v}) for k, v in labels.items())

        self.claim(matches)

    def owns(self, pod: Any) -> bool:
        key = (pod.metadata.namespace, pod.metadata.name)
        return key in self.created or any(claim(pod) for claim in self.claims)

    def record_creations(self) -> None:
        """Wrap the client's pod creation (KPO's, the trigger's, the tests' own) to note each name."""
        from kubernetes.client import CoreV1Api

        create = CoreV1Api.create_namespaced_pod
        if getattr(create, "_ledger", None) is self:
            return

        @functools.wraps(create)
        def recorded(api: Any, namespace: str, body: Any, **kwargs: Any) -> Any:
            name = _name_of(body)
            if name:  # before the call: a create that timed out may still have made the pod
                self.created.add((namespace, name))
            created = create(api, namespace, body, **kwargs)
            name = _name_of(created)
            if name:
                self.created.add((namespace, name))
            return created

        recorded._ledger = self  # type: ignore[attr-defined]
        CoreV1Api.create_namespaced_pod = recorded


def _name_of(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else getattr(obj, "metadata", None)
    if isinstance(meta, dict):
        return meta.get("name")
    return getattr(meta, "name", None)


POD_LEDGER = PodLedger()


@pytest.fixture
def pod_ledger(kubeconfig_path: str) -> Iterator[PodLedger]:
    POD_LEDGER.record_creations()
    yield POD_LEDGER
    POD_LEDGER.claims.clear()


def _pod_names(core_v1: Any, namespace: str) -> set[str]:
    return {p.metadata.name for p in core_v1.list_namespaced_pod(namespace).items}


@pytest.fixture
def no_leaked_pods(core_v1: Any, namespace: str, pod_ledger: PodLedger) -> Iterator[None]:
    """Fail the test if a pod it caused to exist in the namespace is still there afterwards.

    Pods that existed before the test, and other processes' pods, are ignored. Pods already
    being deleted get LEAK_GRACE_SECONDS to go (the kubelet must stop their containers first).
    Leftovers are deleted so the next test starts clean, and then reported.
    """
    before = _pod_names(core_v1, namespace)
    yield
    deadline = time.monotonic() + LEAK_GRACE_SECONDS
    while True:
        pods = [
            p
            for p in core_v1.list_namespaced_pod(namespace).items
            if p.metadata.name not in before and pod_ledger.owns(p)
        ]
        deleting = [p for p in pods if p.metadata.deletion_timestamp]
        if not deleting or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if pods:
        names = sorted(p.metadata.name for p in pods)
        for name in names:
            _delete_pod_and_wait(core_v1, namespace, name)
        pytest.fail(f"pods leaked in {namespace}: {', '.join(names)}", pytrace=False)


def _delete_pod_and_wait(core_v1: Any, namespace: str, name: str, timeout: float = WAIT_SECONDS) -> None:
    """Delete a pod and wait until the API no longer has it (its containers are stopped)."""
    from kubernetes.client.rest import ApiException

    try:
        core_v1.delete_namespaced_pod(name, namespace, grace_period_seconds=1)
    except ApiException as exc:
        if exc.status == 404:
            return
        raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core_v1.read_namespaced_pod(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(0.3)
    raise TimeoutError(f"pod {namespace}/{name} still exists {timeout:.0f}s after deletion")


class PodRunner:
    """Creates pods for one test, waits on them, and deletes them all in `cleanup`."""

    def __init__(self, core_v1: Any, api_client: Any, namespace: str, test_name: str) -> None:
        self.core_v1 = core_v1
        self.api_client = api_client
        self.namespace = namespace
        self.label = test_name.replace("[", "-").replace("]", "")[-63:].strip("-_.") or "test"
        self.created: list[str] = []

    def create(self, spec: dict, name_prefix: str = "it") -> str:
        """Create a pod from a PodSpec dict; returns its name."""
        name = f"{name_prefix}-{uuid.uuid4().hex[:8]}"
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {TEST_LABEL: self.label}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1, **spec},
        }
        self.core_v1.create_namespaced_pod(self.namespace, body)
        self.created.append(name)
        return name

    def read(self, name: str) -> Any:
        return self.core_v1.read_namespaced_pod(name, self.namespace)

    def wait_for(self, name: str, predicate: Callable[[Any], bool], what: str, timeout: float = WAIT_SECONDS) -> Any:
        """Poll the pod until `predicate(pod)` holds; fail with the last status otherwise."""
        deadline = time.monotonic() + timeout
        pod = self.read(name)
        while not predicate(pod):
            if time.monotonic() > deadline:
                pytest.fail(f"pod {name}: no {what} after {timeout:.0f}s; status: {pod.status}")
            time.sleep(0.5)
            pod = self.read(name)
        return pod

    def wait_terminated(self, name: str, container: str | None = None, timeout: float = WAIT_SECONDS) -> Any:
        """Wait until `container` (default: the first) has terminated; returns its terminated state."""

        def state(pod: Any) -> Any:
            for cs in pod.status.container_statuses or []:
                if container in (None, cs.name) and cs.state and cs.state.terminated:
                    return cs.state.terminated
            return None

        pod = self.wait_for(name, lambda p: state(p) is not None, f"terminated container {container or ''}", timeout)
        return state(pod)

    def wait_phase(self, name: str, phases: tuple[str, ...], timeout: float = WAIT_SECONDS) -> Any:
        return self.wait_for(name, lambda p: p.status.phase in phases, f"phase in {phases}", timeout)

    def logs(self, name: str, container: str | None = None) -> str:
        """The pod's log as text. Raw bytes (`_preload_content=False`), as KPO reads them: the
        client's own decoding turns "3.14..." into a float in some versions and returns
        "b'...'" in others."""
        kwargs = {"container": container} if container else {}
        resp = self.core_v1.read_namespaced_pod_log(name, self.namespace, _preload_content=False, **kwargs)
        try:
            return resp.data.decode("utf-8")
        finally:
            resp.release_conn()

    def exec(self, name: str, container: str, command: list[str], timeout: float = 60) -> str:
        """Run a command in a container through the API server, as KPO's XCom extraction does;
        returns its stdout."""
        return self.exec_full(name, container, command, timeout)[0]

    def exec_full(
        self, name: str, container: str, command: list[str], timeout: float = 60
    ) -> tuple[str, str, dict[str, Any]]:
        """Like :meth:`exec`; returns stdout, stderr and the Status from the error channel. Read
        from the raw websocket: with `_preload_content=True` some client versions hand back JSON
        output re-rendered with single quotes."""
        import json

        from kubernetes import client
        from kubernetes.stream import stream

        # A dedicated API object: `stream` swaps the request method of the API it is given.
        exec_api = client.CoreV1Api(self.api_client)
        resp = stream(
            exec_api.connect_get_namespaced_pod_exec,
            name,
            self.namespace,
            container=container,
            command=command,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )
        try:
            resp.run_forever(timeout=timeout)
            stdout, stderr, status = resp.read_stdout() or "", resp.read_stderr() or "", resp.read_channel(3) or ""
        finally:
            resp.close()
        return stdout, stderr, json.loads(status) if status else {}

    def cleanup(self) -> None:
        for name in self.created:
            _delete_pod_and_wait(self.core_v1, self.namespace, name)
        self.created.clear()


@pytest.fixture
def pods(no_leaked_pods: None, core_v1: Any, api_client: Any, namespace: str, request: Any) -> Iterator[PodRunner]:
    """Pod helper; everything it created is deleted (and waited for) at teardown.

    It depends on `no_leaked_pods`, so the leak check runs after this cleanup.
    """
    runner = PodRunner(core_v1, api_client, namespace, request.node.name)
    yield runner
    runner.cleanup()


@pytest.fixture
def composer_environment(monkeypatch, kubeconfig_path):
    """Point the Composer default kubeconfig at the local cluster, as a developer would.

    The connection names an XCom sidecar image the node already has (the cluster has no registry).
    """
    from .operator_harness import CONNECTION

    monkeypatch.setenv("COMPOSER_KPO_KUBECONFIG", kubeconfig_path)
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", CONNECTION)
