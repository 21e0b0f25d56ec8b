#!/usr/bin/env bash
# The README's test command (`make test`): everything from a fresh machine.
#
#   bash dev/test.sh                # lint + package (the built wheel: twine check, installs nothing
#                                   # else into any Composer image, pip check) + unit (every
#                                   # environment) + integration (local cluster) + faults (the fault
#                                   # matrix on the local Airflow deployment) + browser (Airflow's UI
#                                   # in Debian's chromium, on that deployment with Composer's variables)
#   bash dev/test.sh unit           # only some stages: lint, package, unit, integration, faults, browser
#
# The sdist and wheel are built once (dev/build.sh); every environment gets that wheel.
#
# Stages run in order; a failed stage does not stop the later ones, the exit code reports all.
# The local cluster is started if it is not running and stopped again only if this script
# started it. The last line is "test: N passed, N failed" over every pytest run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Every locked environment (requirements/*.in but lint): the Composer images and the version pairs.
mapfile -t UNIT_PAIRS < <(cd requirements && ls -- *.in | sed 's/\.in$//' | grep -vx lint)
INTEGRATION_PAIRS=(af210-k1010 af33-k1025)
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(lint package unit integration faults browser)

passed=0 failed=0 status=0
logdir=$(mktemp -d /tmp/composer-kpo-test.XXXXXX)

wants() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# Run pytest in one venv, keep its summary in the totals. With RUN_ENV_FILE set, pytest runs with
# that file's exports (the local Airflow deployment's), without leaking them into this shell.
run_pytest() {
  local pair=$1; shift
  local log="$logdir/$pair-$(date +%s%N).log"
  echo "::group::pytest [$pair] $*"
  # shellcheck disable=SC2016  # $1/$@ belong to the inner shell
  bash -c '[ -n "$1" ] && . "$1"; shift; exec "$@"' _ "${RUN_ENV_FILE:-}" \
    ".venvs/$pair/bin/python" -m pytest -p no:cacheprovider -q "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  echo "::endgroup::"
  tally "$pair" "$log" "$rc"
}

# Add one pytest run's summary line (in its log) and exit status to the totals.
tally() {
  local pair=$1 log=$2 rc=$3
  local line p f e
  line=$(grep -E '^=*.*[0-9]+ (passed|failed|error)' "$log" | tail -n 1)
  p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
  e=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+' || true)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0}))
  if [ "$rc" -ne 0 ]; then
    echo "pytest [$pair] exited $rc"
    status=1
    [ -z "$p$f$e" ] && failed=$((failed + 1))  # a crash before any test counts as a failure
  fi
}

# Start the local Airflow deployment for PAIR (airflow-up.sh reads EXTRA_DAGS / EXTRA_ENV_FILE from
# the caller), run pytest with its exports, stop it.
pytest_on_deployment() {
  local pair=$1; shift
  local airflow_up
  if airflow_up=$(PAIR=$pair bash dev/airflow/airflow-up.sh 2>&1); then
    printf '%s\n' "$airflow_up" | grep -v '^export ' | tail -n 8
    COMPOSER_KPO_REQUIRE_AIRFLOW=1 RUN_ENV_FILE="${COMPOSER_KPO_AIRFLOW_DIR:-/var/tmp/composer-kpo-airflow}/airflow.env" \
      run_pytest "$pair" "$@"
  else
    printf '%s\n' "$airflow_up" | tail -n 60
    echo "test: the local Airflow deployment ($pair) did not start"
    status=1
    failed=$((failed + 1))
  fi
  bash dev/airflow/airflow-down.sh >/dev/null 2>&1 || true
}

pairs_needed=()
wants unit && pairs_needed+=("${UNIT_PAIRS[@]}")
wants package && pairs_needed+=("${UNIT_PAIRS[@]}")
wants integration && pairs_needed+=("${INTEGRATION_PAIRS[@]}")
wants faults && pairs_needed+=("${INTEGRATION_PAIRS[@]}")
wants browser && pairs_needed+=("${INTEGRATION_PAIRS[@]}")
{ wants lint || wants package; } && pairs_needed+=(lint)
if [ ${#pairs_needed[@]} -gt 0 ]; then
  echo "== build: sdist and wheel (dev/build.sh)"
  COMPOSER_KPO_WHEEL=$(bash dev/build.sh) || { echo "test: building the package failed"; exit 1; }
  export COMPOSER_KPO_WHEEL
  ls -l dist/
  mapfile -t unique < <(printf '%s\n' "${pairs_needed[@]}" | awk '!seen[$0]++')
  bash dev/venvs.sh "${unique[@]}" || { echo "test: creating the virtualenvs failed"; exit 1; }
fi

if wants lint; then
  echo "== lint (ruff)"
  if .venvs/lint/bin/ruff check . && .venvs/lint/bin/ruff format --check .; then
    echo "lint: clean"
  else
    echo "lint: FAILED"
    status=1
  fi
fi

if wants package; then
  echo "== package: twine check, installing into each Composer image, pip check"
  package_failed=0
  .venvs/lint/bin/twine check --strict dist/* || package_failed=$((package_failed + 1))
  python3 dev/check_install.py "$COMPOSER_KPO_WHEEL" || package_failed=$((package_failed + 1))
  for pair in "${UNIT_PAIRS[@]}"; do
    out=$(bash -c '. dev/lib/uv.sh && "${UV[@]}" pip check --python "$1"' _ ".venvs/$pair/bin/python" 2>&1) ||
      { echo "pip check [$pair]: FAILED"; printf '%s\n' "$out" | tail -n 20; package_failed=$((package_failed + 1)); }
  done
  if [ "$package_failed" -eq 0 ]; then
    echo "package: clean (pip check clean in ${#UNIT_PAIRS[@]} environments)"
  else
    echo "package: $package_failed check(s) FAILED"
    failed=$((failed + package_failed))
    status=1
  fi
fi

if wants unit; then
  # Two environments at a time (the machine has two cores; each run has its own AIRFLOW_HOME and
  # temporary directories); each one's output is printed whole, in order, once all have ended.
  declare -A unit_log=()
  running=0
  for pair in "${UNIT_PAIRS[@]}"; do
    unit_log[$pair]="$logdir/unit-$pair.log"
    (
      ".venvs/$pair/bin/python" -m pytest -p no:cacheprovider -q tests/unit >"${unit_log[$pair]}" 2>&1
      echo $? >"${unit_log[$pair]}.rc"
    ) &
    running=$((running + 1))
    if [ "$running" -ge 2 ]; then
      wait -n
      running=$((running - 1))
    fi
  done
  wait
  for pair in "${UNIT_PAIRS[@]}"; do
    echo "== unit tests on $pair"
    echo "::group::pytest [$pair] tests/unit"
    cat "${unit_log[$pair]}"
    echo "::endgroup::"
    tally "$pair" "${unit_log[$pair]}" "$(cat "${unit_log[$pair]}.rc" 2>/dev/null || echo 1)"
  done
fi

if wants browser && ! (. dev/lib/chromium.sh && ensure_chromium); then
  echo "test: installing chromium for the browser suite failed"
  status=1
  failed=$((failed + 1))
fi

if wants integration || wants faults || wants browser; then
  started_cluster=0
  if ! bash dev/localcluster/cluster-status.sh >/dev/null 2>&1; then
    started_cluster=1
  fi
  # Stop the cluster on any exit, but only if this script brought it up.
  trap '[ "$started_cluster" = 1 ] && bash dev/localcluster/cluster-down.sh >/dev/null 2>&1' EXIT
  echo "== local cluster"
  if up_output=$(bash dev/localcluster/cluster-up.sh 2>&1); then
    printf '%s\n' "$up_output" | tail -n 5
    eval "$(printf '%s\n' "$up_output" | tail -n 1)"  # export KUBECONFIG=...
    export COMPOSER_KPO_REQUIRE_CLUSTER=1
    wants integration && for pair in "${INTEGRATION_PAIRS[@]}"; do
      echo "== integration tests on $pair"
      run_pytest "$pair" tests/integration -m integration --ignore=tests/integration/composer3
    done
    # Composer 3 simulation (stock KPO and ComposerPodOperator): tests/composer3, our double of
    # Google's code, must be loaded by Airflow as airflow_local_settings at import, hence a pytest
    # process of its own. Composer 3 runs Airflow 2.10 and 3.x.
    wants integration && for pair in "${INTEGRATION_PAIRS[@]}"; do
      echo "== Composer 3 simulation on $pair"
      PYTHONPATH="$PWD/tests/composer3${PYTHONPATH:+:$PYTHONPATH}" COMPOSER_VERSION=3.0.1 \
        run_pytest "$pair" tests/integration/composer3 -m integration
    done
    # The fault matrix on Airflow as Composer runs it (dev/airflow: scheduler, Celery worker,
    # triggerer, PostgreSQL, Redis), one deployment per Airflow major, each stopped after its run.
    wants faults && for pair in "${INTEGRATION_PAIRS[@]}"; do
      echo "== fault matrix on $pair (local Airflow deployment)"
      pytest_on_deployment "$pair" tests/faults -m faults -s
    done
    # The browser suite: a deployment of its own, with a login, the variables Composer sets on its
    # workers (Composer 2 beside Airflow 2, Composer 3 beside Airflow 3) and a DAG on the form's
    # connection.
    wants browser && for pair in "${INTEGRATION_PAIRS[@]}"; do
      echo "== Airflow UI in a browser on $pair (local Airflow deployment)"
      composer_env=tests/browser/composer3.env
      [[ $pair == af2* ]] && composer_env=tests/browser/composer2.env
      UI_LOGIN="composer-user:$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')" \
        EXTRA_DAGS="$PWD/tests/browser/dags" EXTRA_ENV_FILE="$composer_env" \
        pytest_on_deployment "$pair" tests/browser -m browser
      echo "screenshots: artifacts/browser/"
    done
  else
    printf '%s\n' "$up_output" | tail -n 40
    echo "test: the local cluster did not start"
    status=1
    failed=$((failed + 1))
  fi
fi

rm -rf "$logdir"
echo "test: $passed passed, $failed failed"
exit $status
