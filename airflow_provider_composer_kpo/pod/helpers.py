"""Builders for pod settings that DAGs repeat: small, pure, typed."""

from __future__ import annotations

from kubernetes.client import models as k8s

#: The label GKE puts on every node, naming its node pool.
GKE_NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"


def gke_node_pool_affinity(*node_pools: str) -> k8s.V1Affinity:
    """Return an affinity that requires a node from one of the named GKE node pools.

    A pod with it stays Pending (Unschedulable) until such a node exists; on GKE Standard the
    cluster autoscaler can add one if the pool allows it.
    """
    if not node_pools:
        raise ValueError("gke_node_pool_affinity() needs at least one node pool name, e.g. 'default-pool'.")
    requirement = k8s.V1NodeSelectorRequirement(key=GKE_NODE_POOL_LABEL, operator="In", values=list(node_pools))
    return k8s.V1Affinity(
        node_affinity=k8s.V1NodeAffinity(
            required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                node_selector_terms=[k8s.V1NodeSelectorTerm(match_expressions=[requirement])]
            )
        )
    )
