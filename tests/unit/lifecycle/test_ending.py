"""decide_ending: every combination of facts against the documented precedence, and both paths use it."""

from __future__ import annotations

import datetime
import itertools

import pytest
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo import ComposerPodOperator, PodFailedError
from airflow_provider_composer_kpo.compat import HAS_DEFERRABLE, AirflowTaskTimeout, TaskDeferred
from airflow_provider_composer_kpo.lifecycle import ending as ending_module
from airflow_provider_composer_kpo.lifecycle.deferral import DISRUPTED, TIMED_OUT, pod_event
from airflow_provider_composer_kpo.lifecycle.ending import (
    Ending,
    EndingFacts,
    EndingKind,
    Interruption,
    UpstreamError,
    decide_ending,
    failure_message,
)
from airflow_provider_composer_kpo.lifecycle.interruption import pod_disruption
from airflow_provider_composer_kpo.lifecycle.running import PodDisruptedError
from tests.unit.builders import cleanup_while

K = EndingKind
I = Interruption  # noqa: E741 - the table reads better short
U = UpstreamError
FAILURE = "Pod ns/p failed: container 'base' exited with code 3 (Error)."
DISRUPTION = "Pod ns/p was evicted by the kubelet: usage exceeds 20Mi."
STOPPED_TASK = (I.OWN_VERDICT, I.TIMEOUT, I.OTHER)


def documented(f: EndingFacts) -> EndingKind:
    """The module docstring's table, row by row: the first row that matches decides."""
    rows = [
        (f.preflight_failed, K.PREFLIGHT),  # 1
        (f.creation_refused, K.REFUSED),  # 2
        (f.pod_gone and f.interruption is not I.NONE, K.GOES_ON),  # 3: the trigger's error
        (f.pod_gone and f.failure is not None, K.FAILED),
        (f.pod_gone and f.xcom_expected, K.FAILED),
        (f.pod_gone, K.GONE),
        (f.stopped_by_on_kill, K.KILLED),  # 4
        (f.upstream_error is U.OTHER, K.UPSTREAM),  # 5
        (f.startup_failed and f.upstream_error is U.PLAIN, K.STARTUP),  # 6
        (f.startup_failed, K.GOES_ON),
        (f.interruption in STOPPED_TASK and not f.pod_known, K.GOES_ON),  # 7
        (f.interruption is I.OWN_VERDICT, K.OWN_VERDICT),
        (f.interruption is I.TIMEOUT, K.TIMED_OUT),
        (f.interruption is I.OTHER and f.disruption is not None, K.DISRUPTED),
        (f.interruption is I.OTHER, K.GOES_ON),
        (f.upstream_error is U.NONE, K.GOES_ON),  # 8
        (f.failure is not None, K.FAILED),  # 9
        (f.placeholder_succeeded, K.PLACEHOLDER_SUCCEEDED),  # 10
        (True, K.UPSTREAM),  # 11
    ]
    return next(kind for matches, kind in rows if matches)


BOOL = (False, True)
# What decides the row (the parameters) x the evidence read for it (looped in each case): 15,360 facts.
DECIDING = list(itertools.product(BOOL, BOOL, BOOL, BOOL, BOOL, list(Interruption), list(UpstreamError)))
EVIDENCE = list(itertools.product(BOOL, (None, FAILURE), (None, DISRUPTION), BOOL, BOOL))


@pytest.mark.parametrize(
    ("preflight", "refused", "gone", "startup", "stopped", "interruption", "upstream"),
    DECIDING,
    ids=["-".join(str(getattr(v, "value", v)) for v in case) for case in DECIDING],
)
def test_every_combination_ends_as_documented(preflight, refused, gone, startup, stopped, interruption, upstream):
    for pod_known, failure, disruption, placeholder, xcom in EVIDENCE:
        facts = EndingFacts(
            preflight_failed=preflight,
            creation_refused=refused,
            pod_gone=gone,
            startup_failed=startup,
            stopped_by_on_kill=stopped,
            interruption=interruption,
            pod_known=pod_known,
            upstream_error=upstream,
            failure=failure,
            disruption=disruption,
            placeholder_succeeded=placeholder,
            xcom_expected=xcom,
            name="ns/p",
        )
        ending = decide_ending(facts)
        assert ending.kind is documented(facts), facts
        # A message exactly where the operator raises or logs one.
        has_message = ending.kind in (K.FAILED, K.DISRUPTED, K.GONE, K.PLACEHOLDER_SUCCEEDED)
        assert (ending.message is not None) is has_message, (facts, ending)
        # A deferral is never an interruption: the task goes on in the triggerer.
        if interruption is I.DEFERRED:
            assert ending.kind not in (K.OWN_VERDICT, K.TIMED_OUT, K.DISRUPTED), facts


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (EndingFacts(upstream_error=U.PLAIN, failure=FAILURE), Ending(K.FAILED, FAILURE)),
        (
            EndingFacts(interruption=I.OTHER, disruption=DISRUPTION, upstream_error=U.PLAIN),
            Ending(K.DISRUPTED, DISRUPTION),
        ),
        (
            EndingFacts(upstream_error=U.PLAIN, placeholder_succeeded=True),
            Ending(
                K.PLACEHOLDER_SUCCEEDED, "Composer 3: the placeholder pod succeeded, so its peer VM's containers did"
            ),
        ),
        (
            EndingFacts(pod_gone=True, failure=FAILURE, name="ns/p"),
            Ending(K.FAILED, f"{FAILURE} It was deleted before the task resumed; its log is gone."),
        ),
        (
            EndingFacts(pod_gone=True, xcom_expected=True, name="ns/p"),
            Ending(K.FAILED, "Pod ns/p succeeded but was deleted before the task resumed; its XCom result is gone."),
        ),
        (
            EndingFacts(pod_gone=True, name="ns/p"),
            Ending(K.GONE, "Pod ns/p succeeded and was deleted before the task resumed; its log is gone"),
        ),
    ],
)
def test_the_messages(facts, expected):
    assert decide_ending(facts) == expected


def test_a_failure_message_names_the_pod_then_quotes_the_log_tail():
    assert failure_message("ns/p", "container 'base' exited with code 3 (Error)") == FAILURE
    assert failure_message("ns/p", "it broke", "base", ("one", "two")) == (
        "Pod ns/p failed: it broke.\nLast 2 log lines of 'base':\n  one\n  two"
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (None, I.NONE),
        (TaskDeferred(trigger=None, method_name="m"), I.DEFERRED),
        (PodFailedError("ours"), I.OWN_VERDICT),
        (PodDisruptedError("ours, a subclass"), I.OWN_VERDICT),
        (AirflowTaskTimeout("Timeout"), I.TIMEOUT),
        (ApiException(status=404), I.OTHER),
        (RuntimeError("log stream ended"), I.OTHER),
    ],
)
def test_the_error_in_flight_by_kind(error, kind):
    assert Interruption.of(error) is kind


@pytest.mark.parametrize(("interruption", "startup", "stopped"), itertools.product(list(Interruption), BOOL, BOOL))
def test_the_reads_asked_for(interruption, startup, stopped):
    """The failure is read only when nothing else explains the end; the pod again only when no verdict says why."""
    facts = EndingFacts(interruption=interruption, startup_failed=startup, stopped_by_on_kill=stopped)
    interrupted = interruption in STOPPED_TASK and not startup and not stopped
    assert facts.interrupted is interrupted
    assert facts.judges_failure is (not startup and not interrupted)
    assert facts.reads_disruption is (interrupted and interruption is I.OTHER)
    assert EndingFacts(interruption=interruption, pod_known=False).reads_disruption is False


# --- the operator's two paths call decide_ending, and end alike -----------------------------------------

needs_deferrable = pytest.mark.skipif(not HAS_DEFERRABLE, reason="deferrable KPO needs cncf-kubernetes 6.0+")


def running_pod() -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p-1", namespace="composer-user-workloads"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base")]),
        status=k8s.V1PodStatus(phase="Running"),
    )


def operator(mocker, read, **kwargs) -> ComposerPodOperator:
    op = ComposerPodOperator(task_id="task", image="busybox:1.36", **kwargs)
    op.client = mocker.MagicMock()  # the API calls cleanup and the resume make
    op.pod_manager = mocker.MagicMock()
    op.client.read_namespaced_pod.side_effect = read
    return op


def resumed(op: ComposerPodOperator, event: dict) -> BaseException:
    with pytest.raises(BaseException) as raised:  # the test compares what escaped
        op.resume_from_trigger({}, event)
    return raised.value


def event(status: str, message: str = "") -> dict:
    return pod_event(status, name="p-1", namespace="composer-user-workloads", message=message)


@pytest.fixture
def decisions(mocker):
    """Every decide_ending call the operator makes, with its facts."""
    return mocker.patch(
        "airflow_provider_composer_kpo.operators.composer_pod.decide_ending", wraps=ending_module.decide_ending
    )


@needs_deferrable
def test_execution_timeout_is_decided_on_the_same_facts_in_both_modes(mocker, decisions):
    timeout = datetime.timedelta(seconds=20)
    synchronous = operator(mocker, lambda *a, **k: running_pod(), execution_timeout=timeout)
    sync_error = cleanup_while(synchronous, running_pod(), AirflowTaskTimeout("Timeout, PID: 1"))
    (sync_call,) = decisions.call_args_list
    decisions.reset_mock()

    deferred = operator(mocker, lambda *a, **k: running_pod(), execution_timeout=timeout, deferrable=True)
    resume_error = resumed(deferred, event(TIMED_OUT))
    (resume_call,) = decisions.call_args_list

    assert resume_call == sync_call
    assert sync_call.args[0].interruption is I.TIMEOUT
    assert type(sync_error) is type(resume_error) is AirflowTaskTimeout
    assert str(sync_error) == str(resume_error)
    assert str(sync_error) == (
        "execution_timeout (0:00:20) reached while pod composer-user-workloads/p-1 was running; the pod was deleted."
    )


@needs_deferrable
def test_a_pod_deleted_while_it_ran_fails_alike_in_both_modes(mocker, decisions):
    gone = ApiException(status=404, reason="Not Found")
    synchronous = operator(mocker, gone)
    sync_error = cleanup_while(synchronous, running_pod(), RuntimeError("log stream ended"))
    (sync_call,) = decisions.call_args_list
    decisions.reset_mock()

    # What the trigger sends for the same pod (triggers/composer_pod.py, DisruptionJudge on a 404).
    verdict = pod_disruption(None, name="p-1", namespace="composer-user-workloads")
    deferred = operator(mocker, gone, deferrable=True)
    resume_error = resumed(deferred, event(DISRUPTED, PodDisruptedError.from_verdict(verdict).args[0]))
    (resume_call,) = decisions.call_args_list

    assert decide_ending(sync_call.args[0]).kind is K.DISRUPTED  # judged from the pod read after the error
    assert resume_call.args[0].pod_gone and decide_ending(resume_call.args[0]).kind is K.GOES_ON  # the trigger's
    assert type(sync_error) is type(resume_error) is PodDisruptedError
    assert str(sync_error) == str(resume_error)
    assert str(sync_error).startswith("Pod composer-user-workloads/p-1 was deleted from outside the task while it ran")


@needs_deferrable
def test_a_pod_gone_before_the_resume_is_decided_by_the_same_function(mocker, decisions):
    deferred = operator(mocker, ApiException(status=404), deferrable=True, do_xcom_push=True)
    error = resumed(deferred, event("ended"))
    (call,) = decisions.call_args_list
    assert call.args[0].pod_gone and call.args[0].xcom_expected
    assert isinstance(error, PodFailedError) and str(error).endswith("its XCom result is gone.")
