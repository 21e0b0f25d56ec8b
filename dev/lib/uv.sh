# Sourced: sets UV=(...) to a working uv 0.13.9: `uv` on PATH, else `python3 -m uv` (a fresh
# pyenv may not have rehashed the `uv` shim after `python3 -m pip install uv`), installing that
# pinned version if neither works. Only PyPI is contacted.
UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! python3 -m uv --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
  fi
  UV=(python3 -m uv)
  "${UV[@]}" --version >/dev/null 2>&1 || { echo "cannot run uv" >&2; exit 1; }
fi
