"""Checks before a pod is created: does what the pod refers to exist, and may we run it?

Upstream creates the pod and finds out later: a missing Secret shows up as
``CreateContainerConfigError``, a missing key in a mounted Secret as a pod stuck in
``ContainerCreating``, a missing permission as a 403 halfway through the task. This module reads
the ``V1Pod`` the operator is about to send and asks the API first, reading each object once.

======================  =========================================  ====================================
the pod refers to       API call                                   when it is missing
======================  =========================================  ====================================
its namespace           ``read_namespace``                         error; nothing else is checked
a Secret or its key     ``read_namespaced_secret``                 error
a ConfigMap or its key  ``read_namespaced_config_map``             error
an imagePullSecret      ``read_namespaced_secret``                 warning: a public image still pulls
its service account     ``read_namespaced_service_account``        error: admission rejects the pod
nodes with its labels   ``list_node`` (only if it has a selector)  warning (see *Nodes*)
permissions             one ``SelfSubjectRulesReview``             error (see *Permissions*)
======================  =========================================  ====================================

Secrets and ConfigMaps are found in ``env`` (``valueFrom``), ``envFrom``, ``volumes`` and projected
volumes, of containers and init containers. A reference marked ``optional: true`` is not checked
and its object not read. A 403 (or any API error but 404) means "cannot tell": that check is
skipped, never failed; a 403 is logged as a warning naming the permission that would enable it,
other errors at INFO.

**Nodes.** No node matching ``nodeSelector`` and the required node affinity is a warning, never
an error: a GKE node pool can scale from zero, and its nodes do not exist until the cluster
autoscaler adds them for this very pod (Autopilot, as in Composer 2 and 3, creates nodes for a
compute class the same way). The startup diagnosis fails the pod later if the scheduler reports
it Unschedulable and no scale-up is triggered. The warning names the label values nodes do have.

**Permissions**, in the pod's namespace: ``create``, ``get``, ``list``, ``watch``, ``delete`` on
``pods``; ``get`` on ``pods/log``; ``list`` on ``events``; and, only when the operator execs into
the pod (XCom sidecar), ``create`` and ``get`` on ``pods/exec``: the Python client execs over a
WebSocket, which Kubernetes authorizes as ``get`` (and from 1.35 also as ``create``). GKE also
authorizes through an IAM webhook, so its rules review is often incomplete; then each permission
that looks missing is confirmed with a ``SelfSubjectAccessReview`` before it is reported.

**Secrets.** Reading a Secret returns its data; only the key names are kept. No value ever
reaches a :class:`~..findings.Finding`, a log line or a message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubernetes.client import models as k8s
from kubernetes.client.rest import ApiException

from ..choices import ParameterChoice
from ..findings import Finding
from ..kube.client import is_gone
from ..kube.retry import error_gist
from ..platform.composer import (
    config_map_fix_command,
    image_pull_secret_fix_command,
    namespace_fix_command,
    node_selector_fix_hint,
    role_fix_command,
    secret_fix_command,
    service_account_fix_command,
)
from .node_selection import describe_selector, node_fits
from .permissions import EXEC_ACCESS, POD_ACCESS, Access, missing_permissions

if TYPE_CHECKING:
    from kubernetes.client import AuthorizationV1Api, CoreV1Api

log = logging.getLogger(__name__)

SECRET = "Secret"
CONFIG_MAP = "ConfigMap"
IMAGE_PULL_SECRETS = "imagePullSecrets"
_MAX_VALUES_SHOWN = 10
_MISSING: Any = object()  # what _read returns on 404


class PreflightMode(ParameterChoice):
    """What the operator does with the problems found: fail the task, log them, or not look."""

    FAIL = "fail"
    WARN = "warn"
    OFF = "off"

    @classmethod
    def parameter(cls) -> str:
        return "preflight"


@dataclass(frozen=True)
class ObjectUse:
    """One place where the pod uses a Secret or ConfigMap."""

    kind: str  # SECRET or CONFIG_MAP
    name: str
    keys: tuple[str, ...]  # the keys this use needs; empty: the whole object
    optional: bool
    used_by: str  # e.g. "env SQL_CONN", "volume mounted at /var/secrets/google", "envFrom", "imagePullSecrets"
    files: bool = False  # the keys become files (a volume), so the fix creates them from files
    #: keys the DAG names for a whole-Secret volume (Secret("volume", path, name, key)); not required
    #: by Kubernetes, so only the fix command uses them
    file_hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodReferences:
    """Everything outside the pod that the pod needs, read from its spec alone."""

    namespace: str
    objects: tuple[ObjectUse, ...]
    service_account: str
    node_selector: Mapping[str, str]
    node_selector_terms: tuple[k8s.V1NodeSelectorTerm, ...]  # ORed; from required node affinity

    @property
    def image_pull_secrets(self) -> tuple[str, ...]:
        return tuple(use.name for use in self.objects if use.used_by == IMAGE_PULL_SECRETS)


def pod_references(pod: k8s.V1Pod, file_hints: Mapping[tuple[str, str], Sequence[str]] | None = None) -> PodReferences:
    """Return what ``pod`` refers to outside itself; makes no API call.

    :param file_hints: (Secret name, mount path) -> the keys the DAG expects there as files.
    """
    spec = pod.spec
    containers = [(c, True) for c in spec.init_containers or []] + [(c, False) for c in spec.containers or []]
    uses: list[ObjectUse] = []
    for container, is_init in containers:
        where = "" if len(containers) == 1 else f" in {'init ' if is_init else ''}container {container.name}"
        uses.extend(_container_uses(container, where))
    mounts: dict[str, list[str]] = {}
    for container, _ in containers:
        for mount in container.volume_mounts or []:
            mounts.setdefault(mount.name, []).append(mount.mount_path)
    for volume in spec.volumes or []:
        uses.extend(_volume_uses(volume, mounts.get(volume.name, []), file_hints or {}))
    uses.extend(ObjectUse(SECRET, ref.name, (), False, IMAGE_PULL_SECRETS) for ref in spec.image_pull_secrets or [])
    required = spec.affinity and spec.affinity.node_affinity
    required = required and required.required_during_scheduling_ignored_during_execution
    return PodReferences(
        namespace=(pod.metadata and pod.metadata.namespace) or "default",
        objects=tuple(use for use in uses if use.name),
        service_account=spec.service_account_name or spec.service_account or "default",
        node_selector=dict(spec.node_selector or {}),
        node_selector_terms=tuple((required and required.node_selector_terms) or ()),
    )


def run_preflight(
    pod: k8s.V1Pod,
    core_v1: CoreV1Api,
    authorization_v1: AuthorizationV1Api,
    *,
    need_exec: bool,
    environ: Mapping[str, str] | None = None,
    file_hints: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> list[Finding]:
    """Return the problems that would stop ``pod`` from starting or running (``fatal``), and warnings.

    :param pod: The pod as the operator would create it (after the pod mutation hook).
    :param core_v1: Client for namespaces, Secrets, ConfigMaps, service accounts and nodes.
    :param authorization_v1: Client for the permission reviews.
    :param need_exec: Whether the operator will exec into the pod (XCom sidecar).
    :param environ: The environment telling Composer's version; ``os.environ`` if None.
    :param file_hints: See :func:`pod_references`.
    """
    refs = pod_references(pod, file_hints)
    namespace_problem = _check_namespace(core_v1, refs.namespace, environ)
    if namespace_problem:
        return [namespace_problem]  # everything namespaced would be missing too
    problems = list(_check_objects(core_v1, refs, environ))
    problems.extend(_check_service_account(core_v1, refs, environ))
    problems.extend(_check_nodes(core_v1, refs, environ))
    access = POD_ACCESS + (EXEC_ACCESS if need_exec else ())
    problems.extend(_check_permissions(authorization_v1, refs.namespace, access, environ))
    return problems


def format_problems(problems: Sequence[Finding], *, task_id: str, namespace: str) -> str:
    """Return a header line and one line per problem, errors first, each with its fix."""
    errors = [p for p in problems if p.fatal]
    warnings = [p for p in problems if not p.fatal]
    counts = " and ".join(_plural(n, word) for n, word in ((len(errors), "error"), (len(warnings), "warning")) if n)
    lines = [f"Task {task_id!r}: preflight found {counts or 'no problems'} for the pod in namespace {namespace!r}:"]
    for problem in errors + warnings:
        # The header names the pod's namespace; a line repeats it only when it is another one.
        lines.append(f"  {'error' if problem.fatal else 'warning'}: {problem.describe(namespace_shown=namespace)}")
    return "\n".join(lines)


# --- what the pod refers to ---------------------------------------------------------------------


def _container_uses(container: k8s.V1Container, where: str) -> Iterator[ObjectUse]:
    for env in container.env or []:
        source = env.value_from
        if source is not None and source.secret_key_ref is not None:
            ref = source.secret_key_ref
            yield ObjectUse(SECRET, ref.name, (ref.key,), bool(ref.optional), f"env {env.name}{where}")
        if source is not None and source.config_map_key_ref is not None:
            ref = source.config_map_key_ref
            yield ObjectUse(CONFIG_MAP, ref.name, (ref.key,), bool(ref.optional), f"env {env.name}{where}")
    for env_from in container.env_from or []:
        if env_from.secret_ref is not None:
            ref = env_from.secret_ref
            yield ObjectUse(SECRET, ref.name, (), bool(ref.optional), f"envFrom{where}")
        if env_from.config_map_ref is not None:
            ref = env_from.config_map_ref
            yield ObjectUse(CONFIG_MAP, ref.name, (), bool(ref.optional), f"envFrom{where}")


def _volume_uses(
    volume: k8s.V1Volume, mount_paths: Sequence[str], file_hints: Mapping[tuple[str, str], Sequence[str]]
) -> Iterator[ObjectUse]:
    # Where it is mounted is what the DAG's author wrote; the volume's name may be generated
    # (Airflow's Secret("volume", ...) names it secretvol<uuid>).
    paths = list(dict.fromkeys(mount_paths))
    used_by = f"volume mounted at {', '.join(paths)}" if paths else f"volume {volume.name} (not mounted)"
    if volume.secret is not None:
        source = volume.secret
        keys = _item_keys(source.items)
        hints = tuple(key for path in paths for key in file_hints.get((source.secret_name, path), ()))
        use = ObjectUse(SECRET, source.secret_name, keys, bool(source.optional), used_by, files=True, file_hints=hints)
        yield use
    if volume.config_map is not None:
        source = volume.config_map
        keys = _item_keys(source.items)
        yield ObjectUse(CONFIG_MAP, source.name, keys, bool(source.optional), used_by, files=True)
    for projection in (volume.projected and volume.projected.sources) or []:
        for kind, source in ((SECRET, projection.secret), (CONFIG_MAP, projection.config_map)):
            if source is not None:
                keys = _item_keys(source.items)
                yield ObjectUse(kind, source.name, keys, bool(source.optional), used_by, files=True)


def _item_keys(items: list[k8s.V1KeyToPath] | None) -> tuple[str, ...]:
    return tuple(item.key for item in items or [])


# --- namespace, Secrets, ConfigMaps, service account --------------------------------------------


def _read(what: str, call: Callable[[], Any], grant: str) -> Any:
    """Return the object, ``_MISSING`` on 404, or None when the API will not tell (403, other errors)."""
    try:
        return call()
    except ApiException as e:
        if is_gone(e):
            return _MISSING
        _not_checked(f"cannot read {what}", e, grant)
        return None


def _not_checked(what: str, error: ApiException, grant: str, skipped: str = "not checked") -> None:
    """Log a check the API would not answer: a 403 as a warning naming the permission, never a failure."""
    if error.status == 403:
        log.warning("Preflight: %s (%s); %s. To check it, grant %s", what, error_gist(error), skipped, grant)
    else:
        log.info("Preflight: %s (%s); %s", what, error_gist(error), skipped)


def _check_namespace(core_v1: CoreV1Api, namespace: str, environ: Mapping[str, str] | None) -> Finding | None:
    found = _read(f"Namespace {namespace}", lambda: core_v1.read_namespace(namespace), "get on namespaces")
    if found is not _MISSING:
        return None
    fix = namespace_fix_command(namespace, environ)
    return Finding("Namespace", namespace, "not found", fix, fatal=True, used_by="metadata.namespace")


def _check_objects(core_v1: CoreV1Api, refs: PodReferences, environ: Mapping[str, str] | None) -> Iterator[Finding]:
    """Read each required Secret and ConfigMap once and yield what is missing from it."""
    readers = {SECRET: core_v1.read_namespaced_secret, CONFIG_MAP: core_v1.read_namespaced_config_map}
    for (kind, name), uses in _required_uses_by_object(refs.objects).items():
        found = _read(
            f"{kind} {name}",
            lambda kind=kind, name=name: readers[kind](name, refs.namespace),  # type: ignore[misc]  # defaults
            f"get on {kind.lower()}s in namespace {refs.namespace}",
        )
        if found is None:
            continue
        keys = None if found is _MISSING else _key_names(found)
        del found  # holds the values; only the key names go further
        problem = _object_problem(kind, name, refs.namespace, uses, keys, environ)
        if problem:
            yield problem


def _required_uses_by_object(uses: Iterable[ObjectUse]) -> dict[tuple[str, str], list[ObjectUse]]:
    grouped: dict[tuple[str, str], list[ObjectUse]] = {}
    for use in uses:
        if not use.optional:
            grouped.setdefault((use.kind, use.name), []).append(use)
    return grouped


def _key_names(obj: k8s.V1Secret | k8s.V1ConfigMap) -> frozenset[str]:
    return frozenset(obj.data or {}) | frozenset(getattr(obj, "binary_data", None) or {})


def _object_problem(
    kind: str,
    name: str,
    namespace: str,
    uses: list[ObjectUse],
    keys: frozenset[str] | None,
    environ: Mapping[str, str] | None,
) -> Finding | None:
    """Return the problem with one Secret or ConfigMap (None if it has all it needs)."""
    fix_command = secret_fix_command if kind == SECRET else config_map_fix_command
    if keys is None:
        pull_only = all(use.used_by == IMAGE_PULL_SECRETS for use in uses)
        if pull_only:
            fix = image_pull_secret_fix_command(name, namespace, environ)
        else:
            needed = [key for use in uses for key in use.keys or use.file_hints]
            file_keys = [key for use in uses if use.files for key in use.keys or use.file_hints]
            mounted = any(use.files for use in uses)
            fix = fix_command(name, namespace, keys=needed, file_keys=file_keys, mounted=mounted, environ=environ)
        message = "not found; a public image pulls without it" if pull_only else "not found"
        used_by = _joined(u.used_by for u in uses)
        return Finding(kind, name, message, fix, fatal=not pull_only, namespace=namespace, used_by=used_by)
    lacking = [use for use in uses if any(key not in keys for key in use.keys)]
    if not lacking:
        return None
    missing = list(dict.fromkeys(key for use in lacking for key in use.keys if key not in keys))
    message = f"has no key {_joined(repr(k) for k in missing)}"
    fix = fix_command(name, namespace, keys=missing, existing_keys=keys, environ=environ)
    used_by = _joined(u.used_by for u in lacking)
    return Finding(kind, name, message, fix, fatal=True, namespace=namespace, used_by=used_by)


def _check_service_account(
    core_v1: CoreV1Api, refs: PodReferences, environ: Mapping[str, str] | None
) -> Iterator[Finding]:
    name, namespace = refs.service_account, refs.namespace
    found = _read(
        f"ServiceAccount {name}",
        lambda: core_v1.read_namespaced_service_account(name, namespace),
        f"get on serviceaccounts in namespace {namespace}",
    )
    if found is _MISSING:
        fix = service_account_fix_command(name, namespace, environ)
        yield Finding(
            "ServiceAccount", name, "not found", fix, fatal=True, namespace=namespace, used_by="serviceAccountName"
        )


# --- nodes --------------------------------------------------------------------------------------


def _check_nodes(core_v1: CoreV1Api, refs: PodReferences, environ: Mapping[str, str] | None) -> Iterator[Finding]:
    if not refs.node_selector and not refs.node_selector_terms:
        return
    try:
        nodes = core_v1.list_node().items or []
    except ApiException as e:
        _not_checked("cannot list nodes", e, "list on nodes (cluster-wide)", "the node selector is not checked")
        return
    labelled = [(node.metadata.labels or {}, node.metadata.name) for node in nodes]
    if any(
        node_fits(labels, node_name, refs.node_selector, refs.node_selector_terms) for labels, node_name in labelled
    ):
        return
    used_by = " and ".join(
        part
        for part, present in (("nodeSelector", refs.node_selector), ("nodeAffinity", refs.node_selector_terms))
        if present
    )
    yield Finding(
        "Node",
        describe_selector(refs.node_selector, refs.node_selector_terms),
        f"matches no node now (fine if a node pool scales up for it); {_existing_labels(refs, labelled)}",
        node_selector_fix_hint(environ),
        fatal=False,
        used_by=used_by,
    )


def _existing_labels(refs: PodReferences, labelled: list[tuple[Mapping[str, str], str]]) -> str:
    if not labelled:
        return "the cluster has no nodes"
    keys = [*refs.node_selector, *(r.key for term in refs.node_selector_terms for r in term.match_expressions or [])]
    parts = []
    for key in dict.fromkeys(keys):
        values = sorted({labels[key] for labels, _ in labelled if key in labels})
        shown = ", ".join(values[:_MAX_VALUES_SHOWN]) + (", ..." if len(values) > _MAX_VALUES_SHOWN else "")
        parts.append(f"nodes have {key} in {{{shown}}}" if values else f"no node has label {key}")
    return "; ".join(parts) or "no node matches the matchFields"


# --- permissions --------------------------------------------------------------------------------


def _check_permissions(
    authorization_v1: AuthorizationV1Api,
    namespace: str,
    needed: Sequence[Access],
    environ: Mapping[str, str] | None,
) -> list[Finding]:
    missing = missing_permissions(authorization_v1, namespace, needed)
    if not missing:
        return []
    verbs = list(dict.fromkeys(a.verb for a in missing))
    resources = list(dict.fromkeys(f"{a.resource}/{a.subresource}".rstrip("/") for a in missing))
    fix = role_fix_command(namespace, verbs, resources, environ)
    return [
        Finding("Permission", a.label, "not allowed", fix, fatal=a.required, namespace=namespace, used_by=a.needed_for)
        for a in missing
    ]


def _joined(items: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(items))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
