"""Pods the API server refuses to create: the task fails at once with the server's own reason.

Each test gets a namespace of its own (quota, admission policy and RBAC are set up there and
nowhere else, so the suites running beside it are not touched) and ends by checking that no pod
exists in it: a refused create leaves nothing behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as kube
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_provider_composer_kpo import ComposerPodOperator, PodStartupError

from .operator_harness import BUSYBOX, make_dag, run, run_deferred

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("composer_environment")]

POLICY_MESSAGE = "pods in this namespace must carry a team label"


@pytest.fixture
def own_namespace(core_v1: Any) -> Iterator[str]:
    name = f"composer-kpo-refused-{uuid.uuid4().hex[:8]}"
    core_v1.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    try:
        _ensure_default_service_account(core_v1, name)
        yield name
        assert core_v1.list_namespaced_pod(name).items == [], "a refused create left a pod behind"
    finally:
        core_v1.delete_namespace(name, grace_period_seconds=0)


def _ensure_default_service_account(core_v1: Any, namespace: str) -> None:
    """The ServiceAccount admission plugin refuses pods until ``default`` exists; make sure it does."""
    try:
        core_v1.create_namespaced_service_account(
            namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="default"))
        )
    except ApiException as error:
        if error.status != 409:
            raise


def composer_pod(namespace: str, **kwargs: Any) -> ComposerPodOperator:
    kwargs.setdefault("task_id", f"t-{uuid.uuid4().hex[:6]}")
    kwargs.setdefault("image", BUSYBOX)
    return ComposerPodOperator(dag=make_dag(), namespace=namespace, cmds=["sh", "-c", "true"], **kwargs)


def _no_pods_quota(core_v1: Any, namespace: str) -> None:
    quota = k8s.V1ResourceQuota(
        metadata=k8s.V1ObjectMeta(name="no-pods"), spec=k8s.V1ResourceQuotaSpec(hard={"pods": "0"})
    )
    core_v1.create_namespaced_resource_quota(namespace, quota)
    # The quota admits nothing once its controller has written its status; until then the server waits on it.
    deadline = time.monotonic() + 30
    while not (core_v1.read_namespaced_resource_quota("no-pods", namespace).status or k8s.V1ResourceQuotaStatus()).hard:
        assert time.monotonic() < deadline, "the quota controller never filled in the quota's status"
        time.sleep(0.5)


def test_an_exhausted_quota_fails_at_once_naming_the_quota(core_v1, own_namespace):
    _no_pods_quota(core_v1, own_namespace)
    started = time.monotonic()
    with pytest.raises(PodStartupError) as err:
        run(composer_pod(own_namespace))
    message = str(err.value)
    assert message.startswith(f"Kubernetes refused to create pod {own_namespace}/"), message
    assert "(403 Forbidden)" in message and "exceeded quota: no-pods" in message, message
    assert "deleted from outside" not in message
    assert err.value.reason == "Forbidden"
    assert time.monotonic() - started < 60  # not a startup timeout


def test_an_exhausted_quota_fails_a_deferrable_task_before_it_defers(core_v1, own_namespace):
    _no_pods_quota(core_v1, own_namespace)
    # run_deferred raises if the task never defers: the refusal is raised by the create itself.
    with pytest.raises(PodStartupError, match=r"\(403 Forbidden\): .*exceeded quota: no-pods"):
        run_deferred(composer_pod(own_namespace, deferrable=True))


@pytest.fixture
def team_label_policy(api_client: Any, core_v1: Any, own_namespace: str) -> Iterator[None]:
    """A ValidatingAdmissionPolicy, bound to the test's namespace only, that denies pods without a team label."""
    admission = kube.AdmissionregistrationV1Api(api_client)
    name = own_namespace  # cluster-scoped objects named after the namespace: unique per test
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                ]
            },
            "validations": [
                {
                    "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
                    "message": POLICY_MESSAGE,
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": own_namespace}}},
        },
    }
    admission.create_validating_admission_policy(policy)
    admission.create_validating_admission_policy_binding(binding)
    try:
        _wait_until_enforced(core_v1, own_namespace)
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def _wait_until_enforced(core_v1: Any, namespace: str) -> None:
    """The API server compiles a new policy in the background: dry-run a pod until it is denied."""
    probe = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="probe"),
        spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image=BUSYBOX)]),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            core_v1.create_namespaced_pod(namespace, probe, dry_run="All")
        except ApiException as error:
            if POLICY_MESSAGE in str(error.body):
                return
            raise
        assert time.monotonic() < deadline, "the admission policy was not enforced within 30 s"
        time.sleep(0.5)


@pytest.mark.usefixtures("team_label_policy")
def test_an_admission_denial_fails_at_once_with_the_policys_message(own_namespace):
    with pytest.raises(PodStartupError) as err:
        run(composer_pod(own_namespace))
    message = str(err.value)
    assert message.startswith(f"Kubernetes refused to create pod {own_namespace}/"), message
    assert "denied request" in message and POLICY_MESSAGE in message, message
    assert "deleted from outside" not in message


@pytest.mark.usefixtures("team_label_policy")
def test_a_pod_the_admission_policy_accepts_runs(own_namespace):
    run(composer_pod(own_namespace, labels={"team": "data"}, on_finish_action="delete_pod"))


@pytest.fixture
def read_only_kubeconfig(
    api_client: Any, core_v1: Any, kubeconfig_path: str, own_namespace: str, tmp_path: Path
) -> str:
    """A kubeconfig for a ServiceAccount that may read pods and events in the namespace, not create them."""
    rbac = kube.RbacAuthorizationV1Api(api_client)
    meta = k8s.V1ObjectMeta(name="reader")
    core_v1.create_namespaced_service_account(own_namespace, k8s.V1ServiceAccount(metadata=meta))
    rules = [
        k8s.V1PolicyRule(api_groups=[""], resources=["pods", "pods/log", "events"], verbs=["get", "list", "watch"])
    ]
    rbac.create_namespaced_role(own_namespace, k8s.V1Role(metadata=meta, rules=rules))
    subject = kube.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=own_namespace)
    role_ref = k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="reader")
    rbac.create_namespaced_role_binding(
        own_namespace, k8s.V1RoleBinding(metadata=meta, subjects=[subject], role_ref=role_ref)
    )
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
    token = core_v1.create_namespaced_service_account_token("reader", own_namespace, request).status.token
    admin = yaml.safe_load(Path(kubeconfig_path).read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": admin["clusters"][:1],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {"cluster": admin["clusters"][0]["name"], "user": "reader"}}],
        "current-context": "reader",
    }
    path = tmp_path / "reader.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_an_rbac_forbidden_create_fails_at_once_naming_the_missing_permission(own_namespace, read_only_kubeconfig):
    op = composer_pod(own_namespace, config_file=read_only_kubeconfig, preflight="off")
    with pytest.raises(PodStartupError) as err:
        run(op)
    message = str(err.value)
    assert message.startswith(f"Kubernetes refused to create pod {own_namespace}/"), message
    assert "(403 Forbidden)" in message, message
    assert f'"system:serviceaccount:{own_namespace}:reader" cannot create resource "pods"' in message, message
