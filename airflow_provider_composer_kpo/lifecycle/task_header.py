"""The block at the start of every ComposerPodOperator task log: what this run will do, in one place.

A person opening a task's log in the UI reads this first: where the pod runs, which kubeconfig and
why, which Composer, the timers, what the ``set -e`` policy did and how the preflight runs. It needs no
API client, so it is logged before one is built: a kubeconfig that cannot be used fails after it.
The preflight's result follows it; the outcome line at the end is :func:`~.diagnosis.pod_outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..platform.composer import COMPOSER_VERSION_ENV, composer_major_version


def describe_platform(environ: Mapping[str, str]) -> str:
    """Return which Composer this is, from ``COMPOSER_VERSION`` (set by Composer, unset elsewhere)."""
    major = composer_major_version(environ)
    if major is None:
        return f"not Cloud Composer (${COMPOSER_VERSION_ENV} unset)"
    where = (
        "pods run on peer VMs behind placeholder pods" if major >= 3 else "pods run on the environment's GKE cluster"
    )
    return f"Composer {major} (${COMPOSER_VERSION_ENV}={environ[COMPOSER_VERSION_ENV]}): {where}"


def describe_preflight_mode(mode: str) -> str:
    """Return what the preflight will do; its result is logged after its checks, below the block."""
    return {
        "fail": "fail (checks run next; an error stops the pod before it is created)",
        "warn": "warn (checks run next; problems are logged, the pod is created)",
    }.get(mode, mode)


def describe_preflight(mode: str, fatal: int, warnings: int) -> str:
    """Return the preflight's result in a few words; the problems themselves follow this line."""
    if mode == "off":
        return "off"
    if not fatal and not warnings:
        return "no problems found"
    found = ", ".join(f"{n} {word}{'s' if n > 1 else ''}" for n, word in ((fatal, "error"), (warnings, "warning")) if n)
    stops = fatal and mode == "fail"
    return f"{found} (below){': the pod is not created' if stops else ''}"


def start_block(
    *,
    task_id: str,
    namespace: str,
    pod_name: str,
    image: str | None,
    kubeconfig: str,
    environ: Mapping[str, str],
    timeouts: Sequence[tuple[str, int | None]],
    errexit: str,
    preflight: str,
) -> str:
    """Return the header block, one ``name: value`` row per line."""
    timers = ", ".join(f"{name} {seconds} s" for name, seconds in timeouts if seconds is not None)
    rows = (
        ("pod", f"{namespace}/{pod_name}" + (f" (image {image})" if image else "")),
        ("kubeconfig", kubeconfig),
        ("platform", describe_platform(environ)),
        ("timeouts", timers),
        ("set -e", errexit),
        ("preflight", preflight),
    )
    return f"ComposerPodOperator task {task_id!r}:\n" + "\n".join(f"  {name + ':':<12}{value}" for name, value in rows)
