"""`make test`: every suite, with what waits running side by side (dev/test.sh runs this).

    python3 dev/run_suites.py [STAGE ...] [--env ENV ...]

STAGE is any of lint, package, docs, unit, integration, faults, browser (default: all). ``--env``
limits the unit stage to those environments (``make unit ENV=af210-k1010``).

The plan, on a 2-core machine whose suites mostly wait on pods, Kubernetes timers and Airflow:

* at once, in the background: the Debian packages every stage needs (one apt at a time), then the
  local cluster (built from source on the first run, about 10 minutes; 10 seconds after that);
* meanwhile in the foreground: the sdist and wheel, the virtualenvs, lint, package, the docs
  (dev/docs.sh: Sphinx, warnings as errors, in the docs venv with the run's wheel), and the unit
  suite of every locked environment, two at a time;
* as soon as the cluster and the virtualenvs are ready: the lanes, each a row of stages one
  after another, all lanes at once. The cluster is shared (tests/cluster_lock.py): a test that
  stops the API server or the kubelet waits until no other test uses the cluster.

Each stage's output goes to its log (``artifacts/test-logs/``), printed whole when the stage
ends, under a header that names it. At the end: a table (stage, environment, wall seconds, passed,
failed, skipped), also written to ``artifacts/test-times.json``, then ``test: N passed, N failed``.
A stage that runs over STAGE_LIMIT_SECONDS is ended, and past RUN_LIMIT_SECONDS so is every stage
still running; the table names them. Each test process prints its threads' stacks and exits if it
has not exited two minutes after its session (tests/exit_watch.py): a hang fails its stage, not CI.
The exit status is non-zero if any stage failed. Everything started is stopped, also on SIGINT or
SIGTERM: each stage runs in a process group of its own, the deployments are stopped with
airflow-down, the cluster with cluster-down if this run started it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests import cluster_lock, exit_watch  # noqa: E402  (the checkout's tests package)

ARTIFACTS = REPO / "artifacts"
LOGS = ARTIFACTS / "test-logs"
ALL_STAGES = ("lint", "package", "docs", "unit", "integration", "faults", "browser")
CLUSTER_STAGES = {"integration", "faults", "browser"}
#: requirements/*.in that are tools (ruff, mypy and twine; Sphinx), not supported environments: no unit suite.
TOOL_LOCKS = ("lint", "docs")
#: The unit stage: the package's unit tests, and the soak harness's own (its plan and verdicts).
UNIT_TESTS = "tests/unit tests/soak/test_plan.py tests/soak/test_verdicts.py"
#: The environment mypy checks the package against (its Airflow and provider): the newest pair.
MYPY_ENV = "af33-k1025"
#: Seconds one stage may run before its process group is ended (the longest, integration and
#: faults, take about 2,000 s): a stage that hangs is named as such, not left to stop the rest.
STAGE_LIMIT_SECONDS = int(os.environ.get("COMPOSER_KPO_STAGE_LIMIT_SECONDS", "2700"))
#: Seconds the whole run may take before every stage still running is ended and the table is
#: printed: inside CI's 90 minutes, so that a hang shows up as a named stage, not as a CI timeout.
RUN_LIMIT_SECONDS = int(os.environ.get("COMPOSER_KPO_RUN_LIMIT_SECONDS", "5100"))
LINT = (
    ".venvs/lint/bin/ruff check . && .venvs/lint/bin/ruff format --check . && "
    f".venvs/lint/bin/mypy --python-executable .venvs/{MYPY_ENV}/bin/python"
)


def _pairs() -> tuple[str, str]:
    """The environments of the cluster suites: dev/lib/pairs.sh's two lines (one place for both)."""
    text = (REPO / "dev" / "lib" / "pairs.sh").read_text()
    found = dict(re.findall(r"^(AIRFLOW[23]_PAIR)=(\S+)$", text, re.M))
    return found["AIRFLOW2_PAIR"], found["AIRFLOW3_PAIR"]


AF2, AF3 = _pairs()
INTEGRATION_PAIRS = (AF2, AF3)
#: The deployment of each (pair, suite): run dir and port offset; all may run at once, sharing nothing.
DEPLOYMENTS = {
    (AF2, "faults"): ("/var/tmp/composer-kpo-test-airflow-2-faults", 200),
    (AF3, "faults"): ("/var/tmp/composer-kpo-test-airflow-3-faults", 300),
    (AF2, "browser"): ("/var/tmp/composer-kpo-test-airflow-2-browser", 400),
    (AF3, "browser"): ("/var/tmp/composer-kpo-test-airflow-3-browser", 500),
}
COMPOSER3_ENV = f"env PYTHONPATH={REPO}/tests/composer3 COMPOSER_VERSION=3.0.1"
DURATIONS = "--durations=15"


def locked_environments() -> list[str]:
    """Every lock but the tools': the Composer images and the version pairs."""
    return sorted(p.stem for p in (REPO / "requirements").glob("*.in") if p.stem not in TOOL_LOCKS)


@dataclasses.dataclass
class Stage:
    name: str
    env: str
    script: str  # bash
    pytest: bool = True
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    rc: int | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def label(self) -> str:
        return f"{self.name} [{self.env}]" if self.env else self.name

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}-{self.env or 'all'}.log"


SUMMARY = re.compile(r"^=*\s*(?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)[, ]*)+")


def pytest_counts(log: Path) -> tuple[int, int, int] | None:
    """(passed, failed + errors, skipped) from the last pytest summary line of a log."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if SUMMARY.match(line)]
    if not lines:
        return None

    def count(word: str) -> int:
        found = re.search(rf"(\d+) {word}", lines[-1])
        return int(found.group(1)) if found else 0

    return count("passed"), count("failed") + count("error"), count("skipped")


class Run:
    """Stages, their processes and results; the one place output is printed."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.busy_at_start = cpu_busy_seconds()
        self.stages: list[Stage] = []
        #: The running stages by process id (each its process group's leader), with when each began.
        self.running: dict[int, tuple[Stage, float]] = {}
        self.lock = threading.Lock()
        self.stopping = False
        self.env = dict(os.environ)
        LOGS.mkdir(parents=True, exist_ok=True)

    def say(self, text: str) -> None:
        with self.lock:
            print(text, flush=True)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.0f}s"

    def run(self, stage: Stage, extra_env: dict[str, str] | None = None) -> Stage:
        """Run one stage to its end; print its log whole; keep its result."""
        if self.stopping:
            stage.rc, stage.note = 130, "not run: interrupted"
            self.stages.append(stage)
            return stage
        self.say(f"[{self.elapsed()}] start {stage.label}")
        begun = time.monotonic()
        with open(stage.log, "w") as log:
            process = subprocess.Popen(
                ["bash", "-c", stage.script],
                cwd=REPO,
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends all of it
            )
            with self.lock:
                self.running[process.pid] = (stage, begun)
            # wait4, not wait: the CPU time of the stage and of every process it waited for.
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = stage.rc = os.waitstatus_to_exitcode(status)
            stage.cpu_seconds = usage.ru_utime + usage.ru_stime
            with self.lock:
                self.running.pop(process.pid, None)
        stage.seconds = time.monotonic() - begun
        counts = pytest_counts(stage.log) if stage.pytest else None
        if counts:
            stage.passed, stage.failed, stage.skipped = counts
            if exit_watch.HUNG_AT_EXIT in stage.log.read_text(errors="replace"):
                stage.note = stage.note or "hung at exit (its threads' stacks are in its log)"
        if stage.rc != 0 and stage.failed == 0:
            stage.failed = 1  # a crash before any test, a failed check: one failure, named here
        with self.lock:
            self.stages.append(stage)
            status = "ok" if stage.ok else f"FAILED (exit {stage.rc})"
            print(f"== {stage.label}: {status} in {stage.seconds:.0f} s (log {stage.log.relative_to(REPO)})")
            print(f"::group::{stage.label}")
            sys.stdout.write(stage.log.read_text(errors="replace"))
            print("::endgroup::", flush=True)
        return stage

    def watch_limits(self) -> None:
        """Every few seconds: end a stage past STAGE_LIMIT_SECONDS; past RUN_LIMIT_SECONDS, all of them."""
        while not self.stopping:
            time.sleep(5)
            now = time.monotonic()
            if now - self.started > RUN_LIMIT_SECONDS:
                with self.lock:
                    for stage, _ in self.running.values():
                        stage.note = f"ended: the run reached its {RUN_LIMIT_SECONDS} s limit"
                self.say(f"[{self.elapsed()}] the run reached its {RUN_LIMIT_SECONDS} s limit; stopping every stage")
                self.stop()
                return
            with self.lock:
                overdue = [(pid, st) for pid, (st, begun) in self.running.items() if now - begun > STAGE_LIMIT_SECONDS]
            for pid, stage in overdue:
                if not stage.note:
                    stage.note = f"ended: over the stage limit of {STAGE_LIMIT_SECONDS} s"
                    self.say(f"[{self.elapsed()}] {stage.label} ran over {STAGE_LIMIT_SECONDS} s; ending it")
                    in_background(lambda pid=pid: self.end_group(pid))

    def end_group(self, pid: int) -> None:
        """TERM to a stage's process group, KILL 20 s later if its leader has not ended."""
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and pid in self.running:
            time.sleep(0.5)
        if pid in self.running:
            _signal_group(pid, signal.SIGKILL)

    def stop(self) -> None:
        """End every stage still running, side by side."""
        self.stopping = True
        with self.lock:
            pids = list(self.running)
        for thread in [in_background(lambda pid=pid: self.end_group(pid)) for pid in pids]:
            _join(thread)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def cpu_busy_seconds() -> float:
    """Seconds every core of this machine spent busy since boot (/proc/stat), to tell wait from work."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def in_background(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def venv_python(pair: str) -> str:
    return f".venvs/{pair}/bin/python"


def pytest_script(pair: str, args: str, env_file: str | None = None, prefix: str = "") -> str:
    """A bash line running pytest in PAIR's venv, with a deployment's exports when given; PREFIX is
    a command that runs it (``env NAME=value``, ``nice``)."""
    source = f". {shlex.quote(env_file)} && " if env_file else ""
    # The venv's pytest script, not `python -m pytest`: that would put the checkout, which holds the
    # package's source, before the installed wheel on sys.path.
    return f"{source}exec {prefix} .venvs/{pair}/bin/pytest -q {args}"


@dataclasses.dataclass
class OnDeployment:
    """A suite on a local Airflow deployment: started for it, stopped after it, whatever happened."""

    key: tuple[str, str]  # (pair, suite) in DEPLOYMENTS
    up: Stage
    suite: Stage
    down: Stage


def on_deployment(pair: str, suite: str) -> OnDeployment:
    """PAIR's deployment for SUITE (faults or browser), in its own run dir and ports."""
    run_dir, offset = DEPLOYMENTS[pair, suite]
    place = f"COMPOSER_KPO_AIRFLOW_DIR={run_dir} COMPOSER_KPO_AIRFLOW_PORT_OFFSET={offset}"
    knobs = f"PAIR={pair} {place} COMPOSER_KPO_VENVS_READY=1 COMPOSER_KPO_AIRFLOW_REPARSE_SECONDS=120"
    if suite == "browser":
        composer_env = "tests/browser/composer2.env" if pair == AF2 else "tests/browser/composer3.env"
        knobs += (
            ' UI_LOGIN="composer-user:$(python3 -c "import secrets; print(secrets.token_urlsafe(12))")"'
            f" EXTRA_DAGS=$PWD/tests/browser/dags EXTRA_ENV_FILE={composer_env}"
        )
        tests = "tests/browser -m browser"
    else:  # the fault matrix, then the soak (tests/soak/test_soak.py) on the same deployment
        knobs += " EXTRA_DAGS=$PWD/tests/soak/dags EXTRA_ENV_FILE=tests/soak/soak.env"
        tests = f"tests/faults tests/soak/test_soak.py -m faults -s {DURATIONS}"
    env_file = f"{run_dir}/airflow.env"
    return OnDeployment(
        key=(pair, suite),
        up=Stage(f"{suite}-airflow-up", pair, f"{knobs} bash dev/airflow/airflow-up.sh", pytest=False),
        suite=Stage(suite, pair, pytest_script(pair, tests, env_file, "env COMPOSER_KPO_REQUIRE_AIRFLOW=1")),
        down=Stage(f"{suite}-airflow-down", pair, f"{place} bash dev/airflow/airflow-down.sh", pytest=False),
    )


def lanes(wanted: set[str]) -> list[list[Stage | OnDeployment]]:
    """The suites on the cluster, as rows of steps: each row runs in order, rows side by side.

    A row each, per Airflow major: the integration suite; the Composer 3 simulation (our double of
    Google's code loaded as airflow_local_settings at import, hence a pytest process of its own);
    the example DAGs (an Airflow start-up per `airflow dags test`); the browser suite, then the
    fault matrix, each on a deployment of its own (a start-up per task, fifteen tasks staggered; its
    last cases wait for the cluster's tail: they stop the kubelet and the API server).
    """
    rows: list[list[Stage | OnDeployment]] = []
    base = "tests/integration -m integration --ignore=tests/integration/composer3"
    examples_file = "tests/integration/test_example_dags_on_cluster.py"
    composer3 = f"tests/integration/composer3 -m integration {DURATIONS}"
    examples: dict[str, list[Stage | OnDeployment]] = {pair: [] for pair in INTEGRATION_PAIRS}
    if "integration" in wanted:
        for pair in INTEGRATION_PAIRS:
            rows.append(
                [Stage("integration", pair, pytest_script(pair, f"{base} --ignore={examples_file} {DURATIONS}"))]
            )
            simulation = Stage("composer3-simulation", pair, pytest_script(pair, composer3, prefix=COMPOSER3_ENV))
            example_dags = Stage("examples", pair, pytest_script(pair, f"{examples_file} -m integration {DURATIONS}"))
            if pair == AF2:  # light, then heavy: one start-up burst fewer at the start, done long before the faults
                rows.append([simulation, example_dags])
            else:
                rows.append([simulation])
                examples[pair].append(example_dags)
    on_airflow = {
        pair: [on_deployment(pair, s) for s in ("browser", "faults") if s in wanted] for pair in INTEGRATION_PAIRS
    }
    # Each major's browser suite, then its fault matrix (whose last cases wait for the cluster's
    # tail); Airflow 3's examples beside them (Airflow 2's follow its Composer 3 simulation). More
    # start-ups at once (fault matrices and browser suites each on a deployment from the start)
    # loaded the two cores past 15 and made a Composer 3 simulation exec time out.
    rows += [on_airflow[AF2], on_airflow[AF3], examples[AF3]]
    return [row for row in rows if row]


def run_row(run: Run, row: list[Stage | OnDeployment]) -> None:
    for step in row:
        if isinstance(step, Stage):
            run.run(step)
            continue
        if run.run(step.up).ok:
            run.run(step.suite)
        else:
            step.suite.rc, step.suite.failed, step.suite.note = 1, 1, "not run: its deployment did not start"
            run.stages.append(step.suite)
        run.run(step.down)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", metavar="STAGE", help=f"any of {', '.join(ALL_STAGES)} (default: all)")
    parser.add_argument("--env", nargs="*", default=[], help="unit stage: only these environments")
    args = parser.parse_args()
    wanted = set(args.stages or ALL_STAGES)
    if wanted - set(ALL_STAGES):
        parser.error(f"no stage {' '.join(sorted(wanted - set(ALL_STAGES)))} (stages: {', '.join(ALL_STAGES)})")
    unit_envs = args.env or locked_environments()
    unknown = sorted(set(unit_envs) - set(locked_environments()))
    if unknown:
        parser.error(f"--env {' '.join(unknown)}: no such environment (requirements/*.in: {locked_environments()})")

    run = Run()
    run.env["COMPOSER_KPO_ARTIFACTS"] = str(ARTIFACTS)
    started_cluster = False
    deployments_used: list[tuple[str, str]] = []
    cluster_ready = threading.Event()
    cluster_ok = [False]

    def prepare_cluster() -> None:
        """Kubernetes built from source (cached after the first run) while apt installs the Debian
        packages every stage needs, one apt at a time, and the node's images; then the cluster."""
        nonlocal started_cluster
        try:
            build = in_background(
                lambda: run.run(Stage("cluster-build", "", "bash dev/localcluster/build-k8s.sh", pytest=False))
            )
            steps = ["bash dev/localcluster/install-deps.sh", "bash dev/airflow/airflow-up.sh --deps"]
            if "browser" in wanted:
                steps.append(". dev/lib/chromium.sh && ensure_chromium")
            steps.append("bash dev/localcluster/images/build-images.sh build")
            prepared = run.run(Stage("prerequisites", "", " && ".join(steps), pytest=False)).ok
            _join(build)
            if not prepared:
                return
            started_cluster = (
                subprocess.run(["bash", "dev/localcluster/cluster-status.sh"], cwd=REPO, capture_output=True).returncode
                != 0
            )
            up = run.run(Stage("cluster-up", "", "bash dev/localcluster/cluster-up.sh", pytest=False))
            if up.ok:
                last = up.log.read_text().strip().splitlines()[-1]  # export KUBECONFIG=...
                run.env["KUBECONFIG"] = last.split("=", 1)[1].strip("'\"")
                run.env["COMPOSER_KPO_REQUIRE_CLUSTER"] = "1"
                cluster_ok[0] = True
        finally:
            cluster_ready.set()

    def interrupted(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    in_background(run.watch_limits)
    status = 0
    try:
        on_cluster = wanted & CLUSTER_STAGES
        cluster_thread = in_background(prepare_cluster) if on_cluster else None

        pairs: list[str] = []
        if wanted & {"unit", "package"}:
            pairs += unit_envs
        if on_cluster:
            pairs += INTEGRATION_PAIRS
        if wanted & {"lint", "package"}:
            pairs.append("lint")
        if "lint" in wanted:
            pairs.append(MYPY_ENV)
        if "docs" in wanted:
            pairs.append("docs")
        pairs = list(dict.fromkeys(pairs))
        built = run.run(
            Stage(
                "build",
                "",
                'wheel=$(bash dev/build.sh) && ls -l dist/ && echo "$wheel" > dist/.wheel && '
                f'COMPOSER_KPO_WHEEL="$wheel" bash dev/venvs.sh {" ".join(pairs)}',
                pytest=False,
            )
        )
        if not built.ok:
            raise SystemExit("test: building the package or the virtualenvs failed")
        wheel = (REPO / "dist" / ".wheel").read_text().strip()

        lane_threads: list[threading.Thread] = []

        def start_lanes() -> None:
            cluster_ready.wait()
            if not cluster_ok[0]:
                return
            for row in lanes(wanted):
                deployments_used.extend(step.key for step in row if isinstance(step, OnDeployment))
                lane_threads.append(in_background(lambda row=row: run_row(run, row)))

        lanes_starter = in_background(start_lanes) if on_cluster else None

        if "lint" in wanted:
            run.run(Stage("lint", "", LINT, pytest=False))  # the build stage made MYPY_ENV's venv
        if "package" in wanted:
            checks = [
                ".venvs/lint/bin/twine check --strict dist/*",
                f"python3 dev/check_install.py {shlex.quote(wheel)}",
            ]
            pip_check = '. dev/lib/uv.sh && "${{UV[@]}}" pip check --python {} && echo "pip check [{}]: clean"'
            checks += [pip_check.format(venv_python(pair), pair) for pair in unit_envs]
            # Every check runs; each failed one is named.
            script = "failed=0; " + " ".join(f"{{ {c}; }} || {{ echo 'FAILED: {c}'; failed=1; }};" for c in checks)
            run.run(Stage("package", "", script + " exit $failed", pytest=False))
        if "docs" in wanted:
            # The build stage made .venvs/docs with this run's wheel; a Sphinx warning fails the stage.
            run.run(Stage("docs", "", "COMPOSER_KPO_VENVS_READY=1 exec nice -n 10 bash dev/docs.sh", pytest=False))
        if "unit" in wanted:
            # CPU-bound, so they wait for the cluster's tail: once the suites that share the
            # cluster are done, its last tests have it alone one after another (they stop the
            # API server or the kubelet) and mostly wait. Two at a time, below their priority.
            if on_cluster:

                def lanes_done() -> bool:
                    if cluster_ready.is_set() and not cluster_ok[0]:
                        return True  # no cluster: no lanes
                    started = lanes_starter is not None and not lanes_starter.is_alive()
                    return started and not any(thread.is_alive() for thread in lane_threads)

                wait_for_cluster_tail(lanes_done)
            pending = list(unit_envs)

            def unit_worker() -> None:
                while pending:
                    try:
                        pair = pending.pop(0)
                    except IndexError:
                        return
                    run.run(Stage("unit", pair, pytest_script(pair, UNIT_TESTS, prefix="nice -n 10")))

            workers = [in_background(unit_worker) for _ in range(2)]
            for worker in workers:
                _join(worker)

        if cluster_thread is not None:
            _join(cluster_thread)
            if not cluster_ok[0]:
                run.say("test: the local cluster did not start")
                status = 1
        if lanes_starter is not None:
            _join(lanes_starter)
            for thread in lane_threads:
                _join(thread)
    except KeyboardInterrupt as why:
        run.say(f"test: interrupted ({why or 'SIGINT'}); stopping what was started")
        status = 1
    except SystemExit as why:
        run.say(str(why))
        status = 1
    finally:
        run.stop()
        for key in dict.fromkeys(deployments_used):
            run_dir, offset = DEPLOYMENTS[key]
            subprocess.run(
                ["bash", "dev/airflow/airflow-down.sh", "--quiet"],
                cwd=REPO,
                env={
                    **os.environ,
                    "COMPOSER_KPO_AIRFLOW_DIR": run_dir,
                    "COMPOSER_KPO_AIRFLOW_PORT_OFFSET": str(offset),
                },
                capture_output=True,
            )
        if started_cluster:
            subprocess.run(["bash", "dev/localcluster/cluster-down.sh"], cwd=REPO, capture_output=True)
    return report(run, status)


def wait_for_cluster_tail(lanes_done: Callable[[], bool]) -> None:
    """Return once a test holds the shared cluster alone (tests/cluster_lock.py), or the lanes ended."""
    while not lanes_done():
        with open(cluster_lock.lock_dir() / "cluster.lock", "a+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # held exclusive
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        time.sleep(2)


def _join(thread: threading.Thread) -> None:
    """Join in short waits, so that a signal reaches the main thread meanwhile."""
    while thread.is_alive():
        thread.join(0.5)


def report(run: Run, status: int) -> int:
    wall = time.monotonic() - run.started
    rows = [("stage", "environment", "seconds", "cpu s", "passed", "failed", "skipped", "result")]
    for s in run.stages:
        result = (f"ok; {s.note}" if s.note else "ok") if s.ok else (s.note or f"exit {s.rc}")
        numbers = (f"{s.seconds:.0f}", f"{s.cpu_seconds:.0f}", str(s.passed), str(s.failed), str(s.skipped))
        rows.append((s.name, s.env or "-", *numbers, result))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print()
    for i, row in enumerate(rows):
        cells = (cell.rjust(w) if 2 <= j <= 6 else cell.ljust(w) for j, (cell, w) in enumerate(zip(row, widths)))
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    passed = sum(s.passed for s in run.stages)
    failed = sum(s.failed for s in run.stages)
    skipped = sum(s.skipped for s in run.stages)
    busy = cpu_busy_seconds() - run.busy_at_start
    cores = os.cpu_count() or 1
    print(f"wall time: {wall / 60:.1f} min; the machine's {cores} cores busy {100 * busy / (wall * cores):.0f}% of it")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "test-times.json").write_text(
        json.dumps(
            {
                "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "wall_seconds": round(wall, 1),
                "cpu_busy_seconds": round(busy, 1),
                "cores": cores,
                "passed": passed,
                "failed": failed,
                "skipped": skipped,
                "stages": [
                    {
                        "stage": s.name,
                        "environment": s.env,
                        "seconds": round(s.seconds, 1),
                        "cpu_seconds": round(s.cpu_seconds, 1),
                        "passed": s.passed,
                        "failed": s.failed,
                        "skipped": s.skipped,
                        "exit_code": s.rc,
                    }
                    for s in run.stages
                ],
            },
            indent=2,
        )
        + "\n"
    )
    if failed or any(not s.ok for s in run.stages):
        status = 1
        name_failures(run)
    print(f"test: {passed} passed, {failed} failed")
    return status


#: Where the logs of failed stages are kept: CI deletes its checkout, and only a tail of the run's output survives.
KEPT_LOGS = Path("/var/tmp/composer-kpo-test-logs")


def name_failures(run: Run) -> None:
    """Last in the output, so that a tail shows them: each failed stage's failed tests (pytest's
    short summary) or its log's last lines; the logs are copied outside the checkout."""
    kept = KEPT_LOGS / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for s in run.stages:
        if s.ok or not s.log.exists():
            continue
        text = s.log.read_text(errors="replace")
        with contextlib.suppress(OSError):
            kept.mkdir(parents=True, exist_ok=True)
            (kept / s.log.name).write_text(text)
        lines = text.splitlines()
        named = [line for line in lines if line.startswith(("FAILED ", "ERROR "))] or lines[-15:]
        empty = "" if lines else ", its log is empty"
        print(f"failed: {s.label} (exit {s.rc}{empty}; log kept in {kept / s.log.name})")
        for line in named[:20]:
            print(f"    {line[:300]}")


if __name__ == "__main__":
    sys.exit(main())
