#!/usr/bin/env bash
# Create or refresh the per-pair virtualenvs .venvs/<id> from requirements/<id>.txt.
#
#   bash dev/venvs.sh                       # every pair
#   bash dev/venvs.sh af25-k50 af33-k1025   # only these (also: lint, docs)
#
# Each venv is made with `uv venv` on the Python its lock names (`# python: 3.8` in
# requirements/<id>.in; pyenv's), filled with `uv pip sync --require-hashes
# requirements/<id>.txt`, and gets this package as the wheel dev/build.sh builds (once per
# call; COMPOSER_KPO_WHEEL=path reuses one), never as an editable install: after editing the
# code, run this again. A stamp (sha256 of the lock, the interpreter and this script) is kept in
# .venvs/<id>/.venvs-stamp; when it is unchanged only the wheel is reinstalled.
# One line per venv is printed; uv's output goes to .venvs/<id>.log.
#
# Needs uv 0.13.9 (dev/lib/uv.sh installs it when missing).
# Works from any cwd. Only PyPI is contacted.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
script="$repo/dev/venvs.sh"

# Every lock but the tools' (lint: ruff and twine; docs: Sphinx): the Composer images and the pairs
# (dev/test.sh's unit stage). `bash dev/venvs.sh lint docs` makes those two.
mapfile -t ALL_IDS < <(cd requirements && ls -- *.in | sed 's/\.in$//' | grep -vxE 'lint|docs')

. dev/lib/uv.sh

# The interpreter for a lock: its `# python: X.Y` line (3.11 without one), from pyenv when it has
# that minor, else whatever uv finds for it.
interpreter() {
  local minor candidate
  minor=$(sed -n 's/^# python: *//p' "requirements/$1.in" 2>/dev/null | head -n 1)
  minor=${minor:-3.11}
  for candidate in "${PYENV_ROOT:-/root/.pyenv}/versions/$minor".*/bin/"python$minor"; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
  echo "$minor"
}

if [ $# -eq 0 ]; then
  ids=("${ALL_IDS[@]}")
else
  ids=("$@")
fi

elapsed() { # seconds since $1 (an $EPOCHREALTIME), one decimal
  local now=$EPOCHREALTIME
  local ms=$(( (${now//[.,]/} - ${1//[.,]/}) / 1000 ))
  printf '%d.%d' $(( ms / 1000 )) $(( (ms % 1000) / 100 ))
}

mkdir -p .venvs
status=0
# The package goes in as the built wheel (not editable): what is tested is what users install.
# lint alone needs no wheel (docs does: autodoc imports the package).
wheel=
if printf '%s\n' "${ids[@]}" | grep -qvx lint; then
  if [ -n "${COMPOSER_KPO_WHEEL:-}" ]; then
    wheel=$COMPOSER_KPO_WHEEL
  else
    wheel=$(bash dev/build.sh) || { echo "venvs.sh: building the wheel failed"; exit 1; }
  fi
fi
for id in "${ids[@]}"; do
  lock="requirements/$id.txt"
  venv=".venvs/$id"
  log=".venvs/$id.log"
  if [ ! -f "$lock" ]; then
    echo "$id: FAILED (no $lock)"
    status=1
    continue
  fi
  start=$EPOCHREALTIME
  python=$(interpreter "$id")
  stamp=$(
    {
      sha256sum "$lock" "$script"
      echo "$python"
    } | sha256sum | cut -d' ' -f1
  )
  if [ -x "$venv/bin/python" ] && [ -f "$venv/.venvs-stamp" ] \
    && [ "$(cat "$venv/.venvs-stamp")" = "$stamp" ] \
    && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    if [ "$id" = lint ] || "${UV[@]}" pip install --quiet --python "$venv/bin/python" --no-deps --reinstall "$wheel" >"$log" 2>&1; then
      echo "$id: up to date ($venv, $(elapsed "$start")s)"
    else
      echo "$id: FAILED installing $wheel, see $log"
      status=1
    fi
    continue
  fi
  # A changed lock or interpreter: made again from scratch (uv's cache makes that cheap).
  action=created
  [ -d "$venv" ] && action=recreated
  # One && chain: `set -e` does not apply inside a subshell that is an `if` condition.
  if {
    rm -rf "$venv" &&
      "${UV[@]}" venv --python "$python" "$venv" &&
      "${UV[@]}" pip sync --python "$venv/bin/python" --require-hashes "$lock" &&
      { [ "$id" = lint ] || "${UV[@]}" pip install --python "$venv/bin/python" --no-deps --reinstall "$wheel"; } &&
      echo "$stamp" >"$venv/.venvs-stamp"
  } >"$log" 2>&1; then
    echo "$id: $action ($venv, $(elapsed "$start")s)"
  else
    echo "$id: FAILED after $(elapsed "$start")s, see $log:"
    tail -n 20 "$log" | sed 's/^/    /'
    status=1
  fi
done
exit $status
