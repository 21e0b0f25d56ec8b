"""lifecycle/orphans.py: when the failure callback looks for a dead try's pods, and which."""

from __future__ import annotations

import pytest

from airflow_provider_composer_kpo.lifecycle.orphans import (
    ChainedCallbacks,
    orphans_to_clean,
    tries_selector,
    with_callback,
)


@pytest.mark.parametrize(
    ("cleaned_up_here", "try_number", "max_tries", "expected"),
    [
        (True, 2, 1, False),  # the try's own process ran its cleanup
        (True, None, None, False),
        (False, 1, 0, True),  # no retries: the only try is the final one
        (False, 1, 1, False),  # a retry follows and reattaches to the pod
        (False, 2, 1, True),
        (False, 3, 1, True),
        (False, 4, 4, False),  # cleared: max_tries grew with it
        (False, None, None, True),  # Airflow 2: called only when no retry follows
    ],
)
def test_orphans_are_a_final_try_s_pods_that_no_process_cleaned_up(cleaned_up_here, try_number, max_tries, expected):
    assert orphans_to_clean(cleaned_up_here=cleaned_up_here, try_number=try_number, max_tries=max_tries) is expected


@pytest.mark.parametrize(
    ("try_number", "expected"),
    [
        (1, "dag_id=d,task_id=t,try_number in (1)"),
        (3, "dag_id=d,task_id=t,try_number in (1,2,3)"),
        (0, "dag_id=d,task_id=t,try_number in (1)"),
    ],
)
def test_the_selector_takes_the_tries_up_to_this_one_not_a_later_try_s(try_number, expected):
    assert tries_selector("dag_id=d,task_id=t", try_number) == expected


def ours(context):
    context.append("ours")


def theirs(context):
    context.append("theirs")


@pytest.mark.parametrize(
    ("user", "expected"),
    [(None, [ours]), (theirs, [theirs, ours]), ([theirs, theirs], [theirs, theirs, ours]), ((), [ours])],
)
def test_the_user_s_callbacks_come_first_in_a_list(user, expected):
    assert with_callback(user, ours, lists=True) == expected


def test_airflow_2_5_gets_one_callable_that_calls_each_even_after_one_fails():
    assert with_callback(None, ours, lists=False) is ours

    def broken(context):
        raise RuntimeError("user's callback failed")

    chained = with_callback([theirs, broken], ours, lists=False)
    assert isinstance(chained, ChainedCallbacks)
    calls: list[str] = []
    chained(calls)
    assert calls == ["theirs", "ours"]
