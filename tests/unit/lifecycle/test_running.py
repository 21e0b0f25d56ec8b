from __future__ import annotations

import threading

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.lifecycle.running import PodDisruptedError, RunningWatch

INTERVAL = 0.05


def running_pod() -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace="ns"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase="Running"),
    )


def watch(read_pod, stopped=lambda: False, on_stopped=lambda: RuntimeError("stopped")) -> RunningWatch:
    return RunningWatch(
        pod_name="p",
        namespace="ns",
        read_pod=read_pod,
        stopped=stopped,
        on_stopped=on_stopped,
        check_interval_seconds=INTERVAL,
    )


def test_a_follower_that_ends_returns_its_result_without_reading_the_pod():
    reads = []
    assert watch(lambda: reads.append(1)).run(lambda: "done") == "done"
    assert reads == []


def test_a_follower_error_reaches_the_caller():
    def follow():
        raise ValueError("stream broke")

    with pytest.raises(ValueError, match="stream broke"):
        watch(running_pod).run(follow)


def test_a_pod_deleted_while_followed_fails_at_the_next_check():
    release = threading.Event()
    reads = iter([running_pod(), None])
    with pytest.raises(PodDisruptedError, match=r"^Pod ns/p was deleted from outside the task while it ran"):
        watch(lambda: next(reads)).run(lambda: release.wait(5))
    release.set()


def test_on_kill_ends_the_wait_with_the_callers_error():
    release = threading.Event()
    stopped = threading.Event()
    stopped.set()
    with pytest.raises(RuntimeError, match="stopped"):
        watch(running_pod, stopped=stopped.is_set).run(lambda: release.wait(5))
    release.set()


def test_an_unreadable_pod_does_not_stop_a_healthy_follower():
    done = threading.Event()

    def read():
        done.set()  # the follower ends after the first failed read
        raise ConnectionError("API server restarting")

    def follow():
        done.wait(5)
        return "followed to the end"

    assert watch(read).run(follow) == "followed to the end"
