"""Installing this package into a Composer image changes nothing else.

For every image list in requirements/images/, resolve the built wheel with the image's whole
package set as constraints, on the image's Python, and check that every package of the result
other than this one is already in the image at the same version: pip would install this package
and nothing else (Composer refuses an install that changes a preinstalled package).

    python3 dev/check_install.py dist/airflow_provider_composer_kpo-*.whl

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

IMAGES = Path(__file__).resolve().parents[1] / "requirements" / "images"
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
        python, pins = read_image(path)
        resolved, error = resolve(wheel, python, pins)
        extra = sorted(f"{n}=={v}" for n, v in resolved.items() if n != PACKAGE and pins.get(n) != v)
        if error or PACKAGE not in resolved or extra:
            failed += 1
            why = error.splitlines()[-1] if error else "also " + ", ".join(extra)
            print(f"{path.stem:<32} {python:<7} {len(resolved):>8}  FAILED: {why}")
        else:
            print(f"{path.stem:<32} {python:<7} {len(resolved):>8}  {PACKAGE} only")
    print(f"check_install: {failed} of {len(list(IMAGES.glob('*.txt')))} images failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
