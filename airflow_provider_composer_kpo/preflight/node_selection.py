"""Does a node's label set satisfy a pod's ``nodeSelector`` and required node affinity?

Pure functions, no API calls: the same matching the scheduler does for these two fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubernetes.client import models as k8s


def node_fits(
    labels: Mapping[str, str],
    node_name: str,
    node_selector: Mapping[str, str],
    terms: Sequence[k8s.V1NodeSelectorTerm],
) -> bool:
    """Return True if a node with ``labels`` and ``node_name`` may run the pod."""
    if any(labels.get(key) != value for key, value in node_selector.items()):
        return False
    return not terms or any(_term_matches(t, labels, node_name) for t in terms)


def _term_matches(term: k8s.V1NodeSelectorTerm, labels: Mapping[str, str], node_name: str) -> bool:
    """Return True if every requirement of the term holds; an empty term matches no node."""
    expressions, fields = term.match_expressions or [], term.match_fields or []
    if not expressions and not fields:
        return False
    field_values = {"metadata.name": node_name}
    return all(_requirement_matches(r, labels) for r in expressions) and all(
        _requirement_matches(r, field_values) for r in fields
    )


def _requirement_matches(requirement: k8s.V1NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    operator, values = requirement.operator, requirement.values or []
    value = labels.get(requirement.key)
    if operator == "In":
        return value in values
    if operator == "NotIn":
        return value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt"):
        try:
            have, limit = int(value), int(values[0])  # type: ignore[arg-type]
        except (TypeError, ValueError, IndexError):
            return False
        return have > limit if operator == "Gt" else have < limit
    return True  # an operator we do not know: cannot tell, so do not warn


def describe_selector(node_selector: Mapping[str, str], terms: Sequence[k8s.V1NodeSelectorTerm]) -> str:
    """Return the selector in one line, e.g. ``cloud.google.com/gke-nodepool In (pool-0, pool-1)``."""
    parts = [f"{key}={value}" for key, value in node_selector.items()]
    terms = [" and ".join(_describe_requirement(r) for r in term.match_expressions or []) for term in terms]
    terms = [term for term in terms if term]
    if terms:
        parts.append(" or ".join(f"({term})" if len(terms) > 1 else term for term in terms))
    return ", ".join(parts) or "required node affinity"


def _describe_requirement(requirement: k8s.V1NodeSelectorRequirement) -> str:
    if requirement.operator in ("Exists", "DoesNotExist"):
        return f"{requirement.key} {requirement.operator}"
    return f"{requirement.key} {requirement.operator} ({', '.join(requirement.values or [])})"
