"""The versions a DAGs folder is checked against: given on the command line, or the installed ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Tuple

from ..platform.composer import composer_major_version

Version = Tuple[int, int]

AIRFLOW = "apache-airflow"
CNCF_KUBERNETES = "apache-airflow-providers-cncf-kubernetes"
#: The short names used on the command line and in messages.
LABELS = {AIRFLOW: "Airflow", CNCF_KUBERNETES: "cncf-kubernetes"}


def parse_version(text: str, *, option: str) -> Version:
    """Return (major, minor) from "3", "3.1" or "3.1.2+composer"; raise ValueError naming the option."""
    match = re.match(r"^\s*(\d+)(?:\.(\d+))?", str(text))
    if not match:
        raise ValueError(f"{option} {text!r} is not a version; write it as MAJOR.MINOR, e.g. {option} 3.1")
    return int(match.group(1)), int(match.group(2) or 0)


def show_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


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
        airflow=parse_version(airflow, option="--airflow") if airflow else _installed(AIRFLOW, "--airflow"),
        cncf_kubernetes=(
            parse_version(cncf_kubernetes, option="--cncf-kubernetes")
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
