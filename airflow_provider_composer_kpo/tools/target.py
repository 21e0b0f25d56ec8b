"""The versions a DAGs folder is checked against: given on the command line, or the installed ones."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Mapping, Tuple

from ..platform.composer import composer_major_version
from ..verdicts import CNCF_KUBERNETES_FOR_AIRFLOW_3

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


#: The oldest Airflow each cncf-kubernetes release installs on, from the release on (its changelog's "only
#: available for Airflow X+"), as far as it matters within SUPPORTED.
AIRFLOW_NEEDED_BY: tuple[tuple[Version, Version], ...] = (
    ((7, 7), (2, 5)),
    ((7, 11), (2, 6)),
    ((8, 2), (2, 7)),
    ((8, 4), (2, 8)),
    ((10, 1), (2, 9)),
    ((10, 5), (2, 10)),
    ((10, 11), (2, 11)),
)


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


def cncf_kubernetes_range(airflow: Version) -> tuple[Version, str]:
    """Return the oldest cncf-kubernetes that installs on ``airflow``, and the newest as text ("7.10", "10.x")."""
    oldest = CNCF_KUBERNETES_FOR_AIRFLOW_3 if airflow >= (3, 0) else SUPPORTED[CNCF_KUBERNETES][0]
    for cncf_kubernetes, needed in AIRFLOW_NEEDED_BY:
        if needed > airflow:
            return oldest, show_version((cncf_kubernetes[0], cncf_kubernetes[1] - 1))
    return oldest, f"{SUPPORTED[CNCF_KUBERNETES][1][0]}.x"


def pair_problem(airflow: Version, cncf_kubernetes: Version) -> str | None:
    """Return why the two versions cannot be installed together, or None when they can."""
    if airflow >= (3, 0) and cncf_kubernetes < CNCF_KUBERNETES_FOR_AIRFLOW_3:
        why = f"Airflow 3 needs cncf-kubernetes {show_version(CNCF_KUBERNETES_FOR_AIRFLOW_3)} or later"
    else:
        needed = max((a for c, a in AIRFLOW_NEEDED_BY if cncf_kubernetes >= c), default=SUPPORTED[AIRFLOW][0])
        if airflow >= needed:
            return None
        why = f"cncf-kubernetes {show_version(cncf_kubernetes)} needs Airflow {show_version(needed)} or later"
    oldest, newest = cncf_kubernetes_range(airflow)
    return (
        f"{why}; with Airflow {show_version(airflow)}, composer-kpo supports cncf-kubernetes "
        f"{show_version(oldest)} to {newest}"
    )


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
    """Return the target: each version as given, else the installed package's, else Composer's own variable.

    Raise ValueError for a version outside :data:`SUPPORTED`, or a pair that cannot be installed together.
    """
    target = Target(
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
    problem = pair_problem(target.airflow, target.cncf_kubernetes)
    if problem is not None:
        given = [
            f"--airflow {airflow}" if airflow else f"the installed Airflow {show_version(target.airflow)}",
            f"--cncf-kubernetes {cncf_kubernetes}"
            if cncf_kubernetes
            else f"the installed cncf-kubernetes {show_version(target.cncf_kubernetes)}",
        ]
        raise ValueError(f"{given[0]} and {given[1]} cannot be installed together: {problem}")
    return target


def _installed(distribution: str, option: str) -> Version:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return parse_version(version(distribution), option=option)
    except PackageNotFoundError:
        raise ValueError(f"{distribution} is not installed here; name the target version with {option}") from None
