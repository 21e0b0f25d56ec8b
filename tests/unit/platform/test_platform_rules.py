"""Composer 3 and Composer 2 (GKE Autopilot) platform rules, through their one entry point."""

from __future__ import annotations

import pytest
from kubernetes.client import models as k8s

from airflow_provider_composer_kpo.findings import PARAMETER, Finding, show
from airflow_provider_composer_kpo.platform.autopilot_rules import autopilot_warnings
from airflow_provider_composer_kpo.platform.composer3_rules import composer3_warnings
from airflow_provider_composer_kpo.platform.rules import describe_peer_vm, platform_findings, pod_findings

# Requests Autopilot accepts as they are: 1 vCPU, 2 GiB (ratio 2), 2 GiB of storage.
FINE = k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "2Gi", "ephemeral-storage": "2Gi"})


def res(requests: dict | None = None, limits: dict | None = None) -> k8s.V1ResourceRequirements:
    return k8s.V1ResourceRequirements(requests=requests, limits=limits)


def params(findings: list[Finding]) -> list[str]:
    assert all(f.kind == PARAMETER and not f.fatal for f in findings), findings  # warnings about parameters
    return [f.name for f in findings]


def only(findings: list[Finding], parameter: str = "container_resources") -> Finding:
    matching = [f for f in findings if f.name == parameter]
    assert len(matching) == 1, findings
    return matching[0]


# --- Finding ---


def test_finding_reads_as_one_line():
    finding = Finding(PARAMETER, "namespace", "Composer 3 moves it.", "set it.", value=show("default"))
    assert str(finding) == "namespace='default': Composer 3 moves it. Fix: set it."
    assert "\n" not in str(finding)


def test_show_drops_unset_model_fields_and_truncates():
    assert show(k8s.V1Toleration(key="k", operator="Exists")) == "{'key': 'k', 'operator': 'Exists'}"
    long = show({"k": "x" * 500})
    assert len(long) == 120 and long.endswith("...")


# --- which rules for which Composer ---


@pytest.mark.parametrize("major", [None, 1])
def test_no_rules_outside_composer_2_and_3(major):
    assert platform_findings(composer_major=major, namespace="default", affinity={"nodeAffinity": {"x": 1}}) == []


@pytest.mark.parametrize("major", [3, 4])
def test_composer_3_and_later_get_composer_3_rules(major):
    findings = platform_findings(composer_major=major, namespace="default", container_resources=FINE)
    assert params(findings) == ["namespace"]


def test_composer_2_gets_autopilot_rules_not_composer_3_ones():
    findings = platform_findings(composer_major=2, namespace="default", container_resources=None)
    assert params(findings) == ["container_resources"]
    assert "GKE Autopilot" in findings[0].message


def test_clean_settings_have_no_findings():
    for major in (2, 3):
        findings = platform_findings(
            composer_major=major, namespace="composer-user-workloads", container_resources=FINE
        )
        assert findings == []


# --- Composer 3 ---


def test_composer3_namespace_is_forced():
    finding = only(composer3_warnings(namespace="team-a"), "namespace")
    assert "'composer-user-workloads'" in finding.message and finding.value == "'team-a'"
    assert finding.source.startswith("https://cloud.google.com/composer/docs/composer-3/")


@pytest.mark.parametrize("namespace", [None, "", "composer-user-workloads", "{{ params.ns }}"])
def test_composer3_namespace_fine_or_templated(namespace):
    assert composer3_warnings(namespace=namespace) == []


def test_composer3_cpu_clamp():
    finding = only(composer3_warnings(container_resources=res({"cpu": "48"})))
    assert "e2-custom-32-131072" in finding.message and "not 48" in finding.message
    assert "at most 32 vCPU" in finding.fix


def test_composer3_memory_clamp_names_the_cpu_needed():
    finding = only(composer3_warnings(container_resources=res({"memory": "16Gi"})))
    assert "e2-custom-small-4096" in finding.message and "17.18 GB" in finding.message
    assert "cpu of at least 4" in finding.fix  # 18 GB step needs 2.25 -> 4 vCPU


def test_composer3_memory_above_128_gb_cannot_be_fixed_with_cpu():
    finding = only(composer3_warnings(container_resources=res({"cpu": "32", "memory": "200G"})))
    assert "at most 128G" in finding.fix


def test_composer3_ephemeral_clamp():
    finding = only(composer3_warnings(container_resources=res({"ephemeral-storage": "150G"})))
    assert "130 GB disk" in finding.message


def test_composer3_unreadable_cpu_fails_the_task():
    finding = only(composer3_warnings(container_resources={"requests": {"cpu": 2}}))
    assert "task fails before its pod is created" in finding.message
    assert "github.com/GoogleCloudPlatform/composer-airflow" in finding.source


def test_composer3_limit_above_request_sizes_the_vm():
    resources = res({"cpu": "1", "memory": "2G"}, {"cpu": "4", "memory": "8G"})
    finding = only(composer3_warnings(container_resources=resources))
    assert "e2-custom-4-8192" in finding.message and "e2-custom-medium-2048" in finding.message


@pytest.mark.parametrize(
    "resources",
    [
        res({"cpu": "1"}, {"cpu": "1"}),  # equal
        res({"cpu": "1100m"}, {"cpu": "2"}),  # both round to 2
        res(limits={"cpu": "4"}),  # a limit alone is the request too
    ],
)
def test_composer3_limits_that_do_not_change_the_vm(resources):
    assert composer3_warnings(container_resources=resources) == []


def test_composer3_templated_resources_are_left_for_run_time():
    assert composer3_warnings(container_resources=res({"cpu": "{{ params.cpu }}"})) == []


POOL_TERM = {"matchExpressions": [{"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["pool-0"]}]}


@pytest.mark.parametrize(
    "affinity",
    [
        {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [POOL_TERM]}}},
        k8s.V1Affinity(
            node_affinity=k8s.V1NodeAffinity(
                required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                    node_selector_terms=[
                        k8s.V1NodeSelectorTerm(
                            match_expressions=[
                                k8s.V1NodeSelectorRequirement(
                                    key="cloud.google.com/gke-nodepool", operator="In", values=["pool-0"]
                                )
                            ]
                        )
                    ]
                )
            )
        ),
    ],
)
def test_composer3_affinity(affinity):
    finding = only(composer3_warnings(affinity=affinity), "affinity")
    assert "does not support pod affinity" in finding.message


@pytest.mark.parametrize(
    "affinity",
    [{}, k8s.V1Affinity(), {"nodeAffinity": {}}, k8s.V1Affinity(node_affinity=k8s.V1NodeAffinity())],
)
def test_composer3_empty_affinity_is_not_a_finding(affinity):
    # KPO's default is {}; a model with every field unset asks for nothing either.
    assert composer3_warnings(affinity=affinity) == []


def test_composer3_node_selector_and_tolerations_are_unverified():
    findings = composer3_warnings(
        node_selector={"cloud.google.com/gke-nodepool": "pool-0"},
        tolerations=[k8s.V1Toleration(key="dedicated", operator="Exists")],
    )
    assert params(findings) == ["node_selector", "tolerations"]
    assert all("unverified" in f.message and not f.verified for f in findings)
    assert composer3_warnings(node_selector={}, tolerations=[]) == []


def test_composer3_xcom_sidecar_is_fine_other_containers_are_not():
    findings = composer3_warnings(
        extra_containers=[
            k8s.V1Container(name="airflow-xcom-sidecar"),
            k8s.V1Container(name="proxy", resources=res({"cpu": "1"})),
            {"name": "shipper"},
        ]
    )
    assert params(findings) == ["containers[2]", "containers[3]"]
    assert "only the first container's do" in findings[0].message
    assert "only the first container's do" not in findings[1].message


def test_composer3_native_sidecar_init_container_counts_plain_one_does_not():
    findings = composer3_warnings(
        init_containers=[
            k8s.V1Container(name="setup"),
            # V1Container has restart_policy only from kubernetes client 29; pod templates may be dicts anyway.
            {"name": "proxy", "restartPolicy": "Always"},
        ]
    )
    assert params(findings) == ["init_containers[1]"]


# --- Composer 2: GKE Autopilot ---


def test_autopilot_unset_requests_get_defaults():
    finding = only(autopilot_warnings(None))
    assert "0.5 vCPU and 2 GiB" in finding.message and "1 GiB of ephemeral storage" in finding.message


def test_autopilot_lone_cpu_request_gets_memory_from_ratio():
    finding = only(autopilot_warnings(res({"cpu": "1", "ephemeral-storage": "1Gi"})))
    assert "memory request derived from the cpu one" in finding.message


def test_autopilot_limits_count_as_requests():
    # The API server copies a limit into an unset request.
    assert autopilot_warnings(res(limits={"cpu": "1", "memory": "2Gi", "ephemeral-storage": "2Gi"})) == []


def test_autopilot_missing_ephemeral_storage_only():
    finding = only(autopilot_warnings(res({"cpu": "1", "memory": "2Gi"})))
    assert "no ephemeral-storage request" in finding.message and "sets 1 GiB of ephemeral storage" in finding.message
    assert finding.verified


@pytest.mark.parametrize(
    ("requests", "words"),
    [
        ({"cpu": "100m", "memory": "512Mi"}, "cpu request of 100m to at least 250m (50m where pods can burst)"),
        ({"cpu": "250m", "memory": "256Mi"}, "memory request of 256 MiB to at least 512 MiB (52 MiB"),
        ({"cpu": "1", "memory": "2Gi", "ephemeral-storage": "5Mi"}, "ephemeral-storage request of 5 MiB to at least"),
    ],
)
def test_autopilot_raises_small_requests(requests, words):
    requests = {"ephemeral-storage": "1Gi", **requests}
    findings = autopilot_warnings(res(requests))
    assert any(words in f.message for f in findings), findings
    assert all((f.kind, f.name) == (PARAMETER, "container_resources") for f in findings)


@pytest.mark.parametrize(
    ("requests", "words"),
    [
        ({"cpu": "200m", "memory": "2Gi"}, "raises cpu to about 308m"),  # the example on Google's page
        ({"cpu": "2", "memory": "1Gi"}, "raises memory to about 2 GiB"),
    ],
)
def test_autopilot_ratio(requests, words):
    findings = autopilot_warnings(res({"ephemeral-storage": "1Gi", **requests}))
    assert any(words in f.message and "unverified" in f.message for f in findings), findings


@pytest.mark.parametrize(
    ("requests", "words"),
    [
        ({"cpu": "31", "memory": "100Gi"}, "requests 31 vCPU of cpu"),
        ({"cpu": "20", "memory": "120Gi"}, "requests 120 GiB of memory"),
        ({"cpu": "1", "memory": "2Gi", "ephemeral-storage": "20Gi"}, "requests 20 GiB of ephemeral-storage"),
    ],
)
def test_autopilot_maximums_are_warnings(requests, words):
    findings = autopilot_warnings(res({"ephemeral-storage": "1Gi", **requests}))
    assert any(words in f.message for f in findings), findings


def test_autopilot_pod_total_counts_extra_containers():
    base = res({"cpu": "20", "memory": "60Gi", "ephemeral-storage": "1Gi"})
    side = k8s.V1Container(name="side", resources=res({"cpu": "12", "memory": "40Gi"}))
    finding = only(autopilot_warnings(base, extra_containers=[side]))
    assert "32 vCPU of cpu (its 2 containers together)" in finding.message


def test_autopilot_extra_container_without_requests_gets_defaults_xcom_sidecar_ignored():
    findings = autopilot_warnings(
        FINE, extra_containers=[k8s.V1Container(name="airflow-xcom-sidecar"), k8s.V1Container(name="side")]
    )
    assert params(findings) == ["containers[1]"] and findings[0].value == "'side'"


def test_autopilot_limit_above_request():
    resources = res({"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"}, {"memory": "4Gi"})
    finding = only(autopilot_warnings(resources))
    assert "memory limit is above the request" in finding.message and "unverified" in finding.message


@pytest.mark.parametrize("key", ["cloud.google.com/compute-class", "cloud.google.com/gke-accelerator"])
def test_autopilot_other_compute_classes_are_not_checked(key):
    assert autopilot_warnings(res({"cpu": "100m"}), node_selector={key: "Performance"}) == []


def test_autopilot_unparseable_and_templated_values_are_skipped():
    assert autopilot_warnings(res({"cpu": "{{ params.cpu }}"})) == []
    findings = autopilot_warnings(res({"cpu": "lots", "memory": "2Gi", "ephemeral-storage": "1Gi"}))
    assert "no cpu request" in only(findings).message


# --- what users see: verified rules only ---


UNVERIFIED_COMPOSER2 = [
    res({"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "5Mi"}),  # minimums
    res({"cpu": "200m", "memory": "2Gi", "ephemeral-storage": "1Gi"}),  # ratio
    res({"cpu": "31", "memory": "100Gi", "ephemeral-storage": "20Gi"}),  # maximums
    res({"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"}, {"memory": "4Gi"}),  # limit above request
]


@pytest.mark.parametrize("resources", UNVERIFIED_COMPOSER2)
def test_unverified_autopilot_rules_are_computed_but_not_shown(resources, caplog):
    computed = autopilot_warnings(resources)
    assert computed and not any(f.verified for f in computed), computed
    with caplog.at_level("DEBUG", logger="airflow_provider_composer_kpo.platform.rules"):
        assert platform_findings(composer_major=2, container_resources=resources) == []
    assert len([r for r in caplog.records if r.message.startswith("Not shown, unverified: ")]) == len(computed)


def test_unverified_composer3_rules_are_not_shown():
    shown = platform_findings(
        composer_major=3, container_resources=FINE, node_selector={"a": "b"}, tolerations=[{"key": "k"}]
    )
    assert shown == []


@pytest.mark.parametrize("major", [2, 3])
def test_shown_findings_never_call_themselves_unverified(major):
    shown = platform_findings(
        composer_major=major,
        namespace="default",
        container_resources=res({"cpu": "100m", "memory": "64Gi"}, {"cpu": "64"}),
        affinity={"nodeAffinity": {"x": 1}},
        node_selector={"a": "b"},
        tolerations=[{"key": "k"}],
        extra_containers=[k8s.V1Container(name="side")],
    )
    assert shown and all(f.verified for f in shown)
    assert not [f for f in shown if "unverified" in str(f) or "secondary" in str(f)]


def test_composer2_affinity():
    findings = platform_findings(
        composer_major=2, container_resources=FINE, affinity={"nodeAffinity": {"x": ["pool-0"]}}
    )
    finding = only(findings, "affinity")
    assert "composer-2" in finding.source and "compute-class" in finding.fix


# --- built pods ---


def _pod(**spec) -> k8s.V1Pod:
    containers = spec.pop("containers", [k8s.V1Container(name="base", resources=res({"cpu": "48"}))])
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="p", namespace=spec.pop("namespace", "composer-user-workloads")),
        spec=k8s.V1PodSpec(containers=containers, **spec),
    )


def test_pod_findings_read_the_built_pod():
    pod = _pod(
        namespace="default",
        node_selector={"a": "b"},
        containers=[
            k8s.V1Container(name="base", resources=res({"cpu": "48"})),
            k8s.V1Container(name="airflow-xcom-sidecar"),
            k8s.V1Container(name="extra"),
        ],
    )
    findings = pod_findings(pod, composer_major=3)
    assert params(findings) == ["namespace", "container_resources", "containers[2]"]  # node_selector: unverified


def test_pod_findings_after_googles_hook_use_the_rendered_resources():
    # Google's hook cleared containers[0].resources; the operator passes its rendered ones.
    pod = _pod(containers=[k8s.V1Container(name="base", resources=None)])
    assert pod_findings(pod, composer_major=3) == []
    findings = pod_findings(pod, composer_major=3, container_resources=res({"cpu": "48"}))
    assert params(findings) == ["container_resources"]


def test_pod_findings_without_spec():
    assert pod_findings(k8s.V1Pod(), composer_major=3) == []


# --- describe_peer_vm ---


@pytest.mark.parametrize(
    ("resources", "line"),
    [
        (
            None,
            "Composer 3 will run this pod on a peer VM e2-custom-small-2048 (0.5 vCPU, 2 GB) with a 30 GB disk "
            "(container_resources unset: Google's defaults)",
        ),
        (
            res({"cpu": "2", "memory": "8G"}),
            "Composer 3 will run this pod on a peer VM e2-custom-2-8192 (2 vCPU, 8 GB) with a 30 GB disk "
            "(from container_resources: requests cpu 2, memory 8G)",
        ),
        (
            res({"cpu": "40"}, {"ephemeral-storage": "150G"}),
            "Composer 3 will run this pod on a peer VM e2-custom-32-131072 (32 vCPU, 128 GB) with a 130 GB disk "
            "(from container_resources: requests cpu 40; limits ephemeral-storage 150G); "
            "Google clamps cpu 40 vCPU -> 32 vCPU, ephemeral-storage 150 GB -> 100 GB",
        ),
    ],
)
def test_describe_peer_vm(resources, line):
    assert describe_peer_vm(resources) == line


def test_describe_peer_vm_templated_and_unreadable():
    assert describe_peer_vm(res({"cpu": "{{ params.cpu }}"})).startswith(
        "Composer 3 will size this pod's peer VM once its templates render"
    )
    assert describe_peer_vm(res({"cpu": "1k"})).startswith("Composer 3 cannot size a peer VM for this pod")
