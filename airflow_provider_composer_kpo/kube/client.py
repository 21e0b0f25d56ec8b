"""The package's access to the Kubernetes API: the retrying CoreV1Api, and "404 means gone".

:class:`RetryingCoreV1Api` is upstream's CoreV1Api with transient failures retried. Only the
request/response calls KubernetesPodOperator and the preflight make are wrapped; ``connect_*``
(exec for XCom) stays untouched because ``kubernetes.stream`` needs the bound method itself. Creating a pod is
idempotent across retries: the name is fixed per try, so a retry that meets 409 AlreadyExists
finds the pod an earlier attempt created, and no second pod is made. A retried log read of "the
last N seconds" reaches back to where the first attempt did (:func:`since_seconds_after`).

:func:`read_pod_or_none` is the one place a read's 404 becomes "the pod no longer exists".
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable, cast

from kubernetes.client import ApiClient, CoreV1Api
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from .retry import call_with_retry


def _retried(method: str, description: str) -> Callable[..., Any]:
    """Upstream's ``method``, retried on transient failures (kube/retry.py). ``description`` names the
    call in the retry's log line, from its ``name`` and ``namespace`` (given by position or keyword)."""

    def call(self: CoreV1Api, *args: Any, **kwargs: Any) -> Any:
        upstream = getattr(super(RetryingCoreV1Api, self), method)
        named = {**dict(zip(("name", "namespace") if "{name}" in description else ("namespace",), args)), **kwargs}
        return call_with_retry(
            lambda: upstream(*args, **kwargs),
            description=description.format(name=named.get("name", "?"), namespace=named.get("namespace", "?")),
        )

    call.__name__ = call.__qualname__ = method
    return call


class RetryingCoreV1Api(CoreV1Api):  # type: ignore[misc]  # the kubernetes client is untyped: Any
    """CoreV1Api whose pod, log and event calls, and the preflight's reads, survive API server
    restarts and throttling."""

    read_namespaced_pod = _retried("read_namespaced_pod", "read pod {namespace}/{name}")
    list_namespaced_pod = _retried("list_namespaced_pod", "list pods in {namespace}")
    list_namespaced_event = _retried("list_namespaced_event", "list events in {namespace}")
    patch_namespaced_pod = _retried("patch_namespaced_pod", "patch pod {namespace}/{name}")
    delete_namespaced_pod = _retried("delete_namespaced_pod", "delete pod {namespace}/{name}")
    # What the preflight reads before the pod exists (preflight/checks.py).
    read_namespace = _retried("read_namespace", "read namespace {name}")
    read_namespaced_secret = _retried("read_namespaced_secret", "read Secret {namespace}/{name}")
    read_namespaced_config_map = _retried("read_namespaced_config_map", "read ConfigMap {namespace}/{name}")
    read_namespaced_service_account = _retried(
        "read_namespaced_service_account", "read ServiceAccount {namespace}/{name}"
    )

    _clock = staticmethod(time.monotonic)

    def read_namespaced_pod_log(self, name: str, namespace: str, **kwargs: Any) -> Any:
        since_seconds, started, attempts = kwargs.get("since_seconds"), self._clock(), 0

        def read() -> Any:
            nonlocal attempts
            attempts += 1
            if since_seconds and attempts > 1:  # a retry; the first attempt asks what was asked
                kwargs["since_seconds"] = since_seconds_after(since_seconds, self._clock() - started)
            return super(RetryingCoreV1Api, self).read_namespaced_pod_log(name, namespace, **kwargs)

        return call_with_retry(read, description=f"read log of pod {namespace}/{name}")

    def create_namespaced_pod(self, namespace: str, body: Any, **kwargs: Any) -> Any:
        attempts = 0

        def create() -> Any:
            nonlocal attempts
            attempts += 1
            try:
                return super(RetryingCoreV1Api, self).create_namespaced_pod(namespace, body, **kwargs)
            except ApiException as error:
                name = _pod_name(body)
                # Only a retry may meet its own pod; on the first attempt 409 is a real clash.
                if error.status == 409 and attempts > 1 and name:
                    return super(RetryingCoreV1Api, self).read_namespaced_pod(name, namespace)
                raise

        return call_with_retry(create, description=f"create pod in {namespace}")


def with_own_connection(client: CoreV1Api) -> CoreV1Api:
    """Return a client like ``client`` (class, configuration, headers) with an ApiClient of its own.

    For a thread that calls the API while the task's thread may exec into a pod: ``kubernetes.stream``
    swaps the ApiClient's ``request`` for a websocket call while an exec runs, so a request from
    another thread through the same ApiClient meanwhile gets a WSClient back (found by the canary
    fault test: "'WSClient' object has no attribute 'release_conn'" as the XCom was read).
    """
    shared = client.api_client
    own = ApiClient(configuration=shared.configuration)
    own.default_headers.update(shared.default_headers)
    own.cookie = shared.cookie
    return type(client)(api_client=own)


def since_seconds_after(since_seconds: int | None, elapsed_seconds: float) -> int | None:
    """Return the ``since_seconds`` that, ``elapsed_seconds`` after a read asked for ``since_seconds``,
    reaches back to the same moment (None: the whole log, then as now).

    Retried unchanged after a kubelet restart, a read of the last 7 s came back 30 s later with the
    last 7 s, after the container had ended: the lines in between were in no log (found by the soak).
    """
    return since_seconds + math.ceil(elapsed_seconds) if since_seconds else since_seconds


def pod_log_text(client: CoreV1Api, name: str, namespace: str, **kwargs: Any) -> str:
    """A container's log as text, decoded here from the raw response: the client's own decoding
    differs by version (kubernetes 36 hands back the repr of the bytes, ``"b'...\\n'"``)."""
    response = client.read_namespaced_pod_log(name, namespace, _preload_content=False, **kwargs)
    try:
        return cast(str, response.data.decode("utf-8", errors="replace"))
    finally:
        response.release_conn()


def is_gone(error: BaseException) -> bool:
    """Return whether ``error`` is the API server's 404: the object does not exist (any more)."""
    return getattr(error, "status", None) == 404


def read_pod_or_none(
    client: CoreV1Api, name: str, namespace: str, *, retry: bool = True, **kwargs: Any
) -> k8s.V1Pod | None:
    """Return the pod as it is now, or None when the API server answers 404.

    ``retry=False`` reads once, also through a :class:`RetryingCoreV1Api`: for a caller with a
    retry policy of its own (:class:`~.pod_stream.PodStream`).
    """
    read = client.read_namespaced_pod if retry else functools.partial(CoreV1Api.read_namespaced_pod, client)
    try:
        return read(name, namespace, **kwargs)
    except Exception as error:
        if is_gone(error):
            return None
        raise


def _pod_name(body: Any) -> str | None:
    metadata = body.get("metadata", {}) if isinstance(body, dict) else getattr(body, "metadata", None)
    if isinstance(metadata, dict):
        return metadata.get("name")
    return getattr(metadata, "name", None)
