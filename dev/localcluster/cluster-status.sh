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
if [[ -n $ready ]]; then
  if kubectl_admin get mutatingwebhookconfiguration "$PEERVM_WEBHOOK_CONFIG" --request-timeout=3s >/dev/null 2>&1; then
    printf '%-24s registered (https://127.0.0.1:%s/mutate)\n' "peervm webhook" "$PEERVM_WEBHOOK_PORT"
  else
    printf '%-24s NOT registered\n' "peervm webhook"; rc=1
  fi
fi
printf '%-24s %s\n' "kubeconfig" "$ADMIN_KUBECONFIG"
exit "$rc"
