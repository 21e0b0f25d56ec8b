"""`composer-kpo check`: each rule on small sources, the command's output and exit status."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import pytest

from airflow_provider_composer_kpo.findings import PARAMETER
from airflow_provider_composer_kpo.platform.rules import platform_findings
from airflow_provider_composer_kpo.pod.entrypoint import ErrexitPolicy, Outcome, apply_errexit_policy
from airflow_provider_composer_kpo.tools.check import FILE, IMPORT, OPERATOR, check_source
from airflow_provider_composer_kpo.tools.cli import main
from airflow_provider_composer_kpo.tools.target import Target
from tests.interpreter import run_python

NEWEST = Target(airflow=(3, 3), cncf_kubernetes=(10, 25), composer=3)
OLDEST = Target(airflow=(2, 5), cncf_kubernetes=(5, 0))
HEADER = "from airflow_provider_composer_kpo import ComposerPodOperator\n"
STOCK = "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"


def codes(source: str, target: Target = NEWEST) -> list[str]:
    return [finding.code for finding in check_source("dag.py", textwrap.dedent(source), target).findings]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), stdout=out), out.getvalue()


def test_imports_added_after_the_target_are_reported():
    source = STOCK + "from airflow.providers.cncf.kubernetes.secret import Secret\nfrom airflow.sdk import DAG\n"
    found = check_source("dag.py", source, OLDEST).findings
    assert [(f.line, f.code) for f in found] == [(1, "CK102"), (2, "CK102"), (3, "CK102")]
    assert "added in cncf-kubernetes 5.3" in found[0].message
    assert "added in Airflow 3.0" in found[2].message


def test_arguments_added_after_the_target_are_reported_for_stock_kpo_only():
    call = "(task_id='t', image='i', on_finish_action='keep_pod', schedule_timeout_seconds=900)\n"
    old_import = "from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import KubernetesPodOperator\n"
    assert codes(old_import + "KubernetesPodOperator" + call, OLDEST) == ["CK503", "CK801", "CK204", "CK204"]
    assert codes(HEADER + "ComposerPodOperator" + call, OLDEST) == []  # ours takes both on every provider


def test_a_module_import_of_a_removed_module_is_reported_once():
    source = "from airflow.contrib.operators import kubernetes_pod_operator\nimport airflow.kubernetes.secret\n"
    assert codes(source) == ["CK101", "CK101"]
    assert codes(source, Target((2, 10), (10, 1))) == []


def test_names_are_resolved_through_aliases_constants_and_subclasses():
    source = f"""
        {STOCK.strip()}
        import airflow_provider_composer_kpo as ckpo
        SCRIPT = "cp a b\\n" + "ls b"
        class Team(KubernetesPodOperator):
            pass
        Team(task_id="a", image="i", cmds=["sh", "-c", SCRIPT], startup_timeout_seconds=300)
        ckpo.ComposerPodOperator(task_id="b", image="i", cmds=["sh", "-c", SCRIPT], errexit_policy="off")
    """
    found = check_source("dag.py", textwrap.dedent(source), NEWEST).findings
    assert [(f.line, f.code) for f in found] == [(7, "CK801"), (7, "CK401"), (8, "CK401")]
    assert "the sh script in cmds[2] runs without errexit" in found[1].message


@pytest.mark.parametrize(
    "cmds, arguments",
    [
        (["sh", "-c"], ["a\nb"]),
        (["sh", "-c"], ["set -e\na"]),
        (["bash", "-ec", "a; b"], []),
        (["bash"], ["/scripts/run.sh"]),
        (["bash", "-e", "/scripts/run.sh"], []),
        (["/bin/sh", "-c", "# comment\nset -o errexit\na"], []),
        (["sh", "-c", "a\nset -e\nb"], []),
        (["python", "-c", "print(1)"], []),
        ([], ["{{ ds }}"]),
        (["env", "X=1", "sh", "-c", "a"], []),
        (["sh", "-c", "a && b"], []),
        (["bash", "-c"], ["a &&\n  b && c"]),
        (["sh", "-c", "a && b; c"], []),
        (["sh", "-c", "a || b"], []),
    ],
)
def test_the_errexit_finding_is_the_operators_own_rule(cmds, arguments):
    injected = apply_errexit_policy(cmds, arguments, ErrexitPolicy.INJECT).outcome is Outcome.INJECTED
    source = STOCK + f"KubernetesPodOperator(task_id='t', image='i', cmds={cmds!r}, arguments={arguments!r})\n"
    assert ("CK401" in codes(source)) == injected


@pytest.mark.parametrize(
    "script, flagged",
    [("a && b", False), ("a && b && c", False), ("a; b", True), ("a\nb", True), ("a && b; c", True)],
)
def test_an_and_list_needs_no_errexit(script, flagged):
    source = STOCK + f"KubernetesPodOperator(task_id='t', image='i', cmds=['sh', '-c', {script!r}])\n"
    assert ("CK401" in codes(source)) == flagged


@pytest.mark.parametrize("seconds", [5, 29, 30, 600, 10800, 10801])
def test_the_timeout_finding_is_the_operators_own_bound(seconds):
    from airflow_provider_composer_kpo import ComposerPodConfigError, ComposerPodOperator

    source = HEADER + f"ComposerPodOperator(task_id='t', image='i', startup_timeout_seconds={seconds})\n"
    try:
        ComposerPodOperator(task_id="t", image="i", startup_timeout_seconds=seconds)
        refused = False
    except ComposerPodConfigError:
        refused = True
    assert ("CK501" in codes(source)) == refused


def test_a_templated_value_is_not_guessed():
    source = HEADER + "ComposerPodOperator(task_id='t', image='i', startup_timeout_seconds=int('{{ var.value.t }}'))\n"
    assert codes(source) == []


def test_template_variables_removed_by_airflow_3():
    source = "x = \"{{ execution_date }} {{ dag_run.conf }} {{ params.conf }} {{ conf.get('a', 'b') }}\"\n"
    found = check_source("dag.py", source, NEWEST).findings
    assert [f.message.split("`")[1] for f in found] == ["execution_date", "conf"]  # not attributes
    assert codes(source, Target((2, 10), (10, 1))) == []


def test_references_name_namespace_keys_and_the_command_for_the_target():
    source = HEADER + textwrap.dedent("""
        from airflow.providers.cncf.kubernetes.secret import Secret
        creds = Secret("volume", "/var/secrets/google", "gcp-key", "service-account.json")
        ComposerPodOperator(task_id="t", image="i", secrets=[creds], namespace="team")
    """)
    composer2 = check_source("dag.py", source, Target((2, 10), (10, 5), 2)).findings
    assert [f.code for f in composer2] == ["CK701", "CK601"]  # and Autopilot's default requests
    assert composer2[0].message == "Secret team/gcp-key (keys: service-account.json) must exist before the task runs"
    assert "kubectl create secret generic gcp-key -n team" in composer2[0].fix
    composer3 = check_source("dag.py", source, NEWEST).findings
    assert "composer-user-workloads/gcp-key" in composer3[0].message
    assert "gcloud beta composer environments user-workloads-secrets create" in composer3[0].fix


def test_each_diagnostic_holds_the_finding_it_places():
    source = HEADER + textwrap.dedent("""
        from airflow.providers.cncf.kubernetes.secret import Secret
        creds = Secret("volume", "/var/secrets/google", "gcp-key", "service-account.json")
        ComposerPodOperator(task_id="t", image="i", secrets=[creds], namespace="team", preflight="strict")
    """)
    secret, platform, refused = check_source("dag.py", source, Target((2, 10), (10, 5), 2)).findings
    assert (secret.code, secret.finding.kind, secret.finding.name, secret.finding.namespace) == (
        "CK701",
        "Secret",
        "gcp-key",
        "team",
    )
    assert not secret.finding.fatal  # info
    assert (refused.code, refused.finding.kind, refused.finding.name, refused.finding.fatal) == (
        "CK205",
        PARAMETER,
        "preflight",
        True,
    )
    # CK601 is the operator's own platform finding, its message prefixed with the Composer version.
    (operator_finding,) = platform_findings(composer_major=2, namespace="team")
    assert platform.finding.name == operator_finding.name == "container_resources"
    assert platform.message == f"Composer 2: container_resources=None: {operator_finding.message}"
    assert (platform.fix, platform.finding.value) == (operator_finding.fix, operator_finding.value)
    assert (platform.message, platform.fix) == (platform.finding.message, platform.finding.fix)


def test_what_is_not_a_parameter_is_named_by_its_kind():
    stock = check_source("dag.py", STOCK + "KubernetesPodOperator(image='i')\n", NEWEST).findings
    assert {(f.code, f.finding.kind, f.finding.name) for f in stock} >= {
        ("CK205", OPERATOR, "KubernetesPodOperator"),  # without task_id
        ("CK801", OPERATOR, "KubernetesPodOperator"),
    }
    old = "from airflow.contrib.operators import kubernetes_pod_operator\n"
    (imported,) = check_source("dag.py", old, NEWEST).findings
    assert (imported.finding.kind, imported.finding.name) == (
        IMPORT,
        "airflow.contrib.operators.kubernetes_pod_operator",
    )
    (broken,) = check_source("dag.py", "def (:\n", NEWEST).findings
    assert (broken.code, broken.finding.kind, broken.finding.name, broken.finding.fatal) == (
        "CK001",
        FILE,
        "dag.py",
        True,
    )


def test_noqa_silences_a_line(tmp_path):
    source = STOCK + "KubernetesPodOperator(task_id='t', image='i')  # noqa: CK503, CK801\n"
    assert codes(source) == []
    assert codes(source.replace("# noqa: CK503, CK801", "# noqa: CK801")) == ["CK503"]
    assert codes(source.replace("# noqa: CK503, CK801", "# noqa")) == []


def test_exit_status_summary_and_needs(tmp_path):
    (tmp_path / "clean.py").write_text(HEADER + "ComposerPodOperator(task_id='t', image='i')\n")
    assert run("check", str(tmp_path), "--airflow", "3.3", "--cncf-kubernetes", "10.25")[0] == 0
    (tmp_path / "needs.py").write_text(
        HEADER + "from kubernetes.client import models as k8s\n"
        "ComposerPodOperator(task_id='t', image='i', env_from=[k8s.V1EnvFromSource("
        "config_map_ref=k8s.V1ConfigMapEnvSource(name='settings'))])\n"
    )
    status, out = run("check", str(tmp_path), "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 0  # info only
    assert "ConfigMap composer-user-workloads/settings" in out
    assert out.splitlines()[-1].endswith(
        "2 files against Airflow 3.3, cncf-kubernetes 10.25: 0 errors, 0 warnings, 1 info in 1 files"
    )
    (tmp_path / "stock.py").write_text(STOCK + "KubernetesPodOperator(task_id='t', image='i', node_selectors={})\n")
    status, out = run("check", str(tmp_path), "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 1
    assert (
        f"{tmp_path / 'stock.py'}:2:62 CK201 KubernetesPodOperator(node_selectors=...): removed in cncf-kubernetes 5.0"
        in out
    )
    assert "    fix: rename it to node_selector (`composer-kpo migrate` does it)" in out
    ignored = run("check", str(tmp_path), "--airflow", "3.3", "--cncf-kubernetes", "10.25", "--ignore", "CK201,CK503")
    assert ignored[0] == 0


def test_json_output(tmp_path):
    (tmp_path / "dag.py").write_text(
        STOCK + "KubernetesPodOperator(task_id='t', image='i', startup_timeout_seconds=900)\n"
    )
    status, out = run("check", str(tmp_path), "--format", "json", "--airflow", "2.10", "--cncf-kubernetes", "10.5")
    document = json.loads(out)
    assert status == 0
    assert document["target"] == {"airflow": [2, 10], "cncf_kubernetes": [10, 5], "composer": None}
    assert [(f["code"], f["severity"], f["line"]) for f in document["findings"]] == [("CK801", "info", 2)]
    assert list(document["findings"][0]) == ["path", "line", "col", "code", "severity", "message", "fix"]
    assert document["summary"] == {"files": 1, "error": 0, "warning": 0, "info": 1}


def test_bad_usage_exits_2(tmp_path, capsys):
    for argv in (["check", str(tmp_path / "missing")], ["check", str(tmp_path), "--airflow", "three"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "PATH" in capsys.readouterr().err
    assert run("check", str(tmp_path), "--ignore", "CK999")[0] == 2


@pytest.mark.parametrize(
    "option, value, supported",
    [
        ("--airflow", "4.0", "Airflow 2.5 to 3.3"),
        ("--airflow", "3.4", "Airflow 2.5 to 3.3"),
        ("--airflow", "2.4", "Airflow 2.5 to 3.3"),
        ("--cncf-kubernetes", "11.0", "cncf-kubernetes 5.0 to 10.x"),
        ("--cncf-kubernetes", "4.4", "cncf-kubernetes 5.0 to 10.x"),
    ],
)
@pytest.mark.parametrize("command", ["check", "migrate"])
def test_a_version_outside_the_supported_range_exits_2(tmp_path, capsys, command, option, value, supported):
    with pytest.raises(SystemExit) as exited:
        main([command, str(tmp_path), option, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"{option} {value} is not a supported" in err
    assert f"supports {supported}" in err


@pytest.mark.parametrize(
    "airflow, cncf",
    [("2.5", "5.0"), ("3.3", "10.99"), ("2.10.5+composer", "10"), ("2.5", "7.10"), ("2.7", "8.3"), ("3.0", "10.5")],
)
def test_the_supported_range_ends_are_accepted(tmp_path, airflow, cncf):
    assert run("check", str(tmp_path), "--airflow", airflow, "--cncf-kubernetes", cncf)[0] == 0


def test_the_supported_range_is_setup_cfgs():
    import configparser
    from pathlib import Path

    from packaging.requirements import Requirement

    from airflow_provider_composer_kpo.tools.target import SUPPORTED

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[3] / "setup.cfg")
    for line in config["options"]["install_requires"].strip().splitlines():
        requirement = Requirement(line)
        if requirement.name not in SUPPORTED:
            continue
        (oldest, (major, minor)) = SUPPORTED[requirement.name]
        bounds = {spec.operator: spec.version for spec in requirement.specifier}
        assert tuple(int(part) for part in bounds[">="].split(".")[:2]) == oldest
        assert bounds["<"] == (str(major + 1) if minor is None else f"{major}.{minor + 1}")


def test_a_broken_file_is_reported_and_the_rest_still_checked(tmp_path):
    (tmp_path / "a_broken.py").write_text("def (:\n")
    (tmp_path / "b.py").write_text(STOCK + "KubernetesPodOperator(task_id='t', image='i', xcom_push=True)\n")
    (tmp_path / "c.py").write_bytes(b"\xff\xfe not utf-8")
    status, out = run("check", str(tmp_path), "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 1
    assert f"{tmp_path / 'a_broken.py'}:1:5 CK001 not checked: invalid syntax" in out
    assert "CK201 KubernetesPodOperator(xcom_push=...)" in out
    assert f"{tmp_path / 'c.py'}:1:1 CK001 not checked: cannot read it" in out


def test_check_neither_imports_nor_runs_the_dags(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "dag.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    code = (
        "import sys\nfrom airflow_provider_composer_kpo.tools.cli import main\n"
        f"status = main(['check', {str(tmp_path)!r}, '--airflow', '3.3', '--cncf-kubernetes', '10.25'])\n"
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'Airflow imported'\n"
        "sys.exit(status)\n"
    )
    done = run_python("-c", code, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_the_console_script_and_python_m_are_installed():
    from pathlib import Path

    script = Path(sys.executable).with_name("composer-kpo")
    for command in ([str(script)], [sys.executable, "-m", "airflow_provider_composer_kpo"]):
        done = subprocess.run([*command, "--version"], capture_output=True, text=True, cwd=script.parent)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("composer-kpo 0.")


def test_the_docs_code_table_is_the_code_list():
    """docs/check.md holds no table of codes of its own: the kpo-check-codes directive makes it, when the
    docs are built, from these rows, which must be CODES, in its order, with each code's action."""
    from airflow_provider_composer_kpo.tools.codes import CODES
    from tests.docs_site import DOCS, directives, docs_data

    assert directives((DOCS / "check.md").read_text(), "kpo-check-codes") == [""]
    rows = docs_data().check_code_rows()
    assert [(r.code, r.severity, r.meaning, r.action) for r in rows] == [
        (c.code, c.severity, c.title, c.action) for c in CODES.values()
    ]


@pytest.mark.parametrize(
    "airflow, cncf, why, supported",
    [
        ("2.5", "10.25", "cncf-kubernetes 10.25 needs Airflow 2.11 or later", "cncf-kubernetes 5.0 to 7.10"),
        ("2.7", "9.0", "cncf-kubernetes 9.0 needs Airflow 2.8 or later", "cncf-kubernetes 5.0 to 8.3"),
        ("3.3", "10.4", "Airflow 3 needs cncf-kubernetes 10.5 or later", "cncf-kubernetes 10.5 to 10.x"),
    ],
)
def test_a_pair_that_cannot_be_installed_together_exits_2(tmp_path, capsys, airflow, cncf, why, supported):
    with pytest.raises(SystemExit) as exited:
        main(["check", str(tmp_path), "--airflow", airflow, "--cncf-kubernetes", cncf])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"--airflow {airflow} and --cncf-kubernetes {cncf} cannot be installed together: {why}" in err
    assert f"with Airflow {airflow}, composer-kpo supports {supported}" in err


def test_an_unknown_keyword_is_an_error_with_the_nearest_keyword_of_the_target():
    source = HEADER + "ComposerPodOperator(task_id='t', image='i', startup_timeout=900, deferable=True)\n"
    newest = check_source("dag.py", source, NEWEST).findings
    assert [(f.code, f.fix) for f in newest] == [
        ("CK205", "rename it to startup_timeout_seconds"),
        ("CK205", "rename it to deferrable"),
    ]
    assert newest[0].message == (
        f"ComposerPodOperator(startup_timeout=...): no such argument on {NEWEST}; did you mean startup_timeout_seconds?"
    )
    oldest = check_source("dag.py", source, OLDEST).findings
    assert oldest[1].fix == (
        "deferrable is not on this target (added in cncf-kubernetes 5.2): remove it, or target another"
    )
    dated = HEADER + "ComposerPodOperator(task_id='t', image='i', deferrable=True)\n"
    assert [f.message for f in check_source("dag.py", dated, OLDEST).findings] == [
        f"ComposerPodOperator(deferrable=...): added in cncf-kubernetes 5.2; {OLDEST} rejects it"
    ]


def test_a_subclass_takes_the_keywords_its_init_reads():
    source = HEADER + textwrap.dedent("""
        class Team(ComposerPodOperator):
            def __init__(self, team, **kwargs):
                self.squad = kwargs.pop("squad")
                super().__init__(**kwargs)
        class Strict(Team):
            pass
        Strict(task_id="t", image="i", team="data", squad="a", startup_timeout=900)
    """)
    assert [f.message.split(":")[0] for f in check_source("dag.py", source, NEWEST).findings] == [
        "Strict(startup_timeout=...)"
    ]


def test_a_mapped_task_is_refused_its_keywords_at_parse_time_and_its_values_when_it_runs():
    source = HEADER + (
        "ComposerPodOperator.partial(task_id='t', image='i', namespace='a_b', startup_timeut=900).expand(cmd=[['a']])\n"
    )
    found = check_source("dag.py", source, Target((3, 3), (10, 25))).findings
    assert [(f.code, f.message.split(":")[0]) for f in found] == [
        ("CK206", "Task 't'"),
        ("CK205", "ComposerPodOperator.partial(startup_timeut=...)"),
        ("CK205", "ComposerPodOperator.expand(cmd=...)"),
    ]
    assert "namespace='a_b' is not a valid namespace" in found[0].message
    assert found[0].severity == "warning"


def test_airflow_2_reads_resources_in_partial_as_its_own():
    source = HEADER + "ComposerPodOperator.partial(task_id='t', image='i', resources={'limit_memory': '1G'})\n"
    airflow2 = [f for f in check_source("dag.py", source, Target((2, 10), (10, 5))).findings if f.code == "CK205"]
    assert "'limit_memory' is not one of them" in airflow2[0].message
    assert not [f for f in check_source("dag.py", source, Target((3, 3), (10, 25))).findings if f.code == "CK205"]


@pytest.mark.parametrize("composer", [2, 3])
def test_the_node_pool_helper_gets_the_operators_platform_warning(monkeypatch, composer):
    from airflow_provider_composer_kpo import ComposerPlatformWarning, ComposerPodOperator, gke_node_pool_affinity

    monkeypatch.setenv("COMPOSER_VERSION", f"{composer}.0.0")
    with pytest.warns(ComposerPlatformWarning) as warned:
        ComposerPodOperator(task_id="t", image="i", affinity=gke_node_pool_affinity("pool-1"))
    operator_says = {str(w.message).split("affinity=", 1)[1] for w in warned if "affinity=" in str(w.message)}
    source = (
        "from airflow_provider_composer_kpo import ComposerPodOperator, gke_node_pool_affinity\n"
        "ComposerPodOperator(task_id='t', image='i', affinity=gke_node_pool_affinity('pool-1'))\n"
    )
    found = check_source("dag.py", source, Target((3, 3), (10, 25), composer)).findings
    check_says = {f"{f.message.split('affinity=', 1)[1]} Fix: {f.fix}" for f in found if "affinity=" in f.message}
    assert check_says == operator_says != set()


def test_an_import_guarded_by_except_importerror_is_not_an_error_its_fallback_is_checked():
    from airflow_provider_composer_kpo.tools.check import check_source
    from airflow_provider_composer_kpo.tools.target import resolve_target

    source = (
        "try:\n"
        "    from airflow.sdk import DAG\n"
        "except ImportError:\n"
        "    from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator\n"
    )

    def found(airflow: str, cncf: str) -> list:
        target = resolve_target(airflow=airflow, cncf_kubernetes=cncf, composer="2", environ={})
        return [(f.line, f.code) for f in check_source("dag.py", source, target).findings]

    assert found("2.10", "10.5") == []  # airflow.sdk is missing on 2.10: the except branch runs, and loads
    assert found("3.1", "10.11") == []  # airflow.sdk loads on 3.1: the removed fallback never runs
    # When the guarded import fails on the target, the fallback runs, and is checked.
    both_gone = (
        "try:\n"
        "    from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator\n"
        "except ImportError:\n"
        "    from airflow.kubernetes.secret import Secret\n"
    )
    target = resolve_target(airflow="3.1", cncf_kubernetes="10.11", composer="3", environ={})
    assert [(f.line, f.code) for f in check_source("dag.py", both_gone, target).findings] == [(4, "CK101")]
