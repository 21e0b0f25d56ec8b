"""The versions a DAGs folder is checked against: given on the command line, or the installed ones."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Mapping, Tuple

from ..platform.composer import composer_major_version

Version = Tuple[int, int]

AIRFLOW = "apache-airflow"
CNCF_KUBERNETES = "apache-airflow-providers-cncf-kubernetes"
#: The short names used on the command line and in messages.
LABELS = {AIRFLOW: "Airflow", CNCF_KUBERNETES: "cncf-kubernetes"}
#: The oldest and newest MAJOR.MINOR this package supports (setup.cfg's install_requires); a newest minor
#: of None means every minor of that major.
SUPPORTED: dict[str, tuple[Version, tuple[int, int | None]]] = {
    AIRFLOW: ((2, 5), (3, 3)),
    CNCF_KUBERNETES: ((5, 0), (10, None)),
}


def parse_version(text: str, *, option: str) -> Version:
    """Return (major, minor) from "3", "3.1" or "3.1.2+composer"; raise ValueError naming the option."""
    match = re.match(r"^\s*(\d+)(?:\.(\d+))?", str(text))
    if not match:
        raise ValueError(f"{option} {text!r} is not a version; write it as MAJOR.MINOR, e.g. {option} 3.1")
    return int(match.group(1)), int(match.group(2) or 0)


def show_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def supported_range(package: str) -> str:
    """Return the supported versions of ``package`` for messages, e.g. "2.5 to 3.3" or "5.0 to 10.x"."""
    oldest, (major, minor) = SUPPORTED[package]
    return f"{show_version(oldest)} to {major}.{'x' if minor is None else minor}"


def parse_supported_version(text: str, *, package: str, option: str) -> Version:
    """Return (major, minor) like :func:`parse_version`; raise ValueError when it is outside :data:`SUPPORTED`."""
    version = parse_version(text, option=option)
    oldest, (major, minor) = SUPPORTED[package]
    if not oldest <= version <= (major, sys.maxsize if minor is None else minor):
        raise ValueError(
            f"{option} {text} is not a supported {LABELS[package]} version: composer-kpo supports "
            f"{LABELS[package]} {supported_range(package)}"
        )
    return version


@dataclass(frozen=True)
class Target:
    """What the DAGs will run on: Airflow, the cncf-kubernetes provider and Composer's major (None: not Composer)."""

    airflow: Version
    cncf_kubernetes: Version
    composer: int | None = None

    def version_of(self, package: str) -> Version:
        return self.airflow if package == AIRFLOW else self.cncf_kubernetes

    def __str__(self) -> str:
        composer = f", Composer {self.composer}" if self.composer else ""
        return f"Airflow {show_version(self.airflow)}, cncf-kubernetes {show_version(self.cncf_kubernetes)}{composer}"


def resolve_target(
    *,
    airflow: str | None = None,
    cncf_kubernetes: str | None = None,
    composer: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Return the target: each version as given, else the installed package's, else Composer's own variable."""
    return Target(
        airflow=(
            parse_supported_version(airflow, package=AIRFLOW, option="--airflow")
            if airflow
            else _installed(AIRFLOW, "--airflow")
        ),
        cncf_kubernetes=(
            parse_supported_version(cncf_kubernetes, package=CNCF_KUBERNETES, option="--cncf-kubernetes")
            if cncf_kubernetes
            else _installed(CNCF_KUBERNETES, "--cncf-kubernetes")
        ),
        composer=parse_version(composer, option="--composer")[0] if composer else composer_major_version(environ),
    )


def _installed(distribution: str, option: str) -> Version:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return parse_version(version(distribution), option=option)
    except PackageNotFoundError:
        raise ValueError(f"{distribution} is not installed here; name the target version with {option}") from None
