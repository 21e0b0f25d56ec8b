#!/usr/bin/env bash
# `make fault-table`: the fault matrix as a benchmark, ComposerPodOperator beside stock KPO (benchmarks/faults.py), on
# the local Airflow deployment of each Composer image's set (dev/lib/pairs.sh) in turn, on the local cluster.
#
#   bash dev/fault_table.sh [--markdown] [--only CASE ...]     # arguments go to benchmarks/faults.py
#
# Starts what it needs and stops what it started (the cluster only if it was not running).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. dev/lib/pairs.sh
PAIRS=("$AIRFLOW2_PAIR" "$AIRFLOW3_PAIR")
bash dev/venvs.sh "${PAIRS[@]}" || { echo "fault-table: creating the virtualenvs failed"; exit 1; }

started_cluster=0
bash dev/localcluster/cluster-status.sh >/dev/null 2>&1 || started_cluster=1
trap '[ "$started_cluster" = 1 ] && bash dev/localcluster/cluster-down.sh >/dev/null 2>&1' EXIT
up_output=$(bash dev/localcluster/cluster-up.sh 2>&1) || { printf '%s\n' "$up_output" | tail -n 40; exit 1; }

status=0
for pair in "${PAIRS[@]}"; do
  echo "== fault matrix on $pair"
  if airflow_up=$(PAIR=$pair bash dev/airflow/airflow-up.sh 2>&1); then
    # shellcheck disable=SC2016  # $1/$@ belong to the inner shell
    bash -c '. "$1"; shift; exec "$@"' _ "${COMPOSER_KPO_AIRFLOW_DIR:-/var/tmp/composer-kpo-airflow}/airflow.env" \
      ".venvs/$pair/bin/python" benchmarks/faults.py "$@" || status=1
  else
    printf '%s\n' "$airflow_up" | tail -n 60
    status=1
  fi
  bash dev/airflow/airflow-down.sh >/dev/null 2>&1 || true
done
exit $status
