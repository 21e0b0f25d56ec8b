"""The events of one namespace's pods: one watch shared by the triggers in a process.

A pod that cannot start (unschedulable while the cluster scales up, a missing Secret, an image that
cannot be pulled) shows why mostly in its events, which the startup verdicts read every few seconds
(:mod:`..lifecycle.startup`). Hundreds of deferred tasks waiting on a node pool that scales up would
each list their pod's events every few seconds; an :class:`EventsWatch` (a
:class:`~.list_watch.ListWatch`) lists the namespace's pod events once and watches them, and each
trigger reads its pod's from memory (:meth:`EventsWatch.events_of`).

It keeps the events of every pod, as the API server does (until their time to live ends: DELETED
events), so a trigger that starts following late still gets the events from before it joined; at
most :data:`EVENTS_PER_POD` per pod, the most recently updated.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any

from kubernetes.client import CoreV1Api

from .list_watch import ListWatch, list_namespaced, shared, watch_namespaced

#: Only events about pods.
POD_EVENTS_SELECTOR = "involvedObject.kind=Pod"
#: The latest events kept per pod: the startup verdicts quote the last few.
EVENTS_PER_POD = 50


class EventsWatch(ListWatch[Any]):
    """Keep the events of one namespace's pods, by pod name, through one list and watch (see the module)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(what="pod events", **kwargs)
        self._events: dict[str, dict[str, Any]] = {}  # pod name -> event uid -> event

    def events_of(self, name: str) -> list[Any] | None:
        """Return pod ``name``'s events, the least recently updated first, or None when the caller must list them."""
        with self._lock:
            if not self._in_sync or self.unavailable is not None:
                return None
            return list(self._events.get(name, {}).values())

    def _replace(self, objects: list[Any]) -> None:
        self._events = {}
        for event in objects:
            self._apply("ADDED", event)

    def _apply(self, kind: str, obj: Any) -> str | None:
        name: str | None = getattr(obj.involved_object, "name", None)
        uid = obj.metadata.uid or obj.metadata.name
        if not name:
            return None
        if kind == "DELETED":  # its time to live ended
            kept = self._events.get(name, {})
            kept.pop(uid, None)
            if not kept:
                self._events.pop(name, None)
            return name
        kept = self._events.setdefault(name, {})
        kept.pop(uid, None)  # an update (its count went up) moves it to the end: dicts keep insertion order
        kept[uid] = obj
        if len(kept) > EVENTS_PER_POD:
            del kept[next(iter(kept))]  # the least recently updated
        return name


def shared_events_watch(key: Hashable, namespace: str, client: CoreV1Api) -> EventsWatch:
    """Return this process's watch of ``namespace``'s pod events on the cluster ``key`` names."""
    list_events = functools.partial(CoreV1Api.list_namespaced_event, client)
    watch = shared(
        ("events", key, namespace),
        lambda: EventsWatch(
            namespace=namespace,
            list_objects=functools.partial(list_namespaced, list_events, namespace, field_selector=POD_EVENTS_SELECTOR),
            watch_objects=functools.partial(
                watch_namespaced, list_events, "CoreV1Event", namespace, field_selector=POD_EVENTS_SELECTOR
            ),
        ),
    )
    assert isinstance(watch, EventsWatch)  # the key's first element says which class made it
    return watch
