#!/usr/bin/env bash
# One line per component (running pid / not running), then the node's Ready state.
# Exits 0 only when every component runs and the node is Ready.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rc=0
for c in "${COMPONENTS[@]}"; do
  if pid="$(pid_of "$c")"; then
    printf '%-24s running (pid %s)\n' "$c" "$pid"
  else
    printf '%-24s not running\n' "$c"; rc=1
  fi
done
ready="$(kubectl_admin get node "$NODE_NAME" --request-timeout=3s \
  -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)"
if [[ -n $ready ]]; then
  printf '%-24s Ready=%s\n' "node $NODE_NAME" "$ready"
else
  printf '%-24s unknown (API server unreachable or node not registered)\n' "node $NODE_NAME"
fi
[[ $ready == True ]] || rc=1
printf '%-24s %s\n' "kubeconfig" "$ADMIN_KUBECONFIG"
exit "$rc"
