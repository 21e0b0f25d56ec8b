#!/usr/bin/env bash
# `make release`: everything before an upload, and no upload. Builds the sdist and the wheel
# (dev/build.sh, into dist/), checks them with `twine check --strict`, installs the wheel into the
# newest test environment and runs the metadata tests there (tests/unit/test_distribution.py: what
# the sdist and the wheel hold; tests/unit/test_packaging.py: what pip and Airflow see once it is
# installed), builds the docs from the extracted sdist alone (warnings as errors), then prints each
# file to upload with its size and sha256.
#
#   bash dev/release.sh
#
# Not while `make test` runs: both rebuild dist/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ENV_ID=af33-k1025 # the newest (Airflow, cncf-kubernetes) pair; it has pytest

wheel=$(bash dev/build.sh)
sdist=${wheel%-py3-none-any.whl}.tar.gz
[ -f "$sdist" ] || { echo "release: no sdist beside $wheel" >&2; exit 1; }

echo "== environments (dev/venvs.sh lint docs $ENV_ID)"
COMPOSER_KPO_WHEEL="$wheel" bash dev/venvs.sh lint docs "$ENV_ID"

echo "== twine check --strict"
.venvs/lint/bin/twine check --strict "$sdist" "$wheel"

echo "== metadata tests"
".venvs/$ENV_ID/bin/pytest" -q \
  tests/unit/test_distribution.py tests/unit/test_packaging.py

echo "== the docs, built from the sdist alone"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
tar -xzf "$sdist" -C "$unpacked"
source_dir=("$unpacked"/*/)
.venvs/docs/bin/sphinx-build -E -W --keep-going -n -q -b html "${source_dir[0]}docs" "$unpacked/html"
echo "built from $(basename "$sdist") with no warning"

echo "== would upload (nothing was uploaded)"
for file in "$sdist" "$wheel"; do
  printf '%s  %s bytes  sha256 %s\n' "$(basename "$file")" "$(stat -c %s "$file")" \
    "$(sha256sum "$file" | cut -d' ' -f1)"
done
echo "To publish: .venvs/lint/bin/twine upload $sdist $wheel"
