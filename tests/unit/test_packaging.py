"""What Airflow and pip see of the package: provider metadata, public names, version facts."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points, version

import pytest
from packaging.version import Version

import airflow_provider_composer_kpo as package
from airflow_provider_composer_kpo import compat
from airflow_provider_composer_kpo.get_provider_info import get_provider_info
from tests.interpreter import run_python


def test_the_package_under_test_is_installed_not_the_checkout():
    """The package's source sits at the checkout's root; the suites must import the wheel installed in
    the venv (pytest's append import mode, the venv's pytest script, subprocesses started elsewhere)."""
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "airflow_provider_composer_kpo"
    imported = Path(package.__file__).resolve()
    assert source not in imported.parents, (
        f"airflow_provider_composer_kpo was imported from the checkout ({imported}), not the installed wheel: "
        "run the venv's pytest script (not `python -m pytest` from the checkout) after `bash dev/venvs.sh`"
    )


def test_provider_info_matches_distribution():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-composer-kpo"
    assert info["versions"][0] == package.__version__ == version("airflow-provider-composer-kpo")


def test_the_version_is_written_once():
    """``__version__`` in the package's __init__.py is the only place the version is written: setup.cfg
    reads it, get_provider_info returns it (newest first, as Airflow lists a provider's versions)."""
    import configparser
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    config = configparser.ConfigParser()
    config.read(repo / "setup.cfg")
    assert config["metadata"]["version"].strip() == "attr: airflow_provider_composer_kpo.__version__"
    source_dir = repo / "airflow_provider_composer_kpo"
    written = re.search(r'^__version__ = "([^"]+)"$', (source_dir / "__init__.py").read_text(), re.MULTILINE)
    assert written, "__init__.py must set __version__ to a literal string (setup.cfg reads it)"
    repeated = sorted(
        path.relative_to(source_dir).as_posix()
        for path in source_dir.rglob("*.py")
        if re.search(rf"""["']{re.escape(written[1])}["']""", path.read_text())
    )
    assert repeated == ["__init__.py"], f"the version is written again in {repeated}"
    versions = get_provider_info()["versions"]
    assert versions[0] == package.__version__
    assert versions == sorted(set(versions), key=Version, reverse=True)


def test_connection_type_points_at_the_hook():
    (conn,) = get_provider_info()["connection-types"]
    module_name, _, class_name = conn["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module_name), class_name)
    assert hook.conn_type == conn["connection-type"]


def test_listed_modules_import():
    info = get_provider_info()
    for section in ("hooks", "operators"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_entry_point_registered():
    points = entry_points()
    group = (
        points.select(group="apache_airflow_provider")
        if hasattr(points, "select")
        else points.get("apache_airflow_provider", [])
    )
    targets = {ep.value for ep in group}
    assert "airflow_provider_composer_kpo.get_provider_info:get_provider_info" in targets


def test_public_names():
    assert set(package.__all__) == {*package._EXPORTS, "__version__"}
    for name in package.__all__:
        assert hasattr(package, name), name


def test_feature_flags_match_installed_provider_versions():
    """The flags are read from code; check them against the changelog's version boundaries."""
    v = compat.CNCF_KUBERNETES_VERSION
    assert compat.HAS_ON_FINISH_ACTION == (v >= Version("7.2.0"))
    assert compat.HAS_SCHEDULE_TIMEOUT == (v >= Version("10.5.0"))
    assert compat.AIRFLOW_V_3_PLUS == (compat.AIRFLOW_VERSION.major >= 3)


def test_secret_importable_on_every_version():
    secret = package.Secret("env", "TARGET", "name", "key")
    assert secret.deploy_type == "env"


def test_provider_info_imports_nothing_heavy():
    """Airflow imports get_provider_info while loading its configuration: it must not import Airflow."""

    code = (
        "import sys, airflow_provider_composer_kpo.get_provider_info as m; m.get_provider_info(); "
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('airflow', 'kubernetes')))"
    )
    out = run_python("-c", code, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_airflow_lists_the_provider_and_its_hook(tmp_path):
    """`airflow providers list` / `providers hooks` in this venv show the package and its connection type."""
    import json
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}

    def cli(*args: str) -> list[dict]:
        out = subprocess.run([airflow, *args, "-o", "json"], env=env, capture_output=True, text=True, check=True)
        start = re.search(r"^\[\s*[{\]]", out.stdout, re.MULTILINE)  # log lines may come first
        assert start, out.stdout[-2000:]
        return json.loads(out.stdout[start.start() :])

    packages = {p["package_name"] for p in cli("providers", "list")}
    assert "airflow-provider-composer-kpo" in packages
    hooks = {h["connection_type"]: h["class"] for h in cli("providers", "hooks")}
    assert hooks.get("composer_kubernetes", "").endswith("ComposerKubernetesHook")


def test_installed_files_match_the_wheel_record():
    """What is tested is the built wheel: every file its RECORD lists is installed unchanged, and it
    ships every file of the package's source tree (no module left out of the package data)."""
    import base64
    import hashlib
    import json
    from importlib.metadata import distribution
    from pathlib import Path

    dist = distribution("airflow-provider-composer-kpo")
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    if origin.get("dir_info", {}).get("editable"):
        pytest.skip("editable install; make test installs the built wheel (dev/venvs.sh)")
    assert "archive_info" in origin and origin["url"].endswith(".whl"), origin

    package_dir = Path(package.__file__).resolve().parent
    assert package_dir == Path(str(dist.locate_file("airflow_provider_composer_kpo"))).resolve()

    recorded = {str(f): f for f in dist.files or []}
    for name, entry in recorded.items():
        if entry.hash is None:  # RECORD itself, and files the installer added (INSTALLER, direct_url.json)
            continue
        data = Path(str(entry.locate())).read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.new(entry.hash.mode, data).digest()).rstrip(b"=").decode()
        assert (digest, len(data)) == (entry.hash.value, entry.size), name

    source_dir = Path(__file__).resolve().parents[2] / "airflow_provider_composer_kpo"
    source = {
        "airflow_provider_composer_kpo/" + p.relative_to(source_dir).as_posix()
        for p in source_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    shipped = {n for n in recorded if n.startswith("airflow_provider_composer_kpo/") and "__pycache__" not in n}
    assert shipped == source
    assert "airflow_provider_composer_kpo/py.typed" in shipped
