#!/usr/bin/env bash
# `make docs`: build the documentation site (docs/) into docs/_build/html and print its path.
#
#   bash dev/docs.sh
#
# Sphinx runs in .venvs/docs (requirements/docs.txt, with the wheel dev/build.sh builds: autodoc and
# the generated tables read the package as users install it), made or refreshed here through
# dev/venvs.sh. Every build is from scratch (-E: the tables come from files Sphinx does not track),
# with warnings as errors and every reference checked (-W --keep-going -n). Its output goes to
# docs/_build/sphinx.log, printed when the build fails.
#
# COMPOSER_KPO_VENVS_READY=1: .venvs/docs is made already (make test's docs stage made it with the
# run's wheel); only the build runs. Works from any cwd, on a fresh machine (dev/venvs.sh installs
# uv and finds the Python). Only PyPI is contacted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${COMPOSER_KPO_VENVS_READY:-} != 1 ]]; then
  bash dev/venvs.sh docs
fi
out=docs/_build/html
mkdir -p docs/_build
start=$EPOCHREALTIME
# The venv's sphinx-build script, not `python -m sphinx`: that would put the checkout, which holds
# the package's source, before the installed wheel on sys.path.
if ! .venvs/docs/bin/sphinx-build -N -E -W --keep-going -n -b html docs "$out" >docs/_build/sphinx.log 2>&1; then
  grep -E 'WARNING|ERROR|Exception|Error' docs/_build/sphinx.log || tail -n 40 docs/_build/sphinx.log
  echo "docs: FAILED (whole output: docs/_build/sphinx.log)"
  exit 1
fi
seconds=$(( (${EPOCHREALTIME//[.,]/} - ${start//[.,]/}) / 1000000 ))
# No colour (-N) whatever the caller's FORCE_COLOR; and a summary line not found must not end the
# script silently under set -e (a green build once failed CI with an empty log that way).
summary=$(grep -E 'build (succeeded|finished)' docs/_build/sphinx.log | tail -n 1 || true)
echo "docs: ${summary:-build succeeded}"; echo "docs: built in ${seconds} s: $PWD/$out/index.html"
