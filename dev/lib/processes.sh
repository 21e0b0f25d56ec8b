# shellcheck shell=bash
# Background components started and stopped by PID: shared by dev/localcluster and dev/airflow.
# Sourced, never run. The sourcing lib.sh sets LOG_DIR, PID_DIR and LOG_TAG ("cluster", "airflow").

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2; exit 1; }
say() { ((${QUIET:-0})) || log "$@"; }  # log unless the script was asked to be --quiet

# alive PID: the process exists and is not a zombie waiting to be reaped (a zombie still answers kill -0).
alive() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

start_time_of() {  # field 22 of /proc/PID/stat: start time in clock ticks since boot
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"  # drop "pid (comm) ", comm may contain spaces
  awk '{print $20}' <<<"$stat"
}

# record_pid NAME PID: NAME.pid holds "<pid> <start time>", so a recycled pid is not taken for NAME.
record_pid() {
  echo "$2 $(start_time_of "$2" || echo 0)" >"$PID_DIR/$1.pid"
}

pid_of() {  # pid_of NAME -> prints the pid if that very process is still alive
  local f="$PID_DIR/$1.pid" pid start
  [[ -s $f ]] || return 1
  read -r pid start <"$f"
  [[ -n $pid ]] && alive "$pid" || return 1
  [[ -z $start || $start == 0 || $(start_time_of "$pid") == "$start" ]] || return 1
  echo "$pid"
}

# start_bg NAME CMD...: run a component in its own session (setsid: pid = process group = session
# id, so it outlives this shell's job and can be stopped as a group), log to $LOG_DIR/NAME.log.
start_bg() {
  local name="$1"; shift
  setsid "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
  record_pid "$name" $!
}

# wait_for NAME WHAT CHECK...: run CHECK until it succeeds; `fail` (the sourcing script's) if NAME
# exits or START_TIMEOUT seconds pass first.
wait_for() {
  local name="$1" what="$2"; shift 2
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if [[ -f $PID_DIR/$name.pid ]] && ! pid_of "$name" >/dev/null; then
      fail "$name" "$name exited while waiting for $what"
    fi
    ((SECONDS < deadline)) || fail "$name" "timed out after ${START_TIMEOUT}s waiting for $what"
    sleep 0.5
  done
}

# show_log_tail NAME LINES: the last LINES of NAME's log on stderr, for a failed start.
show_log_tail() {
  [[ -f $LOG_DIR/$1.log ]] || return 0
  printf '[%s] last %s lines of %s:\n' "$LOG_TAG" "$2" "$LOG_DIR/$1.log" >&2
  tail -n "$2" "$LOG_DIR/$1.log" >&2
}
