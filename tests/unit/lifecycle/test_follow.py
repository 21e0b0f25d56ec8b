"""PodFollower: its wrappers come from one table and sit on the PodManager instance, never its class."""

from __future__ import annotations

import pytest
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo.lifecycle.follow import WRAPPERS, PodFollower, upstream_argument
from tests.unit.builders import container_status


def follower(mocker, **kwargs) -> PodFollower:
    kwargs.setdefault("client", lambda: mocker.MagicMock())
    return PodFollower(
        api_client=lambda: None,
        base_container=lambda: "base",
        stopped=lambda: False,
        on_stopped=lambda pod: RuntimeError("stopped"),
        log=lambda: mocker.MagicMock(),
        **kwargs,
    )


def the_pod() -> k8s.V1Pod:
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="p", namespace="ns"), status=k8s.V1PodStatus(phase="Running"))


def test_every_wrapper_in_the_table_is_the_followers():
    assert {wrapper for _, wrapper in WRAPPERS} <= {
        name for name in dir(PodFollower) if callable(getattr(PodFollower, name))
    }


def test_install_wraps_the_instance_only_and_skips_what_the_provider_lacks(mocker):
    class Manager:
        def create_pod(self, pod):
            return pod

        def read_pod_logs(self, pod, container_name, **kwargs):
            return iter(())

        def await_pod_completion(self, pod):
            return pod

    manager = Manager()
    follower(mocker).install(manager)
    wrapped = {name for name in ("create_pod", "read_pod_logs", "await_pod_completion") if name in vars(manager)}
    assert wrapped == {"create_pod", "read_pod_logs", "await_pod_completion"}
    assert not hasattr(manager, "fetch_container_logs")  # none added where upstream has none
    assert vars(Manager)["create_pod"] is Manager.__dict__["create_pod"]  # the class untouched


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("pod", True, "c"), {}, (True, "c")),  # cncf-kubernetes 6+: positional
        (("pod",), {"istio_enabled": True, "container_name": "c"}, (True, "c")),  # by keyword
        (("pod",), {}, (False, "base")),  # 5.x: await_pod_completion(pod)
    ],
)
def test_upstream_arguments_by_keyword_or_position(args, kwargs, expected):
    after_pod = args[1:]
    assert (
        upstream_argument(after_pod, kwargs, "istio_enabled", 0, False),
        upstream_argument(after_pod, kwargs, "container_name", 1, "base"),
    ) == expected


def test_a_created_pod_is_kept_and_a_refusal_named(mocker):
    created = the_pod()
    manager = mocker.MagicMock(spec=["create_pod"])
    manager.create_pod.return_value = created
    f = follower(mocker)
    f.install(manager)
    assert manager.create_pod(pod=the_pod()) is created and f.created_pod is created

    manager = mocker.MagicMock(spec=["create_pod"])
    manager.create_pod.side_effect = ApiException(status=403, reason="Forbidden")
    f.install(manager)
    with pytest.raises(Exception, match=r"Kubernetes refused to create pod ns/p \(403 Forbidden\)"):
        manager.create_pod(the_pod())
    assert f.creation_refused is not None and f.creation_refused.reason == "Forbidden"


def test_the_disruption_read_treats_a_404_as_deleted(mocker):
    client = mocker.MagicMock()
    client.read_namespaced_pod.side_effect = ApiException(status=404)
    verdict = follower(mocker, client=lambda: client).disruption(the_pod())
    assert verdict is not None and verdict.startswith("Pod ns/p was deleted from outside the task")


def test_a_failed_read_of_the_pod_leaves_no_disruption_verdict(mocker):
    client = mocker.MagicMock()
    client.read_namespaced_pod.side_effect = ApiException(status=500)
    assert follower(mocker, client=lambda: client).disruption(the_pod()) is None


def test_a_read_of_a_container_that_ended_long_ago_reaches_its_whole_log(mocker):
    """A deferred task resumed 170 s after its pod ended (the worker was busy): upstream's reader
    reads a container only 120 s past its end, and the task's log had none of the pod's lines."""
    import datetime

    from airflow_provider_composer_kpo.kube.pod_stream import PodState

    finished = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=170)
    ended = the_pod()
    ended.status = k8s.V1PodStatus(
        phase="Succeeded",
        container_statuses=[
            container_status(
                "base",
                k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=0, finished_at=finished)),
            )
        ],
    )
    manager = mocker.MagicMock(spec=["read_pod_logs"])
    upstream = manager.read_pod_logs
    upstream.return_value = iter(())
    f = follower(mocker)
    f.install(manager)
    f.stream = mocker.MagicMock(namespace="ns", pod_name="p")
    f.stream.current.return_value = PodState(ended)
    list(manager.read_pod_logs(ended, "base", timestamps=True, follow=True, post_termination_timeout=120))
    assert upstream.call_args.kwargs["post_termination_timeout"] >= 290

    f.stream.current.return_value = PodState(the_pod())  # still running: upstream's window as it is
    list(manager.read_pod_logs(the_pod(), "base", timestamps=True, follow=True, post_termination_timeout=120))
    assert upstream.call_args.kwargs["post_termination_timeout"] == 120
