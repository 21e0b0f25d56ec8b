"""The sdist and the wheel dev/build.sh made in dist/: what they hold, and the metadata PyPI will show.

``make test`` builds dist/ before its unit stage and ``make release`` runs this file on what it
built; without a build in dist/ the tests skip, saying so.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

import airflow_provider_composer_kpo as package

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
STEM = f"airflow_provider_composer_kpo-{package.__version__}"
SOURCE = "https://github.com/composer-kpo/airflow-provider-composer-kpo"
DOCS = "https://airflow-provider-composer-kpo.readthedocs.io/"
#: What building the wheel from the sdist, and testing from it, needs besides the folders below.
NEEDED_FILES = {
    "LICENSE",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    ".readthedocs.yaml",
    "README.md",
    "MANIFEST.in",
    "Makefile",
    "pyproject.toml",
    "setup.cfg",
    "dev/build.sh",
    "dev/lib/uv.sh",
    "dev/venvs.sh",
    "dev/test.sh",
    "dev/run_suites.py",
    "dev/release.sh",
    "requirements/compile.sh",
}
#: Folders shipped whole: every file of the checkout under them is in the sdist.
NEEDED_FOLDERS = (
    "benchmarks",
    "dev",
    "docs",
    "example_dags",
    "requirements",
    "tests",
    "airflow_provider_composer_kpo",
)


def built(suffix: str) -> Path:
    path = DIST / f"{STEM}{suffix}"
    if not path.is_file():
        pytest.skip(f"no {path.name} in dist/: bash dev/build.sh builds it (make test and make release do)")
    return path


def sdist_files() -> set[str]:
    with tarfile.open(built(".tar.gz")) as sdist:
        names = [member.name for member in sdist.getmembers() if member.isfile()]
    assert all(name.startswith(f"{STEM}/") for name in names), names[:5]
    return {name[len(STEM) + 1 :] for name in names}


def wheel_metadata() -> tuple[Message, set[str]]:
    with zipfile.ZipFile(built("-py3-none-any.whl")) as wheel:
        metadata = Parser().parsestr(wheel.read(f"{STEM}.dist-info/METADATA").decode())
        return metadata, set(wheel.namelist())


#: Build output inside a shipped folder (MANIFEST.in prunes it): the docs site `make docs` builds.
BUILD_OUTPUT = ("docs/_build",)


def checkout_files(folder: str) -> set[str]:
    return {
        path.relative_to(REPO).as_posix()
        for path in (REPO / folder).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and not any(REPO / output in path.parents for output in BUILD_OUTPUT)
    }


def test_the_sdist_holds_what_building_and_testing_from_it_needs():
    shipped = sdist_files()
    assert NEEDED_FILES <= shipped, f"not in the sdist (MANIFEST.in): {sorted(NEEDED_FILES - shipped)}"
    for folder in NEEDED_FOLDERS:
        missing = checkout_files(folder) - shipped
        assert not missing, (
            f"{folder}/: {sorted(missing)[:10]} not in the sdist: MANIFEST.in misses them, "
            "or dist/ is older than the checkout (bash dev/build.sh)"
        )


def test_the_sdist_holds_no_build_or_test_leftovers():
    leftovers = [
        name
        for name in sdist_files()
        if "__pycache__" in name.split("/")
        or name.endswith(".pyc")
        or name.split("/")[0] in (".venvs", "dist", "build", "artifacts", ".git")
        or name.startswith(tuple(f"{output}/" for output in BUILD_OUTPUT))
    ]
    assert leftovers == []


def test_the_wheel_ships_the_license():
    metadata, names = wheel_metadata()
    assert metadata["License"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    # setuptools 77+ puts it under licenses/ (core metadata 2.4), older releases beside METADATA.
    shipped = {f"{STEM}.dist-info/licenses/LICENSE", f"{STEM}.dist-info/LICENSE"} & names
    assert len(shipped) == 1, sorted(n for n in names if ".dist-info/" in n)
    with zipfile.ZipFile(built("-py3-none-any.whl")) as wheel:
        assert wheel.read(shipped.pop()) == (REPO / "LICENSE").read_bytes()
    assert "Apache License" in (REPO / "LICENSE").read_text()
    assert "Version 2.0, January 2004" in (REPO / "LICENSE").read_text()


def test_the_wheel_metadata_is_a_providers():
    metadata, _ = wheel_metadata()
    assert metadata["Name"] == "airflow-provider-composer-kpo"
    assert metadata["Version"] == package.__version__
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert sorted(urls) == ["Changelog", "Documentation", "Issue tracker", "Source"]
    assert urls["Source"] == SOURCE
    assert urls["Documentation"] == DOCS
    assert all(url.startswith(SOURCE + "/") for name, url in urls.items() if name not in ("Source", "Documentation"))
    classifiers = metadata.get_all("Classifier") or []
    assert {"Framework :: Apache Airflow", "Framework :: Apache Airflow :: Provider"} <= set(classifiers)
    kinds = {classifier.split(" :: ")[0] for classifier in classifiers}
    assert {"Development Status", "Environment", "Intended Audience", "Programming Language", "Topic"} <= kinds
    assert "airflow-provider" in metadata["Keywords"].split(",")


def test_no_extra_is_for_developers_only():
    """pytest and friends come from requirements/*.txt; users get only the extra a command of theirs needs."""
    metadata, _ = wheel_metadata()
    assert metadata.get_all("Provides-Extra") == ["migrate"]
    extras = re.findall(r'extra == "([^"]+)"', " ".join(metadata.get_all("Requires-Dist") or []))
    assert set(extras) == {"migrate"}


def test_the_changelog_has_a_released_section_for_this_version():
    """Keep a Changelog: ``## [Unreleased]`` on top, then ``## [X.Y.Z] - YYYY-MM-DD`` for the version
    setup.cfg ships (``make release`` runs this file), each with its compare or tag link."""
    changelog = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", changelog, re.MULTILINE)
    assert headings[0] == ("Unreleased", ""), headings[:2]
    released, dated = headings[1]
    assert released == package.__version__, (
        f"CHANGELOG's newest release is {released}, the package {package.__version__}"
    )
    assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", dated), f"## [{released}]{dated} needs ' - YYYY-MM-DD'"
    for name, _ in headings:
        assert re.search(rf"^\[{re.escape(name)}\]: {re.escape(SOURCE)}/", changelog, re.MULTILINE), name


def test_the_readme_is_a_pypi_page():
    """The README is PyPI's long description: short, and every link absolute (relative ones break
    there); a link into the docs site names a page docs/ has."""
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    targets = re.findall(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>", readme)
    links = [a or b for a, b in targets]
    assert links, "no links found"
    relative = [link for link in links if not link.startswith(("https://", "http://"))]
    assert relative == [], f"relative links break on PyPI: {relative}"
    for link in links:
        if link.startswith(DOCS + "en/latest/"):
            page = link[len(DOCS + "en/latest/") :].split("#")[0]
            stem = page[: -len(".html")]
            assert any((REPO / "docs" / f"{stem}{suffix}").is_file() for suffix in (".md", ".rst")), link
        elif link.startswith(SOURCE + "/blob/main/") or link.startswith(SOURCE + "/tree/main/"):
            assert (REPO / link.split("/main/", 1)[1]).exists(), link
