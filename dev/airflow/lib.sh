# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source this
# Shared settings and helpers for the local Airflow deployment scripts. Sourced, never run.

AF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$AF_DIR/../.." && pwd)"

# Everything the deployment writes lives under one directory (airflow-down --purge removes it).
RUN_DIR="${COMPOSER_KPO_AIRFLOW_DIR:-/var/tmp/composer-kpo-airflow}"
LOG_DIR="$RUN_DIR/logs"            # one log per component; task logs in logs/tasks
PID_DIR="$RUN_DIR/pids"            # NAME.pid: "<pid> <start time>" (guards against pid reuse)
AIRFLOW_HOME_DIR="$RUN_DIR/home"
DAGS_DIR="$RUN_DIR/dags"           # symlinks, rebuilt on every airflow-up
HELPERS_DIR="$RUN_DIR/pythonpath"  # PYTHONPATH: only a `tests` symlink, never the checkout's package
ENV_FILE="$RUN_DIR/airflow.env"    # sourced by every component, printed as exports
SECRETS_FILE="$RUN_DIR/secrets.env"  # keys generated once per run dir
PAIR_FILE="$RUN_DIR/pair"          # the pair whose schema the database holds
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR="$RUN_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCKET_DIR="$PG_DIR/socket"
REDIS_DIR="$RUN_DIR/redis"

# Ports: non-default, so nothing clashes with a system postgres/redis or another Airflow.
# COMPOSER_KPO_AIRFLOW_PORT_OFFSET (default 0) shifts them all, so that two deployments, each with
# its own COMPOSER_KPO_AIRFLOW_DIR, run side by side (dev/test.sh runs one per Airflow major).
PORT_OFFSET=${COMPOSER_KPO_AIRFLOW_PORT_OFFSET:-0}
PG_PORT=$((15432 + PORT_OFFSET))
REDIS_PORT=$((16379 + PORT_OFFSET))
WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-20}  # task slots: the fault benchmark runs 18 tasks at once
API_PORT=$((18080 + PORT_OFFSET))           # api-server (Airflow 3) / webserver (Airflow 2)
WORKER_LOG_PORT=$((18793 + PORT_OFFSET))    # celery worker's log server
TRIGGERER_LOG_PORT=$((18794 + PORT_OFFSET)) # triggerer's log server
DB_USER=airflow DB_PASSWORD=airflow DB_NAME=airflow
REPARSE_SECONDS=${COMPOSER_KPO_AIRFLOW_REPARSE_SECONDS:-5}  # airflow-up.sh: how often a DAG file is parsed again

# The cluster the tasks' pods run on (dev/localcluster).
CLUSTER_KUBECONFIG="${KUBECONFIG:-/var/tmp/composer-kpo-cluster/admin.kubeconfig}"
# The local cluster has no registry: the XCom sidecar must use an image the node already has
# (tests/integration/operator_harness.py BUSYBOX).
SIDECAR_IMAGE="busybox:1.36"

# shellcheck source=../lib/pairs.sh
source "$AF_DIR/../lib/pairs.sh"
# Composer's images first (the default of AIRFLOW=3|2), then the newest versions we support.
SUPPORTED_PAIRS=("$AIRFLOW3_PAIR" "$AIRFLOW2_PAIR" af33-k1025 af210-k1010)

LOG_TAG=airflow
# shellcheck source=../lib/processes.sh
source "$AF_DIR/../lib/processes.sh"

# requested_pair: the pair asked for by PAIR=<one of SUPPORTED_PAIRS> or AIRFLOW=3|2 (default 3).
requested_pair() {
  local p="${PAIR:-}"
  if [[ -z $p ]]; then
    case "${AIRFLOW:-3}" in
      3 | 3.*) p=$AIRFLOW3_PAIR ;;
      2 | 2.*) p=$AIRFLOW2_PAIR ;;
      *) die "AIRFLOW=${AIRFLOW} is not supported (use AIRFLOW=3 or AIRFLOW=2, or PAIR=${SUPPORTED_PAIRS[*]// /|})" ;;
    esac
  fi
  local s
  for s in "${SUPPORTED_PAIRS[@]}"; do [[ $p == "$s" ]] && { echo "$p"; return 0; }; done
  die "PAIR=$p is not supported (use one of: ${SUPPORTED_PAIRS[*]})"
}

recorded_pair() { [[ -s $PAIR_FILE ]] && cat "$PAIR_FILE"; }

airflow_major() { airflow_version_of "$1" | cut -d. -f1; }

airflow_version_of() {  # the Airflow version pinned in the pair's lock
  awk -F'==' '$1 == "apache-airflow" {sub(/[ \\].*/, "", $2); print $2; exit}' "$REPO/requirements/$1.txt"
}

venv_of() { echo "$REPO/.venvs/$1"; }

# components PAIR: start order (airflow-down stops in reverse).
components() {
  if [[ $(airflow_major "$1") == 3 ]]; then
    echo postgres redis scheduler dag-processor triggerer celery-worker api-server
  else
    echo postgres redis scheduler triggerer celery-worker webserver
  fi
}

web_component() { [[ $(airflow_major "$1") == 3 ]] && echo api-server || echo webserver; }

api_base() {  # REST API base URL of the pair
  if [[ $(airflow_major "$1") == 3 ]]; then echo "http://127.0.0.1:$API_PORT/api/v2"; else echo "http://127.0.0.1:$API_PORT/api/v1"; fi
}

health_url() {
  if [[ $(airflow_major "$1") == 3 ]]; then echo "http://127.0.0.1:$API_PORT/api/v2/monitor/health"; else echo "http://127.0.0.1:$API_PORT/health"; fi
}




# group_pids ROOT: every live process of a component: ROOT's descendants plus the members of the
# session its setsid started, so children that made their own process group (Airflow 2's task
# runner) or session (PostgreSQL's backends), and orphans re-parented to init, all count.
group_pids() { _group "$1" | awk '{print $1}'; }

# group_rss ROOT: "<process count> <RSS sum in kB>" over group_pids ROOT.
group_rss() { _group "$1" | awk '{n++; r += $2} END {printf "%d %d\n", n, r}'; }

# group_pss ROOT: the sum of PSS (kB; shared pages split between their users, so the Celery
# pool's copy-on-write pages count once) over group_pids ROOT.
group_pss() {
  local p kb=0 v
  for p in $(group_pids "$1"); do
    v="$(awk '/^Pss:/ {print $2; exit}' "/proc/$p/smaps_rollup" 2>/dev/null)" || true
    kb=$((kb + ${v:-0}))
  done
  echo "$kb"
}

_group() {  # "pid rss" lines of ROOT's group
  ps -eo pid=,ppid=,sid=,rss=,stat= | awk -v root="$1" '
    $5 !~ /^Z/ {pid[NR] = $1; ppid[$1] = $2; sid[$1] = $3; rss[$1] = $4}
    END {
      for (i in pid) {
        p = pid[i]; ok = (sid[p] == root)
        for (q = p; !ok && q != "" && q > 1; q = ppid[q]) if (q == root) ok = 1
        if (ok) print p, rss[p]
      }
    }'
}

pg_ready() { "$PG_BIN/pg_isready" -q -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres; }
redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
