"""One table of ComposerPodOperator arguments for the operator's tests, ``composer-kpo check``'s and Airflow's.

:data:`BAD_INPUTS` fail when the task is built, at DAG parse time; :data:`GOOD_INPUTS` load on every
supported version; :data:`VERSIONED_INPUTS` load on some versions only (a keyword added later).
:func:`dag_source` writes a row as a DAG file, the way a person would.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from kubernetes.client import models as k8s

#: Who refuses the row: the operator's own checks (ComposerPodConfigError naming the task), or Airflow's
#: BaseOperator for a keyword no operator takes ("Invalid arguments were passed", a TypeError on Airflow 3).
OPERATOR, AIRFLOW = "operator", "airflow"


class Row(NamedTuple):
    id: str
    arguments: dict[str, Any]
    #: Text of the error the DAG import raises; check's message has it too when the operator's rule reports it.
    expected: str = ""
    raised_by: str = OPERATOR
    #: Text check's fix must have: the keyword it suggests.
    hint: str = ""
    #: False: a value check cannot read without running the file; it then reports nothing (a known limit).
    static: bool = True


BAD_INPUTS = [
    Row("empty image", {"image": ""}, "image=''"),
    Row("image with space", {"image": "busybox 1.36"}, "whitespace"),
    Row("image not a string", {"image": 42}, "must name an image"),
    Row("name with slash", {"name": "etl/job"}, "name='etl/job'"),
    Row("name too long", {"name": "x" * 221}, "up to 220"),
    Row("namespace uppercase", {"namespace": "Composer"}, "namespace='Composer'"),
    Row("namespace underscore", {"namespace": "user_workloads"}, "not a valid namespace"),
    Row("namespace of a task id", {"namespace": "new_pod_task"}, "namespace='new_pod_task' is not a valid namespace"),
    Row("namespace too long", {"namespace": "a" * 64}, "at most 63"),
    Row("cmds as string", {"cmds": "echo hi"}, "is a string; pass a list"),
    Row("arguments as string", {"arguments": "--date 2024"}, "arguments='--date 2024' is a string"),
    Row("cmds with number", {"cmds": ["sleep", 5]}, "list of strings"),
    Row("label value with space", {"labels": {"team": "data eng"}}, "value 'data eng' is invalid"),
    Row("label value too long", {"labels": {"team": "x" * 64}}, "at most 63"),
    Row("label value int", {"labels": {"version": 2}}, "quote numbers"),
    Row("label key bad prefix", {"labels": {"Example.com/team": "x"}}, "invalid prefix"),
    Row("label key empty name", {"labels": {"example.com/": "x"}}, "key 'example.com/' is invalid"),
    Row("annotation value int", {"annotations": {"retries": 3}}, "value 3 is not a string"),
    Row("annotations not dict", {"annotations": ["a"]}, "must be a dict"),
    Row("pull policy lowercase", {"image_pull_policy": "always"}, "'Always', 'IfNotPresent', 'Never'"),
    Row("service account underscore", {"service_account_name": "etl_sa"}, "service account name"),
    Row("node selector value space", {"node_selector": {"pool": "a b"}}, "node label whose value"),
    Row("cpu not a quantity", {"container_resources": k8s.V1ResourceRequirements(limits={"cpu": "two"})}, "quantity"),
    Row("memory unit typo", {"container_resources": k8s.V1ResourceRequirements(requests={"memory": "1GiB"})}, "1GiB"),
    Row(
        "request above limit",
        {"container_resources": k8s.V1ResourceRequirements(requests={"memory": "2Gi"}, limits={"memory": "1Gi"})},
        "must not exceed the limit",
    ),
    Row("container_resources as the legacy dict", {"container_resources": {"limit_memory": "1G"}}, "V1Resource"),
    Row("grace period negative", {"termination_grace_period": -1}, "0 or more"),
    Row("deadline float", {"active_deadline_seconds": 1.5}, "whole number"),
    Row(
        "deadline as a timedelta",
        {"active_deadline_seconds": datetime.timedelta(hours=1)},
        "whole number",
        static=False,  # a call: check leaves it to the operator
    ),
    Row("startup timeout zero", {"startup_timeout_seconds": 0}, "startup_timeout_seconds=0"),
    Row("startup timeout string", {"startup_timeout_seconds": "600"}, "not a whole number"),
    Row("startup timeout huge", {"startup_timeout_seconds": 86400}, "outside 30..10800"),
    Row("schedule timeout tiny", {"schedule_timeout_seconds": 1}, "schedule_timeout_seconds=1"),
    Row("errexit policy typo", {"errexit_policy": "strict"}, "errexit_policy='strict'"),
    Row("preflight typo", {"preflight": "yes"}, "preflight='yes'"),
    Row(
        "require without set -e",
        {"errexit_policy": "require", "cmds": ["sh", "-c", "false; true"]},
        "errexit_policy='require'",
    ),
    Row("legacy resources typo", {"resources": {"limit_memroy": "1G"}}, "limit_memroy"),
    Row("legacy resources near miss", {"resources": {"limit_memry": "1G"}}, "(did you mean 'limit_memory'?)"),
    Row("legacy resources not a dict", {"resources": ["limit_memory"]}, "must be a dict"),
    Row(
        "both resource forms",
        {"resources": {"limit_memory": "1G"}, "container_resources": k8s.V1ResourceRequirements()},
        "both",
    ),
    Row("finish action typo", {"on_finish_action": "delete"}, "on_finish_action='delete'"),
    Row(
        "finish action contradicted",
        {"on_finish_action": "keep_pod", "is_delete_operator_pod": True},
        "is_delete_operator_pod=True contradicts on_finish_action='keep_pod'",
    ),
    Row("bash length opens a Jinja comment", {"cmds": ["sh", "-c", "echo ${#HOME}"]}, "cmds[2] contains '{#'"),
    Row(
        "keyword without its unit",
        {"startup_timeout": 900},
        "startup_timeout",
        AIRFLOW,
        hint="startup_timeout_seconds",
    ),
    Row("keyword in the plural", {"namespaces": "team"}, "namespaces", AIRFLOW, hint="namespace"),
    Row("keyword misspelled", {"deferable": True}, "deferable", AIRFLOW, hint="deferrable"),
    Row("Airflow 1.10 xcom_push", {"xcom_push": True}, "xcom_push", AIRFLOW, hint="do_xcom_push"),
]

GOOD_INPUTS = [
    Row("minimal", {}),
    Row("templated namespace", {"namespace": "{{ var.value.ns }}"}),
    Row("templated image", {"image": "{{ params.image }}"}),
    Row("templated label", {"labels": {"run": "{{ ds }}"}}),
    Row("templated cmds", {"cmds": "{{ params.cmds }}"}),
    Row("raw block around bash length", {"cmds": ["sh", "-c", "{% raw %}echo ${#HOME}{% endraw %}"]}),
    Row("one && list", {"cmds": ["sh", "-c", "cd /data && ls"]}),
    Row(
        "every checked value valid",
        {
            "name": "etl.job_1",
            "image": "us-docker.pkg.dev/p/r/img:1.0",
            "namespace": "composer-user-workloads",
            "labels": {"app.kubernetes.io/name": "etl", "empty": ""},
            "annotations": {"note": "free text, with spaces"},
            "image_pull_policy": "IfNotPresent",
            "service_account_name": "etl-sa",
            "node_selector": {"cloud.google.com/gke-nodepool": "default-pool"},
            "container_resources": k8s.V1ResourceRequirements(
                requests={"cpu": "250m", "memory": "1Gi"}, limits={"memory": "2Gi"}
            ),
            "termination_grace_period": 0,
        },
    ),
    Row("legacy resources", {"resources": {"limit_memory": "1G", "request_cpu": "100m"}}),
    Row("legacy finish flag", {"is_delete_operator_pod": False}),
    Row("finish flag and action agree", {"is_delete_operator_pod": False, "on_finish_action": "keep_pod"}),
    Row("choices", {"on_finish_action": "keep_pod", "errexit_policy": "off", "preflight": "warn"}),
    Row("timeouts", {"startup_timeout_seconds": 900, "schedule_timeout_seconds": 300}),
    Row("BaseOperator keywords", {"retries": 2, "do_xcom_push": True, "owner": "data", "pool_slots": 1}),
]

#: Keywords that came in a later provider or Airflow: whether they load depends on the installed versions.
VERSIONED_INPUTS = [
    Row("deferrable (cncf-kubernetes 5.2)", {"deferrable": False}),
    Row("logging_interval (cncf-kubernetes 8.0)", {"logging_interval": 30}),
    Row("automount_service_account_token (cncf-kubernetes 10.5)", {"automount_service_account_token": True}),
    Row("task_display_name (Airflow 2.9)", {"task_display_name": "Load the data"}),
]

_DAG = """\
import datetime

import pendulum
from airflow import DAG
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodOperator

with DAG(dag_id={dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    {task}
"""


def source_of(value: Any) -> str:
    """Return Python source for ``value`` as a DAG file writes it: literals, and ``k8s.V1...(...)`` for models."""
    if hasattr(value, "openapi_types"):
        fields = [(name, getattr(value, name)) for name in value.openapi_types]
        written = ", ".join(f"{name}={source_of(item)}" for name, item in fields if item is not None)
        return f"k8s.{type(value).__name__}({written})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{source_of(key)}: {source_of(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(source_of(item) for item in value) + "]"
    return repr(value)  # str, numbers, bools, None, datetime.timedelta


def dag_source(dag_id: str, arguments: dict[str, Any], *, mapped: bool = False) -> str:
    """Return a DAG file with one ComposerPodOperator task (``task_id="load"``) built from ``arguments``.

    ``mapped``: a mapped task, ``.partial(...)`` with the arguments and ``.expand(env_vars=...)``.
    """
    arguments = {"task_id": "load", "image": "busybox:1.36", **arguments}
    written = ", ".join(f"{name}={source_of(value)}" for name, value in arguments.items())
    task = (
        f"ComposerPodOperator.partial({written}).expand(env_vars=[{{'SHARD': '0'}}, {{'SHARD': '1'}}])"
        if mapped
        else f"ComposerPodOperator({written})"
    )
    return _DAG.format(dag_id=dag_id, task=task)
