"""Which Kubernetes permissions the operator needs in a namespace, and which of them it lacks.

One ``SelfSubjectRulesReview`` answers for all of them. GKE also authorizes through an IAM
webhook, so its rules review is often incomplete; then each permission that looks missing is
confirmed with a ``SelfSubjectAccessReview`` before it is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubernetes.client import models as k8s
from kubernetes.client.rest import ApiException

from ..kube.retry import error_gist

if TYPE_CHECKING:
    from kubernetes.client import AuthorizationV1Api

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    verb: str
    resource: str
    subresource: str
    needed_for: str
    #: False where the task can do without it, more slowly: reported, not a preflight failure.
    required: bool = True

    @property
    def label(self) -> str:
        return f"{self.verb} {self.resource}/{self.subresource}" if self.subresource else f"{self.verb} {self.resource}"


POD_ACCESS = (
    Access("create", "pods", "", "pod creation"),
    Access("get", "pods", "", "pod status polling"),
    Access("list", "pods", "", "finding the pod on retry"),
    Access("watch", "pods", "", "following the pod (without it the pod is read every 2 s)", required=False),
    Access("delete", "pods", "", "pod deletion"),
    Access("get", "pods", "log", "log streaming"),
    Access("list", "events", "", "startup diagnosis"),
)
EXEC_ACCESS = (
    Access("create", "pods", "exec", "XCom sidecar (exec)"),
    Access("get", "pods", "exec", "XCom sidecar (exec over WebSocket)"),
)


def missing_permissions(authorization_v1: AuthorizationV1Api, namespace: str, needed: Sequence[Access]) -> list[Access]:
    """Return the accesses in ``needed`` that are denied; an API error means "cannot tell": none."""
    review = k8s.V1SelfSubjectRulesReview(spec=k8s.V1SelfSubjectRulesReviewSpec(namespace=namespace))
    try:
        status = authorization_v1.create_self_subject_rules_review(review).status
    except ApiException as e:
        log.info(
            "Preflight: cannot review permissions in namespace %s (%s); permissions are not checked",
            namespace,
            error_gist(e),
        )
        return []
    rules = (status and status.resource_rules) or []
    missing = [access for access in needed if not any(rule_allows(rule, access) for rule in rules)]
    if missing and status and status.incomplete:
        log.info(
            "Preflight: the permission review in namespace %s is incomplete (%s); asking for %d permission(s) each",
            namespace,
            status.evaluation_error or "no reason given",
            len(missing),
        )
        missing = [access for access in missing if _denied(authorization_v1, namespace, access)]
    return missing


def rule_allows(rule: k8s.V1ResourceRule, access: Access) -> bool:
    """Return True if the RBAC-style rule grants ``access`` on any pod (the pod's name is not known yet)."""
    if rule.resource_names:
        return False
    if not {"*", ""} & set(rule.api_groups or []):
        return False
    if not {"*", access.verb} & set(rule.verbs or []):
        return False
    combined = f"{access.resource}/{access.subresource}" if access.subresource else access.resource
    accepted = {"*", combined} | ({f"*/{access.subresource}"} if access.subresource else set())
    return bool(accepted & set(rule.resources or []))


def _denied(authorization_v1: AuthorizationV1Api, namespace: str, access: Access) -> bool:
    """Return True only if a SelfSubjectAccessReview says no; False if it says yes or cannot tell."""
    attributes = k8s.V1ResourceAttributes(
        namespace=namespace, verb=access.verb, group="", resource=access.resource, subresource=access.subresource
    )
    review = k8s.V1SelfSubjectAccessReview(spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
    try:
        status = authorization_v1.create_self_subject_access_review(review).status
    except ApiException as e:
        log.info(
            "Preflight: cannot ask for %s in namespace %s (%s); taken as granted",
            access.label,
            namespace,
            error_gist(e),
        )
        return False
    return not (status and status.allowed)
