"""Facts about Cloud Composer, in one place.

Everything the package assumes about Composer lives here, so a change on Google's side is a change
in one module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence

#: The kubeconfig Composer writes on every worker, pointing at the environment's own GKE cluster.
COMPOSER_KUBECONFIG_PATH = "/home/airflow/composer_kube_config"

#: Namespace for user workloads; Composer 2 recommends it and Composer 3 forces it.
COMPOSER_USER_WORKLOADS_NAMESPACE = "composer-user-workloads"

#: Environment variable that points the Composer default kubeconfig elsewhere (local runs, CI).
KUBECONFIG_ENV_OVERRIDE = "COMPOSER_KPO_KUBECONFIG"

#: Set by Composer on its schedulers and workers, e.g. "2.1.10" or "3.0.1"; users cannot set it.
COMPOSER_VERSION_ENV = "COMPOSER_VERSION"


def composer_major_version(environ: Mapping[str, str] | None = None) -> int | None:
    """Return Composer's major version (1, 2, 3, ...), or None when not running on Composer."""
    value = (os.environ if environ is None else environ).get(COMPOSER_VERSION_ENV, "")
    major = value.split(".", 1)[0]
    return int(major) if major.isdigit() else None


def manages_user_workloads_with_gcloud(environ: Mapping[str, str] | None = None) -> bool:
    """Return True on Composer 3 and later, where users cannot create Secrets or ConfigMaps with kubectl."""
    return (composer_major_version(environ) or 0) >= 3


#: The key a fix command names when the task names none: a person fills it in.
ANY_KEY = "KEY"


def secret_fix_command(
    name: str,
    namespace: str,
    *,
    keys: Sequence[str] = (),
    existing_keys: Collection[str] | None = None,
    file_keys: Collection[str] = (),
    mounted: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the command that creates Secret ``name`` with ``keys``, or adds ``keys`` to it.

    Values are always the placeholder ``VALUE``: the command is for a person to complete. On
    Composer 3 it writes the Secret as YAML with ``kubectl --dry-run=client`` (no cluster access
    needed) and hands the file to ``gcloud``; ``update`` replaces the data, so it lists every key.

    :param keys: The keys the pod needs; none means any key (``KEY=VALUE``).
    :param existing_keys: The keys the Secret has, when it exists; None when it is missing.
    :param file_keys: The keys the pod reads as files (a volume): created with ``--from-file=KEY=PATH``.
    :param mounted: The pod mounts the whole object as a volume, so a key it does not name is a file.
    :param environ: The environment to read ``COMPOSER_VERSION`` from; ``os.environ`` if None.
    """
    return _data_object_fix("secret generic", name, namespace, keys, existing_keys, file_keys, mounted, environ)


def config_map_fix_command(
    name: str,
    namespace: str,
    *,
    keys: Sequence[str] = (),
    existing_keys: Collection[str] | None = None,
    file_keys: Collection[str] = (),
    mounted: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the command that creates ConfigMap ``name`` with ``keys``, or adds ``keys`` to it.

    Takes the same arguments as :func:`secret_fix_command`.
    """
    return _data_object_fix("configmap", name, namespace, keys, existing_keys, file_keys, mounted, environ)


def image_pull_secret_fix_command(name: str, namespace: str, environ: Mapping[str, str] | None = None) -> str:
    """Return the command that creates the registry credentials Secret ``name``."""
    command = f"kubectl create secret docker-registry {name}"
    flags = "--docker-server=SERVER --docker-username=USER --docker-password=PASSWORD"
    return _apply_user_workload("secret", command, flags, name, namespace, update=False, environ=environ)


def _data_object_fix(
    kubectl_kind: str,
    name: str,
    namespace: str,
    keys: Sequence[str],
    existing_keys: Collection[str] | None,
    file_keys: Collection[str],
    mounted: bool,
    environ: Mapping[str, str] | None,
) -> str:
    kind = kubectl_kind.split()[0]  # "secret" or "configmap"
    wanted = list(dict.fromkeys(keys)) or [ANY_KEY]
    if mounted:
        file_keys = {*file_keys, ANY_KEY}
    update = existing_keys is not None
    if update and not manages_user_workloads_with_gcloud(environ):
        field = "stringData" if kind == "secret" else "data"
        patch = json.dumps({field: dict.fromkeys(wanted, "VALUE")}, separators=(",", ":"))
        return f"kubectl patch {kind} {name} -n {namespace} --type merge -p '{patch}'"
    every_key = sorted(existing_keys or ()) + [key for key in wanted if key not in (existing_keys or ())]
    literals = " ".join(
        f"--from-file={key}=PATH" if key in file_keys else f"--from-literal={key}=VALUE" for key in every_key
    )
    command = f"kubectl create {kubectl_kind} {name}"
    return _apply_user_workload(kind, command, literals, name, namespace, update=update, environ=environ)


def _apply_user_workload(
    kind: str,
    command: str,
    flags: str,
    name: str,
    namespace: str,
    *,
    update: bool,
    environ: Mapping[str, str] | None,
) -> str:
    """Return ``command NAME flags`` run against the cluster, or through gcloud on Composer 3."""
    if not manages_user_workloads_with_gcloud(environ):
        return f"{command} -n {namespace} {flags}"
    group, file_flag = (
        ("user-workloads-secrets", "--secret-file-path")
        if kind == "secret"
        else ("user-workloads-config-maps", "--config-map-file-path")
    )
    return (
        f"{command} {flags} --dry-run=client -o yaml > {name}.yaml && "
        f"gcloud beta composer environments {group} {'update' if update else 'create'} "
        f"--environment ENVIRONMENT --location LOCATION {file_flag} {name}.yaml"
    )


def namespace_fix_command(namespace: str, environ: Mapping[str, str] | None = None) -> str:
    """Return how a user gets a missing namespace; Composer 3 runs pods in one namespace only."""
    if manages_user_workloads_with_gcloud(environ):
        return f"set namespace={COMPOSER_USER_WORKLOADS_NAMESPACE!r}: Composer 3 runs pods only there"
    return f"kubectl create namespace {namespace}"


def service_account_fix_command(name: str, namespace: str, environ: Mapping[str, str] | None = None) -> str:
    """Return how a user gets a missing Kubernetes service account."""
    if manages_user_workloads_with_gcloud(environ):
        return "leave service_account_name unset: Composer 3 does not let users create service accounts"
    return f"kubectl create serviceaccount {name} -n {namespace}"


def role_fix_command(
    namespace: str, verbs: Sequence[str], resources: Sequence[str], environ: Mapping[str, str] | None = None
) -> str:
    """Return how a user grants ``verbs`` on ``resources`` (core API group) in ``namespace``."""
    if manages_user_workloads_with_gcloud(environ):
        if namespace != COMPOSER_USER_WORKLOADS_NAMESPACE:
            return f"set namespace={COMPOSER_USER_WORKLOADS_NAMESPACE!r}: Composer 3 grants pod permissions only there"
        return "Composer 3 manages these permissions: check the environment's service account has roles/composer.worker"
    return (
        f"kubectl create role composer-kpo -n {namespace} --verb={','.join(verbs)} --resource={','.join(resources)} "
        f"&& kubectl create rolebinding composer-kpo -n {namespace} --role=composer-kpo --user=USER "
        "(USER: the identity Airflow uses)"
    )


def node_selector_fix_hint(environ: Mapping[str, str] | None = None) -> str:
    """Return how a user gets a node for a selector that matches none: Composer 2+ runs on GKE Autopilot."""
    if (composer_major_version(environ) or 0) >= 2:
        return (
            "nothing if it selects an Autopilot compute class (GKE adds the node); "
            "otherwise change node_selector/affinity to the labels above"
        )
    return (
        "change node_selector/affinity to the labels above, or add a pool that scales up for it: "
        "`gcloud container node-pools create POOL --cluster CLUSTER --location LOCATION --node-labels KEY=VALUE "
        "--enable-autoscaling --min-nodes 0 --max-nodes 3`"
    )
