"""Installing this package into a Composer image changes nothing else.

For every image list in requirements/images/, resolve the built wheel with the image's whole
package set as constraints, on the image's Python, and check that every package of the result
other than this one is already in the image at the same version: pip would install this package
and nothing else (Composer refuses an install that changes a preinstalled package).

    python3 dev/check_install.py dist/airflow_provider_composer_kpo-*.whl

A list that is only part of Google's (its header has a '# PARTIAL' line) cannot say what the
image has of the packages it does not name: for those, the pins of the image's environment (the lock
whose requirements/<id>.in constrains with that list) stand in, so the check is that installing the
wheel changes nothing in that environment.

Prints one row per image; exits 1 if any image fails. Needs uv (dev/lib/uv.sh); resolves only,
installs nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
IMAGES = REQUIREMENTS / "images"
PACKAGE = "airflow-provider-composer-kpo"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_image(path: Path) -> tuple[str, dict[str, str]]:
    """The image's Python minor and its pins. A pin the list could only name in a comment (a local
    version such as apache-airflow==2.6.3+composer) is taken from its 'closest PyPI' note."""
    text = path.read_text()
    python = re.search(r"\(Python (\d+\.\d+)", text)
    if not python:
        raise SystemExit(f"{path}: the header must name the image's Python, e.g. '(Python 3.8.12)'")
    pins = {normalize(n): v for n, v in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.MULTILINE)}
    for name, version in re.findall(r"closest PyPI: ([A-Za-z0-9_.-]+)==([^\s)]+)", text):
        pins.setdefault(normalize(name), version)
    return python[1], pins


def is_partial(path: Path) -> bool:
    """The list is only part of Google's (a '# PARTIAL' line in its header)."""
    return re.search(r"^# PARTIAL\b", path.read_text(), re.MULTILINE) is not None


def environment_locks(image: Path) -> list[Path]:
    """The locks of the environments built on this image: requirements/<id>.txt whose <id>.in has
    ``-c images/<image>.txt``."""
    constraint = re.compile(rf"^-c\s+images/{re.escape(image.name)}\s*$", re.MULTILINE)
    return [
        source.with_suffix(".txt")
        for source in sorted(REQUIREMENTS.glob("*.in"))
        if constraint.search(source.read_text()) and source.with_suffix(".txt").exists()
    ]


def image_pins(path: Path) -> tuple[str, dict[str, str], str]:
    """(Python, pins, note) for one image list. A partial list's pins are completed from its
    environment's lock: the image's own pins win, the lock's stand in for what the list does not name."""
    python, pins = read_image(path)
    if not is_partial(path):
        return python, pins, ""
    locks = environment_locks(path)
    if not locks:
        raise SystemExit(f"{path}: a PARTIAL list needs a requirements/<id>.in with '-c images/{path.name}'")
    for lock in locks:
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock.read_text(), re.MULTILINE):
            pins.setdefault(normalize(name), version)
    return python, pins, f" (partial list; the rest from {', '.join(lock.stem for lock in locks)})"


def uv() -> list[str]:
    return ["uv"] if shutil.which("uv") else [sys.executable, "-m", "uv"]


def resolve(wheel: Path, python: str, pins: dict[str, str]) -> tuple[dict[str, str], str]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        constraints.write("".join(f"{n}=={v}\n" for n, v in sorted(pins.items())))
        constraints.flush()
        result = subprocess.run(
            [*uv(), "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python-version", python,
             "-c", constraints.name, "-"],
            input=f"{PACKAGE} @ {wheel.resolve().as_uri()}\n", capture_output=True, text=True,
        )  # fmt: skip
    if result.returncode != 0:
        return {}, result.stderr.strip()
    resolved = {}
    for line in result.stdout.splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if pinned:
            resolved[normalize(pinned[1])] = pinned[2]
        elif line.startswith(f"{PACKAGE} @"):
            resolved[PACKAGE] = "(wheel)"
    return resolved, ""


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].endswith(".whl"):
        print(__doc__)
        return 2
    wheel = Path(argv[0])
    failed = 0
    print(f"{'image':<32} {'Python':<7} {'resolved':>8}  would install")
    for path in sorted(IMAGES.glob("*.txt")):
        python, pins, note = image_pins(path)
        resolved, error = resolve(wheel, python, pins)
        extra = sorted(f"{n}=={v}" for n, v in resolved.items() if n != PACKAGE and pins.get(n) != v)
        if error or PACKAGE not in resolved or extra:
            failed += 1
            why = error.splitlines()[-1] if error else "also " + ", ".join(extra)
            print(f"{path.stem:<32} {python:<7} {len(resolved):>8}  FAILED: {why}{note}")
        else:
            print(f"{path.stem:<32} {python:<7} {len(resolved):>8}  {PACKAGE} only{note}")
    print(f"check_install: {failed} of {len(list(IMAGES.glob('*.txt')))} images failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
