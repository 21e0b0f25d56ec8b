#!/usr/bin/env bash
# Build the sdist and the wheel once, into dist/ (the wheel is built from the sdist, so a file
# missing from the sdist is missing from the wheel too). Every test environment installs this
# wheel, not the checkout (dev/venvs.sh). Prints the wheel's path.
#
#   bash dev/build.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. dev/lib/uv.sh
rm -rf dist build
"${UV[@]}" build --quiet --out-dir dist >&2
ls dist/*.whl
