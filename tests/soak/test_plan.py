"""tests/soak/plan.py: the schedule is a pure function of the seed."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.soak.plan import CLUSTER_WIDE, FAULT_KINDS, MAX_DELAY, TARGETED, TASK_KINDS, default_faults, plan


def test_the_same_seed_gives_the_same_plan():
    assert plan(1234, 60) == plan(1234, 60)
    assert plan(1234, 60, 12) == plan(1234, 60, 12)


def test_another_seed_gives_another_plan():
    assert plan(1, 60).tasks != plan(2, 60).tasks
    assert plan(1, 60).faults != plan(2, 60).faults


def test_a_known_seed_keeps_its_plan():
    """Replaying a reported seed must give the plan that failed: the draw may never change silently."""
    first = plan(7, 5, 3)
    assert [(t.kind, t.mode, t.seconds) for t in first.tasks] == [
        (t.kind, t.mode, t.seconds) for t in plan(7, 5, 3).tasks
    ]
    assert first.seed == 7 and len(first.tasks) == 5 and len(first.faults) == 3


def test_every_task_kind_and_mode_comes_in_a_large_plan():
    tasks = plan(99, 200).tasks
    assert {t.kind for t in tasks} == set(TASK_KINDS)
    assert {t.mode for t in tasks} == {"sync", "deferrable"}
    assert [t.index for t in tasks] == list(range(200))


def test_expected_outcome_follows_the_kind():
    for task in plan(5, 100).tasks:
        assert task.expected == ("failed" if task.kind == "fail" else "success")
        assert task.dag_id == f"composer_kpo_soak_{task.kind}_{task.mode}"
        assert (task.lines > 0) == (task.kind == "big_log")


def test_each_fault_kind_comes_once_before_any_comes_twice():
    faults = plan(3, 100, len(FAULT_KINDS)).faults
    assert Counter(f.kind for f in faults) == Counter(FAULT_KINDS)
    twice = plan(3, 100, len(FAULT_KINDS) + 1).faults
    assert max(Counter(f.kind for f in twice).values()) == 2


def test_faults_are_ordered_numbered_and_within_the_plan():
    the_plan = plan(11, 30, 20)
    assert [f.index for f in the_plan.faults] == list(range(20))
    assert [(f.after_task, f.delay) for f in the_plan.faults] == sorted(
        (f.after_task, f.delay) for f in the_plan.faults
    )
    for fault in the_plan.faults:
        assert 0 <= fault.after_task < 30
        assert 0 <= fault.delay <= MAX_DELAY
        if fault.kind in TARGETED:
            assert fault.target == fault.after_task
        else:
            assert fault.target is None
        if fault.kind in ("triggerer_restart", "scheduler_restart"):
            assert fault.signal in ("SIGTERM", "SIGKILL")


def test_a_task_is_aimed_at_once_at_most():
    targets = [f.target for f in plan(8, 10, 40).faults if f.target is not None]
    assert len(targets) == len(set(targets))


def test_fault_kinds_can_be_left_out():
    allowed = tuple(k for k in FAULT_KINDS if k not in CLUSTER_WIDE)
    faults = plan(4, 50, 30, fault_kinds=allowed).faults
    assert faults and not {f.kind for f in faults} & CLUSTER_WIDE
    assert plan(4, 50, 5, fault_kinds=()).faults == ()


def test_default_fault_count():
    assert default_faults(1) == 1
    assert default_faults(60) == 12
    assert len(plan(1, 60).faults) == 12


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        plan(1, 0)
    with pytest.raises(ValueError):
        plan(1, 10, fault_kinds=("meteor_strike",))
