"""The fault matrix on Airflow as Composer runs it: ComposerPodOperator's outcome for each fault.

Time limits here only mean "did not hang"; benchmarks/faults.py reports the seconds, beside stock
KubernetesPodOperator's outcome for the same faults.
"""

from __future__ import annotations

import pytest

from tests.faults.dags.composer_kpo_faults import NAMESPACE

pytestmark = pytest.mark.faults

#: A final state later than this after the fault is a hang.
HANG_SECONDS = 120


def log_text(outcome, attempt: int) -> str:
    return "\n".join(outcome.logs.get(attempt, []))


def test_sigterm_fails_naming_the_termination_and_deletes_the_pod(outcomes):
    outcome = outcomes["sigterm"]
    assert outcome.state == "failed", outcome
    assert outcome.try_number == 1
    assert f"stopped while pod {NAMESPACE}/" in (outcome.error or ""), outcome.error
    assert len(outcome.pods) == 1 and not outcome.left_behind, outcome.pods_text()
    assert outcome.seconds_to_final is not None and outcome.seconds_to_final < HANG_SECONDS


# The task process alone, or the whole Celery worker (found by its missing heartbeat, retried on
# a new worker): either way the retry finds the running pod.
@pytest.mark.parametrize("case", ["sigkill_retry", "worker_killed"])
def test_killed_then_retry_reattaches_to_the_same_pod(outcomes, case):
    outcome = outcomes[case]
    assert (outcome.state, outcome.try_number) == ("success", 2), outcome
    assert len(outcome.pods) == 1, outcome.pods_text()  # the work ran once
    assert "work finished" in log_text(outcome, 2)
    assert not outcome.left_behind


# No process of the try is left to clean up and no retry comes: the task's failure callback, run by
# Airflow after the heartbeat timeout, deletes the pod (stock KPO's runs on to its end and stays).
def test_worker_killed_on_the_final_try_fails_and_its_pod_is_deleted(outcomes):
    outcome = outcomes["worker_killed_final"]
    assert (outcome.state, outcome.try_number) == ("failed", 1), outcome
    assert any(note.startswith("pod deleted") for note in outcome.notes), outcome.notes
    assert len(outcome.pods) == 1 and not outcome.left_behind, outcome.pods_text()
    assert "work started" in log_text(outcome, 1)


def test_execution_timeout_fails_naming_it_and_deletes_the_pod(outcomes):
    outcome = outcomes["execution_timeout"]
    assert outcome.state == "failed", outcome
    assert outcome.error is not None and "execution_timeout (0:00:25) reached while pod" in outcome.error
    assert "the pod was deleted" in outcome.error
    assert len(outcome.pods) == 1 and not outcome.left_behind, outcome.pods_text()
    assert outcome.seconds_to_final is not None and outcome.seconds_to_final < HANG_SECONDS


@pytest.mark.parametrize("state", ["failed", "success"])
def test_marked_from_the_api_the_pod_goes_and_the_state_stays(outcomes, state):
    outcome = outcomes[f"mark_{state}"]
    assert (outcome.state, outcome.try_number) == (state, 1), outcome
    assert any(note.startswith("pod deleted") for note in outcome.notes), outcome.notes
    assert len(outcome.pods) == 1 and not outcome.left_behind, outcome.pods_text()


@pytest.mark.parametrize("case", ["pod_deleted", "deferred_pod_deleted"])
def test_pod_deleted_from_outside_fails_naming_it_and_the_retry_runs_one_new_pod(outcomes, case):
    outcome = outcomes[case]
    assert (outcome.state, outcome.try_number) == ("success", 2), outcome
    assert "was deleted from outside the task while it ran" in log_text(outcome, 1)
    assert len(outcome.pods) == 2 and not outcome.left_behind, outcome.pods_text()


@pytest.mark.parametrize("case", ["evicted", "deferred_evicted"])
def test_evicted_pod_fails_naming_the_limit_and_the_retry_runs_a_new_pod(outcomes, case):
    outcome = outcomes[case]
    assert (outcome.state, outcome.try_number) == ("success", 2), outcome
    first_try = log_text(outcome, 1)
    # Named by the running-pod watch ("was evicted by the kubelet") or, if the follower saw the
    # container end first, by the failure diagnosis ("pod Evicted"): either way, with the limit.
    assert "ephemeral local storage usage exceeds the total limit of containers 16Mi" in first_try, first_try[-2000:]
    assert "evicted by the kubelet" in first_try or "pod Evicted" in first_try
    assert len(outcome.pods) == 2 and not outcome.left_behind, outcome.pods_text()


def test_node_lost_fails_in_bounded_time_naming_it_and_the_retry_runs_a_new_pod(outcomes):
    outcome = outcomes["node_lost"]
    assert (outcome.state, outcome.try_number) == ("success", 2), outcome
    assert "lost contact with its node" in log_text(outcome, 1), log_text(outcome, 1)[-2000:]
    ended = next(note for note in outcome.notes if note.startswith("try 1 ended"))
    # The node controller's 50 s grace, our 5 s check, the task's exit: well under the bound.
    assert float(ended.split()[3]) < HANG_SECONDS, ended
    assert len(outcome.pods) == 2, outcome.pods_text()


def test_cleared_task_with_keep_pod_runs_a_new_pod(outcomes):
    outcome = outcomes["cleared_keep_pod"]
    assert outcome.state == "success", outcome
    assert len(outcome.pods) == 2, outcome.pods_text()  # both kept: keep_pod
    assert all(p.phase == "Succeeded" for p in outcome.pods), outcome.pods_text()


def test_silent_pod_succeeds(outcomes):
    if "silent" not in outcomes:
        pytest.skip("make test runs the silent case on Airflow 3 only (cases.ONE_MAJOR_ONLY); make fault-table on both")
    outcome = outcomes["silent"]
    assert (outcome.state, outcome.try_number) == ("success", 1), outcome
    assert "after 300 silent seconds" in log_text(outcome, 1)
    assert len(outcome.pods) == 1 and not outcome.left_behind


#: CRI log lines of the log cases (100 bytes of text, a timestamp and stream tags): how many one
#: 256 KiB log file of the local cluster's kubelet holds.
LINES_PER_LOG_FILE = 256 * 1024 // 140
#: What a task log says when its log stream broke and was read again (ours, then upstream's).
RESUMED_SIGNS = ("Resumed the log stream", "log read interrupted", "Reading of logs interrupted")


def kubelet_follow_race(missing: list[int], text: str) -> bool:
    """Whether lost lines are what the kubelet's log follower drops, seen on a loaded machine: at a
    rotation it switches to the new file without draining the old one, so lines written just before
    the rotation are lost with no break in the stream, which no API reader can see (its history:
    kubernetes/kubernetes#115701, #108678). One run of consecutive lines, less than one log file,
    and the stream never resumed (a resumed read names its gaps)."""
    one_run = missing == list(range(missing[0], missing[0] + len(missing)))
    resumed = any(sign in text for sign in RESUMED_SIGNS)
    return one_run and len(missing) < LINES_PER_LOG_FILE and not resumed


@pytest.mark.parametrize("case", ["log_rotation", "log_apiserver_restart"])
def test_every_log_line_once_or_the_gap_named(outcomes, case):
    from tests.faults.driver import count_numbered_lines

    outcome = outcomes[case]
    assert (outcome.state, outcome.try_number) == ("success", 1), outcome
    text = log_text(outcome, 1)
    count = count_numbered_lines(text.splitlines())
    assert not count.doubled, f"{len(count.doubled)} lines logged twice, from line {count.doubled[0]}"
    # A line may be lost only where the kubelet rotated it away while the stream was down, and
    # then the task log says so; or, with no break in the stream, by the kubelet's own follower.
    if count.missing and not count.gap_noted:
        assert case == "log_rotation" and kubelet_follow_race(count.missing, text), (
            f"{len(count.missing)} lines missing, no gap noted"
        )
    assert len(outcome.pods) == 1 and not outcome.left_behind, outcome.pods_text()


def test_deferred_task_survives_triggerer_sigterm_and_sigkill_with_one_pod(outcomes):
    """The trigger resumes on each new triggerer: the task succeeds, its pod ran once and was deleted."""
    outcome = outcomes["deferred_triggerer_restarts"]
    assert (outcome.state, outcome.try_number) == ("success", 1), outcome
    assert sum(note.startswith("triggerer back") for note in outcome.notes) == 2, outcome.notes
    assert "tick 60" in log_text(outcome, 1)
    assert len(outcome.pods) == 1 and not outcome.left_behind, outcome.pods_text()
