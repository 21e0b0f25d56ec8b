from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError

from airflow_provider_composer_kpo.kube import retry
from airflow_provider_composer_kpo.kube.retry import backoff_delay, call_with_retry, is_transient


def api_error(status: int, retry_after: str | None = None) -> ApiException:
    error = ApiException(status=status, reason="x")
    error.headers = {"Retry-After": retry_after} if retry_after else {}
    return error


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 0])
def test_transient_statuses(status):
    assert is_transient(api_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_permanent_statuses(status):
    assert not is_transient(api_error(status))


def test_connection_refused_is_transient():
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    assert is_transient(MaxRetryError(None, "/api", refused))


def test_backoff_is_capped_and_jittered():
    assert backoff_delay(1, rng=lambda: 1.0) == 1.0
    assert backoff_delay(3, rng=lambda: 1.0) == 4.0
    assert backoff_delay(10, rng=lambda: 1.0) == retry.MAX_DELAY_SECONDS
    assert backoff_delay(10, rng=lambda: 0.5) == retry.MAX_DELAY_SECONDS / 2


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_retries_until_success():
    outcomes = [api_error(503), api_error(429, retry_after="7"), "ok"]
    clock = Clock()

    def call():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retry(call, description="t", sleep=clock.sleep, clock=lambda: clock.now) == "ok"
    assert len(clock.sleeps) == 2
    assert clock.sleeps[1] == 7.0  # Retry-After honoured


def test_permanent_error_raised_at_once():
    clock = Clock()

    def call():
        raise api_error(404)

    with pytest.raises(ApiException):
        call_with_retry(call, description="t", sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.sleeps == []


def test_gives_up_at_deadline():
    clock = Clock()
    calls = []

    def call():
        calls.append(1)
        raise api_error(503)

    with pytest.raises(ApiException):
        call_with_retry(call, description="t", deadline_seconds=30, sleep=clock.sleep, clock=lambda: clock.now)
    assert clock.now <= 30
    assert len(calls) > 1


def _not_found(kind: str) -> ApiException:
    error = ApiException(status=404, reason="Not Found")
    error.body = (
        b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,'
        b'"details":{"name":"t-1","kind":"' + kind.encode() + b'"}}'
    )
    return error


def test_a_log_the_restarted_kubelet_does_not_serve_yet_is_transient_a_deleted_pod_is_not():
    # Seen on the local cluster right after a kubelet restart: "the server could not find the
    # requested resource ( pods/log t-1)"; the pod itself exists.
    assert is_transient(_not_found("pods/log"))
    assert not is_transient(_not_found("pods"))
    assert not is_transient(ApiException(status=404))  # no body: nothing says it is the log
    garbled = ApiException(status=404)
    garbled.body = b"<html>not json</html>"
    assert not is_transient(garbled)
