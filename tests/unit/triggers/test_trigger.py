"""ComposerPodTrigger with a stand-in API client: the synchronous path's verdicts, events of plain data."""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time

import pytest
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo.compat import HAS_DEFERRABLE
from airflow_provider_composer_kpo.exceptions import PodStartupError
from airflow_provider_composer_kpo.lifecycle.deferral import API_ERROR, CANNOT_START, DISRUPTED, ENDED, TIMED_OUT
from airflow_provider_composer_kpo.lifecycle.startup import StartupWatch
from airflow_provider_composer_kpo.triggers import composer_pod as trigger_module
from airflow_provider_composer_kpo.triggers.composer_pod import ComposerPodTrigger
from tests.unit.builders import event, waiting_pod


class StandInClient:
    """Answers read_namespaced_pod with the next pod (or raises it); the last one repeats."""

    def __init__(self, pods, events=()) -> None:
        self.pods, self.events, self.reads, self.event_lists = list(pods), list(events), 0, 0

    def read_namespaced_pod(self, name, namespace, **kwargs):
        self.reads += 1
        answer = self.pods.pop(0) if len(self.pods) > 1 else self.pods[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def list_namespaced_event(self, namespace, **kwargs):
        self.event_lists += 1
        return k8s.CoreV1EventList(items=self.events)


def trigger(client: StandInClient, **kwargs) -> ComposerPodTrigger:
    kwargs.setdefault("trigger_start_time", time.time())
    made = ComposerPodTrigger(
        pod_name="p", pod_namespace="ns", startup_check_interval_seconds=0, poll_interval=0, **kwargs
    )
    made._client = client
    return made


def first_event(made: ComposerPodTrigger) -> dict:
    async def run():
        async for fired in made.run():
            return fired.payload
        raise AssertionError("no event")

    return asyncio.run(run())


def pod(phase: str, *, container_state: k8s.V1ContainerState | None = None, **status) -> k8s.V1Pod:
    statuses = None
    if container_state is not None:
        statuses = [
            k8s.V1ContainerStatus(
                name="base", image="i", image_id="", ready=False, restart_count=0, state=container_state
            )
        ]
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace="ns"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")], node_name="node-1"),
        status=k8s.V1PodStatus(phase=phase, container_statuses=statuses, **status),
    )


def terminated(exit_code: int, reason: str = "Error") -> k8s.V1ContainerState:
    return k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=exit_code, reason=reason))


RUNNING = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning())


@pytest.fixture(autouse=True)
def _reads_only(monkeypatch):
    """The stand-in answers reads; tests/unit/kube/test_pods_watch.py and the cluster tests cover the shared watch."""
    monkeypatch.setattr(ComposerPodTrigger, "share_pod_watch", False)


@pytest.fixture(autouse=True)
def _no_backoff_wait(monkeypatch):
    async def no_wait(seconds):
        return None

    monkeypatch.setattr(trigger_module.asyncio, "sleep", no_wait)


class TestSerialization:
    def test_round_trip_through_json_recreates_the_same_trigger(self):
        made = ComposerPodTrigger(
            pod_name="p", pod_namespace="ns", trigger_start_time=1700000000.5, config_file="/k", execution_deadline=5.0
        )
        classpath, kwargs = made.serialize()
        assert classpath == "airflow_provider_composer_kpo.triggers.composer_pod.ComposerPodTrigger"
        again = ComposerPodTrigger(**json.loads(json.dumps(kwargs)))
        assert again.serialize() == (classpath, kwargs)

    def test_keywords_from_a_newer_version_are_ignored_with_a_warning(self, caplog):
        made = ComposerPodTrigger(pod_name="p", pod_namespace="ns", trigger_start_time=1.0, added_later=3)
        assert "added_later" not in made.serialize()[1]
        assert "ignoring arguments this version does not know: ['added_later']" in caplog.text

    def test_keywords_an_older_version_did_not_send_take_their_defaults(self):
        made = ComposerPodTrigger(pod_name="p", pod_namespace="ns", trigger_start_time=1.0)
        assert made.execution_deadline is None and made.startup_timeout_seconds == 600

    def test_serialized_keywords_hold_no_kubeconfig_content(self):
        kwargs = ComposerPodTrigger(pod_name="p", pod_namespace="ns", trigger_start_time=1.0).serialize()[1]
        assert all(isinstance(v, (str, int, float, bool, type(None))) for v in kwargs.values())


class TestStartup:
    def test_missing_secret_fails_with_the_synchronous_message(self):
        stuck = waiting_pod("CreateContainerConfigError", 'secret "s" not found')
        fired = first_event(trigger(StandInClient([stuck])))
        assert fired["status"] == CANNOT_START and fired["reason"] == "CreateContainerConfigError"
        with pytest.raises(PodStartupError) as sync:
            StartupWatch("p", "ns", lambda: stuck, lambda: [], 600, 600, sleep=lambda s: None).wait()
        assert fired["message"] == str(sync.value) and fired["timeout"] is False

    def test_events_are_read_only_when_the_pod_shows_a_problem(self):
        client = StandInClient([pod("Pending"), pod("Running", container_state=RUNNING), pod("Succeeded")])
        assert first_event(trigger(client))["status"] == ENDED
        assert client.event_lists == 0

    def test_schedule_timeout_counts_from_the_task_deferral_across_restarts(self):
        """A trigger re-created after a triggerer restart keeps the deferral's start time."""
        long_ago = time.time() - 120
        client = StandInClient([pod("Pending")], events=[event("FailedScheduling", "0/1 nodes are available")])
        fired = first_event(trigger(client, trigger_start_time=long_ago, schedule_timeout_seconds=60))
        assert fired["status"] == CANNOT_START and fired["timeout"] is True
        assert "was not scheduled within 60 s (schedule_timeout_seconds)" in fired["message"]
        assert "FailedScheduling" in fired["message"]  # the events, read for the message


class TestRunning:
    def test_failed_container_ends_with_its_failure_in_the_event(self):
        client = StandInClient([pod("Running", container_state=RUNNING), pod("Failed", container_state=terminated(3))])
        fired = first_event(trigger(client))
        assert fired["status"] == ENDED
        assert fired["message"] == "container 'base' exited with code 3 (Error)"

    def test_base_container_ended_while_a_sidecar_runs(self):
        fired = first_event(trigger(StandInClient([pod("Running", container_state=terminated(0, "Completed"))])))
        assert fired == {**fired, "status": ENDED, "message": ""}

    def test_pod_deleted_while_it_runs(self):
        client = StandInClient([pod("Running", container_state=RUNNING), ApiException(status=404)])
        fired = first_event(trigger(client))
        assert fired["status"] == DISRUPTED
        assert fired["message"].startswith("Pod ns/p was deleted from outside the task while it ran")

    def test_evicted_pod(self):
        evicted = pod("Failed", reason="Evicted", message="The node was low on resource: memory.")
        fired = first_event(trigger(StandInClient([pod("Running", container_state=RUNNING), evicted])))
        assert (
            fired["status"] == DISRUPTED and "evicted by the kubelet: The node was low on resource" in fired["message"]
        )

    def test_a_finished_pod_being_deleted_ended_and_was_not_disrupted(self):
        done = pod("Succeeded", container_state=terminated(0, "Completed"))
        done.metadata.deletion_timestamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        fired = first_event(trigger(StandInClient([pod("Running", container_state=RUNNING), done])))
        assert fired["status"] == ENDED and fired["message"] == ""

    def test_a_pod_first_seen_killed_by_its_deletion_was_disrupted(self):
        """Found by the soak: a trigger started after a triggerer restart saw a drained pod only once its
        container had been killed (137), and reported it as the container's own failure."""
        killed = pod("Failed", container_state=terminated(137))
        killed.metadata.deletion_timestamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        fired = first_event(trigger(StandInClient([killed])))
        assert fired["status"] == DISRUPTED
        assert fired["message"].startswith("Pod ns/p was deleted from outside the task while it ran")
        assert fired["message"].endswith("container 'base' was stopped with exit code 137; its work did not finish.")

    def test_a_pod_that_failed_by_itself_and_is_then_deleted_keeps_its_failure(self):
        failed = pod("Failed", container_state=terminated(3))
        failed.metadata.deletion_timestamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        fired = first_event(trigger(StandInClient([failed])))
        assert fired["status"] == ENDED and fired["message"] == "container 'base' exited with code 3 (Error)"

    def test_execution_deadline_passed(self):
        client = StandInClient([pod("Running", container_state=RUNNING)])
        assert first_event(trigger(client, execution_deadline=time.time() - 1))["status"] == TIMED_OUT


class TestApiFailures:
    def test_transient_failures_are_retried(self):
        client = StandInClient(
            [
                ApiException(status=503),
                ConnectionRefusedError("refused"),
                pod("Succeeded", container_state=terminated(0)),
            ]
        )
        assert first_event(trigger(client))["status"] == ENDED
        assert client.reads == 3

    def test_a_refusal_is_not_retried(self):
        client = StandInClient([ApiException(status=403, reason="Forbidden")])
        fired = first_event(trigger(client))
        assert fired["status"] == API_ERROR and "403" in fired["message"]
        assert client.reads == 1


@pytest.mark.skipif(not HAS_DEFERRABLE, reason="deferrable KPO needs cncf-kubernetes 6.0+")
def test_the_event_is_json_and_a_trigger_event():
    from airflow.triggers.base import TriggerEvent

    made = trigger(StandInClient([pod("Succeeded", container_state=terminated(0))]))

    async def run():
        async for fired in made.run():
            return fired

    fired = asyncio.run(run())
    assert isinstance(fired, TriggerEvent)
    assert json.loads(json.dumps(fired.payload)) == fired.payload


class TestComposer3Placeholder:
    """The placeholder ends only after its VM shut down: the trigger must end while the VM still answers."""

    def placeholder(self, phase: str = "Running") -> k8s.V1Pod:
        made = pod(phase)
        made.spec.containers = [k8s.V1Container(name="peervm-placeholder")]
        made.metadata.annotations = {"node.gke.io/peer-vm-endpoint": "10.0.0.7"}  # its VM has started
        return made

    def test_ends_when_the_vm_reports_the_main_container_terminated(self, mocker):
        answers = iter(
            ['[{"container": "base", "state": "RUNNING"}]', '[{"container": "base", "state": "TERMINATED"}]']
        )
        mocker.patch.object(trigger_module, "VM_STATES_EVERY_SECONDS", 0)
        exec_factory = mocker.patch.object(trigger_module, "exec_in_placeholder")
        exec_factory.return_value = lambda command: next(answers)
        client = StandInClient([self.placeholder()])
        client.api_client = object()
        fired = first_event(trigger(client))
        assert fired["status"] == ENDED

    def test_a_vm_that_does_not_answer_yet_is_no_verdict(self, mocker):
        mocker.patch.object(trigger_module, "VM_STATES_EVERY_SECONDS", 0)

        def not_yet(command):
            raise RuntimeError("container not found")

        mocker.patch.object(trigger_module, "exec_in_placeholder", return_value=not_yet)
        client = StandInClient([self.placeholder(), self.placeholder(), self.placeholder("Succeeded")])
        client.api_client = object()
        assert first_event(trigger(client))["status"] == ENDED  # the placeholder's phase still decides
        assert client.reads == 3


@pytest.mark.skipif(not HAS_DEFERRABLE, reason="deferrable=True needs cncf-kubernetes 6.0+")
def test_the_connection_is_read_in_asgirefs_thread_not_the_api_pool(monkeypatch):
    """Airflow 3.1's triggerer answers a connection read from a thread of our own pool on a second
    event loop; concurrent triggers' replies then cross and the triggerer exits. asgiref's thread
    hands the read back to the triggerer's loop, as upstream's async hook does."""
    import threading

    made = ComposerPodTrigger(pod_name="p", pod_namespace="ns", trigger_start_time=time.time())
    threads = []

    def make_client():
        threads.append(threading.current_thread().name)
        return "client"

    monkeypatch.setattr(made, "_make_client", make_client)
    assert asyncio.run(made._api()) == "client"
    (name,) = threads
    assert not name.startswith("composer-kpo-trigger"), name


def test_with_the_shared_watches_a_pod_that_cannot_start_costs_no_read_and_no_event_list(monkeypatch):
    """Hundreds of deferred pods unschedulable while the node pool scales up: each trigger's pod and
    events come from its triggerer's two watches, and the verdict is the one a read would give."""
    from airflow_provider_composer_kpo.kube import list_watch
    from airflow_provider_composer_kpo.kube.events_watch import EventsWatch
    from airflow_provider_composer_kpo.kube.pods_watch import PodsWatch

    monkeypatch.setattr(ComposerPodTrigger, "share_pod_watch", True)
    monkeypatch.setattr(list_watch, "MIN_WATCH_INTERVAL_SECONDS", 0)
    unschedulable = pod(
        "Pending",
        conditions=[k8s.V1PodCondition(type="PodScheduled", status="False", reason="Unschedulable")],
    )
    unschedulable.spec.node_name = None
    stuck = event("FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.", "Warning")

    def held_open(version, seconds):
        threading.Event().wait(1)
        return iter(())

    pods = PodsWatch(namespace="ns", list_objects=lambda: ([unschedulable], "1"), watch_objects=held_open)
    events = EventsWatch(namespace="ns", list_objects=lambda: ([stuck], "1"), watch_objects=held_open)
    monkeypatch.setattr(trigger_module, "shared_watch", lambda key, namespace, client: pods)
    monkeypatch.setattr(trigger_module, "shared_events_watch", lambda key, namespace, client: events)
    client = StandInClient([unschedulable], events=[stuck])
    fired = first_event(trigger(client, trigger_start_time=time.time() - 120, schedule_timeout_seconds=60))
    assert fired["status"] == CANNOT_START and fired["timeout"] is True
    assert "0/3 nodes are available: 3 Insufficient cpu." in fired["message"]
    assert (client.reads, client.event_lists) == (0, 0)
    assert (pods.following, events.following) == (0, 0)  # both followers closed
    pods.stop()
    events.stop()
