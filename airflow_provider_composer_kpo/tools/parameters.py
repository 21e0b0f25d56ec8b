"""Every keyword a KubernetesPodOperator or ComposerPodOperator call accepts, by version.

Airflow refuses any other keyword when it imports the DAG file: ``BaseOperator`` raises "Invalid
arguments were passed" (Airflow 3: a TypeError), and ``.partial()`` a TypeError. ``composer-kpo
check`` holds each call against this table for the target; tests/unit/tools/test_check.py compares it
with the signatures installed in every test environment, so each date below is tested on both sides
wherever an environment sits there.

=============================  =====================================================================
dated                          how
=============================  =====================================================================
from the changelog             the cncf-kubernetes release that added it (``added`` below)
``_UNSEEN`` after a version    not in the changelog: first seen in a newer test environment, so dated
                               from the minor after the newest environment without it. A target in
                               between may lack it; check then says nothing rather than guess.
=============================  =====================================================================
"""

from __future__ import annotations

import functools

from .target import AIRFLOW, CNCF_KUBERNETES, Target, Version
from .upgrade_facts import Span


def _unseen_after(package: str, version: Version) -> Span:
    """A parameter absent from ``version`` (the newest test environment without it), dated just after it."""
    return Span(package, added=(version[0], version[1] + 1))


#: KubernetesPodOperator's own keywords on every supported cncf-kubernetes (5.0 to 10.x).
KPO_KEYWORDS = (
    "kubernetes_conn_id", "namespace", "image", "name", "random_name_suffix", "cmds", "arguments", "ports",
    "volume_mounts", "volumes", "env_vars", "env_from", "secrets", "in_cluster", "cluster_context", "labels",
    "reattach_on_restart", "startup_timeout_seconds", "get_logs", "image_pull_policy", "annotations",
    "container_resources", "affinity", "config_file", "node_selector", "image_pull_secrets", "service_account_name",
    "hostnetwork", "tolerations", "security_context", "container_security_context", "dnspolicy", "schedulername",
    "full_pod_spec", "init_containers", "log_events_on_failure", "do_xcom_push", "pod_template_file",
    "priority_class_name", "pod_runtime_info_envs", "termination_grace_period", "configmaps", "is_delete_operator_pod",
)  # fmt: skip
#: BaseOperator's keywords on every supported Airflow (2.5 to 3.3).
BASE_OPERATOR_KEYWORDS = (
    "task_id", "owner", "email", "email_on_retry", "email_on_failure", "retries", "retry_delay",
    "retry_exponential_backoff", "max_retry_delay", "start_date", "end_date", "depends_on_past",
    "ignore_first_depends_on_past", "wait_for_downstream", "dag", "params", "default_args", "priority_weight",
    "weight_rule", "queue", "pool", "pool_slots", "sla", "execution_timeout", "on_execute_callback",
    "on_failure_callback", "on_success_callback", "on_retry_callback", "pre_execute", "post_execute", "trigger_rule",
    "resources", "run_as_user", "max_active_tis_per_dag", "executor_config", "do_xcom_push", "inlets", "outlets",
    "task_group", "doc", "doc_md", "doc_json", "doc_yaml", "doc_rst",
)  # fmt: skip
#: ComposerPodOperator's own keywords (operators/composer_pod.py), accepted on every supported version.
COMPOSER_KEYWORDS = (
    "errexit_policy", "preflight", "config_file", "namespace", "kubernetes_conn_id", "startup_timeout_seconds",
    "schedule_timeout_seconds", "container_resources", "resources", "on_finish_action", "is_delete_operator_pod",
)  # fmt: skip

_K, _A = CNCF_KUBERNETES, AIRFLOW
#: Keywords that only some supported versions accept.
DATED_KEYWORDS: dict[str, Span] = {
    "poll_interval": _unseen_after(_K, (5, 0)),
    "base_container_name": Span(_K, added=(5, 2)),
    "deferrable": Span(_K, added=(5, 2)),
    "dns_config": _unseen_after(_K, (6, 0)),
    "hostname": _unseen_after(_K, (6, 0)),
    "subdomain": _unseen_after(_K, (6, 0)),
    "skip_on_exit_code": Span(_K, added=(6, 1)),
    "log_pod_spec_on_failure": Span(_K, added=(7, 1)),
    "on_finish_action": Span(_K, added=(7, 2)),
    "container_logs": Span(_K, added=(7, 3)),
    "termination_message_policy": Span(_K, added=(7, 4)),
    "active_deadline_seconds": Span(_K, added=(7, 5)),
    "progress_callback": Span(_K, added=(7, 6)),
    "host_aliases": Span(_K, added=(7, 8)),
    "startup_check_interval_seconds": Span(_K, added=(7, 9)),
    "pod_template_dict": Span(_K, added=(7, 12)),
    "callbacks": Span(_K, added=(7, 14)),
    "logging_interval": Span(_K, added=(8, 0)),
    "init_container_logs": Span(_K, added=(10, 1)),
    "base_container_status_polling_interval": Span(_K, added=(10, 4)),
    "automount_service_account_token": Span(_K, added=(10, 5)),
    "schedule_timeout_seconds": Span(_K, added=(10, 5)),
    "trigger_kwargs": _unseen_after(_K, (10, 5)),
    "container_name_log_prefix_enabled": Span(_K, added=(10, 8)),
    "log_formatter": Span(_K, added=(10, 8)),
    "durable": _unseen_after(_K, (10, 11)),
    "log_events_on_startup": _unseen_after(_K, (10, 11)),
    "on_kill_action": _unseen_after(_K, (10, 11)),
    "runtime_class_name": _unseen_after(_K, (10, 11)),
    "xcom_sidecar_container_security_context": _unseen_after(_K, (10, 11)),
    "max_active_tis_per_dagrun": Span(_A, added=(2, 6)),
    "wait_for_past_depends_before_skipping": Span(_A, added=(2, 6)),
    "allow_nested_operators": _unseen_after(_A, (2, 7)),
    "executor": _unseen_after(_A, (2, 7)),
    "logger_name": _unseen_after(_A, (2, 7)),
    "map_index_template": _unseen_after(_A, (2, 7)),
    "multiple_outputs": _unseen_after(_A, (2, 7)),
    "on_skipped_callback": _unseen_after(_A, (2, 7)),
    "task_display_name": _unseen_after(_A, (2, 7)),
    "render_template_as_native_obj": _unseen_after(_A, (3, 1)),
    "retry_policy": _unseen_after(_A, (3, 1)),
    "task_concurrency": Span(_A, removed=(3, 0)),
}


@functools.lru_cache(maxsize=None)
def accepted_keywords(kind: str, target: Target) -> frozenset[str]:
    """Return the keywords a call of ``kind`` ("stock" or "composer") accepts on ``target``."""
    names = set(KPO_KEYWORDS) | set(BASE_OPERATOR_KEYWORDS)
    names |= {name for name, span in DATED_KEYWORDS.items() if span.holds_on(target)}
    if kind == "composer":
        names |= set(COMPOSER_KEYWORDS)
    return frozenset(names)


def why_unknown(name: str, target: Target) -> str:
    """Say why ``name`` is refused: when it exists on other versions ("added in cncf-kubernetes 7.2"), else ""."""
    span = DATED_KEYWORDS.get(name)
    return span.why_not(target) if span is not None else ""
