"""The pods of one namespace as the API server reports them: one watch shared by every follower in a process.

A :class:`PodsWatch` (a :class:`~.list_watch.ListWatch`) lists the namespace's pod-operator pods once
(label ``kubernetes_pod_operator=True``, which stock KPO's and ours carry) and then watches them;
each follower waits for its own pod's changes (:meth:`~.list_watch.Follower.changed`) and reads its
state from memory (:meth:`PodsWatch.state_of`).

The watch keeps the followed pods and the pods that have not ended (a namespace may hold thousands
of ended pods kept by ``on_finish_action``, but only as many live ones as the cluster runs), so a
follower that joins an open watch, usually moments after its task created the pod, finds it there
without a request of its own. One that does not (its pod ended before it joined, or the pod's
ADDED event is still on the way) reads it once and hands it over (:meth:`PodsWatch.remember`); the
watch's events keep it current from then on.

While the watch is not in sync (before the first list, after a drop) :meth:`PodsWatch.state_of`
answers None and the follower reads its pod itself; so it does for a pod the watch has not seen.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any

from kubernetes.client import CoreV1Api
from kubernetes.client import models as k8s

from .list_watch import Follower, ListWatch, list_namespaced, shared, watch_namespaced
from .pod_stream import PodState

__all__ = ["Follower", "PodsWatch", "shared_watch"]

#: The label the pod operators put on every pod they create: the watch sees no other pod.
OPERATOR_POD_SELECTOR = "kubernetes_pod_operator=True"
#: Phases after which a pod nobody follows is not kept.
_ENDED_PHASES = frozenset({"Succeeded", "Failed"})


def _live(pod: k8s.V1Pod) -> bool:
    """Return True for a pod that has not ended: one a follower may join (see the module)."""
    return pod.status is None or pod.status.phase not in _ENDED_PHASES


class PodsWatch(ListWatch["k8s.V1Pod"]):
    """Follow the pod-operator pods of one namespace through one list and watch (see the module)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(what="pods", **kwargs)
        self._pods: dict[str, k8s.V1Pod] = {}
        self._deleted: set[str] = set()

    def remember(self, pod: k8s.V1Pod) -> None:
        """Keep a followed pod as its follower read it, until the watch reports a change (it had no state)."""
        name = pod.metadata.name
        with self._lock:
            if name in self._followers and name not in self._pods and name not in self._deleted:
                self._pods[name] = pod

    def state_of(self, name: str) -> PodState | None:
        """Return the pod as the watch last saw it, or None when the caller must read it (see the module)."""
        with self._lock:
            if not self._in_sync or self.unavailable is not None:
                return None
            if name in self._deleted:
                return PodState(None, deleted=True)
            pod = self._pods.get(name)
            return PodState(pod) if pod is not None else None

    def _forget(self, name: str) -> None:
        self._deleted.discard(name)
        pod = self._pods.get(name)
        if pod is not None and not _live(pod):
            del self._pods[name]

    def _replace(self, objects: list[k8s.V1Pod]) -> None:
        """The live and the followed pods' states from the list; a followed pod not in it was deleted."""
        listed = {pod.metadata.name: pod for pod in objects}
        self._pods = {name: pod for name, pod in listed.items() if _live(pod)}
        for name in self._followers:
            if name in listed:
                self._pods[name] = listed[name]
                self._deleted.discard(name)
            else:
                self._deleted.add(name)

    def _apply(self, kind: str, obj: k8s.V1Pod) -> str | None:
        name: str = obj.metadata.name
        if name not in self._followers:  # kept while live only: a namespace may hold thousands of ended pods
            if kind != "DELETED" and _live(obj):
                self._pods[name] = obj
            else:
                self._pods.pop(name, None)
            return None
        if kind == "DELETED":
            self._pods.pop(name, None)
            self._deleted.add(name)
        else:
            self._pods[name] = obj
            self._deleted.discard(name)
        return name


def shared_watch(key: Hashable, namespace: str, client: CoreV1Api) -> PodsWatch:
    """Return this process's watch of ``namespace`` on the cluster ``key`` names, made with ``client`` if new."""
    list_pods = functools.partial(CoreV1Api.list_namespaced_pod, client)
    watch = shared(
        ("pods", key, namespace),
        lambda: PodsWatch(
            namespace=namespace,
            list_objects=functools.partial(list_namespaced, list_pods, namespace, label_selector=OPERATOR_POD_SELECTOR),
            watch_objects=functools.partial(
                watch_namespaced, list_pods, "V1Pod", namespace, label_selector=OPERATOR_POD_SELECTOR
            ),
        ),
    )
    assert isinstance(watch, PodsWatch)  # the key's first element says which class made it
    return watch
