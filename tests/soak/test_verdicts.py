"""tests/soak/verdicts.py: each rule fires on what it forbids, and stays quiet on what is allowed."""

from __future__ import annotations

import datetime

from airflow_provider_composer_kpo.lifecycle.log_replay import EmptyLog, Instant, LateStart
from tests.soak.plan import TaskSpec
from tests.soak.verdicts import GAP_NOTE, FaultWindow, LogFacts, PodFacts, TaskFacts, TryFacts, counts, judge, log_facts

TOKEN = "soak-1-0000-abcd"
DONE = LogFacts(done=True)


def task(kind="succeed", state="success", tries=((1, "success", 100.0, 160.0),), logs=None, xcom=None, lines=0):
    return TaskFacts(
        TaskSpec(0, kind, "sync", 10, lines),
        TOKEN,
        state,
        tuple(TryFacts(*t) for t in tries),
        triggered=90.0,
        logs={1: DONE} if logs is None else logs,
        xcom=xcom,
    )


def pod(try_number=1, exit_code=0, finished_at=150.0, exists=False, work_done=True, name="p1", task_index=0):
    return PodFacts(name, task_index, try_number, "Succeeded", exit_code, finished_at, exists, work_done)


def rules(tasks, pods, faults=()):
    return [v.rule for v in judge(tasks, pods, faults)]


def test_a_clean_success_has_no_violation():
    assert rules([task()], [pod()]) == []


def test_success_without_finished_work_is_wrong():
    assert rules([task()], [pod(exit_code=137, work_done=False)]) == ["wrong_state"]
    assert rules([task()], []) == ["wrong_state"]


def test_success_needs_only_one_of_the_pods_truths():
    # The watch missed the exit code, the ledger has the end: the work finished.
    assert rules([task()], [pod(exit_code=None, work_done=True)]) == []
    # The ledger lost it, the watch saw exit 0.
    assert rules([task()], [pod(exit_code=0, work_done=False)]) == []


def test_a_fail_task_is_never_success():
    found = judge([task(kind="fail")], [pod(exit_code=3, work_done=False)], [])
    assert [v.rule for v in found] == ["wrong_state"]
    assert "exits 3" in found[0].message and TOKEN in found[0].message


def test_xcom_success_needs_its_own_token():
    assert rules([task(kind="xcom", xcom={"token": TOKEN})], [pod()]) == []
    assert rules([task(kind="xcom", xcom=None)], [pod()]) == ["wrong_state"]
    assert rules([task(kind="xcom", xcom={"token": "soak-1-0001-abcd"})], [pod()]) == ["wrong_state"]


def test_failed_without_any_fault_is_wrong():
    failed = task(state="failed", tries=((1, "failed", 100.0, 160.0), (2, "failed", 170.0, 230.0)), logs={})
    found = judge([failed], [pod(exit_code=1, work_done=False)], [])
    assert [v.rule for v in found] == ["wrong_state"]
    assert "no fault touched" in found[0].message


def test_failed_is_allowed_when_a_fault_hit_the_last_try():
    failed = task(state="failed", tries=((1, "failed", 100.0, 160.0), (2, "failed", 170.0, 230.0)), logs={})
    worker_killed = FaultWindow("worker_sigkill", 200.0, 205.0)
    assert rules([failed], [pod(exit_code=137, work_done=False)], [worker_killed]) == []


def test_a_fault_that_hit_only_the_first_try_does_not_excuse_a_failed_retry():
    failed = task(state="failed", tries=((1, "failed", 100.0, 200.0), (2, "failed", 300.0, 360.0)), logs={})
    early = FaultWindow("scheduler_restart", 120.0, 130.0)  # over before try 2 began (with the settle time)
    assert rules([failed], [pod(exit_code=137, work_done=False)], [early]) == ["wrong_state"]


def test_a_fault_just_before_a_try_still_touches_it_for_the_settle_time():
    failed = task(state="failed", tries=((1, "failed", 100.0, 160.0), (2, "failed", 170.0, 230.0)), logs={})
    just_before = FaultWindow("postgres_restart", 150.0, 165.0)  # ends 5 s before try 2's window ends... and after
    assert rules([failed], [pod(exit_code=137, work_done=False)], [just_before]) == []


def test_a_fault_aimed_at_another_task_does_not_touch_this_one():
    failed = task(state="failed", logs={})
    elsewhere = FaultWindow("pod_evicted", 120.0, 121.0, target=5)
    assert rules([failed], [pod(exit_code=137, work_done=False)], [elsewhere]) == ["wrong_state"]
    here = FaultWindow("pod_evicted", 120.0, 121.0, target=0)
    assert rules([failed], [pod(exit_code=137, work_done=False)], [here]) == []


def test_failed_after_a_reported_success_with_no_later_fault_is_wrong():
    # A fault hit the try early on, the pod still exited 0 at 150 and the log reported it; nothing came after.
    failed = task(state="failed", tries=((1, "failed", 100.0, 200.0),), logs={1: DONE})
    early = FaultWindow("apiserver_restart", 105.0, 110.0)
    found = judge([failed], [pod(finished_at=150.0)], [early])
    assert [v.rule for v in found] == ["wrong_state"]
    assert "reported it" in found[0].message


def test_failed_after_a_reported_success_is_allowed_when_a_fault_came_after():
    failed = task(state="failed", tries=((1, "failed", 100.0, 200.0),), logs={1: DONE})
    later = FaultWindow("worker_sigkill", 170.0, 175.0)
    assert rules([failed], [pod(finished_at=150.0)], [later]) == []


def test_a_fail_task_that_failed_is_right():
    failing = LogFacts(failing=True)
    failed = task(
        kind="fail", state="failed", tries=((1, "failed", 100, 120), (2, "failed", 130, 150)), logs={2: failing}
    )
    assert rules([failed], [pod(exit_code=3, work_done=False), pod(2, 3, 145.0, name="p2", work_done=False)]) == []


def test_stuck_is_reported_and_nothing_else_judged():
    going = task(state="stuck (running)", tries=((1, "running", 100.0, None),), logs={})
    found = judge([going], [pod(exists=True, exit_code=None, work_done=False)], [])
    assert [v.rule for v in found] == ["stuck"]
    assert "p1" in found[0].message


def test_other_final_states_are_wrong():
    assert rules([task(state="upstream_failed")], [pod()]) == ["wrong_state"]


def test_two_pods_for_one_try_are_doubled():
    found = rules([task()], [pod(name="a"), pod(name="b", exit_code=137, work_done=False)])
    assert found == ["doubled"]


def test_one_pod_per_try_over_two_tries_is_fine():
    retried = task(tries=((1, "failed", 100.0, 130.0), (2, "success", 140.0, 200.0)), logs={2: DONE})
    evicted = FaultWindow("pod_evicted", 120.0, 121.0, target=0)
    assert rules([retried], [pod(1, 137, None, work_done=False, name="a"), pod(2, name="b")], [evicted]) == []


def test_a_pod_still_there_after_the_task_ended_is_leaked():
    assert rules([task()], [pod(exists=True)]) == ["leaked"]
    assert rules([task()], [pod(exists=False)]) == []


def test_a_soak_pod_of_no_task_is_leaked_only_while_it_exists():
    assert rules([task()], [pod(), pod(name="stray", task_index=None, exists=True)]) == ["leaked"]
    assert rules([task()], [pod(), pod(name="stray", task_index=None, exists=False)]) == []


def test_success_whose_log_lacks_the_last_line_lost_it():
    assert rules([task(logs={1: LogFacts()})], [pod()]) == ["lost_log"]


def test_the_last_line_must_be_in_the_last_try():
    retried = task(tries=((1, "failed", 100.0, 130.0), (2, "success", 140.0, 200.0)), logs={1: DONE, 2: LogFacts()})
    killed = FaultWindow("worker_sigkill", 120.0, 125.0)
    assert rules([retried], [pod()], [killed]) == ["lost_log"]


def test_big_log_lines_missing_everywhere_are_lost_unless_the_gap_is_named():
    partial = {n: 1 for n in range(1, 11) if n != 4}
    assert rules([task(kind="big_log", lines=10, logs={1: LogFacts(done=True, lines=partial)})], [pod()]) == [
        "lost_log"
    ]
    named = LogFacts(done=True, lines=partial, gap_noted=True)
    assert rules([task(kind="big_log", lines=10, logs={1: named})], [pod()]) == []
    whole = LogFacts(done=True, lines={n: 1 for n in range(1, 11)})
    assert rules([task(kind="big_log", lines=10, logs={1: whole})], [pod()]) == []


def test_big_log_lines_may_come_from_an_earlier_try():
    first = LogFacts(lines={n: 1 for n in range(1, 6)})
    second = LogFacts(done=True, lines={n: 1 for n in range(6, 11)})
    retried = task(
        kind="big_log",
        lines=10,
        tries=((1, "failed", 100.0, 130.0), (2, "success", 140.0, 200.0)),
        logs={1: first, 2: second},
    )
    assert rules([retried], [pod()], [FaultWindow("worker_sigkill", 120.0, 125.0)]) == []


def test_a_line_twice_in_one_try_is_doubled_log():
    twice = LogFacts(done=True, lines={1: 1, 2: 2, 3: 1})
    assert rules([task(kind="big_log", lines=3, logs={1: twice})], [pod()]) == ["doubled_log"]


def test_a_failed_fail_task_must_show_its_failure_line_when_no_fault_touched_it():
    failed = task(kind="fail", state="failed", logs={1: LogFacts()})
    assert rules([failed], [pod(exit_code=3, work_done=False)]) == ["lost_log"]
    hit = FaultWindow("redis_restart", 110.0, 115.0)
    assert rules([failed], [pod(exit_code=3, work_done=False)], [hit]) == []


def test_log_facts_reads_only_its_own_token():
    lines = [
        "soak-begin soak-1-0000-abcd try 1",
        "soak-line 1 soak-1-0000-abcd xxxx",
        "soak-line 2 soak-1-0000-abcd xxxx",
        "soak-line 2 soak-1-0000-abcd xxxx",
        "soak-line 3 soak-1-0001-abcd xxxx",  # another task's
        f"WARNING lines 7 to 9 {GAP_NOTE} ...",
        "soak-done soak-1-0000-abcd",
    ]
    facts = log_facts(lines, TOKEN)
    assert facts == LogFacts(done=True, failing=False, lines={1: 1, 2: 2}, gap_noted=True)
    assert not log_facts(["soak-done soak-1-0001-abcd"], TOKEN).done
    assert log_facts(["soak-failing soak-1-0000-abcd"], TOKEN).failing
    late = LateStart(datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc), Instant(*at_second(9)))
    assert log_facts([f"WARNING {late.message('ns/p', 'base')}"], TOKEN).gap_noted  # the operator's own words
    empty = EmptyLog(late.started, late.started + datetime.timedelta(seconds=10))
    assert log_facts([f"WARNING {empty.message('ns/p', 'base')}"], TOKEN).gap_noted


def test_counts_lists_every_rule():
    found = judge([task(state="upstream_failed")], [pod(exists=True)], [])
    assert counts(found) == {
        "wrong_state": 1,
        "stuck": 0,
        "doubled": 0,
        "leaked": 1,
        "lost_log": 0,
        "doubled_log": 0,
    }


def at_second(second: int) -> tuple[datetime.datetime, int]:
    return datetime.datetime(2026, 12, 4, 0, 0, second, tzinfo=datetime.timezone.utc), 0


def test_a_finished_pods_log_deleted_with_it_by_a_drain_is_named_not_lost():
    from airflow_provider_composer_kpo.lifecycle.ending import EndingFacts, decide_ending

    gone = decide_ending(EndingFacts(pod_gone=True, name="ns/p")).message
    named = log_facts([f"WARNING {gone}"], TOKEN)  # the operator's own words
    assert named.deletion_noted
    drained = FaultWindow("node_drain", 150.0, 160.0)
    big = dict(kind="big_log", lines=10)
    assert rules([task(logs={1: named})], [pod()], [drained]) == []
    assert rules([task(logs={1: named}, **big)], [pod()], [drained]) == []
    # Not named, not a deleting fault, or no finished work on that try: still a lost log.
    assert rules([task(logs={1: LogFacts()})], [pod()], [drained]) == ["lost_log"]
    assert rules([task(logs={1: named})], [pod()], [FaultWindow("redis_restart", 150.0, 160.0)]) == ["lost_log"]
    assert rules([task(logs={1: named})], [pod()], []) == ["lost_log"]
    assert rules([task(logs={1: named})], [pod(work_done=False), pod(try_number=2, name="p2")], [drained]) == [
        "lost_log"
    ]
