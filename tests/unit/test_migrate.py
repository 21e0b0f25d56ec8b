"""`composer-kpo migrate`: rewrites on small sources, the notes, and the command's diff / --write behaviour."""

from __future__ import annotations

import io
import sys
import textwrap

import pytest

from airflow_provider_composer_kpo.tools.cli import main
from airflow_provider_composer_kpo.tools.target import Target

libcst = pytest.importorskip("libcst", reason="the [migrate] extra is in every test environment's lock")
from airflow_provider_composer_kpo.tools.migrate import migrate_source  # noqa: E402

NEWEST = Target(airflow=(3, 3), cncf_kubernetes=(10, 25), composer=3)
AIRFLOW_2 = Target(airflow=(2, 10), cncf_kubernetes=(10, 1))
PROVIDER_6 = Target(airflow=(2, 6), cncf_kubernetes=(6, 0))


def migrate(source: str, target: Target = NEWEST):
    return migrate_source("dag.py", textwrap.dedent(source), target)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), stdout=out), out.getvalue()


def test_imports_move_to_what_the_target_has():
    source = """\
        from airflow.kubernetes.secret import Secret
        from airflow.operators.bash_operator import BashOperator
        from airflow.operators.dummy_operator import DummyOperator

        s = Secret("env", "X", "name", "key")
        BashOperator(task_id="b", bash_command="true") >> DummyOperator(task_id="d")
    """
    newest = migrate(source).migrated
    assert "from airflow_provider_composer_kpo import Secret\n" in newest
    assert "airflow.providers.cncf.kubernetes.secret" not in newest
    assert "from airflow.providers.standard.operators.bash import BashOperator\n" in newest
    assert "from airflow.providers.standard.operators.empty import EmptyOperator\n" in newest
    assert 'EmptyOperator(task_id="d")' in newest and "Dummy" not in newest
    airflow2 = migrate(source, AIRFLOW_2).migrated
    assert "from airflow.operators.bash import BashOperator\n" in airflow2
    assert "from airflow.operators.empty import EmptyOperator\n" in airflow2
    # Ours imports whichever Secret the installed versions have, so it is written on every target.
    for target in (AIRFLOW_2, PROVIDER_6):
        assert "from airflow_provider_composer_kpo import Secret\n" in migrate(source, target).migrated


@pytest.mark.parametrize(
    "old",
    [
        "from airflow.contrib.kubernetes.secret import Secret",
        "from airflow.kubernetes.secret import Secret",
        "from airflow.providers.cncf.kubernetes.secret import Secret",  # not there before cncf-kubernetes 7.4
    ],
)
def test_secret_moves_to_ours_which_works_on_every_supported_version(old):
    source = old + '\nSecret("env", "X", "name", "key")\n'
    migrated = migrate(source, PROVIDER_6).migrated
    assert migrated == 'from airflow_provider_composer_kpo import Secret\nSecret("env", "X", "name", "key")\n'


def test_comments_formatting_and_other_code_are_kept():
    source = """\
        # team header
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator  # the operator
        from airflow.providers.cncf.kubernetes.operators.pod import PodManager


        def helper( x ):   # odd spacing stays
            return x


        task = KubernetesPodOperator(
            task_id = "t",      # aligned comment
            image="busybox:1.36",
            is_delete_operator_pod = False,
            # the old way
            node_selectors={"a": "b"},
            startup_timeout_seconds=300,
            namespace="default",
        )
    """
    migrated = migrate(source).migrated
    expected = textwrap.dedent(source)
    for old, new in (
        ("from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator  # the operator\n", ""),
        ("KubernetesPodOperator(", "ComposerPodOperator("),
        ("is_delete_operator_pod = False", 'on_finish_action = "keep_pod"'),
        ("node_selectors=", "node_selector="),
    ):
        expected = expected.replace(old, new)
    expected = expected.replace(
        "import PodManager\n", "import PodManager\nfrom airflow_provider_composer_kpo import ComposerPodOperator\n"
    )
    assert migrated == expected


def test_the_resources_dict_becomes_container_resources_with_the_files_own_alias():
    source = """\
        from kubernetes.client import models as k8s_models
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        KubernetesPodOperator(task_id="t", image="i", resources={'request_cpu': CPU, 'limit_gpu': 1})
    """
    migrated = migrate(source).migrated
    assert "container_resources=k8s_models.V1ResourceRequirements(requests={'cpu': CPU}, " in migrated
    assert "limits={'nvidia.com/gpu': 1})" in migrated
    assert migrated.count("import models") == 1


def test_what_changes_meaning_is_noted_not_changed():
    source = """\
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        KubernetesPodOperator(task_id="t", image="i", cmds=["sh", "-c", "a\\nb"], resources=RESOURCES,
                              is_delete_operator_pod=KEEP, startup_timeout_seconds=10)
        KubernetesPodOperator(task_id="u", image="i", config_file="/home/airflow/composer_kube_config", namespace="n")
    """
    migration = migrate(source)
    notes = [(note.line, note.message.split(":")[0]) for note in migration.notes]
    assert notes == [
        (2, "namespace"),
        (2, "errexit"),
        (2, "resources= is not a dict literal of request_*/limit_* keys"),
        (3, "startup_timeout_seconds=10 is outside ComposerPodOperator's 30..10800 s"),
        (3, "is_delete_operator_pod is not True or False here"),
        (4, "startup_timeout_seconds"),
        (4, "config_file removed"),
    ]
    assert "resources=RESOURCES" in migration.migrated and "is_delete_operator_pod=KEEP" in migration.migrated
    assert "startup_timeout_seconds=10" in migration.migrated
    assert "config_file" not in migration.migrated


def test_templates_and_days_ago():
    source = """\
        from airflow import DAG
        from airflow.utils.dates import days_ago
        with DAG("d", schedule_interval=None, start_date=days_ago(n + 1), concurrency=2) as dag:
            pass
        msg = "{{ execution_date }} {{ dag_run.execution_date }} {{ next_ds }} execution_date"
    """
    migration = migrate(source)
    assert 'start_date=pendulum.today("UTC").add(days=-(n + 1))' in migration.migrated
    assert "schedule=None" in migration.migrated and "max_active_tasks=2" in migration.migrated
    assert "days_ago" not in migration.migrated and "import pendulum" in migration.migrated
    # Only the variable is renamed: not an attribute of the same name, not text outside the template.
    assert '"{{ logical_date }} {{ dag_run.execution_date }} {{ next_ds }} execution_date"' in migration.migrated
    assert [note.message.split(":")[0] for note in migration.notes] == [
        "template variable `next_ds` is gone on Airflow 3.3, cncf-kubernetes 10.25, Composer 3"
    ]


def test_diff_by_default_write_on_request_and_idempotent(tmp_path):
    dag = tmp_path / "dag.py"
    original = "from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator\n"
    dag.write_text(original + "KubernetesPodOperator(task_id='t', image='i', startup_timeout_seconds=300)\n")
    status, out = run("migrate", str(dag), "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 1
    assert f"--- a/{dag}\n+++ b/{dag}\n" in out
    assert "+from airflow_provider_composer_kpo import ComposerPodOperator\n" in out
    assert dag.read_text().startswith(original)  # nothing written
    status, out = run("migrate", str(dag), "--write", "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 0 and f"{dag}: rewritten" in out
    assert "ComposerPodOperator(task_id='t'" in dag.read_text()
    status, out = run("migrate", str(dag), "--write", "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 0
    assert out.splitlines()[-1].startswith("composer-kpo migrate: rewrote 0 of 1 files")


def test_a_file_that_does_not_parse_is_never_touched(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"from airflow.contrib.operators import kubernetes_pod_operator\nx = (\n")
    before = broken.read_bytes()
    status, out = run("migrate", str(tmp_path), "--write", "--airflow", "3.3", "--cncf-kubernetes", "10.25")
    assert status == 1
    assert f"{broken}:2:1: not migrated: it does not parse" in out
    assert broken.read_bytes() == before


def test_without_libcst_migrate_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "libcst", None)
    monkeypatch.delitem(sys.modules, "airflow_provider_composer_kpo.tools.migrate", raising=False)
    assert run("migrate", str(tmp_path))[0] == 2
    assert "pip install 'airflow-provider-composer-kpo[migrate]'" in capsys.readouterr().err
    assert run("check", str(tmp_path))[0] == 0
