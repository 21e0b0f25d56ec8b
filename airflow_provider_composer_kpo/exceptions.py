"""Exceptions raised by this package; each is a failure a caller may want to catch on its own."""

from __future__ import annotations

from collections.abc import Sequence

from airflow.exceptions import AirflowException
from airflow.providers.cncf.kubernetes.utils.pod_manager import PodLaunchFailedException

from .findings import Finding


class ComposerPodConfigError(AirflowException, ValueError):
    """An operator or hook argument is invalid; raised as early as possible (DAG parse time if static)."""


class ErrexitRequiredError(ComposerPodConfigError):
    """A shell script lacks ``set -e`` while the errexit policy is ``require``."""


class KubeconfigResolutionError(AirflowException):
    """No usable Kubernetes client configuration could be chosen from the arguments and connection."""


class PodStartupError(PodLaunchFailedException):
    """The pod cannot start (missing Secret, bad image, unschedulable, ...); says why.

    A subclass of upstream's ``PodLaunchFailedException``, so existing handlers still catch it.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PodStartupTimeout(PodStartupError):
    """The pod did not start within its timeout; the message carries the last known reason."""


class PodFailedError(AirflowException):
    """The pod's main container failed; the message has the exit code, reason and last log lines."""


class PodKilledError(AirflowException):
    """The task was stopped (SIGTERM, a timeout, marked failed) while its pod ran; it must not succeed."""


class PodPreflightError(AirflowException):
    """A check before pod creation found a problem that would stop the pod from starting.

    ``problems`` holds a :class:`~airflow_provider_composer_kpo.findings.Finding` for every problem
    found, warnings included (``fatal`` False); the message is their formatted list.
    """

    def __init__(self, message: str, problems: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[Finding, ...] = tuple(problems)

    def __reduce__(self) -> tuple[type[PodPreflightError], tuple[str, tuple[Finding, ...]]]:
        return type(self), (str(self), self.problems)


class ComposerPlatformWarning(UserWarning):
    """Composer will change, ignore or refuse a pod setting (Composer 3 peer VMs, Composer 2 Autopilot).

    Warned at DAG parse time for static values; the task log repeats it for the rendered pod.
    """


class ComposerPodArgumentWarning(UserWarning):
    """An argument is accepted but has no effect in the task's mode (deferrable or not); warned at parse."""
