"""A corpus of bad operator inputs: each fails at DAG parse time, naming the parameter and a fix.

Nothing here talks to a cluster: the errors are raised while the operator is constructed, so no
pod can exist for any of them.
"""

from __future__ import annotations

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo import ComposerPodConfigError, ComposerPodOperator

BAD_INPUTS = [
    # (id, arguments, text the error must contain)
    ("empty image", {"image": ""}, "image=''"),
    ("image with space", {"image": "busybox 1.36"}, "whitespace"),
    ("image not a string", {"image": 42}, "must name an image"),
    ("name with slash", {"name": "etl/job"}, "name='etl/job'"),
    ("name too long", {"name": "x" * 221}, "up to 220"),
    ("namespace uppercase", {"namespace": "Composer"}, "namespace='Composer'"),
    ("namespace underscore", {"namespace": "user_workloads"}, "not a valid namespace"),
    ("namespace too long", {"namespace": "a" * 64}, "at most 63"),
    ("cmds as string", {"cmds": "echo hi"}, "is a string; pass a list"),
    ("arguments as string", {"arguments": "--date 2024"}, "arguments='--date 2024' is a string"),
    ("cmds with number", {"cmds": ["sleep", 5]}, "list of strings"),
    ("label value with space", {"labels": {"team": "data eng"}}, "value 'data eng' is invalid"),
    ("label value too long", {"labels": {"team": "x" * 64}}, "at most 63"),
    ("label value int", {"labels": {"version": 2}}, "quote numbers"),
    ("label key bad prefix", {"labels": {"Example.com/team": "x"}}, "invalid prefix"),
    ("label key empty name", {"labels": {"example.com/": "x"}}, "key 'example.com/' is invalid"),
    ("annotation value int", {"annotations": {"retries": 3}}, "value 3 is not a string"),
    ("annotations not dict", {"annotations": ["a"]}, "must be a dict"),
    ("pull policy lowercase", {"image_pull_policy": "always"}, "'Always', 'IfNotPresent', 'Never'"),
    ("service account underscore", {"service_account_name": "etl_sa"}, "service account name"),
    ("node selector value space", {"node_selector": {"pool": "a b"}}, "node label whose value"),
    ("cpu not a quantity", {"container_resources": k8s.V1ResourceRequirements(limits={"cpu": "two"})}, "quantity"),
    ("memory unit typo", {"container_resources": k8s.V1ResourceRequirements(requests={"memory": "1GiB"})}, "1GiB"),
    (
        "request above limit",
        {"container_resources": k8s.V1ResourceRequirements(requests={"memory": "2Gi"}, limits={"memory": "1Gi"})},
        "must not exceed the limit",
    ),
    ("grace period negative", {"termination_grace_period": -1}, "0 or more"),
    ("deadline float", {"active_deadline_seconds": 1.5}, "whole number"),
    ("startup timeout zero", {"startup_timeout_seconds": 0}, "startup_timeout_seconds=0"),
    ("startup timeout string", {"startup_timeout_seconds": "600"}, "not a whole number"),
    ("startup timeout huge", {"startup_timeout_seconds": 86400}, "outside 30..10800"),
    ("schedule timeout tiny", {"schedule_timeout_seconds": 1}, "schedule_timeout_seconds=1"),
    ("errexit policy typo", {"errexit_policy": "strict"}, "errexit_policy='strict'"),
    ("preflight typo", {"preflight": "yes"}, "preflight='yes'"),
    ("require without set -e", {"errexit_policy": "require", "cmds": ["sh", "-c", "false; true"]}, "set -eu"),
    ("legacy resources typo", {"resources": {"limit_memroy": "1G"}}, "limit_memroy"),
    (
        "both resource forms",
        {"resources": {"limit_memory": "1G"}, "container_resources": k8s.V1ResourceRequirements()},
        "both",
    ),
    ("finish action typo", {"on_finish_action": "delete"}, "on_finish_action='delete'"),
    ("bash length opens a Jinja comment", {"cmds": ["sh", "-c", "echo ${#HOME}"]}, "cmds[2] contains '{#'"),
]


@pytest.mark.parametrize(("arguments", "expected"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_at_parse_time_naming_the_task(arguments, expected):
    arguments = {"task_id": "load", "image": "busybox:1.36", **arguments}
    with pytest.raises(ComposerPodConfigError) as err:
        ComposerPodOperator(**arguments)
    assert "Task 'load'" in str(err.value)
    assert expected in str(err.value)


def test_corpus_is_large():
    assert len(BAD_INPUTS) >= 30


@pytest.mark.parametrize(
    "arguments",
    [
        {"namespace": "{{ var.value.ns }}"},
        {"image": "{{ params.image }}"},
        {"labels": {"run": "{{ ds }}"}},
        {"cmds": "{{ params.cmds }}"},
    ],
)
def test_templated_values_are_left_for_rendering(arguments):
    ComposerPodOperator(task_id="t", **{"image": "busybox:1.36", **arguments})


def test_raw_block_keeps_bash_length_usable():
    op = ComposerPodOperator(task_id="t", image="busybox:1.36", cmds=["sh", "-c", "{% raw %}echo ${#HOME}{% endraw %}"])
    op.render_template_fields({})
    assert op.cmds[2].endswith("echo ${#HOME}")


def test_good_values_pass():
    ComposerPodOperator(
        task_id="t",
        name="etl.job_1",
        image="us-docker.pkg.dev/p/r/img:1.0",
        namespace="composer-user-workloads",
        labels={"app.kubernetes.io/name": "etl", "empty": ""},
        annotations={"note": "free text, with spaces"},
        image_pull_policy="IfNotPresent",
        service_account_name="etl-sa",
        node_selector={"cloud.google.com/gke-nodepool": "default-pool"},
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "250m", "memory": "1Gi"}, limits={"memory": "2Gi"}
        ),
        termination_grace_period=0,
    )
