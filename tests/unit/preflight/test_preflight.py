from __future__ import annotations

import base64
import logging
import pickle

import pytest
from kubernetes.client import AuthorizationV1Api, CoreV1Api
from kubernetes.client import models as k8s
from kubernetes.client.rest import ApiException

from airflow_provider_composer_kpo.exceptions import PodPreflightError
from airflow_provider_composer_kpo.findings import Finding
from airflow_provider_composer_kpo.platform.composer import config_map_fix_command, secret_fix_command
from airflow_provider_composer_kpo.preflight.checks import (
    CONFIG_MAP,
    SECRET,
    ObjectUse,
    PreflightMode,
    format_problems,
    pod_references,
    run_preflight,
)

NS = "team-ns"
COMPOSER_3 = {"COMPOSER_VERSION": "3.0.1"}
COMPOSER_2 = {"COMPOSER_VERSION": "2.9.7"}
NODE_POOL = "cloud.google.com/gke-nodepool"
SECRET_VALUE = "super-secret-password-42"
SECRET_VALUE_B64 = base64.b64encode(SECRET_VALUE.encode()).decode()
EVERYTHING = k8s.V1ResourceRule(
    api_groups=[""],
    resources=["pods", "pods/log", "pods/exec", "events"],
    verbs=["create", "get", "list", "watch", "delete"],
)


# --- building pods --------------------------------------------------------------------------------


def secret_env(env_name: str, secret: str, key: str, optional: bool | None = None) -> k8s.V1EnvVar:
    ref = k8s.V1SecretKeySelector(name=secret, key=key, optional=optional)
    return k8s.V1EnvVar(name=env_name, value_from=k8s.V1EnvVarSource(secret_key_ref=ref))


def config_map_env(env_name: str, config_map: str, key: str, optional: bool | None = None) -> k8s.V1EnvVar:
    ref = k8s.V1ConfigMapKeySelector(name=config_map, key=key, optional=optional)
    return k8s.V1EnvVar(name=env_name, value_from=k8s.V1EnvVarSource(config_map_key_ref=ref))


def container(name: str = "base", env=None, env_from=None) -> k8s.V1Container:
    return k8s.V1Container(name=name, image="busybox", env=env, env_from=env_from)


def make_pod(*containers: k8s.V1Container, namespace: str = NS, **spec) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="task-pod", namespace=namespace),
        spec=k8s.V1PodSpec(containers=list(containers) or [container()], **spec),
    )


def affinity(*terms: list[k8s.V1NodeSelectorRequirement]) -> k8s.V1Affinity:
    selector = k8s.V1NodeSelector(node_selector_terms=[k8s.V1NodeSelectorTerm(match_expressions=t) for t in terms])
    return k8s.V1Affinity(
        node_affinity=k8s.V1NodeAffinity(required_during_scheduling_ignored_during_execution=selector)
    )


def requirement(key: str, operator: str, *values: str) -> k8s.V1NodeSelectorRequirement:
    return k8s.V1NodeSelectorRequirement(key=key, operator=operator, values=list(values) or None)


# --- a fake cluster -------------------------------------------------------------------------------


class FakeCluster:
    """CoreV1Api and AuthorizationV1Api mocks answering from plain dicts with real model objects."""

    def __init__(self, mocker):
        self.namespaces = {NS}
        self.secrets: dict[str, dict[str, str]] = {}
        self.config_maps: dict[str, dict[str, str]] = {}
        self.service_accounts = {"default"}
        self.nodes: list[tuple[str, dict[str, str]]] = [("node-1", {NODE_POOL: "default-pool"})]
        self.forbidden: set[str] = set()  # "Namespace", "Secret/name", "nodes", "rules", ...
        self.rules = [EVERYTHING]
        self.incomplete = False
        self.access_allowed: dict[str, bool] = {}  # "verb resource[/sub]" -> SelfSubjectAccessReview answer
        self.core_v1 = mocker.Mock(spec=CoreV1Api)
        self.core_v1.read_namespace.side_effect = self._read_namespace
        self.core_v1.read_namespaced_secret.side_effect = self._read_secret
        self.core_v1.read_namespaced_config_map.side_effect = self._read_config_map
        self.core_v1.read_namespaced_service_account.side_effect = self._read_service_account
        self.core_v1.list_node.side_effect = self._list_node
        self.authorization_v1 = mocker.Mock(spec=AuthorizationV1Api)
        self.authorization_v1.create_self_subject_rules_review.side_effect = self._rules_review
        self.authorization_v1.create_self_subject_access_review.side_effect = self._access_review

    def run(self, pod: k8s.V1Pod, *, need_exec: bool = False, environ=None) -> list[Finding]:
        return run_preflight(pod, self.core_v1, self.authorization_v1, need_exec=need_exec, environ=environ or {})

    def _check(self, what: str, exists: bool) -> None:
        if what in self.forbidden:
            raise ApiException(status=403, reason="Forbidden")
        if not exists:
            raise ApiException(status=404, reason="Not Found")

    def _read_namespace(self, name):
        self._check("Namespace", name in self.namespaces)
        return k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name))

    def _read_secret(self, name, namespace):
        assert namespace == NS
        self._check(f"Secret/{name}", name in self.secrets)
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in self.secrets[name].items()}
        return k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), data=encoded)

    def _read_config_map(self, name, namespace):
        assert namespace == NS
        self._check(f"ConfigMap/{name}", name in self.config_maps)
        return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data=dict(self.config_maps[name]))

    def _read_service_account(self, name, namespace):
        self._check(f"ServiceAccount/{name}", name in self.service_accounts)
        return k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=name, namespace=namespace))

    def _list_node(self):
        self._check("nodes", True)
        items = [k8s.V1Node(metadata=k8s.V1ObjectMeta(name=n, labels=labels)) for n, labels in self.nodes]
        return k8s.V1NodeList(items=items)

    def _rules_review(self, body):
        assert body.spec.namespace == NS
        self._check("rules", True)
        status = k8s.V1SubjectRulesReviewStatus(
            resource_rules=self.rules, non_resource_rules=[], incomplete=self.incomplete
        )
        return k8s.V1SelfSubjectRulesReview(spec=body.spec, status=status)

    def _access_review(self, body):
        attributes = body.spec.resource_attributes
        label = f"{attributes.verb} {attributes.resource}" + (
            f"/{attributes.subresource}" if attributes.subresource else ""
        )
        self._check(f"access/{label}", True)
        status = k8s.V1SubjectAccessReviewStatus(allowed=self.access_allowed.get(label, False))
        return k8s.V1SelfSubjectAccessReview(spec=body.spec, status=status)


@pytest.fixture
def cluster(mocker) -> FakeCluster:
    return FakeCluster(mocker)


def only(problems: list[Finding]) -> Finding:
    assert len(problems) == 1, problems
    return problems[0]


# --- pod_references -------------------------------------------------------------------------------


class TestPodReferences:
    def test_env_secret_key_ref(self):
        refs = pod_references(make_pod(container(env=[secret_env("SQL_CONN", "airflow-db", "sql_alchemy_conn")])))
        assert refs.objects == (ObjectUse(SECRET, "airflow-db", ("sql_alchemy_conn",), False, "env SQL_CONN"),)

    def test_env_config_map_key_ref_keeps_optional(self):
        pod = make_pod(container(env=[config_map_env("MODE", "settings", "mode", optional=True)]))
        assert pod_references(pod).objects == (ObjectUse(CONFIG_MAP, "settings", ("mode",), True, "env MODE"),)

    def test_env_from_secret_and_config_map(self):
        env_from = [
            k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name="creds")),
            k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name="settings", optional=True)),
        ]
        assert pod_references(make_pod(container(env_from=env_from))).objects == (
            ObjectUse(SECRET, "creds", (), False, "envFrom"),
            ObjectUse(CONFIG_MAP, "settings", (), True, "envFrom"),
        )

    def test_secret_and_config_map_volumes_with_items(self):
        volumes = [
            k8s.V1Volume(
                name="secret-vol",
                secret=k8s.V1SecretVolumeSource(
                    secret_name="tls",
                    items=[k8s.V1KeyToPath(key="tls.crt", path="c"), k8s.V1KeyToPath(key="tls.key", path="k")],
                ),
            ),
            k8s.V1Volume(name="cm-vol", config_map=k8s.V1ConfigMapVolumeSource(name="settings")),
        ]
        base = container()
        base.volume_mounts = [k8s.V1VolumeMount(name="secret-vol", mount_path="/etc/tls")]
        # The mount path is what the DAG says; the volume name may be generated (secretvol<uuid>).
        assert pod_references(make_pod(base, volumes=volumes)).objects == (
            ObjectUse(SECRET, "tls", ("tls.crt", "tls.key"), False, "volume mounted at /etc/tls", files=True),
            ObjectUse(CONFIG_MAP, "settings", (), False, "volume cm-vol (not mounted)", files=True),
        )

    def test_projected_volume_sources(self):
        sources = [
            k8s.V1VolumeProjection(
                secret=k8s.V1SecretProjection(name="token", items=[k8s.V1KeyToPath(key="t", path="t")])
            ),
            k8s.V1VolumeProjection(config_map=k8s.V1ConfigMapProjection(name="ca", optional=True)),
            k8s.V1VolumeProjection(service_account_token=k8s.V1ServiceAccountTokenProjection(path="sa")),
        ]
        volume = k8s.V1Volume(name="bundle", projected=k8s.V1ProjectedVolumeSource(sources=sources))
        assert pod_references(make_pod(volumes=[volume])).objects == (
            ObjectUse(SECRET, "token", ("t",), False, "volume bundle (not mounted)", files=True),
            ObjectUse(CONFIG_MAP, "ca", (), True, "volume bundle (not mounted)", files=True),
        )

    def test_image_pull_secrets(self):
        refs = pod_references(make_pod(image_pull_secrets=[k8s.V1LocalObjectReference(name="registry")]))
        assert refs.image_pull_secrets == ("registry",)
        assert refs.objects == (ObjectUse(SECRET, "registry", (), False, "imagePullSecrets"),)

    def test_init_containers_are_read_and_named(self):
        pod = make_pod(
            container(env=[secret_env("A", "main-secret", "a")]),
            init_containers=[container("init-db", env=[secret_env("B", "init-secret", "b")])],
        )
        used_by = [use.used_by for use in pod_references(pod).objects]
        assert used_by == ["env B in init container init-db", "env A in container base"]

    def test_service_account_defaults_to_default(self):
        assert pod_references(make_pod()).service_account == "default"
        assert pod_references(make_pod(service_account_name="runner")).service_account == "runner"

    def test_node_selector_and_required_affinity_terms(self):
        terms = [requirement("gpu", "In", "a100")], [requirement("tier", "Exists")]
        refs = pod_references(make_pod(node_selector={NODE_POOL: "gpu-pool"}, affinity=affinity(*terms)))
        assert refs.node_selector == {NODE_POOL: "gpu-pool"}
        assert [t.match_expressions[0].key for t in refs.node_selector_terms] == ["gpu", "tier"]

    def test_namespace_from_metadata(self):
        assert pod_references(make_pod(namespace="elsewhere")).namespace == "elsewhere"


# --- Secrets, ConfigMaps, service account, namespace ---------------------------------------------


class TestObjects:
    def test_everything_present_means_no_problem(self, cluster):
        cluster.secrets["airflow-db"] = {"sql_alchemy_conn": SECRET_VALUE}
        assert cluster.run(make_pod(container(env=[secret_env("SQL_CONN", "airflow-db", "sql_alchemy_conn")]))) == []

    def test_missing_secret_is_fatal_with_create_command(self, cluster):
        problem = only(cluster.run(make_pod(container(env=[secret_env("SQL_CONN", "airflow-db", "sql_alchemy_conn")]))))
        assert problem == Finding(
            kind="Secret",
            name="airflow-db",
            namespace=NS,
            message="not found",
            used_by="env SQL_CONN",
            fix=f"kubectl create secret generic airflow-db -n {NS} --from-literal=sql_alchemy_conn=VALUE",
            fatal=True,
        )

    def test_missing_key_is_fatal_with_patch_command(self, cluster):
        cluster.secrets["airflow-db"] = {"other": SECRET_VALUE}
        problem = only(cluster.run(make_pod(container(env=[secret_env("SQL_CONN", "airflow-db", "sql_alchemy_conn")]))))
        assert (problem.kind, problem.message, problem.fatal) == ("Secret", "has no key 'sql_alchemy_conn'", True)
        patch = '{"stringData":{"sql_alchemy_conn":"VALUE"}}'
        assert problem.fix == f"kubectl patch secret airflow-db -n {NS} --type merge -p '{patch}'"

    def test_missing_key_in_volume_items(self, cluster):
        cluster.secrets["tls"] = {"tls.crt": "x"}
        items = [k8s.V1KeyToPath(key="tls.crt", path="c"), k8s.V1KeyToPath(key="tls.key", path="k")]
        volume = k8s.V1Volume(name="certs", secret=k8s.V1SecretVolumeSource(secret_name="tls", items=items))
        problem = only(cluster.run(make_pod(volumes=[volume])))
        assert (problem.message, problem.used_by) == ("has no key 'tls.key'", "volume certs (not mounted)")

    def test_optional_references_are_not_checked_nor_read(self, cluster):
        volume = k8s.V1Volume(name="v", secret=k8s.V1SecretVolumeSource(secret_name="absent", optional=True))
        pod = make_pod(container(env=[config_map_env("MODE", "absent-cm", "mode", optional=True)]), volumes=[volume])
        assert cluster.run(pod) == []
        cluster.core_v1.read_namespaced_secret.assert_not_called()
        cluster.core_v1.read_namespaced_config_map.assert_not_called()

    def test_missing_config_map(self, cluster):
        env_from = [k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name="settings"))]
        problem = only(cluster.run(make_pod(container(env_from=env_from))))
        assert (problem.kind, problem.name, problem.message, problem.used_by) == (
            "ConfigMap",
            "settings",
            "not found",
            "envFrom",
        )
        assert problem.fix == f"kubectl create configmap settings -n {NS} --from-literal=KEY=VALUE"

    def test_config_map_missing_key(self, cluster):
        cluster.config_maps["settings"] = {"mode": "fast"}
        problem = only(cluster.run(make_pod(container(env=[config_map_env("LEVEL", "settings", "level")]))))
        assert (problem.kind, problem.message) == ("ConfigMap", "has no key 'level'")
        assert problem.fix.startswith(f'kubectl patch configmap settings -n {NS} --type merge -p \'{{"data":')

    def test_missing_image_pull_secret_is_a_warning(self, cluster):
        problem = only(cluster.run(make_pod(image_pull_secrets=[k8s.V1LocalObjectReference(name="registry")])))
        assert (problem.fatal, problem.used_by) == (False, "imagePullSecrets")
        assert problem.fix.startswith(f"kubectl create secret docker-registry registry -n {NS} --docker-server=")

    def test_each_distinct_secret_is_read_once(self, cluster):
        cluster.secrets["shared"] = {"a": "1"}
        pod = make_pod(
            container(
                env=[secret_env("A", "shared", "a"), secret_env("B", "shared", "b")],
                env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name="shared"))],
            ),
            volumes=[k8s.V1Volume(name="v", secret=k8s.V1SecretVolumeSource(secret_name="shared"))],
        )
        problem = only(cluster.run(pod))
        assert cluster.core_v1.read_namespaced_secret.call_count == 1
        assert (problem.message, problem.used_by) == ("has no key 'b'", "env B")

    def test_missing_secret_lists_every_use_and_key(self, cluster):
        pod = make_pod(container(env=[secret_env("A", "creds", "user"), secret_env("B", "creds", "password")]))
        problem = only(cluster.run(pod))
        assert problem.used_by == "env A, env B"
        assert "--from-literal=user=VALUE --from-literal=password=VALUE" in problem.fix

    def test_missing_service_account(self, cluster):
        problem = only(cluster.run(make_pod(service_account_name="runner")))
        assert (problem.kind, problem.name, problem.used_by, problem.fatal) == (
            "ServiceAccount",
            "runner",
            "serviceAccountName",
            True,
        )
        assert problem.fix == f"kubectl create serviceaccount runner -n {NS}"

    def test_missing_namespace_stops_the_other_checks(self, cluster):
        problem = only(cluster.run(make_pod(namespace="nope", node_selector={"a": "b"})))
        assert (problem.kind, problem.name, problem.fix) == ("Namespace", "nope", "kubectl create namespace nope")
        cluster.core_v1.read_namespaced_service_account.assert_not_called()
        cluster.core_v1.list_node.assert_not_called()
        cluster.authorization_v1.create_self_subject_rules_review.assert_not_called()


class TestForbiddenMeansCannotTell:
    def test_namespace_403_is_skipped_and_the_rest_still_runs(self, cluster):
        cluster.forbidden.add("Namespace")
        problem = only(cluster.run(make_pod(container(env=[secret_env("A", "creds", "a")]))))
        assert (problem.kind, problem.name) == ("Secret", "creds")

    def test_secret_403_is_skipped_and_logged(self, cluster, caplog):
        cluster.forbidden.add("Secret/creds")
        with caplog.at_level(logging.INFO, logger="airflow_provider_composer_kpo.preflight.checks"):
            assert cluster.run(make_pod(container(env=[secret_env("A", "creds", "a")]))) == []
        assert (
            "Preflight: cannot read Secret creds (403 Forbidden); not checked. "
            "To check it, grant get on secrets in namespace team-ns"
        ) in caplog.text
        assert [r.levelname for r in caplog.records if "Secret creds" in r.getMessage()] == ["WARNING"]

    def test_service_account_403_is_skipped(self, cluster):
        cluster.forbidden.add("ServiceAccount/runner")
        assert cluster.run(make_pod(service_account_name="runner")) == []

    def test_node_list_403_is_skipped_with_a_warning_naming_the_permission(self, cluster, caplog):
        cluster.forbidden.add("nodes")
        with caplog.at_level(logging.INFO, logger="airflow_provider_composer_kpo.preflight.checks"):
            assert cluster.run(make_pod(node_selector={NODE_POOL: "gpu-pool"})) == []
        assert (
            "Preflight: cannot list nodes (403 Forbidden); the node selector is not checked. "
            "To check it, grant list on nodes (cluster-wide)"
        ) in caplog.text

    def test_rules_review_403_skips_the_permission_check(self, cluster):
        cluster.forbidden.add("rules")
        cluster.rules = []
        assert cluster.run(make_pod()) == []


# --- nodes ----------------------------------------------------------------------------------------


class TestNodes:
    def test_no_selector_does_not_list_nodes(self, cluster):
        cluster.run(make_pod())
        cluster.core_v1.list_node.assert_not_called()

    def test_no_matching_node_is_a_warning_naming_existing_values(self, cluster):
        cluster.nodes = [("n1", {NODE_POOL: "default-pool"}), ("n2", {NODE_POOL: "highmem"})]
        problem = only(cluster.run(make_pod(node_selector={NODE_POOL: "gpu-pool"})))
        assert (problem.kind, problem.name, problem.used_by, problem.fatal) == (
            "Node",
            f"{NODE_POOL}=gpu-pool",
            "nodeSelector",
            False,
        )
        assert f"nodes have {NODE_POOL} in {{default-pool, highmem}}" in problem.message
        assert "gcloud container node-pools create" in problem.fix

    def test_label_on_no_node_is_named(self, cluster):
        problem = only(cluster.run(make_pod(affinity=affinity([requirement("gpu", "In", "a100")]))))
        assert "no node has label gpu" in problem.message
        assert (problem.name, problem.used_by) == ("gpu In (a100)", "nodeAffinity")

    def test_empty_cluster_says_so(self, cluster):
        cluster.nodes = []
        assert "the cluster has no nodes" in only(cluster.run(make_pod(node_selector={"a": "b"}))).message

    def test_matching_node_selector_is_fine(self, cluster):
        assert cluster.run(make_pod(node_selector={NODE_POOL: "default-pool"})) == []

    def test_selector_and_affinity_must_match_the_same_node(self, cluster):
        cluster.nodes = [("n1", {NODE_POOL: "a", "gpu": "no"}), ("n2", {NODE_POOL: "b", "gpu": "yes"})]
        pod = make_pod(node_selector={NODE_POOL: "a"}, affinity=affinity([requirement("gpu", "In", "yes")]))
        assert only(cluster.run(pod)).used_by == "nodeSelector and nodeAffinity"

    def test_terms_are_ored(self, cluster):
        pod = make_pod(
            affinity=affinity([requirement("gpu", "Exists")], [requirement(NODE_POOL, "In", "default-pool")])
        )
        assert cluster.run(pod) == []

    def test_expressions_in_a_term_are_anded(self, cluster):
        term = [requirement(NODE_POOL, "In", "default-pool"), requirement("gpu", "Exists")]
        assert only(cluster.run(make_pod(affinity=affinity(term)))).kind == "Node"

    @pytest.mark.parametrize(
        ("expression", "matches"),
        [
            (requirement("zone", "In", "a", "b"), True),
            (requirement("zone", "In", "c"), False),
            (requirement("zone", "NotIn", "c"), True),
            (requirement("zone", "NotIn", "a"), False),
            (requirement("missing", "NotIn", "a"), True),
            (requirement("zone", "Exists"), True),
            (requirement("missing", "Exists"), False),
            (requirement("missing", "DoesNotExist"), True),
            (requirement("zone", "DoesNotExist"), False),
            (requirement("cpus", "Gt", "4"), True),
            (requirement("cpus", "Gt", "8"), False),
            (requirement("cpus", "Lt", "16"), True),
            (requirement("cpus", "Lt", "8"), False),
            (requirement("zone", "Gt", "1"), False),  # not an integer
            (requirement("missing", "Lt", "100"), False),
        ],
        ids=lambda v: f"{v.key} {v.operator} {v.values}" if isinstance(v, k8s.V1NodeSelectorRequirement) else str(v),
    )
    def test_operators(self, cluster, expression, matches):
        cluster.nodes = [("n1", {"zone": "a", "cpus": "8"})]
        problems = cluster.run(make_pod(affinity=affinity([expression])))
        assert (problems == []) is matches

    def test_an_empty_term_matches_no_node(self, cluster):
        selector = k8s.V1NodeSelector(node_selector_terms=[k8s.V1NodeSelectorTerm()])
        node_affinity = k8s.V1NodeAffinity(required_during_scheduling_ignored_during_execution=selector)
        problem = only(cluster.run(make_pod(affinity=k8s.V1Affinity(node_affinity=node_affinity))))
        assert (problem.kind, problem.fatal) == ("Node", False)

    def test_match_fields_on_node_name(self, cluster):
        field = k8s.V1NodeSelectorRequirement(key="metadata.name", operator="In", values=["node-1"])
        selector = k8s.V1NodeSelector(node_selector_terms=[k8s.V1NodeSelectorTerm(match_fields=[field])])
        pod = make_pod(
            affinity=k8s.V1Affinity(
                node_affinity=k8s.V1NodeAffinity(required_during_scheduling_ignored_during_execution=selector)
            )
        )
        assert cluster.run(pod) == []
        field.values = ["node-9"]
        assert only(cluster.run(pod)).kind == "Node"

    def test_on_composer_2_the_fix_mentions_autopilot(self, cluster):
        problem = only(cluster.run(make_pod(node_selector={"x": "y"}), environ=COMPOSER_2))
        assert "Autopilot compute class" in problem.fix


# --- permissions ----------------------------------------------------------------------------------


class TestPermissions:
    def test_missing_permission_is_fatal_with_role_command(self, cluster):
        cluster.rules = [
            k8s.V1ResourceRule(
                api_groups=[""], resources=["pods", "pods/log", "events"], verbs=["get", "list", "watch", "delete"]
            )
        ]
        problem = only(cluster.run(make_pod()))
        assert (problem.kind, problem.name, problem.namespace, problem.used_by, problem.fatal) == (
            "Permission",
            "create pods",
            NS,
            "pod creation",
            True,
        )
        assert problem.fix.startswith(f"kubectl create role composer-kpo -n {NS} --verb=create --resource=pods && ")

    def test_a_missing_watch_is_reported_but_not_fatal(self, cluster):
        cluster.rules = [
            k8s.V1ResourceRule(
                api_groups=[""], resources=["pods", "pods/log", "events"], verbs=["create", "get", "list", "delete"]
            )
        ]
        problem = only(cluster.run(make_pod()))
        assert (problem.name, problem.fatal) == ("watch pods", False)
        assert "read every 2 s" in problem.used_by

    def test_every_needed_permission_is_checked(self, cluster):
        cluster.rules = []
        names = [p.name for p in cluster.run(make_pod())]
        assert names == [
            "create pods",
            "get pods",
            "list pods",
            "watch pods",
            "delete pods",
            "get pods/log",
            "list events",
        ]

    def test_exec_only_checked_when_needed(self, cluster):
        cluster.rules = [k8s.V1ResourceRule(api_groups=[""], resources=["pods", "pods/log", "events"], verbs=["*"])]
        assert cluster.run(make_pod(), need_exec=False) == []
        assert [p.name for p in cluster.run(make_pod(), need_exec=True)] == ["create pods/exec", "get pods/exec"]

    @pytest.mark.parametrize(
        "rule",
        [
            k8s.V1ResourceRule(api_groups=["*"], resources=["*"], verbs=["*"]),
            k8s.V1ResourceRule(api_groups=[""], resources=["*"], verbs=["*"]),
            k8s.V1ResourceRule(api_groups=["", "apps"], resources=["pods", "*/log", "*/exec", "events"], verbs=["*"]),
        ],
        ids=["all-wildcards", "core-group-all-resources", "subresource-wildcards"],
    )
    def test_wildcard_rules_grant(self, cluster, rule):
        cluster.rules = [rule]
        assert cluster.run(make_pod(), need_exec=True) == []

    @pytest.mark.parametrize(
        ("rule", "missing"),
        [
            (k8s.V1ResourceRule(api_groups=["apps"], resources=["*"], verbs=["*"]), "create pods"),
            (k8s.V1ResourceRule(api_groups=[""], resources=["pods", "events"], verbs=["*"]), "get pods/log"),
            (
                k8s.V1ResourceRule(api_groups=[""], resources=["*"], verbs=["*"], resource_names=["one-pod"]),
                "create pods",
            ),
        ],
        ids=["other-group", "pods-is-not-pods-log", "named-objects-only"],
    )
    def test_rules_that_do_not_grant(self, cluster, rule, missing):
        cluster.rules = [rule]
        assert missing in [p.name for p in cluster.run(make_pod())]

    def test_complete_review_is_trusted_without_access_reviews(self, cluster):
        cluster.rules = []
        cluster.run(make_pod())
        cluster.authorization_v1.create_self_subject_access_review.assert_not_called()

    def test_incomplete_review_allowed_by_access_review(self, cluster):
        cluster.rules, cluster.incomplete = [], True
        cluster.access_allowed = dict.fromkeys(
            ["create pods", "get pods", "list pods", "watch pods", "delete pods", "get pods/log", "list events"], True
        )
        assert cluster.run(make_pod()) == []
        assert cluster.authorization_v1.create_self_subject_access_review.call_count == 7

    def test_incomplete_review_denied_by_access_review(self, cluster):
        cluster.rules = [k8s.V1ResourceRule(api_groups=[""], resources=["pods", "pods/log", "events"], verbs=["*"])]
        cluster.incomplete = True
        cluster.access_allowed = {"create pods/exec": True, "get pods/exec": False}
        assert [p.name for p in cluster.run(make_pod(), need_exec=True)] == ["get pods/exec"]
        reviewed = [
            c.args[0].spec.resource_attributes
            for c in cluster.authorization_v1.create_self_subject_access_review.call_args_list
        ]
        assert [(a.verb, a.resource, a.subresource, a.namespace) for a in reviewed] == [
            ("create", "pods", "exec", NS),
            ("get", "pods", "exec", NS),
        ]

    def test_access_review_error_means_cannot_tell(self, cluster):
        cluster.incomplete = True
        cluster.rules = [k8s.V1ResourceRule(api_groups=[""], resources=["pods", "pods/log"], verbs=["*"])]
        cluster.forbidden.add("access/list events")
        assert cluster.run(make_pod()) == []


# --- API calls ------------------------------------------------------------------------------------


def test_best_case_makes_three_calls(cluster):
    cluster.run(make_pod())
    calls = [c[0] for c in cluster.core_v1.method_calls + cluster.authorization_v1.method_calls]
    assert calls == ["read_namespace", "read_namespaced_service_account", "create_self_subject_rules_review"]


# --- Composer 3 -----------------------------------------------------------------------------------


class TestComposer3Fixes:
    def test_missing_secret_is_created_with_gcloud(self, cluster):
        problem = only(cluster.run(make_pod(container(env=[secret_env("A", "creds", "token")])), environ=COMPOSER_3))
        assert problem.fix == (
            "kubectl create secret generic creds --from-literal=token=VALUE --dry-run=client -o yaml > creds.yaml && "
            "gcloud beta composer environments user-workloads-secrets create --environment ENVIRONMENT "
            "--location LOCATION --secret-file-path creds.yaml"
        )

    def test_missing_key_updates_with_every_key(self, cluster):
        cluster.secrets["creds"] = {"user": SECRET_VALUE}
        problem = only(cluster.run(make_pod(container(env=[secret_env("A", "creds", "token")])), environ=COMPOSER_3))
        assert "--from-literal=user=VALUE --from-literal=token=VALUE" in problem.fix
        assert "user-workloads-secrets update" in problem.fix
        assert SECRET_VALUE not in problem.fix

    def test_missing_config_map_is_created_with_gcloud(self, cluster):
        problem = only(
            cluster.run(make_pod(container(env=[config_map_env("A", "settings", "mode")])), environ=COMPOSER_3)
        )
        assert "gcloud beta composer environments user-workloads-config-maps create" in problem.fix
        assert "--config-map-file-path settings.yaml" in problem.fix

    def test_missing_namespace_points_to_user_workloads(self, cluster):
        problem = only(cluster.run(make_pod(namespace="mine"), environ=COMPOSER_3))
        assert problem.fix == "set namespace='composer-user-workloads': Composer 3 runs pods only there"

    def test_composer_2_still_uses_kubectl(self):
        assert secret_fix_command("s", NS, keys=["k"], environ=COMPOSER_2) == (
            f"kubectl create secret generic s -n {NS} --from-literal=k=VALUE"
        )
        assert config_map_fix_command("c", NS, environ=COMPOSER_2).startswith("kubectl create configmap c -n")


# --- secret values never leak ---------------------------------------------------------------------


def test_secret_values_never_reach_problems_messages_or_logs(cluster, caplog):
    cluster.secrets["creds"] = {"password": SECRET_VALUE, "user": SECRET_VALUE + "-user"}
    cluster.forbidden.add("ServiceAccount/default")
    pod = make_pod(
        container(env=[secret_env("PW", "creds", "password"), secret_env("TOKEN", "creds", "token")]),
        volumes=[k8s.V1Volume(name="v", secret=k8s.V1SecretVolumeSource(secret_name="creds"))],
    )
    with caplog.at_level(logging.DEBUG):
        problems = cluster.run(pod, environ=COMPOSER_3) + cluster.run(pod)
        text = format_problems(problems, task_id="t", namespace=NS)
    assert [p.message for p in problems] == ["has no key 'token'"] * 2  # the Secret was read, and found wanting
    assert "Preflight: cannot read ServiceAccount default (403" in caplog.text
    for leaked in (SECRET_VALUE, SECRET_VALUE_B64):
        assert leaked not in text
        assert leaked not in caplog.text
        assert leaked not in repr(problems)


# --- format_problems ------------------------------------------------------------------------------


class TestFormatProblems:
    def test_one_header_and_one_line_per_problem_errors_first(self):
        warning = Finding("Node", "gpu=a100", "matches no node now", "add a pool", used_by="nodeSelector")
        error = Finding(
            "Secret",
            "airflow-db",
            "has no key 'sql_alchemy_conn'",
            "kubectl patch ...",
            fatal=True,
            namespace=NS,
            used_by="env SQL_CONN",
        )
        lines = format_problems([warning, error], task_id="load", namespace=NS).splitlines()
        assert lines == [  # the header names the namespace; the lines do not repeat it
            f"Task 'load': preflight found 1 error and 1 warning for the pod in namespace '{NS}':",
            "  error: Secret 'airflow-db': has no key 'sql_alchemy_conn'; used by env SQL_CONN; fix: kubectl patch ...",
            "  warning: Node 'gpu=a100': matches no node now; used by nodeSelector; fix: add a pool",
        ]

    def test_a_line_names_a_namespace_other_than_the_pods(self):
        elsewhere = Finding("Permission", "create pods", "not allowed", "kubectl create role ...", True, namespace="x")
        lines = format_problems([elsewhere], task_id="t", namespace=NS).splitlines()
        assert (
            lines[1] == "  error: Permission 'create pods' in namespace 'x': not allowed; fix: kubectl create role ..."
        )
        assert str(elsewhere) == lines[1][len("  error: ") :]  # a finding about an object reads the same alone

    def test_counts_are_plural(self, cluster):
        cluster.rules = []
        text = format_problems(cluster.run(make_pod()), task_id="t", namespace=NS)
        first = f"Task 't': preflight found 6 errors and 1 warning for the pod in namespace '{NS}':"
        assert text.splitlines()[0] == first
        assert len(text.splitlines()) == 8


# --- mode and error -------------------------------------------------------------------------------


class TestPreflightMode:
    @pytest.mark.parametrize("value", ["fail", "warn", "off", PreflightMode.WARN])
    def test_accepted_values(self, value):
        assert PreflightMode.problem(value) is None
        assert PreflightMode(value).value == str(getattr(value, "value", value))

    def test_unknown_value_names_the_accepted_ones(self):
        assert PreflightMode.problem("strict") == "preflight='strict' is not one of 'fail', 'warn', 'off'."


def test_preflight_error_carries_problems_and_pickles():
    problem = Finding("ServiceAccount", "runner", "not found", "kubectl ...", True, namespace=NS, used_by="x")
    error = PodPreflightError("report", problems=[problem])
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.problems) == ("report", (problem,))


def test_a_missing_secret_mounted_as_files_names_the_mount_and_suggests_from_file(cluster):
    """Google's Composer sample: Secret("volume", "/var/secrets/google", "service-account", "service-account.json")."""
    from airflow_provider_composer_kpo.compat import Secret

    pod = Secret("volume", "/var/secrets/google", "service-account", "service-account.json").attach_to_pod(make_pod())
    assert pod.spec.volumes[0].name.startswith("secretvol")  # a name the user never wrote
    assert only(cluster.run(pod)).fix.endswith("--from-file=KEY=PATH")  # the spec alone does not name the key
    hints = {("service-account", "/var/secrets/google"): ("service-account.json",)}  # the operator's Secret does
    problem = only(run_preflight(pod, cluster.core_v1, cluster.authorization_v1, need_exec=False, environ={},
                                 file_hints=hints))  # fmt: skip
    assert problem.used_by == "volume mounted at /var/secrets/google"
    assert problem.fix == (
        f"kubectl create secret generic service-account -n {NS} --from-file=service-account.json=PATH"
    )
    cluster.secrets["service-account"] = {"other.json": "{}"}  # a hint is not a requirement: the pod can start
    assert run_preflight(pod, cluster.core_v1, cluster.authorization_v1, need_exec=False, environ={},
                         file_hints=hints) == []  # fmt: skip
