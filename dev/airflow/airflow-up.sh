#!/usr/bin/env bash
# Starts a local Airflow deployment shaped like Cloud Composer's: CeleryExecutor, PostgreSQL
# metadata database, Redis broker, tasks running their pods on the local cluster.
#   postgres -> redis -> `airflow db migrate` -> scheduler, [dag-processor], triggerer,
#   celery worker, api-server (Airflow 3) / webserver (Airflow 2)
# One pair at a time: AIRFLOW=3 (default) or AIRFLOW=2 (Composer's images, dev/lib/pairs.sh), or PAIR=<pair>.
# EXTRA_DAGS=/dir adds that directory's *.py to the DAGs folder.
# EXTRA_ENV_FILE=file adds its NAME=value lines to every component's environment (the browser
# tests: the variables Composer sets on its workers); read at start, so airflow-down first.
# UI_LOGIN=user:password makes the UI ask for that admin's login (default: no login, every visitor
# an admin); the REST API's callers get it as $COMPOSER_KPO_AIRFLOW_USER. Read at start too.
# COMPOSER_KPO_AIRFLOW_REPARSE_SECONDS (default 5): how often an unchanged DAG file is parsed again
# (new files are found within seconds either way); dev/test.sh's deployments, whose files do not
# change, parse less often and leave the CPU to the suites.
# Side by side: COMPOSER_KPO_AIRFLOW_DIR (run dir) and COMPOSER_KPO_AIRFLOW_PORT_OFFSET (lib.sh)
# make a second deployment that shares nothing with the first.
# `--deps` only installs the Debian packages; `--restart NAME` starts one stopped component again.
# Idempotent: when everything already runs with the same pair it only refreshes the DAGs folder's
# symlinks and prints status and exports.
# A failed start prints the failing component's log tail and exits non-zero, leaving what started
# for airflow-status / airflow-down. The LAST lines of stdout are `export NAME=value` lines.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START_TIMEOUT="${COMPOSER_KPO_AIRFLOW_START_TIMEOUT:-240}"  # seconds, per wait

# ---------------------------------------------------------------------------------------
# helpers

# "${AF[@]}" CMD...: run CMD with nothing but $ENV_FILE's environment (a caller's stray AIRFLOW__*
# or AIRFLOW_HOME never leaks in). Each step execs, so start_bg's pid is the component itself.
# shellcheck disable=SC2016  # expanded by that inner bash
AF=(env -i "HOME=${HOME:-/root}" LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    bash -c '. "$0" && exec "$@"' "$ENV_FILE")

# fail NAME MESSAGE: say why, show the component's log tail, exit non-zero. What started keeps
# running so `make airflow-status` / `make airflow-down` can inspect and stop it.
fail() {
  local name="$1"; shift
  printf '[airflow] ERROR: %s\n' "$*" >&2
  show_log_tail "$name" 40
  printf '[airflow] what started is left running: make airflow-status / make airflow-down\n' >&2
  exit 1
}

http_ok() { curl -sf --max-time 3 -o /dev/null "$1"; }

# job_healthy KEY: the API's health document reports KEY (scheduler, triggerer, dag_processor)
# healthy, i.e. its job heartbeats in the database are recent.
job_healthy() {
  curl -sf --max-time 3 "$(health_url "$PAIR")" | python3 -c '
import json, sys
sys.exit(0 if (json.load(sys.stdin).get(sys.argv[1]) or {}).get("status") == "healthy" else 1)' "$1"
}

log_has() { grep -qE "$2" "$LOG_DIR/$1.log" 2>/dev/null; }

all_running() {
  local c
  for c in $(components "$1"); do pid_of "$c" >/dev/null || return 1; done
}

any_running() {
  local c
  for c in postgres redis scheduler dag-processor triggerer celery-worker api-server webserver; do
    pid_of "$c" >/dev/null && return 0
  done
  return 1
}

healthy() {
  all_running "$PAIR" && pg_ready && redis_ready && http_ok "$(health_url "$PAIR")"
}

# ---------------------------------------------------------------------------------------
# preparation

# redis-server (and postgresql-15 on a machine without it) from Debian. Their packages would
# start a system service on the default port: a policy-rc.d forbids that during the install
# (unless one is already in place), and a service that started anyway is stopped and disabled.
install_deps() {
  local missing=() p
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  [[ -x $PG_BIN/postgres ]] || missing+=(postgresql-15)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [[ ${#missing[@]} -eq 0 ]] && return 0

  log "installing: ${missing[*]}"
  local policy=/usr/sbin/policy-rc.d ours=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# composer-kpo airflow-up: no service starts during our apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"; ours=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  {
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null 2> >(grep -v '^debconf: ' >&2)
  } || rc=$?
  ((ours)) && rm -f "$policy"
  ((rc == 0)) || die "apt-get install ${missing[*]} failed"
  # Only the services of packages installed just now: a postgresql someone runs on purpose stays.
  for p in "${missing[@]}"; do
    case "$p" in
      redis-server) stop_system_service redis-server ;;
      postgresql-15) stop_system_service postgresql ;;
    esac
  done
  log "installed: ${missing[*]}"
}

stop_system_service() {  # a distribution service that may have started on its default port
  local svc="$1"
  [[ -e /etc/init.d/$svc || -e /lib/systemd/system/$svc.service ]] || return 0
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
    if [[ $svc == redis-server ]] && [[ -s /run/redis/redis-server.pid ]] && alive "$(cat /run/redis/redis-server.pid)"; then
      log "stopping the system redis-server that the package started"
      "/etc/init.d/$svc" stop >/dev/null 2>&1 || kill "$(cat /run/redis/redis-server.pid)" 2>/dev/null || true
    fi
    if [[ $svc == postgresql ]] && pgrep -u postgres -x postgres >/dev/null 2>&1 \
      && ! pgrep -u postgres -f -- "-D $PG_DATA" >/dev/null 2>&1; then
      log "stopping the system postgresql that the package started"
      "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  fi
}

# Keys the components must share (fernet for connections, JWT between scheduler/workers and the
# API server, the API/webserver secret for log fetching): generated once per run dir.
write_secrets() {
  [[ -s $SECRETS_FILE ]] && return 0
  (
    umask 077
    python3 -c '
import base64, os, secrets
print("FERNET_KEY=" + base64.urlsafe_b64encode(os.urandom(32)).decode())
print("JWT_SECRET=" + secrets.token_urlsafe(32))
print("API_SECRET_KEY=" + secrets.token_urlsafe(32))' >"$SECRETS_FILE"
  )
}

# One config for every component and for a user's shell: $ENV_FILE, `export NAME='value'` lines.
write_env() {
  local venv major db conn
  venv="$(venv_of "$PAIR")"
  major="$(airflow_major "$PAIR")"
  db="$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
  conn="{\"conn_type\": \"kubernetes\", \"extra\": {\"xcom_sidecar_container_image\": \"$SIDECAR_IMAGE\"}}"
  # shellcheck disable=SC1090
  source "$SECRETS_FILE"
  kv() { printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; }
  {
    echo "# Written by dev/airflow/airflow-up.sh for $PAIR (Airflow $(airflow_version_of "$PAIR")); regenerated on every up."
    echo "# Every component sources it; \`eval \"\$(make -s airflow-up | grep '^export ')\"\` gives a shell the same."
    echo "export PATH=\"$venv/bin:\$PATH\""
    kv AIRFLOW_HOME "$AIRFLOW_HOME_DIR"
    # DAG files may import helpers from tests/; the package is the installed wheel, so the checkout
    # (which holds its source at the top) is not on the path, only a folder with a `tests` link.
    kv PYTHONPATH "$HELPERS_DIR"
    kv KUBECONFIG "$CLUSTER_KUBECONFIG"
    kv COMPOSER_KPO_KUBECONFIG "$CLUSTER_KUBECONFIG"
    kv AIRFLOW_CONN_KUBERNETES_DEFAULT "$conn"
    kv AIRFLOW__CORE__EXECUTOR CeleryExecutor
    kv AIRFLOW__CORE__DAGS_FOLDER "$DAGS_DIR"
    kv AIRFLOW__CORE__LOAD_EXAMPLES False
    kv AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION False
    # The fault matrix's DAG file makes some 40 DAGs: on a busy 2-core machine (two deployments and
    # the other suites at once) a task's parse of it took over Airflow's default 30 s.
    kv AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT 120
    kv AIRFLOW__CORE__FERNET_KEY "$FERNET_KEY"
    # The connection form's Test button (off by default; Composer users turn it on in the overrides).
    kv AIRFLOW__CORE__TEST_CONNECTION Enabled
    kv AIRFLOW__DATABASE__SQL_ALCHEMY_CONN "postgresql+psycopg2://$db"
    kv AIRFLOW__CELERY__BROKER_URL "redis://127.0.0.1:$REDIS_PORT/0"
    kv AIRFLOW__CELERY__RESULT_BACKEND "db+postgresql+psycopg2://$db"
    kv AIRFLOW__CELERY__WORKER_CONCURRENCY "$WORKER_CONCURRENCY"
    kv AIRFLOW__LOGGING__BASE_LOG_FOLDER "$LOG_DIR/tasks"  # also reachable as $AIRFLOW_HOME/logs
    kv AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT "$WORKER_LOG_PORT"
    kv AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT "$TRIGGERER_LOG_PORT"
    # No scheduler health server: on Airflow 2.10 it is forked with the scheduler's open database
    # connection and, when polled, can hang the scheduler's loop on that shared socket (seen here).
    # The scheduler's job heartbeat in the API's /health says the same.
    kv COMPOSER_KPO_AIRFLOW_API "$(api_base "$PAIR")"  # the REST API base URL (tests/faults)
    # Which deployment this is: the fault suite stops and starts its components (airflow-up --restart).
    kv COMPOSER_KPO_AIRFLOW_DIR "$RUN_DIR"
    kv COMPOSER_KPO_AIRFLOW_PORT_OFFSET "$PORT_OFFSET"
    # A task whose worker died is found by its missing heartbeat: after 60 s here (Composer: 300 s),
    # so the fault suite's killed-worker case waits one minute, not five.
    local heartbeat_timeout=60
    if [[ $major == 3 ]]; then
      kv AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY "$LOG_DIR/dag-processing"
      # DAG parsing is the dag-processor's job on Airflow 3.
      kv AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL "$REPARSE_SECONDS"
      kv AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL 5
      if [[ -n ${UI_LOGIN:-} ]]; then
        # SimpleAuthManager with one admin, whose password is in a file of ours.
        kv AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS "${UI_LOGIN%%:*}:admin"
        kv AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE "$AIRFLOW_HOME_DIR/passwords.json"
      else
        # SimpleAuthManager: no login, every request (UI, REST) is an admin.
        kv AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS True
      fi
      kv AIRFLOW__API_AUTH__JWT_SECRET "$JWT_SECRET"
      kv AIRFLOW__API__SECRET_KEY "$API_SECRET_KEY"
      kv AIRFLOW__API__HOST 127.0.0.1
      kv AIRFLOW__API__PORT "$API_PORT"
      kv AIRFLOW__CORE__EXECUTION_API_SERVER_URL "http://127.0.0.1:$API_PORT/execution/"
      kv AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT "$heartbeat_timeout"
    else
      kv AIRFLOW__SCHEDULER__CHILD_PROCESS_LOG_DIRECTORY "$LOG_DIR/dag-processing"
      kv AIRFLOW__LOGGING__DAG_PROCESSOR_MANAGER_LOG_LOCATION "$LOG_DIR/dag-processing/manager.log"
      kv AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL "$REPARSE_SECONDS"
      kv AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL 10
      # REST API without credentials; the UI needs no login either (webserver_config.py). With
      # UI_LOGIN both want the user (FAB checks an anonymous REST caller against the UI's roles).
      if [[ -n ${UI_LOGIN:-} ]]; then
        kv AIRFLOW__API__AUTH_BACKENDS airflow.providers.fab.auth_manager.api.auth.backend.basic_auth
      else
        kv AIRFLOW__API__AUTH_BACKENDS airflow.api.auth.backend.default
      fi
      kv AIRFLOW__WEBSERVER__SECRET_KEY "$API_SECRET_KEY"
      kv AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD "$heartbeat_timeout"
      kv AIRFLOW__WEBSERVER__WEB_SERVER_HOST 127.0.0.1
      kv AIRFLOW__WEBSERVER__WEB_SERVER_PORT "$API_PORT"
      kv AIRFLOW__WEBSERVER__BASE_URL "http://127.0.0.1:$API_PORT"
      kv AIRFLOW__WEBSERVER__WORKERS 2
      kv AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS False
    fi
    [[ -n ${UI_LOGIN:-} ]] && kv COMPOSER_KPO_AIRFLOW_USER "$UI_LOGIN"
    if [[ -n ${EXTRA_ENV_FILE:-} ]]; then
      local line
      while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] && kv "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
      done <"$EXTRA_ENV_FILE"
    fi
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  # Task logs live in $LOG_DIR/tasks; $AIRFLOW_HOME/logs (Airflow's default place) leads there too.
  mkdir -p "$LOG_DIR/tasks"
  [[ -L $AIRFLOW_HOME_DIR/logs ]] || rm -rf "$AIRFLOW_HOME_DIR/logs"
  ln -sfn ../logs/tasks "$AIRFLOW_HOME_DIR/logs"
  if [[ $major == 2 ]]; then
    # FAB's UI: anonymous users are admins, like SimpleAuthManager's all-admins mode on Airflow 3;
    # with UI_LOGIN, only the user create_ui_user makes.
    local public='AUTH_ROLE_PUBLIC = "Admin"'
    [[ -n ${UI_LOGIN:-} ]] && public="# AUTH_ROLE_PUBLIC unset: UI_LOGIN asks for a login"
    cat >"$AIRFLOW_HOME_DIR/webserver_config.py" <<EOF
"""Written by dev/airflow/airflow-up.sh for the local test deployment."""

from flask_appbuilder.const import AUTH_DB

AUTH_TYPE = AUTH_DB
$public
WTF_CSRF_ENABLED = True
EOF
  elif [[ -n ${UI_LOGIN:-} ]]; then
    python3 -c 'import json, sys; print(json.dumps({sys.argv[1]: sys.argv[2]}))' \
      "${UI_LOGIN%%:*}" "${UI_LOGIN#*:}" >"$AIRFLOW_HOME_DIR/passwords.json"
  fi
}

# create_ui_user: UI_LOGIN's admin in FAB's user table (Airflow 2; Airflow 3 reads passwords.json).
# A database kept from an earlier start may have that user with another password: `users create`
# then leaves it as it was (and exits 0), so the user is deleted first.
create_ui_user() {
  [[ -n ${UI_LOGIN:-} && $(airflow_major "$PAIR") == 2 ]] || return 0
  "${AF[@]}" airflow users delete --username "${UI_LOGIN%%:*}" >>"$LOG_DIR/db-migrate.log" 2>&1 || true
  "${AF[@]}" airflow users create --role Admin --username "${UI_LOGIN%%:*}" --password "${UI_LOGIN#*:}" \
    --email "${UI_LOGIN%%:*}@example.invalid" --firstname Composer --lastname User \
    >>"$LOG_DIR/db-migrate.log" 2>&1 || fail db-migrate "creating the UI user failed"
}

# The DAGs folder: symlinks to example_dags/*.py, tests/faults/dags/*.py (when present) and
# $EXTRA_DAGS/*.py; rebuilt on every up.
build_dags_folder() {
  local d f n=0
  mkdir -p "$DAGS_DIR"
  find "$DAGS_DIR" -mindepth 1 -maxdepth 1 -type l -delete
  for d in "$REPO/example_dags" "$REPO/tests/faults/dags" ${EXTRA_DAGS:+"$EXTRA_DAGS"}; do
    [[ -d $d ]] || { [[ $d == "${EXTRA_DAGS:-}" ]] && die "EXTRA_DAGS=$d is not a directory"; continue; }
    for f in "$d"/*.py; do
      [[ -f $f && ${f##*/} != __init__.py ]] || continue
      [[ -e $DAGS_DIR/${f##*/} ]] && log "DAG file ${f##*/} from $d replaces an earlier one of that name"
      ln -sfn "$(cd "$(dirname "$f")" && pwd)/${f##*/}" "$DAGS_DIR/${f##*/}"
      n=$((n + 1))
    done
  done
  log "DAGs folder $DAGS_DIR: $n file(s)"
  mkdir -p "$HELPERS_DIR"
  ln -sfn "$REPO/tests" "$HELPERS_DIR/tests"
}

# Every port we listen on must be free (a stray server from elsewhere would answer our health
# checks or make a component exit with "address already in use").
check_ports() {
  local port who busy=0
  for port in "$PG_PORT" "$REDIS_PORT" "$API_PORT" "$WORKER_LOG_PORT" "$TRIGGERER_LOG_PORT"; do
    who="$(ss -Htlnp "sport = :$port" 2>/dev/null | grep -oE 'users:\(.*\)' | head -1)" || true
    if [[ -n $who ]] || ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
      log "port $port is already in use ${who:+($who)}"
      busy=1
    fi
  done
  ((busy == 0)) || die "free the port(s) above, or stop that deployment, then run airflow-up again"
}

# ---------------------------------------------------------------------------------------
# components

start_postgres() {
  mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
  chown postgres:postgres "$PG_DIR" "$PG_SOCKET_DIR"
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    rm -rf "$PG_DATA"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$LOG_DIR/initdb.log" 2>&1 \
      || fail initdb "initdb failed"
    # A throw-away test database: durability traded for speed.
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# composer-kpo local Airflow deployment (dev/airflow/airflow-up.sh)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  # Port and socket on the command line: they beat postgresql.conf's, which keeps the offset of
  # the run that made the data directory (a run dir reused with another port offset hung here).
  start_bg postgres setpriv --reuid=postgres --regid=postgres --init-groups -- "$PG_BIN/postgres" -D "$PG_DATA" \
    -p "$PG_PORT" -k "$PG_SOCKET_DIR"
  wait_for postgres "PostgreSQL to accept connections" pg_ready
}

psql_admin() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres "$@"; }

# Role and database `airflow`; a database left by the other Airflow major is dropped first
# (its schema cannot be migrated across majors), and so is that pair's AIRFLOW_HOME.
prepare_database() {
  local old
  old="$(recorded_pair || true)"
  if [[ -n $old && $old != "$PAIR" ]]; then
    log "the database holds $old's schema: dropping it (and $AIRFLOW_HOME_DIR) for $PAIR"
    psql_admin -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" || fail postgres "dropping database $DB_NAME failed"
    rm -rf "$AIRFLOW_HOME_DIR"
  fi
  mkdir -p "$AIRFLOW_HOME_DIR"
  if [[ $(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'") != 1 ]]; then
    psql_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" || fail postgres "creating role $DB_USER failed"
  fi
  if [[ $(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'") != 1 ]]; then
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" || fail postgres "creating database $DB_NAME failed"
  fi
  echo "$PAIR" >"$PAIR_FILE"
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  # No persistence: no RDB snapshots, no AOF; a restart starts with an empty broker.
  start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes \
    --save '' --appendonly no --dir "$REDIS_DIR" --daemonize no --logfile ''
  wait_for redis "Redis to answer PING" redis_ready
}

migrate_db() {
  local t=$SECONDS
  "${AF[@]}" airflow db migrate >"$LOG_DIR/db-migrate.log" 2>&1 || fail db-migrate "airflow db migrate failed"
  log "airflow db migrate: $((SECONDS - t)) s"
}

# start_component NAME: start one Airflow component (the one place its command line is written).
start_component() {
  case $1 in
    scheduler) start_bg scheduler "${AF[@]}" airflow scheduler ;;
    dag-processor) start_bg dag-processor "${AF[@]}" airflow dag-processor ;;
    triggerer) start_bg triggerer "${AF[@]}" airflow triggerer ;;
    celery-worker)
      start_bg celery-worker "${AF[@]}" airflow celery worker --concurrency "$WORKER_CONCURRENCY" \
        --without-mingle --without-gossip ;;
    api-server) start_bg api-server "${AF[@]}" airflow api-server --host 127.0.0.1 --port "$API_PORT" ;;
    webserver) start_bg webserver "${AF[@]}" airflow webserver --hostname 127.0.0.1 --port "$API_PORT" ;;
    *) die "no Airflow component named $1" ;;
  esac
}

# wait_ready NAME: wait until the component started by start_component serves.
wait_ready() {
  case $1 in
    scheduler | dag-processor | triggerer)
      local job=${1//-/_}
      wait_for "$1" "a healthy $job in $(health_url "$PAIR")" job_healthy "$job" ;;
    celery-worker) wait_for celery-worker "the Celery worker's 'ready.' log line" log_has celery-worker 'celery@[^ ]+ ready\.' ;;
    api-server | webserver) wait_for "$1" "the $1's health endpoint" http_ok "$(health_url "$PAIR")" ;;
  esac
}

start_airflow() {
  local c web airflow_components
  read -r -a airflow_components <<<"$(components "$PAIR" | cut -d' ' -f3-)"  # after postgres, redis
  for c in "${airflow_components[@]}"; do start_component "$c"; done
  web="$(web_component "$PAIR")"
  wait_ready "$web"  # first: the others' health is read from its health document
  for c in "${airflow_components[@]}"; do [[ $c == "$web" ]] || wait_ready "$c"; done
}

# restart_component NAME: start one component of the running deployment again, e.g. after the
# fault suite killed the Celery worker; its earlier log is kept as NAME.log.prev.
restart_component() {
  PAIR="$(recorded_pair)" || die "no deployment to restart $1 in: run \`make airflow-up\` first"
  [[ " $(components "$PAIR") " == *" $1 "* ]] || die "$PAIR has no component $1 ($(components "$PAIR"))"
  if pid_of "$1" >/dev/null; then die "$1 is still running"; fi
  [[ -f $LOG_DIR/$1.log ]] && mv "$LOG_DIR/$1.log" "$LOG_DIR/$1.log.prev"
  start_component "$1"
  wait_ready "$1"
  log "$1 started again (pid $(pid_of "$1"))"
}

# What `make airflow-up` prints last: status, URLs, then only `export` lines.
print_summary() {
  bash "$AF_DIR/airflow-status.sh" || true
  if grep -q '^export COMPOSER_KPO_AIRFLOW_USER=' "$ENV_FILE"; then
    echo "# Web UI: http://127.0.0.1:$API_PORT/ (login: \$COMPOSER_KPO_AIRFLOW_USER, user:password)"
    echo "# REST API: $(api_base "$PAIR") (the same user)"
  else
    echo "# Web UI: http://127.0.0.1:$API_PORT/ (no login)"
    echo "# REST API: $(api_base "$PAIR") (no credentials)"
  fi
  echo "# task logs: $LOG_DIR/tasks; component logs: $LOG_DIR"
  grep '^export ' "$ENV_FILE"
}

main() {
  [[ $(id -u) -eq 0 ]] || die "airflow-up needs root (it runs PostgreSQL as the postgres user)"
  PAIR="$(requested_pair)"
  local t0=$SECONDS old
  old="$(recorded_pair || true)"
  if [[ -d $RUN_DIR ]] && any_running; then
    if [[ -n $old && $old != "$PAIR" ]]; then
      bash "$AF_DIR/airflow-status.sh" >&2 || true
      die "the deployment runs $old; $PAIR was asked for: run \`make airflow-down\` first"
    fi
    if [[ -f $ENV_FILE ]] && healthy; then
      log "already running ($PAIR)"
      build_dags_folder  # cheap, and a new EXTRA_DAGS or DAG file shows up within seconds
      print_summary
      return 0
    fi
    log "a partly running deployment from an earlier attempt: stopping it first"
    bash "$AF_DIR/airflow-down.sh" --quiet
  fi

  install_deps
  check_ports
  # COMPOSER_KPO_VENVS_READY=1: the caller made the venv (dev/test.sh, whose other suites use it
  # meanwhile: reinstalling the wheel under them would break their imports).
  if [[ ${COMPOSER_KPO_VENVS_READY:-} != 1 ]]; then
    bash "$REPO/dev/venvs.sh" "$PAIR" >&2 || die "creating the virtualenv for $PAIR failed"
  fi
  mkdir -p "$LOG_DIR" "$PID_DIR" "$AIRFLOW_HOME_DIR"
  rm -f "$PID_DIR"/*.pid
  log "starting $PAIR (Airflow $(airflow_version_of "$PAIR")) in $RUN_DIR"
  [[ -s $CLUSTER_KUBECONFIG ]] || log "note: $CLUSTER_KUBECONFIG does not exist yet (make cluster-up); pods need it"

  local t1=$SECONDS
  set -E
  trap 'fail airflow-up "unexpected failure (line $LINENO)"' ERR
  log "starting postgres (127.0.0.1:$PG_PORT)"; start_postgres
  prepare_database
  write_secrets
  write_env
  build_dags_folder
  log "starting redis (127.0.0.1:$REDIS_PORT)"; start_redis
  migrate_db
  create_ui_user
  log "starting $(components "$PAIR" | cut -d' ' -f3-)"
  start_airflow
  trap - ERR
  log "ready in $((SECONDS - t1)) s (total $((SECONDS - t0)) s)"
  print_summary
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  case ${1:-} in
    --restart) restart_component "${2:?usage: airflow-up.sh --restart COMPONENT}" ;;
    --deps) install_deps ;;  # only the Debian packages (dev/test.sh installs every package first)
    *) main "$@" ;;
  esac
fi
