from __future__ import annotations

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.lifecycle.diagnosis import (
    PULL_THROTTLED_GRACE_SECONDS,
    PULL_UNREACHABLE_GRACE_SECONDS,
    UNSCHEDULABLE_GRACE_SECONDS,
    container_failure,
    format_events,
    pod_outcome,
    pull_error_grace,
    startup_blocker,
)
from tests.unit.builders import event, unschedulable_pod, waiting_pod

AFFINITY = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."


class TestContainerBlockers:
    def test_missing_secret_is_fatal_with_the_kubelet_message(self):
        blocker = startup_blocker(
            waiting_pod("CreateContainerConfigError", 'secret "airflow-secrets" not found'), [], pending_seconds=1
        )
        assert blocker.fatal
        assert (
            blocker.describe() == "CreateContainerConfigError: secret \"airflow-secrets\" not found (container 'base')"
        )

    @pytest.mark.parametrize("kind", ["secret", "configmap"])
    def test_a_cache_not_synced_yet_waits_for_the_kubelets_verdict(self, kind):
        """Under load the kubelet's first CreateContainerConfigError may be its cache timing out, which
        says nothing about the object; its next attempt names the missing one."""
        pod = waiting_pod(
            "CreateContainerConfigError", f"failed to sync {kind} cache: timed out waiting for the condition"
        )
        blocker = startup_blocker(pod, [], pending_seconds=1)
        assert blocker is not None and blocker.reason == "CreateContainerConfigError" and not blocker.fatal

    def test_init_container_counts_too(self):
        blocker = startup_blocker(waiting_pod("InvalidImageName", "bad", "init", init=True), [], pending_seconds=1)
        assert (blocker.fatal, blocker.container) == (True, "init")

    @pytest.mark.parametrize(
        "message",
        [
            "rpc error: code = NotFound desc = failed to pull and unpack image: not found",
            "manifest unknown: manifest tagged by 9.9 is not found",
            "pull access denied, repository does not exist or may require authorization",
            "unexpected status code 401 Unauthorized",
        ],
    )
    def test_permanent_pull_errors_are_fatal(self, message):
        assert startup_blocker(waiting_pod("ErrImagePull", message), [], pending_seconds=1).fatal

    @pytest.mark.parametrize(
        "message", ["dial tcp: i/o timeout", "net/http: TLS handshake timeout", "503 Service Unavailable"]
    )
    def test_network_pull_errors_wait(self, message):
        blocker = startup_blocker(waiting_pod("ImagePullBackOff", message), [], pending_seconds=1)
        assert blocker is not None and not blocker.fatal

    def test_network_pull_errors_fail_after_their_grace_naming_it(self):
        message = "dial tcp: lookup gcr.io on 10.96.0.10:53: no such host"
        pod = waiting_pod("ErrImagePull", message)
        early = startup_blocker(pod, [], pending_seconds=40, pull_failing_seconds={"base": 29})
        late = startup_blocker(pod, [], pending_seconds=40, pull_failing_seconds={"base": 30})
        assert (early.fatal, late.fatal) == (False, True)
        assert early.message == message
        assert late.describe() == (
            f"ErrImagePull: {message} (still failing after 30 s; the pull grace for a registry the nodes cannot "
            "reach (DNS, connection, TLS) is 30 s) (container 'base')"
        )

    def test_throttled_pull_errors_get_the_longer_grace(self):
        pod = waiting_pod("ImagePullBackOff", "unexpected status from HEAD request: 429 Too Many Requests")
        assert not startup_blocker(pod, [], pending_seconds=1, pull_failing_seconds={"base": 179}).fatal
        blocker = startup_blocker(pod, [], pending_seconds=1, pull_failing_seconds={"base": 180})
        assert blocker.fatal and "is 180 s" in blocker.message

    @pytest.mark.parametrize(
        ("message", "grace"),
        [
            ("manifest unknown", 0),
            (
                'failed to do request: Head "https://gcr.io/v2/p/i/manifests/1": dial tcp: lookup gcr.io: no such host',
                30,
            ),
            ("dial tcp 127.0.0.1:5999: connect: connection refused", 30),
            ("dial tcp 10.0.0.1:443: i/o timeout", 30),
            ("tls: failed to verify certificate: x509: certificate signed by unknown authority", 30),
            ("net/http: TLS handshake timeout", 30),
            ("unexpected status from HEAD request to https://r/v2/i/manifests/1: 503 Service Unavailable", 180),
            ("toomanyrequests: You have reached your pull rate limit", 180),
            ("failed to extract layer: no space left on device", 180),
        ],
    )
    def test_pull_error_grace_by_what_the_registry_said(self, message, grace):
        assert pull_error_grace(message) == grace
        assert {0, PULL_UNREACHABLE_GRACE_SECONDS, PULL_THROTTLED_GRACE_SECONDS} >= {grace}

    def test_back_off_without_detail_takes_the_registry_error_from_the_containers_event(self):
        pod = waiting_pod("ImagePullBackOff", 'Back-off pulling image "gcr.io/p/i:1"')
        events = [
            event(
                "Failed",
                "Failed to pull image: connection refused",
                "Warning",
                minute=1,
                field_path="spec.containers{sidecar}",
            ),
            event(
                "Failed", "Failed to pull image: no such host", "Warning", minute=2, field_path="spec.containers{base}"
            ),
            event(
                "BackOff",
                'Back-off pulling image "gcr.io/p/i:1"',
                "Normal",
                minute=3,
                field_path="spec.containers{base}",
            ),
        ]
        blocker = startup_blocker(pod, events, pending_seconds=40, pull_failing_seconds={"base": 31})
        assert blocker.fatal
        assert blocker.message.startswith("Failed to pull image: no such host (still failing after 31 s")

    def test_container_creating_is_fine(self):
        assert startup_blocker(waiting_pod("ContainerCreating"), [], pending_seconds=100) is None


class TestScheduling:
    def test_autoscaler_refusal_is_fatal_at_once(self):
        events = [event("NotTriggerScaleUp", "pod didn't trigger scale-up: 2 node(s) didn't match affinity")]
        blocker = startup_blocker(unschedulable_pod(AFFINITY), events, pending_seconds=1)
        assert blocker.fatal
        assert "will not add a node: pod didn't trigger scale-up" in blocker.message

    def test_scale_up_in_progress_waits(self):
        events = [event("TriggeredScaleUp", "pod triggered scale-up: [{pool-1 0->1}]")]
        blocker = startup_blocker(unschedulable_pod(AFFINITY), events, pending_seconds=600)
        assert not blocker.fatal

    def test_affinity_without_autoscaler_fatal_after_grace(self):
        assert not startup_blocker(unschedulable_pod(AFFINITY), [], pending_seconds=1).fatal
        blocker = startup_blocker(unschedulable_pod(AFFINITY), [], pending_seconds=UNSCHEDULABLE_GRACE_SECONDS)
        assert blocker.fatal
        assert AFFINITY in blocker.message

    def test_insufficient_resources_keep_waiting(self):
        message = "0/1 nodes are available: 1 Insufficient cpu."
        assert not startup_blocker(unschedulable_pod(message), [], pending_seconds=3600).fatal

    def test_scheduled_pod_has_no_blocker(self):
        condition = k8s.V1PodCondition(type="PodScheduled", status="True")
        pod = k8s.V1Pod(status=k8s.V1PodStatus(phase="Pending", conditions=[condition]))
        assert startup_blocker(pod, [], pending_seconds=1) is None


def test_format_events_newest_last_with_counts():
    events = [event("Failed", "second", "Warning", 3, minute=2), event("Scheduled", "first", minute=1)]
    assert format_events(events) == "  Normal Scheduled: first\n  Warning Failed: second (x3)"


def test_format_events_keeps_only_the_newest():
    events = [event(f"R{i}", minute=i) for i in range(8)]
    assert [line.split()[1] for line in format_events(events, limit=3).splitlines()] == ["R5:", "R6:", "R7:"]


class TestContainerFailure:
    @staticmethod
    def terminated(exit_code: int, reason: str, limits=None, message=None) -> k8s.V1Pod:
        state = k8s.V1ContainerState(
            terminated=k8s.V1ContainerStateTerminated(exit_code=exit_code, reason=reason, message=message)
        )
        status = k8s.V1ContainerStatus(name="base", image="i", image_id="", ready=False, restart_count=0, state=state)
        container = k8s.V1Container(name="base", resources=k8s.V1ResourceRequirements(limits=limits))
        return k8s.V1Pod(
            spec=k8s.V1PodSpec(containers=[container]),
            status=k8s.V1PodStatus(phase="Failed", container_statuses=[status]),
        )

    def test_exit_code(self):
        assert container_failure(self.terminated(3, "Error"), "base") == "container 'base' exited with code 3 (Error)"

    def test_oom_names_the_limit(self):
        text = container_failure(self.terminated(137, "OOMKilled", {"memory": "32Mi"}), "base")
        assert text == "container 'base' was killed for exceeding its memory limit of 32Mi (OOMKilled, exit code 137)"

    def test_success_is_not_a_failure(self):
        assert container_failure(self.terminated(0, "Completed"), "base") is None

    def test_evicted_pod(self):
        pod = k8s.V1Pod(status=k8s.V1PodStatus(phase="Failed", reason="Evicted", message="low on memory"))
        assert container_failure(pod, "base") == "pod Evicted: low on memory"

    def test_eviction_wins_over_the_exit_code_it_caused(self):
        pod = self.terminated(137, "Error", {"ephemeral-storage": "16Mi"})
        pod.status.phase, pod.status.reason = "Failed", "Evicted"
        pod.status.message = "Pod ephemeral local storage usage exceeds the total limit of containers 16Mi. "
        assert container_failure(pod, "base") == (
            "pod Evicted: Pod ephemeral local storage usage exceeds the total limit of containers 16Mi"
        )


def test_pod_outcome_names_phase_and_exit_code():
    pod = TestContainerFailure.terminated(3, "Error")
    pod.metadata = k8s.V1ObjectMeta(name="p", namespace="ns")
    assert pod_outcome(pod, "base") == "pod ns/p ended in phase Failed, container 'base' exit code 3"


def test_pod_outcome_when_container_never_ran():
    pod = waiting_pod("CreateContainerConfigError")
    assert pod_outcome(pod, "base") == "pod ns/p ended in phase Pending, container 'base' did not run"


class TestVolumes:
    def test_missing_secret_volume_is_fatal(self):
        pod = waiting_pod("ContainerCreating")
        events = [
            event(
                "FailedMount",
                'MountVolume.SetUp failed for volume "v" : secret "service-account" not found',
                "Warning",
            )
        ]
        blocker = startup_blocker(pod, events, pending_seconds=5)
        assert (blocker.fatal, blocker.reason) == (True, "FailedMount")
        assert 'secret "service-account" not found' in blocker.message

    def test_other_mount_failures_wait(self):
        pod = waiting_pod("ContainerCreating")
        events = [event("FailedMount", "Unable to attach or mount volumes: timed out waiting for the condition")]
        assert startup_blocker(pod, events, pending_seconds=5) is None


STATUS_422 = (
    '{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,'
    ' "message": "Pod \\"t-1\\" is invalid: spec.containers[0].image: Required value"}'
)
STATUS_403_QUOTA = (
    '{"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403, "message": "pods \\"t-1\\" is'
    ' forbidden: exceeded quota: pods, requested: pods=1, used: pods=10, limited: pods=10"}'
)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, STATUS_422,
         ("Invalid", '(422 Invalid): Pod "t-1" is invalid: spec.containers[0].image: Required value.')),
        (403, STATUS_403_QUOTA, ("Forbidden", "(403 Forbidden): pods \"t-1\" is forbidden: exceeded quota: pods,")),
        (404, b'{"kind": "Status", "reason": "NotFound", "message": "namespaces \\"nope\\" not found"}',
         ("NotFound", '(404 NotFound): namespaces "nope" not found.')),
        (400, "not json at all", ("BadRequest", "(400 BadRequest): not json at all.")),
        (422, None, ("Invalid", "(422 Invalid): no reason given.")),
    ],
)  # fmt: skip
def test_a_refused_creation_names_the_answer_and_says_no_pod_exists(status, body, expected):
    from airflow_provider_composer_kpo.lifecycle.diagnosis import creation_refusal

    reason, message = creation_refusal(status, body, namespace="ns", name="t-1")
    assert reason == expected[0]
    assert message.startswith(f"Kubernetes refused to create pod ns/t-1 {expected[1]}")
    assert message.endswith("No pod was created.")


@pytest.mark.parametrize("status", [None, 0, 409, 429, 500, 503, 504])
def test_an_answer_that_may_still_have_made_the_pod_is_no_refusal(status):
    from airflow_provider_composer_kpo.lifecycle.diagnosis import creation_refusal

    assert creation_refusal(status, STATUS_422, namespace="ns", name="t-1") is None
