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


def test_xcom_push_becomes_do_xcom_push_wherever_it_is_written():
    """Airflow 1.10's xcom_push: as a keyword, in a **dict, and on GKEStartPodOperator (a KPO subclass)."""
    source = """\
        from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator
        from airflow.providers.google.cloud.operators.kubernetes_engine import GKEStartPodOperator

        POD = {'namespace': 'n', 'xcom_push': True, 'is_delete_operator_pod': False, 'resources': {'limit_cpu': '1'}}
        KubernetesPodOperator(task_id="a", image="i", xcom_push=True)
        KubernetesPodOperator(task_id="b", image="i", **POD)
        KubernetesPodOperator(task_id="c", image="i", **{"xcom_push": False, "namespace": "n"})
        GKEStartPodOperator(task_id="d", project_id="p", location="l", cluster_name="c", image="i", xcom_push=True,
                            resources={"limit_memory": "1Gi"}, is_delete_operator_pod=True)
    """
    migration = migrate(source, AIRFLOW_2)
    migrated = migration.migrated
    assert "xcom_push=" not in migrated.replace("do_xcom_push=", "")
    assert 'ComposerPodOperator(task_id="a", image="i", do_xcom_push=True)' in migrated
    assert (
        "POD = {'namespace': 'n', 'do_xcom_push': True, 'on_finish_action': \"keep_pod\", "
        "'container_resources': k8s.V1ResourceRequirements(limits={'cpu': '1'})}"
    ) in migrated
    assert '**{"do_xcom_push": False, "namespace": "n"}' in migrated
    # GKE's operator stays (it runs the pod on its own cluster); the KubernetesPodOperator arguments it passes on move.
    gke = migrated[migrated.index("GKEStartPodOperator(") :]
    assert 'image="i", do_xcom_push=True' in gke
    assert (
        'container_resources=k8s.V1ResourceRequirements(limits={"memory": "1Gi"}), on_finish_action="delete_pod")'
        in gke
    )
    notes = [note.message for note in migration.notes]
    assert any(message.startswith("GKEStartPodOperator kept:") for message in notes)
    # The namespace given in the dict counts: no note says it is missing for task b.
    assert [note.line for note in migration.notes if note.message.startswith("namespace")] == [5]


def test_gke_keeps_is_delete_operator_pod_where_on_finish_action_is_unknown():
    source = """\
        from airflow.providers.google.cloud.operators.kubernetes_engine import GKEStartPodOperator
        GKEStartPodOperator(task_id="d", project_id="p", location="l", cluster_name="c", is_delete_operator_pod=True)
    """
    assert "is_delete_operator_pod=True" in migrate(source, PROVIDER_6).migrated
    assert 'on_finish_action="delete_pod"' in migrate(source, AIRFLOW_2).migrated


def test_airflow_sdk_imports_move_to_airflow_2():
    source = """\
        from airflow.sdk import DAG, Variable, task  # the Task SDK
        from airflow.sdk import dag as dag_decorator

        with DAG("d", schedule=None) as dag:
            task(lambda: Variable.get("key", default="x"))()
    """
    migrated = migrate(source, AIRFLOW_2).migrated
    assert migrated.startswith(
        "from airflow import DAG  # the Task SDK\n"
        "from airflow.models import Variable\n"
        "from airflow.decorators import task\n"
        "from airflow.decorators import dag as dag_decorator\n"
    )
    assert "airflow.sdk" not in migrated
    assert 'Variable.get("key", default_var="x")' in migrated  # Airflow 2 names it default_var
    assert migrate(source, NEWEST).migrated == textwrap.dedent(source)


def test_an_import_that_only_partly_moves_is_split():
    source = """\
        from airflow.sdk import DAG, asset, task

        DAG, asset, task
    """
    migrated = migrate(source, AIRFLOW_2).migrated
    assert migrated.startswith(
        "from airflow.sdk import asset\nfrom airflow import DAG\nfrom airflow.decorators import task\n"
    )


def test_airflow_1_kubernetes_classes_become_client_models():
    source = """\
        from airflow.contrib.kubernetes.pod import Port, Resources
        from airflow.contrib.kubernetes.pod_runtime_info_env import PodRuntimeInfoEnv
        from airflow.contrib.kubernetes.volume import Volume
        from airflow.contrib.kubernetes.volume_mount import VolumeMount

        CONFIGS = {'persistentVolumeClaim': {'claimName': 'claim'}}
        mount = VolumeMount('data', mount_path='/data', sub_path=None, read_only=True)
        volume = Volume(name='data', configs=CONFIGS)
        inline = Volume('tmp', {'emptyDir': {}})
        port = Port('http', 80)
        resources = Resources(request_memory='1Gi', limit_cpu='2', limit_gpu=1)
        env = PodRuntimeInfoEnv('POD_IP', 'status.podIP')
    """
    migration = migrate(source, AIRFLOW_2)
    assert not migration.notes
    assert "from kubernetes.client.models import " in migration.migrated
    assert "airflow.contrib" not in migration.migrated
    made: dict = {}
    exec(compile(migration.migrated, "dag.py", "exec"), made)  # the Kubernetes client's models, nothing else
    mount = made["mount"]
    assert (mount.name, mount.mount_path, mount.sub_path, mount.read_only) == ("data", "/data", None, True)
    assert made["volume"].persistent_volume_claim == {"claimName": "claim"}
    assert made["inline"].name == "tmp" and made["inline"].empty_dir == {}
    assert (made["port"].name, made["port"].container_port) == ("http", 80)
    assert made["resources"].requests == {"memory": "1Gi"}
    assert made["resources"].limits == {"cpu": "2", "nvidia.com/gpu": 1}
    assert made["env"].value_from.field_ref.field_path == "status.podIP"


def test_resources_given_as_the_old_class_becomes_container_resources():
    source = """\
        from airflow.contrib.kubernetes import pod
        from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator
        KubernetesPodOperator(task_id="t", image="i", resources=pod.Resources(limit_memory="1Gi"))
    """
    migration = migrate(source, AIRFLOW_2)
    assert 'container_resources=V1ResourceRequirements(limits={"memory": "1Gi"})' in migration.migrated
    assert not [note for note in migration.notes if note.message.startswith("resources=")]


def test_an_old_class_that_cannot_be_rewritten_safely_is_noted():
    source = """\
        from airflow.kubernetes.volume import Volume
        volume = Volume(name="v", configs=load_configs())
    """
    migration = migrate(source, AIRFLOW_2)
    assert [note.message.split(":")[0] for note in migration.notes] == [
        "Volume(configs=...) is not a dict literal of the file"
    ]


def test_import_guards_left_empty_by_moved_imports_go():
    source = """\
        try:
            from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        except ImportError:
            # older Airflow
            try:
                from airflow.providers.cncf.kubernetes.operators.kubernetes_pod import KubernetesPodOperator
            except ImportError:
                from airflow.contrib.operators.kubernetes_pod_operator import KubernetesPodOperator
        try:
            import optional_thing
        except ImportError:
            optional_thing = None

        KubernetesPodOperator(task_id="t", image="i", namespace="n", startup_timeout_seconds=300)
    """
    migrated = migrate(source).migrated
    assert migrated == (
        "from airflow_provider_composer_kpo import ComposerPodOperator\n"
        "try:\n    import optional_thing\nexcept ImportError:\n    optional_thing = None\n\n"
        'ComposerPodOperator(task_id="t", image="i", namespace="n", startup_timeout_seconds=300)\n'
    )
