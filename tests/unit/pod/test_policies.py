"""Pure policy modules: timeouts, legacy resources, finish action, Composer facts."""

from __future__ import annotations

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.platform.composer import composer_major_version, secret_fix_command
from airflow_provider_composer_kpo.pod.finish_action import (
    finish_action_problem,
    resolve_on_finish_action,
    should_delete_pod,
)
from airflow_provider_composer_kpo.pod.resolved import Resolved
from airflow_provider_composer_kpo.pod.resources import (
    legacy_resources_to_requirements,
    resolve_container_resources,
    resources_problem,
)
from airflow_provider_composer_kpo.pod.timeouts import resolve_schedule_timeout, timeout_problem, timeouts_problem


class TestTimeouts:
    def test_valid_value_has_no_problem(self):
        assert timeout_problem("startup_timeout_seconds", 600) is None
        assert timeouts_problem(600, None) is None

    def test_message_names_parameter_value_and_fix(self):
        message = timeout_problem("startup_timeout_seconds", 5)
        assert message is not None and message.startswith("startup_timeout_seconds=5 ")
        assert "30..10800" in message

    def test_the_startup_timeout_is_judged_first(self):
        assert timeouts_problem(5, 1).startswith("startup_timeout_seconds=5 ")
        assert timeouts_problem(600, 1).startswith("schedule_timeout_seconds=1 ")

    def test_schedule_timeout_follows_the_startup_timeout_unless_given(self):
        assert resolve_schedule_timeout(300, None) == 300
        assert resolve_schedule_timeout(300, 900) == 900


class TestLegacyResources:
    def test_every_key_maps(self):
        req = legacy_resources_to_requirements(
            {
                "request_memory": "1Gi",
                "request_cpu": "500m",
                "request_ephemeral_storage": "1Gi",
                "limit_memory": "2Gi",
                "limit_cpu": 1,
                "limit_ephemeral_storage": "2Gi",
                "limit_gpu": 1,
            },
        )
        assert req.requests == {"memory": "1Gi", "cpu": "500m", "ephemeral-storage": "1Gi"}
        assert req.limits == {"memory": "2Gi", "cpu": "1", "ephemeral-storage": "2Gi", "nvidia.com/gpu": "1"}

    def test_none_values_are_skipped(self):
        req = legacy_resources_to_requirements({"limit_memory": "1G", "limit_cpu": None})
        assert req == k8s.V1ResourceRequirements(limits={"memory": "1G"})

    def test_not_a_dict(self):
        assert "must be a dict" in resources_problem(["limit_memory"])

    def test_resolved_with_a_deprecation_only_for_the_dict(self):
        given = k8s.V1ResourceRequirements(limits={"cpu": "1"})
        assert resolve_container_resources(given, None) == Resolved(given)
        resolved = resolve_container_resources(None, {"limit_cpu": "1"})
        assert resolved.value == given
        assert (
            resolved.deprecation is not None
            and "container_resources=k8s.V1ResourceRequirements" in resolved.deprecation
        )


class TestFinishAction:
    def test_default(self):
        assert resolve_on_finish_action(None, None) == Resolved("delete_pod")

    def test_the_boolean_resolves_with_a_deprecation(self):
        resolved = resolve_on_finish_action(None, False)
        assert resolved.value == "keep_pod"
        assert resolved.deprecation is not None and resolved.deprecation.startswith(
            "is_delete_operator_pod is deprecated"
        )

    def test_problems(self):
        assert finish_action_problem("delete_succeeded_pod", None) is None
        assert finish_action_problem("delete").startswith("on_finish_action='delete' is not one of")
        assert "contradicts" in finish_action_problem("keep_pod", True)

    @pytest.mark.parametrize(
        ("action", "phase", "delete"),
        [
            ("delete_pod", "Failed", True),
            ("delete_succeeded_pod", "Succeeded", True),
            ("delete_succeeded_pod", "Failed", False),
            ("keep_pod", "Succeeded", False),
        ],
    )
    def test_should_delete_pod(self, action, phase, delete):
        pod = k8s.V1Pod(status=k8s.V1PodStatus(phase=phase))
        assert should_delete_pod(action, pod) is delete

    def test_delete_succeeded_without_remote_pod_keeps_it(self):
        assert should_delete_pod("delete_succeeded_pod", None) is False


class TestComposerFacts:
    @pytest.mark.parametrize(
        ("value", "major"), [("2.1.10", 2), ("3.0.1", 3), ("1.16.5", 1), ("", None), ("preview", None)]
    )
    def test_major_version(self, value, major):
        assert composer_major_version({"COMPOSER_VERSION": value}) == major

    def test_not_on_composer(self):
        assert composer_major_version({}) is None

    def test_secret_hint_on_composer_3_uses_gcloud(self):
        hint = secret_fix_command("airflow-secrets", "ns", keys=["k"], environ={"COMPOSER_VERSION": "3.0.1"})
        assert "gcloud beta composer environments user-workloads-secrets create" in hint

    def test_secret_hint_elsewhere_uses_kubectl(self):
        hint = secret_fix_command("airflow-secrets", "ns", keys=["k"], environ={"COMPOSER_VERSION": "2.1.10"})
        assert hint == "kubectl create secret generic airflow-secrets -n ns --from-literal=k=VALUE"

    def test_a_mounted_object_without_named_keys_is_created_from_a_file(self):
        c2 = {"COMPOSER_VERSION": "2.1.10"}
        assert secret_fix_command("creds", "ns", mounted=True, environ=c2).endswith("--from-file=KEY=PATH")
        assert secret_fix_command("creds", "ns", environ=c2).endswith("--from-literal=KEY=VALUE")
        hint = secret_fix_command("creds", "ns", keys=["a.json", "b"], file_keys=["a.json"], mounted=True, environ=c2)
        assert hint.endswith("--from-file=a.json=PATH --from-literal=b=VALUE")  # named keys keep their kind
