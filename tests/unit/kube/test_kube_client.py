from __future__ import annotations

import pytest
import urllib3
from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo.kube import retry
from airflow_provider_composer_kpo.kube.client import RetryingCoreV1Api, since_seconds_after


@pytest.fixture(autouse=True)
def no_sleep(mocker):
    mocker.patch.object(retry.time, "sleep")


def pod(name="p"):
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=name, namespace="ns"))


def test_read_retries_transient_then_returns(mocker):
    upstream = mocker.patch.object(
        CoreV1Api, "read_namespaced_pod", side_effect=[ApiException(status=503), ApiException(status=0), pod()]
    )
    assert RetryingCoreV1Api(api_client=ApiClient()).read_namespaced_pod("p", "ns").metadata.name == "p"
    assert upstream.call_count == 3


def test_keyword_arguments_reach_upstream_and_name_the_retry(mocker, caplog):
    """Upstream's operator passes name= and namespace= by keyword."""
    upstream = mocker.patch.object(CoreV1Api, "read_namespaced_pod", side_effect=[ApiException(status=503), pod()])
    RetryingCoreV1Api(api_client=ApiClient()).read_namespaced_pod(name="p", namespace="ns", _request_timeout=5)
    assert upstream.call_args_list == [mocker.call(name="p", namespace="ns", _request_timeout=5)] * 2
    assert "read pod ns/p failed transiently" in caplog.text


@pytest.mark.parametrize(
    "method, args, described",
    [
        ("read_namespace", ("team",), "read namespace team"),
        ("read_namespaced_secret", ("db", "ns"), "read Secret ns/db"),
        ("read_namespaced_config_map", ("cfg", "ns"), "read ConfigMap ns/cfg"),
        ("read_namespaced_service_account", ("sa", "ns"), "read ServiceAccount ns/sa"),
    ],
)
def test_the_preflight_reads_survive_an_api_server_restart(mocker, caplog, method, args, described):
    """The preflight runs before the pod exists: an API server down for a moment is not a failed task."""
    refused = urllib3.exceptions.MaxRetryError(None, "/api", "connection refused")
    upstream = mocker.patch.object(CoreV1Api, method, side_effect=[refused, "found"])
    assert getattr(RetryingCoreV1Api(api_client=ApiClient()), method)(*args) == "found"
    assert upstream.call_count == 2
    assert f"{described} failed transiently" in caplog.text


def test_a_missing_object_is_not_retried(mocker):
    upstream = mocker.patch.object(CoreV1Api, "read_namespaced_secret", side_effect=ApiException(status=404))
    with pytest.raises(ApiException):
        RetryingCoreV1Api(api_client=ApiClient()).read_namespaced_secret("db", "ns")
    assert upstream.call_count == 1


def test_create_retry_meeting_its_own_pod_returns_it(mocker):
    """The first create reached the server but the answer was lost: no second pod is made."""
    create = mocker.patch.object(
        CoreV1Api, "create_namespaced_pod", side_effect=[ApiException(status=502), ApiException(status=409)]
    )
    read = mocker.patch.object(CoreV1Api, "read_namespaced_pod", return_value=pod())
    result = RetryingCoreV1Api(api_client=ApiClient()).create_namespaced_pod("ns", pod())
    assert result.metadata.name == "p"
    assert create.call_count == 2
    read.assert_called_once_with("p", "ns")


def test_create_conflict_on_first_attempt_is_an_error(mocker):
    mocker.patch.object(CoreV1Api, "create_namespaced_pod", side_effect=ApiException(status=409))
    with pytest.raises(ApiException):
        RetryingCoreV1Api(api_client=ApiClient()).create_namespaced_pod("ns", pod())


def test_exec_is_not_wrapped():
    # kubernetes.stream needs the bound method of a CoreV1Api to patch its api_client
    api = RetryingCoreV1Api(api_client=ApiClient())
    assert api.connect_get_namespaced_pod_exec.__func__ is CoreV1Api.connect_get_namespaced_pod_exec


class RawLog:
    """The raw response `_preload_content=False` gives: bytes, and a connection to release."""

    def __init__(self, data: bytes) -> None:
        self.data, self.released = data, False

    def release_conn(self) -> None:
        self.released = True


def test_pod_log_text_decodes_the_raw_bytes_whatever_the_client_would_make_of_them(mocker):
    from airflow_provider_composer_kpo.kube.client import pod_log_text

    raw = RawLog("step 1 ok\nls: /no/such/input: No such file or directory\n✓\n".encode())
    read = mocker.patch.object(CoreV1Api, "read_namespaced_pod_log", return_value=raw)
    text = pod_log_text(RetryingCoreV1Api(api_client=ApiClient()), "p", "ns", container="base", tail_lines=20)
    assert text.splitlines() == ["step 1 ok", "ls: /no/such/input: No such file or directory", "✓"]
    read.assert_called_once_with("p", "ns", _preload_content=False, container="base", tail_lines=20)
    assert raw.released


def test_read_pod_or_none_is_none_on_404_only(mocker):
    from airflow_provider_composer_kpo.kube.client import read_pod_or_none

    client = mocker.MagicMock()
    client.read_namespaced_pod.side_effect = ApiException(status=404)
    assert read_pod_or_none(client, "p", "ns") is None
    client.read_namespaced_pod.side_effect = ApiException(status=403)
    with pytest.raises(ApiException):
        read_pod_or_none(client, "p", "ns")
    client.read_namespaced_pod.side_effect = None
    client.read_namespaced_pod.return_value = pod()
    assert read_pod_or_none(client, "p", "ns", _request_timeout=30).metadata.name == "p"
    client.read_namespaced_pod.assert_called_with("p", "ns", _request_timeout=30)


def test_read_pod_or_none_once_skips_the_retries(mocker):
    """The pod stream reads once: it retries by its own policy."""
    from airflow_provider_composer_kpo.kube.client import read_pod_or_none

    upstream = mocker.patch.object(CoreV1Api, "read_namespaced_pod", side_effect=ApiException(status=503))
    with pytest.raises(ApiException):
        read_pod_or_none(RetryingCoreV1Api(api_client=ApiClient()), "p", "ns", retry=False)
    assert upstream.call_count == 1


@pytest.mark.parametrize(
    ("since_seconds", "elapsed", "expected"),
    [(None, 30.0, None), (7, 0.0, 7), (7, 30.0, 37), (7, 29.2, 37)],  # rounded up: never a line short
)
def test_since_seconds_after(since_seconds, elapsed, expected):
    assert since_seconds_after(since_seconds, elapsed) == expected


def test_a_retried_log_read_reaches_back_to_where_the_first_attempt_did(mocker):
    """A kubelet restart: the read of the last 7 s fails for 30 s; retried unchanged, it would read
    the last 7 s of a container that ended meanwhile, and lose what it wrote before."""
    upstream = mocker.patch.object(
        CoreV1Api, "read_namespaced_pod_log", side_effect=[ApiException(status=500), ApiException(status=500), "log"]
    )
    clock = mocker.patch.object(RetryingCoreV1Api, "_clock", side_effect=[100.0, 112.5, 130.0, 200.0])
    api = RetryingCoreV1Api(api_client=ApiClient())
    assert api.read_namespaced_pod_log(name="p", namespace="ns", since_seconds=7, follow=True) == "log"
    assert [c.kwargs["since_seconds"] for c in upstream.call_args_list] == [7, 20, 37]
    upstream.reset_mock(side_effect=True)
    api.read_namespaced_pod_log("p", "ns")  # the whole log: nothing to move
    assert "since_seconds" not in upstream.call_args.kwargs
    assert clock.call_count == 4  # one for each call's start, one for each retry
