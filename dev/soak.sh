#!/usr/bin/env bash
# `make soak N=1000 SEED=...`: the soak (tests/soak/run.py) on the local Airflow deployment of one
# Composer image's set (dev/lib/pairs.sh; AIRFLOW=2 for Airflow 2's, PAIR=<pair> for another), on
# the local cluster: a seeded random schedule of pod tasks with faults injected at random moments,
# checked against Kubernetes' and the pods' own truth. Prints the seed first; exits 1 on any violation.
#
#   N      tasks (default 60)          SEED    the plan's seed (default: a random one, printed)
#   FAULTS faults (default N/5)        CONCURRENCY  tasks in progress at once (default 8)
#   Extra arguments go to tests/soak/run.py (e.g. --markdown, --no-cluster-wide, --modes deferrable,
#   --fault-kinds task_cleared,worker_sigterm).
#
# Starts the cluster and the deployment if they do not run, and stops what it started. The
# deployment has its own run dir and ports (COMPOSER_KPO_AIRFLOW_DIR, COMPOSER_KPO_AIRFLOW_PORT_OFFSET
# override them), with tests/soak/dags in its DAGs folder.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. dev/lib/pairs.sh
case "${PAIR:-}" in
  "") case "${AIRFLOW:-3}" in 2 | 2.*) PAIR=$AIRFLOW2_PAIR ;; *) PAIR=$AIRFLOW3_PAIR ;; esac ;;
esac
export COMPOSER_KPO_AIRFLOW_DIR="${COMPOSER_KPO_AIRFLOW_DIR:-/var/tmp/composer-kpo-soak}"
export COMPOSER_KPO_AIRFLOW_PORT_OFFSET="${COMPOSER_KPO_AIRFLOW_PORT_OFFSET:-600}"

args=(--tasks "${N:-60}")
[[ -n ${SEED:-} ]] && args+=(--seed "$SEED")
[[ -n ${FAULTS:-} ]] && args+=(--faults "$FAULTS")
[[ -n ${CONCURRENCY:-} ]] && args+=(--concurrency "$CONCURRENCY")

bash dev/venvs.sh "$PAIR" || { echo "soak: creating the virtualenv for $PAIR failed"; exit 1; }

started_cluster=0 started_airflow=0
cleanup() {
  [[ $started_airflow == 1 ]] && bash dev/airflow/airflow-down.sh >/dev/null 2>&1
  [[ $started_cluster == 1 ]] && bash dev/localcluster/cluster-down.sh >/dev/null 2>&1
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash dev/localcluster/cluster-status.sh >/dev/null 2>&1 || started_cluster=1
up_output=$(bash dev/localcluster/cluster-up.sh 2>&1) || { printf '%s\n' "$up_output" | tail -n 40; exit 1; }

bash dev/airflow/airflow-status.sh >/dev/null 2>&1 || started_airflow=1
if ! airflow_up=$(PAIR=$PAIR EXTRA_DAGS=$PWD/tests/soak/dags EXTRA_ENV_FILE=$PWD/tests/soak/soak.env \
  COMPOSER_KPO_VENVS_READY=1 bash dev/airflow/airflow-up.sh 2>&1); then
  printf '%s\n' "$airflow_up" | tail -n 60
  exit 1
fi

echo "== soak on $PAIR (${COMPOSER_KPO_AIRFLOW_DIR})"
# shellcheck disable=SC2016  # $1/$@ belong to the inner shell
nice bash -c '. "$1"; shift; exec "$@"' _ "$COMPOSER_KPO_AIRFLOW_DIR/airflow.env" \
  ".venvs/$PAIR/bin/python" -u -m tests.soak.run "${args[@]}" "$@"
