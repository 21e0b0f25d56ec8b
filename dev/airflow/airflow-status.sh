#!/usr/bin/env bash
# One line per component of the local Airflow deployment (running with pid, process count, RSS
# and PSS of its whole process tree and session / stopped), then the total.
# Exits 0 only when every component runs.
# The components listed are those of the pair the database holds, else of AIRFLOW/PAIR.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pair="$(recorded_pair || requested_pair)"
rc=0 total_n=0 total_kb=0 total_pss=0
printf '%-16s %s (Airflow %s) in %s\n' pair "$pair" "$(airflow_version_of "$pair")" "$RUN_DIR"
for c in $(components "$pair"); do
  if pid="$(pid_of "$c")"; then
    read -r n kb < <(group_rss "$pid")
    pss="$(group_pss "$pid")"
    total_n=$((total_n + n)) total_kb=$((total_kb + kb)) total_pss=$((total_pss + pss))
    printf '%-16s running (pid %s, %d processes, RSS %d MB, PSS %d MB)\n' "$c" "$pid" "$n" $((kb / 1024)) $((pss / 1024))
  else
    printf '%-16s stopped\n' "$c"
    rc=1
  fi
done
printf '%-16s %d processes, RSS %d MB, PSS %d MB\n' total "$total_n" $((total_kb / 1024)) $((total_pss / 1024))
exit "$rc"
