"""lifecycle/reattach.py: an earlier try's pod whose XCom sidecar has stopped cannot give its result again."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.lifecycle.reattach import being_deleted, result_already_taken
from airflow_provider_composer_kpo.platform.peer_vm import PLACEHOLDER_CONTAINER
from tests.unit.builders import container_status

SIDECAR = "airflow-xcom-sidecar"


def pod(
    sidecar_state: k8s.V1ContainerState | None, first_container: str = "base", phase: str = "Succeeded"
) -> k8s.V1Pod:
    statuses = [container_status("base", k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=0)))]
    if sidecar_state is not None:
        statuses.append(container_status(SIDECAR, sidecar_state))
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p-1", namespace="team", labels={"try_number": "1"}),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name=first_container)]),
        status=k8s.V1PodStatus(phase=phase, container_statuses=statuses),
    )


STOPPED = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=0, reason="Completed"))
RUNNING = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning())


@pytest.mark.parametrize(
    ("found", "do_xcom_push", "taken"),
    [
        (pod(STOPPED), True, True),  # read and stopped by a try that never saved the result
        (pod(RUNNING), True, False),  # the result is still there to read
        (pod(None), True, False),  # no sidecar status yet
        (pod(STOPPED), False, False),  # no result wanted
        (pod(STOPPED, first_container=PLACEHOLDER_CONTAINER), True, False),  # Composer 3: Google's read
        (None, True, False),
    ],
)
def test_a_stopped_sidecar_means_the_result_is_gone(found, do_xcom_push, taken):
    message = result_already_taken(found, do_xcom_push=do_xcom_push, sidecar=SIDECAR)
    assert (message is not None) is taken
    if taken:
        assert message.startswith("Pod team/p-1 of try 1 ended, but its XCom sidecar has stopped")
        assert message.endswith("This try runs the pod anew.")


def deleting(stamp: object) -> k8s.V1Pod:
    found = pod(RUNNING, phase="Running")
    found.metadata.deletion_timestamp = stamp
    return found


@pytest.mark.parametrize(
    ("found", "gone"),
    [
        (deleting(datetime(2026, 12, 5, 5, 0, tzinfo=timezone.utc)), True),  # deleted from outside, terminating
        (deleting("2026-12-05T05:00:00Z"), True),  # as a raw watch event carries it
        (deleting(None), False),
        (pod(STOPPED), False),  # ended, not deleted: the sidecar rule decides
        (None, False),
    ],
)
def test_a_pod_being_deleted_is_not_reattached(found, gone):
    message = being_deleted(found)
    assert (message is not None) is gone
    if gone:
        assert message.startswith("Pod team/p-1 of try 1 is being deleted (since 2026-12-05")
        assert message.endswith("this try runs the pod anew.")
