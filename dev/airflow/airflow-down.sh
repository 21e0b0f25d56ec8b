#!/usr/bin/env bash
# Stops the local Airflow deployment by the PIDs airflow-up recorded (each component was started
# with setsid, so its pid is also its process group): TERM to the process group, then KILL after
# a grace period to whatever is left of the component's tree and session (Celery pool and task
# processes, gunicorn/uvicorn workers); PostgreSQL with `pg_ctl stop -m fast`.
# Safe to run when nothing runs.
#   --quiet   say nothing when there is nothing to do (used by airflow-up)
#   --purge   also delete the run dir (database, logs, keys, AIRFLOW_HOME)
# Kept by default under the run dir: the database, logs/ (post-mortem), secrets.env, home/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GRACE="${COMPOSER_KPO_AIRFLOW_STOP_GRACE:-30}"  # seconds before KILL
QUIET=0 PURGE=0
for a in "$@"; do
  case "$a" in
    --quiet) QUIET=1 ;;
    --purge) PURGE=1 ;;
    *) die "usage: $0 [--quiet] [--purge]" ;;
  esac
done
AIRFLOW_COMPONENTS=(webserver api-server celery-worker triggerer dag-processor scheduler)

# stop_groups NAME...: TERM each running component's process group, wait up to $GRACE s for
# all of their processes (group_pids) to be gone, then KILL what is left.
stop_groups() {
  local name pid p i left roots=() names=()
  for name in "$@"; do
    if pid="$(pid_of "$name")"; then
      say "stopping $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    else
      # The component died (e.g. SIGKILL) but may have left children in its session.
      pid="$(awk '{print $1}' "$PID_DIR/$name.pid" 2>/dev/null)" || true
      p="$([[ -n $pid ]] && group_pids "$pid" | tr '\n' ' ')" || true
      if [[ -z ${p// /} ]]; then rm -f "$PID_DIR/$name.pid"; continue; fi
      say "$name (pid $pid) is gone; stopping what is left of it: $p"
      # shellcheck disable=SC2086
      kill -TERM $p 2>/dev/null || true
    fi
    roots+=("$pid"); names+=("$name")
  done
  ((${#roots[@]})) || return 0
  for ((i = 0; i < GRACE * 5; i++)); do
    left=0
    for pid in "${roots[@]}"; do [[ -n $(group_pids "$pid") ]] && left=1; done
    ((left)) || break
    sleep 0.2
  done
  for i in "${!roots[@]}"; do
    p="$(group_pids "${roots[$i]}" | tr '\n' ' ')"
    if [[ -n ${p// /} ]]; then
      say "${names[$i]} still has processes after ${GRACE}s, killing: $p"
      # shellcheck disable=SC2086
      kill -KILL $p 2>/dev/null || true
    fi
  done
  for name in "${names[@]}"; do rm -f "$PID_DIR/$name.pid"; done
}

stop_postgres() {
  local pid
  pid="$(pid_of postgres)" || { rm -f "$PID_DIR/postgres.pid"; return 0; }
  say "stopping postgres (pid $pid)"
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m fast -w -t "$GRACE" >/dev/null 2>&1; then
    say "pg_ctl stop failed"
  fi
  stop_groups postgres  # whatever is left of it (normally nothing)
}

main() {
  if [[ ! -d $RUN_DIR ]]; then
    say "nothing to stop ($RUN_DIR does not exist)"
    return 0
  fi
  stop_groups "${AIRFLOW_COMPONENTS[@]}"
  stop_groups redis
  stop_postgres
  rm -f "$PID_DIR"/*.pid 2>/dev/null || true
  if ((PURGE)); then
    rm -rf "$RUN_DIR"
    say "purged $RUN_DIR"
  fi
  say "airflow is down"
}

main
