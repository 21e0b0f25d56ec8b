#!/usr/bin/env bash
# The README's main job (`make demo`): every example DAG end to end on the local cluster.
#
#   bash dev/demo.sh                     # Composer's Airflow 2.10.5 and 3.1.7 sets (dev/lib/pairs.sh)
#   DEMO_PAIRS=af33-k1025 bash dev/demo.sh
#   DEMO_COMPOSER3_PAIRS="" bash dev/demo.sh   # skip the Composer 3 set (default: both)
#   KEEP_CLUSTER=1 bash dev/demo.sh      # leave the cluster running afterwards
#
# Installs what it needs (Debian packages, the Kubernetes build, images, venvs), starts the
# cluster if it is not running, runs dev/run_examples.py under each pair and prints its table.
# A cluster this script started is stopped at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

. dev/lib/pairs.sh
read -r -a pairs <<<"${DEMO_PAIRS:-$AIRFLOW2_PAIR $AIRFLOW3_PAIR}"
read -r -a composer3_pairs <<<"${DEMO_COMPOSER3_PAIRS-$AIRFLOW2_PAIR $AIRFLOW3_PAIR}"
bash dev/venvs.sh "${pairs[@]}" "${composer3_pairs[@]}" || exit 1

started_cluster=0
if ! bash dev/localcluster/cluster-status.sh >/dev/null 2>&1; then
  started_cluster=1
fi
trap '[ "$started_cluster" = 1 ] && [ -z "${KEEP_CLUSTER:-}" ] && bash dev/localcluster/cluster-down.sh >/dev/null 2>&1' EXIT
echo "== local cluster"
if ! up_output=$(bash dev/localcluster/cluster-up.sh 2>&1); then
  printf '%s\n' "$up_output" | tail -n 40
  echo "demo: the local cluster did not start"
  exit 1
fi
printf '%s\n' "$up_output" | tail -n 3
eval "$(printf '%s\n' "$up_output" | tail -n 1)"  # export KUBECONFIG=...

status=0
for pair in "${pairs[@]}"; do
  echo
  echo "== example DAGs on $pair ($(.venvs/$pair/bin/python -c 'from importlib.metadata import version; print("Airflow", version("apache-airflow"))' 2>/dev/null))"
  .venvs/"$pair"/bin/python dev/run_examples.py --kubeconfig "$KUBECONFIG" || status=1
done
for pair in "${pairs[@]}"; do
  echo
  echo "== the composer-kpo corpus on $pair: stock KPO DAGs for older images, after composer-kpo migrate --write"
  .venvs/"$pair"/bin/python dev/run_examples.py --kubeconfig "$KUBECONFIG" --corpus || status=1
done
for pair in "${composer3_pairs[@]}"; do
  echo
  echo "== example DAGs on the Composer 3 simulation, $pair (pods run on peer VMs behind placeholders)"
  .venvs/"$pair"/bin/python dev/run_examples.py --kubeconfig "$KUBECONFIG" --composer 3 || status=1
done
exit $status
