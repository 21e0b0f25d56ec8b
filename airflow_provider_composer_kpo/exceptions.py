"""Exceptions raised by this package; each is a failure a caller may want to catch on its own."""

from __future__ import annotations

from airflow.exceptions import AirflowException


class ComposerPodConfigError(AirflowException, ValueError):
    """An operator or hook argument is invalid; raised as early as possible (DAG parse time if static)."""


class ErrexitRequiredError(ComposerPodConfigError):
    """A shell script lacks ``set -e`` while the errexit policy is ``require``."""


class KubeconfigResolutionError(AirflowException):
    """No usable Kubernetes client configuration could be chosen from the arguments and connection."""
