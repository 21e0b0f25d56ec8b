#!/usr/bin/env bash
# The README's test command (`make test`): everything from a fresh machine, with what waits run
# side by side; see dev/run_suites.py for the plan, the stage table and artifacts/test-times.json.
#
#   bash dev/test.sh                      # lint, package, docs, unit, integration, faults, browser
#   bash dev/test.sh unit --env af210-k1010   # only some stages (and unit environments)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec python3 -u dev/run_suites.py "$@"
