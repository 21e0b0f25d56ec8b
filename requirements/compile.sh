#!/usr/bin/env bash
# Re-lock requirements/<id>.txt from requirements/<id>.in (hashed, for the Python its
# `# python: X.Y` line names; 3.11 without one).
#
#   bash requirements/compile.sh                 # every *.in
#   bash requirements/compile.sh af25-k50 lint   # only these
#   bash requirements/compile.sh --upgrade af33-k1025   # allow newer versions
#
# Without --upgrade, uv keeps the versions already pinned in the existing .txt
# wherever the .in still allows them, so a re-lock only moves what changed.
# Needs uv (python3 -m pip install 'uv==0.13.9'); only PyPI is contacted.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

extra=()
ids=()
for a in "$@"; do
  case "$a" in
    -*) extra+=("$a") ;;
    *) ids+=("${a%.in}") ;;
  esac
done
if [ ${#ids[@]} -eq 0 ]; then
  for f in *.in; do ids+=("${f%.in}"); done
fi

for id in "${ids[@]}"; do
  python=$(sed -n 's/^# python: *//p' "$id.in" | head -n 1)
  uv pip compile --quiet --generate-hashes --python-version "${python:-3.11}" \
    --custom-compile-command "bash requirements/compile.sh $id" \
    ${extra[@]+"${extra[@]}"} "$id.in" -o "$id.txt"
  # The lock starts with the .in's own header (what the environment is, what was left out and why).
  { sed -n '/^#/!q; p' "$id.in"; cat "$id.txt"; } >"$id.txt.new" && mv "$id.txt.new" "$id.txt"
  echo "$id: requirements/$id.txt ($(grep -c '^[A-Za-z0-9]' "$id.txt") packages, Python ${python:-3.11})"
done
