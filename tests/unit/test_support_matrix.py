"""The declared support is the tested support: setup.cfg's bounds and classifiers, the locked test
environments in requirements/, and the README's support table must agree."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
BOUNDED = ("apache-airflow", "apache-airflow-providers-cncf-kubernetes", "kubernetes")


def locked_environments() -> dict[str, dict[str, str]]:
    """Every lock but lint's: {id: {package: version, ..., "python": "3.8"}}."""
    environments = {}
    for source in sorted((REPO / "requirements").glob("*.in")):
        if source.stem == "lint":
            continue
        python = re.search(r"^# python: *(\S+)", source.read_text(), re.MULTILINE)
        lock = source.with_suffix(".txt").read_text()
        pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, re.MULTILINE))
        environments[source.stem] = {
            **{name: pins[name] for name in BOUNDED},
            "python": python[1] if python else "3.11",
        }
    return environments


ENVIRONMENTS = locked_environments()


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def next_release(version: Version, parts: int) -> Version:
    """The first release series after ``version`` at the granularity of an upper bound with ``parts``
    parts: 3.3.2 -> 3.4 for ``<3.4``, 10.25.0 -> 11 for ``<11``."""
    release = list(version.release[:parts]) + [0] * max(0, parts - len(version.release))
    release[-1] += 1
    return Version(".".join(map(str, release)))


def install_requires() -> list[Requirement]:
    lines = setup_cfg()["options"]["install_requires"].strip().splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip()]


def test_every_dependency_is_bounded_by_the_tested_range():
    assert sorted(r.name for r in install_requires()) == sorted(BOUNDED)
    for requirement in install_requires():
        tested = sorted(Version(env[requirement.name]) for env in ENVIRONMENTS.values())
        lower = [s for s in requirement.specifier if s.operator == ">="]
        upper = [s for s in requirement.specifier if s.operator == "<"]
        assert len(lower) == 1 and len(upper) == 1, f"{requirement}: needs one >= and one < bound"
        assert Version(lower[0].version) == tested[0], f"{requirement}: the oldest tested is {tested[0]}"
        bound = Version(upper[0].version)
        assert bound == next_release(tested[-1], len(bound.release)), (
            f"{requirement}: the newest tested is {tested[-1]}; the bound must exclude only untested series"
        )
        assert all(requirement.specifier.contains(v) for v in tested), requirement


def test_python_requires_and_classifiers_are_the_tested_pythons():
    pythons = sorted({env["python"] for env in ENVIRONMENTS.values()}, key=Version)
    config = setup_cfg()
    assert config["options"]["python_requires"].strip() == f">={pythons[0]}"
    classifiers = re.findall(r"Programming Language :: Python :: (3\.\d+)", config["metadata"]["classifiers"])
    assert sorted(classifiers, key=Version) == pythons


@pytest.mark.parametrize("env_id", sorted(ENVIRONMENTS))
def test_readme_support_table_lists_each_environment(env_id):
    env = ENVIRONMENTS[env_id]
    rows = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith(f"| `{env_id}`")]
    assert len(rows) == 1, f"README's support table needs one row for {env_id}"
    cells = [cell.strip(" `") for cell in rows[0].strip("|").split("|")]
    expected = [env[name] for name in BOUNDED] + [env["python"]]
    assert cells[1:5] == expected, f"README's row for {env_id} says {cells[1:5]}, the lock {expected}"


def test_ruff_targets_the_oldest_tested_python():
    oldest = min((env["python"] for env in ENVIRONMENTS.values()), key=Version)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert f'target-version = "py{oldest.replace(".", "")}"' in pyproject
