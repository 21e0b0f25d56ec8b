from __future__ import annotations

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.exceptions import PodStartupError, PodStartupTimeout
from airflow_provider_composer_kpo.lifecycle.startup import StartupWatch
from tests.unit.builders import event, unschedulable_pod, waiting_pod


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scheduled(pod: k8s.V1Pod) -> k8s.V1Pod:
    pod.status.conditions = [k8s.V1PodCondition(type="PodScheduled", status="True")]
    pod.spec = k8s.V1PodSpec(containers=[], node_name="node-1")
    return pod


def running() -> k8s.V1Pod:
    return k8s.V1Pod(status=k8s.V1PodStatus(phase="Running"))


def watch(pods, events=(), schedule=600, startup=600):
    clock = FakeClock()
    sequence = iter(pods)
    last = {}

    def read_pod():
        last["pod"] = next(sequence, last.get("pod"))
        return last["pod"]

    calls = {"events": 0}

    def list_events():
        calls["events"] += 1
        return list(events)

    w = StartupWatch(
        pod_name="p",
        namespace="ns",
        read_pod=read_pod,
        list_events=list_events,
        schedule_timeout_seconds=schedule,
        startup_timeout_seconds=startup,
        check_interval_seconds=2,
        clock=clock,
        sleep=clock.sleep,
    )
    return w, clock, calls


def test_returns_when_running():
    w, clock, calls = watch([scheduled(waiting_pod("ContainerCreating")), running()])
    assert w.wait().status.phase == "Running"
    assert clock.now == 2
    assert calls["events"] == 0  # nothing looked wrong, so no event reads


def test_missing_secret_fails_on_first_sight_with_events():
    pod = scheduled(waiting_pod("CreateContainerConfigError", 'secret "airflow-secrets" not found'))
    events = [event("Failed", 'Error: secret "airflow-secrets" not found', "Warning", 2)]
    w, clock, _ = watch([pod], events)
    with pytest.raises(PodStartupError) as err:
        w.wait()
    assert clock.now == 0
    assert err.value.reason == "CreateContainerConfigError"
    text = str(err.value)
    assert text.startswith('Pod ns/p cannot start: CreateContainerConfigError: secret "airflow-secrets" not found')
    assert 'Warning Failed: Error: secret "airflow-secrets" not found (x2)' in text
    assert "took too long" not in text


def test_unschedulable_fails_after_grace_not_timeout():
    affinity = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
    w, clock, _ = watch([unschedulable_pod(affinity)], schedule=600)
    with pytest.raises(PodStartupError, match="didn't match Pod's node affinity"):
        w.wait()
    assert 30 <= clock.now < 40


def test_schedule_timeout_names_parameter_and_last_reason():
    w, clock, _ = watch([unschedulable_pod("0/1 nodes are available: 1 Insufficient cpu.")], schedule=60)
    with pytest.raises(PodStartupTimeout) as err:
        w.wait()
    assert clock.now == 60
    assert "Pod ns/p was not scheduled within 60 s (schedule_timeout_seconds)" in str(err.value)
    assert "Insufficient cpu" in str(err.value)


def test_startup_timer_restarts_when_scheduled():
    pending = [k8s.V1Pod(status=k8s.V1PodStatus(phase="Pending", conditions=[]))] * 20  # 40 s unscheduled
    stuck = scheduled(waiting_pod("ImagePullBackOff", "503 Service Unavailable"))
    w, clock, _ = watch([*pending, stuck], schedule=60, startup=30)
    with pytest.raises(PodStartupTimeout) as err:
        w.wait()
    assert clock.now == 70  # 40 s to schedule + 30 s startup budget
    assert "did not start within 30 s (startup_timeout_seconds)" in str(err.value)
    assert "ImagePullBackOff: 503 Service Unavailable" in str(err.value)


def test_pod_stuck_creating_has_its_events_read_and_fails_on_missing_volume_secret():
    creating = scheduled(waiting_pod("ContainerCreating"))
    events = [event("FailedMount", 'MountVolume.SetUp failed for volume "v" : secret "sa" not found', "Warning")]
    w, clock, calls = watch([creating], events)
    with pytest.raises(PodStartupError) as err:
        w.wait()
    assert err.value.reason == "FailedMount"
    assert 10 <= clock.now <= 16  # events are first read once creation looks slow
    assert calls["events"] == 1


def test_unreachable_registry_is_logged_once_at_once_and_fails_after_the_pull_grace(caplog):
    error = 'failed to resolve reference "gcr.io/p/i:1": dial tcp: lookup gcr.io: no such host'
    pods = [scheduled(waiting_pod("ErrImagePull", error)), scheduled(waiting_pod("ImagePullBackOff", error))]
    w, clock, _ = watch(pods)
    with caplog.at_level("WARNING"), pytest.raises(PodStartupError) as err:
        w.wait()
    assert clock.now == 30  # the pull grace, not the 600 s startup timeout
    assert err.value.reason == "ImagePullBackOff"
    assert "no such host (still failing after 30 s; the pull grace for a registry the nodes cannot reach" in str(
        err.value
    )
    warnings = [r.getMessage() for r in caplog.records if "cannot pull its image yet" in r.getMessage()]
    assert warnings == [
        f"Pod ns/p: container 'base' cannot pull its image yet: {error}. Kubernetes retries; the task fails if "
        "this lasts 30 s (the pull grace for a registry the nodes cannot reach (DNS, connection, TLS))."
    ]


def test_pull_error_that_clears_lets_the_pod_start():
    error = "dial tcp 10.0.0.1:443: i/o timeout"
    pods = [scheduled(waiting_pod("ErrImagePull", error))] * 10 + [running()]
    w, clock, _ = watch(pods)
    assert w.wait().status.phase == "Running"
    assert clock.now == 20
