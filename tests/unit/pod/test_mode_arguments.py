"""Arguments accepted but without effect in the task's mode warn at parse time, naming the mode."""

from __future__ import annotations

import inspect
import warnings

import pytest

from airflow_provider_composer_kpo import ComposerPodArgumentWarning, ComposerPodOperator
from airflow_provider_composer_kpo.compat import HAS_DEFERRABLE, KubernetesPodOperator
from airflow_provider_composer_kpo.pod.mode_arguments import unhonoured_arguments


@pytest.mark.parametrize(
    ("arguments", "deferrable", "expected"),
    [
        ({"logging_interval": 30}, True, ["logging_interval=30 has no effect with deferrable=True"]),
        ({"logging_interval": 30}, False, ["logging_interval=30 has no effect with deferrable=False"]),
        ({"trigger_kwargs": {"a": 1}}, True, ["trigger_kwargs={'a': 1} has no effect with deferrable=True"]),
        ({"trigger_kwargs": {"a": 1}}, False, []),
        ({"poll_interval": 5}, False, ["poll_interval=5 has no effect with deferrable=False"]),
        ({"poll_interval": 5}, True, []),
        ({"logging_interval": None, "poll_interval": None}, False, []),
    ],
)
def test_unhonoured_arguments_name_argument_and_mode(arguments, deferrable, expected):
    messages = unhonoured_arguments(arguments, deferrable=deferrable, task_id="t")
    assert len(messages) == len(expected)
    for message, text in zip(messages, expected):
        assert message.startswith(f"Task 't': {text}: ") and message.endswith("Remove it.")


def _parse_warnings(**kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ComposerPodOperator(task_id="t", image="busybox:1.36", **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, ComposerPodArgumentWarning)]


@pytest.mark.skipif(
    not HAS_DEFERRABLE or "logging_interval" not in inspect.signature(KubernetesPodOperator.__init__).parameters,
    reason="deferrable=True needs cncf-kubernetes 6.0+, logging_interval a newer one (the DAG fails import on it)",
)
def test_the_operator_warns_for_logging_interval_when_deferrable():
    (message,) = _parse_warnings(deferrable=True, logging_interval=30)
    assert "logging_interval=30 has no effect with deferrable=True" in message


@pytest.mark.skipif(
    "poll_interval" not in inspect.signature(KubernetesPodOperator.__init__).parameters,
    reason="cncf-kubernetes before 6.0 has no poll_interval (the DAG fails import on it)",
)
def test_the_operator_warns_for_poll_interval_when_synchronous():
    (message,) = _parse_warnings(poll_interval=10)
    assert "poll_interval=10 has no effect with deferrable=False" in message


def test_no_warning_for_arguments_that_take_effect():
    assert _parse_warnings() == []
