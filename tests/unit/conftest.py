from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_composer_kpo.platform.composer import KUBECONFIG_ENV_OVERRIDE
from tests.unit.builders import write_kubeconfig


@pytest.fixture
def kubeconfig_factory(tmp_path):
    def make(server: str, name: str = "test") -> Path:
        return write_kubeconfig(tmp_path / f"{name}.kubeconfig", server, name)

    return make


@pytest.fixture(autouse=True)
def isolated_kube_environment(monkeypatch, tmp_path):
    """No test sees this machine's kubeconfig, a cluster service, or a real connection."""
    for name in ("KUBECONFIG", KUBECONFIG_ENV_OVERRIDE, "KUBERNETES_SERVICE_HOST", "COMPOSER_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # The client reads $KUBECONFIG once, at import; reset what it remembered.
    from kubernetes.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", "~/.kube/config")


@pytest.fixture
def local_kubeconfig(monkeypatch, kubeconfig_factory) -> Path:
    """Point the Composer default at a local kubeconfig, as a developer does off Composer."""
    path = kubeconfig_factory("https://composer-default.invalid:443", "composer-default")
    monkeypatch.setenv(KUBECONFIG_ENV_OVERRIDE, str(path))
    return path


@pytest.fixture
def set_connection(monkeypatch):
    """Return a function that defines an Airflow connection through the environment."""

    def define(conn_id: str, extra: dict) -> None:
        value = json.dumps({"conn_type": "kubernetes", "extra": extra})
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)

    return define
