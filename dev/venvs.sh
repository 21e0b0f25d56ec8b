#!/usr/bin/env bash
# Create or refresh the per-pair virtualenvs .venvs/<id> from requirements/<id>.txt.
#
#   bash dev/venvs.sh                       # every pair
#   bash dev/venvs.sh af25-k50 af33-k1025   # only these (also: lint)
#
# Each venv is made with `uv venv --python python3`, filled with
# `uv pip sync --require-hashes requirements/<id>.txt`, and gets this repo with
# `uv pip install --no-deps -e .`. A stamp (sha256 of the lock, setup.cfg,
# pyproject.toml, the interpreter version and this script) is kept in
# .venvs/<id>/.venvs-stamp; when it is unchanged the venv is left alone.
# One line per venv is printed; uv's output goes to .venvs/<id>.log.
#
# Needs uv (CI: python3 -m pip install 'uv==0.13.9'); uses `uv` on PATH, else
# `python3 -m uv`, and installs that pinned version if neither works.
# Works from any cwd. Only PyPI is contacted.
set -euo pipefail

UV_VERSION=0.13.9
ALL_IDS=(af25-k50 af26-k60 af210-k714 af210-k1010 af33-k1025)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
script="$repo/dev/venvs.sh"

# uv on PATH, else `python3 -m uv` (a fresh pyenv may not have rehashed the
# `uv` shim after `python3 -m pip install uv`); install it if neither works.
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
  fi
  UV=(python3 -m uv)
  "${UV[@]}" --version >/dev/null 2>&1 || { echo "venvs.sh: cannot run uv" >&2; exit 1; }
fi

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
  stamp=$(
    {
      sha256sum "$lock" setup.cfg pyproject.toml "$script"
      python3 -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
  )
  if [ -x "$venv/bin/python" ] && [ -f "$venv/.venvs-stamp" ] \
    && [ "$(cat "$venv/.venvs-stamp")" = "$stamp" ] \
    && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "$id: up to date ($venv, $(elapsed "$start")s)"
    continue
  fi
  action=updated
  if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; }; then
    action=created
  fi
  if (
    set -e
    rm -f "$venv/.venvs-stamp"
    if [ "$action" = created ]; then
      rm -rf "$venv"
      "${UV[@]}" venv --python python3 "$venv"
    fi
    "${UV[@]}" pip sync --python "$venv/bin/python" --require-hashes "$lock"
    "${UV[@]}" pip install --python "$venv/bin/python" --no-deps -e .
    echo "$stamp" >"$venv/.venvs-stamp"
  ) >"$log" 2>&1; then
    echo "$id: $action ($venv, $(elapsed "$start")s)"
  else
    echo "$id: FAILED after $(elapsed "$start")s, see $log:"
    tail -n 20 "$log" | sed 's/^/    /'
    status=1
  fi
done
exit $status
