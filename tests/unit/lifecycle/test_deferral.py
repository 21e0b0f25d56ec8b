"""lifecycle/deferral.py: the pure rules of a deferred task."""

from __future__ import annotations

from airflow_provider_composer_kpo.lifecycle.deferral import left_to_trigger


def test_a_process_that_did_not_defer_deletes_its_pod_on_kill():
    assert left_to_trigger(None) is None


def test_a_process_that_deferred_leaves_the_pod_and_says_whose_it_is():
    message = left_to_trigger("ns/pod-1")
    assert message is not None
    assert "pod ns/pod-1 is left to its trigger and to the resumed task" in message
