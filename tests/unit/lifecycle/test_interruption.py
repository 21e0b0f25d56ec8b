from __future__ import annotations

import datetime

from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.lifecycle.interruption import (
    execution_timeout_message,
    killed_by_deletion,
    pod_disruption,
)

NAME, NAMESPACE = "p-1", "composer-user-workloads"


def pod(phase: str = "Running", **status: object) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=NAME, namespace=NAMESPACE),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")], node_name="node-a"),
        status=k8s.V1PodStatus(phase=phase, **status),
    )


def verdict(p: k8s.V1Pod | None) -> str | None:
    return pod_disruption(p, name=NAME, namespace=NAMESPACE)


def test_a_pod_gone_was_deleted_from_outside():
    assert verdict(None) == (
        "Pod composer-user-workloads/p-1 was deleted from outside the task while it ran "
        "(kubectl delete, preemption or a node drain)"
    )


def test_a_pod_being_deleted_names_when():
    p = pod()
    p.metadata.deletion_timestamp = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert "deleted from outside the task" in verdict(p)
    assert "deletion requested at 2026-01-02T03:04:05+00:00" in verdict(p)
    # With a grace period, deletionTimestamp is when it ends, not when the deletion was asked for.
    p.metadata.deletion_grace_period_seconds = 30
    assert "deletion requested at 2026-01-02T03:03:35+00:00" in verdict(p)


def ended(exit_code: int, *, deleting: bool) -> k8s.V1Pod:
    p = pod("Failed" if exit_code else "Succeeded")
    p.status.container_statuses = [
        k8s.V1ContainerStatus(
            name="base",
            image="i",
            image_id="",
            ready=False,
            restart_count=0,
            state=k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=exit_code)),
        )
    ]
    if deleting:
        p.metadata.deletion_timestamp = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    return p


def test_a_container_killed_by_the_pods_deletion_names_the_deletion():
    for code in (137, 143):
        found = killed_by_deletion(ended(code, deleting=True), "base")
        assert found is not None
        assert found.startswith("Pod composer-user-workloads/p-1 was deleted from outside the task while it ran")
        assert found.endswith(f"container 'base' was stopped with exit code {code}")


def test_a_container_that_ended_by_itself_keeps_its_ending():
    assert killed_by_deletion(ended(0, deleting=True), "base") is None  # finished before the deletion
    assert killed_by_deletion(ended(3, deleting=True), "base") is None  # its own failure
    assert killed_by_deletion(ended(137, deleting=False), "base") is None  # OOMKilled, no deletion
    assert killed_by_deletion(pod(), "base") is None  # still running


def test_an_evicted_pod_quotes_the_kubelet():
    message = "Pod ephemeral local storage usage exceeds the total limit of containers 20Mi. "
    assert verdict(pod("Failed", reason="Evicted", message=message)) == (
        "Pod composer-user-workloads/p-1 was evicted by the kubelet: "
        "Pod ephemeral local storage usage exceeds the total limit of containers 20Mi."
    )


def test_eviction_wins_over_the_deletion_that_follows_it():
    p = pod("Failed", reason="Evicted", message="The node was low on resource: memory.")
    p.metadata.deletion_timestamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert "evicted by the kubelet: The node was low on resource: memory." in verdict(p)


def test_phase_unknown_is_a_lost_node():
    assert verdict(pod("Unknown", message="node lost")) == (
        "Pod composer-user-workloads/p-1 lost contact with its node node-a: phase Unknown (node lost)"
    )


def test_not_ready_because_of_the_node_is_a_lost_node():
    ready = k8s.V1PodCondition(type="Ready", status="False", reason="NodeNotReady")
    assert verdict(pod(conditions=[ready])) == (
        "Pod composer-user-workloads/p-1 lost contact with its node node-a: NodeNotReady"
    )


def test_a_pod_running_or_finished_normally_has_no_verdict():
    not_ready = k8s.V1PodCondition(type="Ready", status="False", reason="ContainersNotReady")
    assert verdict(pod()) is None
    assert verdict(pod("Succeeded")) is None
    assert verdict(pod("Failed", conditions=[not_ready])) is None


def test_execution_timeout_message_says_what_became_of_the_pod():
    timeout = datetime.timedelta(seconds=20)
    assert execution_timeout_message(pod(), timeout=timeout, pod_deleted=True) == (
        "execution_timeout (0:00:20) reached while pod composer-user-workloads/p-1 was running; the pod was deleted."
    )
    assert "the pod was kept (on_finish_action='keep_pod')" in execution_timeout_message(
        pod(), timeout=timeout, pod_deleted=False
    )
    assert execution_timeout_message(pod(), timeout=timeout, pod_deleted=False, delete_error="403 Forbidden").endswith(
        "; deleting the pod failed (403 Forbidden); delete it with `kubectl delete pod -n composer-user-workloads p-1`."
    )


def test_ready_false_while_containers_ready_is_the_node_controllers_mark():
    marked = [
        k8s.V1PodCondition(type="Ready", status="False"),
        k8s.V1PodCondition(type="ContainersReady", status="True"),
    ]
    assert verdict(pod(conditions=marked)) == (
        "Pod composer-user-workloads/p-1 lost contact with its node node-a: the node stopped reporting and is NotReady"
    )
    kubelet_says = [
        k8s.V1PodCondition(type="Ready", status="False", reason="ContainersNotReady"),
        k8s.V1PodCondition(type="ContainersReady", status="False", reason="ContainersNotReady"),
    ]
    assert verdict(pod(conditions=kubelet_says)) is None


class TestDisruptionJudge:
    """A node loss counts once it lasted; what the control plane's own outage shows for seconds does not."""

    @staticmethod
    def node_not_ready() -> k8s.V1Pod:
        return pod(
            conditions=[
                k8s.V1PodCondition(type="Ready", status="False"),
                k8s.V1PodCondition(type="ContainersReady", status="True"),
            ]
        )

    def judge(self):
        from airflow_provider_composer_kpo.lifecycle.interruption import DisruptionJudge

        clock = {"now": 100.0}
        return DisruptionJudge(name=NAME, namespace=NAMESPACE, confirm_seconds=30, clock=lambda: clock["now"]), clock

    def test_a_node_loss_is_named_once_it_lasted(self):
        judge, clock = self.judge()
        assert judge.judge(self.node_not_ready()) is None
        clock["now"] += 29
        assert judge.judge(self.node_not_ready()) is None
        clock["now"] += 1
        assert "lost contact with its node node-a" in judge.judge(self.node_not_ready())

    def test_a_node_that_reports_again_starts_the_wait_over(self):
        judge, clock = self.judge()
        judge.judge(self.node_not_ready())
        clock["now"] += 25
        assert judge.judge(pod()) is None  # the kubelet re-synced the pod: Ready again
        clock["now"] += 10
        assert judge.judge(self.node_not_ready()) is None  # a new loss: 30 s from now
        clock["now"] += 30
        assert judge.judge(self.node_not_ready()) is not None

    def test_a_deletion_or_an_eviction_needs_no_wait(self):
        judge, _ = self.judge()
        assert "deleted from outside" in judge.judge(None)
        evicted = pod("Failed", reason="Evicted", message="usage exceeds 20Mi.")
        assert "evicted by the kubelet" in judge.judge(evicted)
