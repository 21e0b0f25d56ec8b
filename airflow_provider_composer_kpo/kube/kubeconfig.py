"""Where the Kubernetes client configuration comes from: one rule for the operator and the hook.

The first row that applies wins; the others are not consulted, so two sources can never clash
(upstream raises "mutually exclusive" when an operator argument meets a connection extra).

====  ================================================  ==============================================
rank  source                                            when
====  ================================================  ==============================================
1     argument ``in_cluster=True``                      passed to the operator or hook
2     argument ``config_file``                          passed explicitly (also via ``default_args``)
3     connection extra ``in_cluster``, ``kube_config``  the connection sets exactly one of them
      or ``kube_config_path``                           (more than one is an error naming the fields)
4     ``$COMPOSER_KPO_KUBECONFIG``                      set (local runs, CI); the file must exist
5     ``/home/airflow/composer_kube_config``            the file exists (every Composer worker)
6     upstream's default chain                          in-cluster, then ``$KUBECONFIG``, then
                                                        ``~/.kube/config``
====  ================================================  ==============================================

Rows 4 and 5 are skipped when the operator is given ``config_file=None`` explicitly.

A chosen file is read before a client is built (:func:`config_file_problem`): upstream's client
would fail on a missing or empty file with "Invalid kube-config file. No configuration found.",
which names neither the file nor the rule that chose it.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

import yaml

from ..exceptions import KubeconfigResolutionError
from ..platform.composer import COMPOSER_KUBECONFIG_PATH, KUBECONFIG_ENV_OVERRIDE

#: The sections without which a kubeconfig configures nothing.
KUBECONFIG_SECTIONS = ("clusters", "contexts", "users")

#: Connection extras that each select a client configuration on their own.
CONNECTION_SOURCE_FIELDS = ("in_cluster", "kube_config_path", "kube_config")


class Origin(str, enum.Enum):
    ARGUMENT_IN_CLUSTER = "in_cluster=True argument"
    ARGUMENT_FILE = "config_file argument"
    CONNECTION = "connection"
    ENV_OVERRIDE = f"${KUBECONFIG_ENV_OVERRIDE}"
    COMPOSER_FILE = "Composer's kubeconfig"
    DEFAULT_CHAIN = "default chain (in-cluster, $KUBECONFIG, ~/.kube/config)"


@dataclass(frozen=True)
class ClientConfigChoice:
    """The chosen source; ``config_file``/``in_cluster`` are what to hand to upstream's hook."""

    origin: Origin
    config_file: str | None = None
    in_cluster: bool | None = None
    connection_field: str | None = None

    @property
    def uses_connection_source(self) -> bool:
        return self.origin is Origin.CONNECTION

    @property
    def is_in_cluster(self) -> bool | None:
        """Return whether the client will use the in-cluster service account; None when only trying tells."""
        if self.origin is Origin.DEFAULT_CHAIN:
            return None
        if self.origin is Origin.CONNECTION:
            return self.connection_field == "in_cluster"
        return self.origin is Origin.ARGUMENT_IN_CLUSTER

    def describe(self, conn_id: str | None) -> str:
        """Return one log line: what was used and why.

        ``conn_id`` None describes the connection itself (its Test button): no operator is involved.
        """
        if self.origin is Origin.CONNECTION:
            if not conn_id:
                return f"the connection's extra {self.connection_field!r}"
            return f"connection {conn_id!r} extra {self.connection_field!r} (no operator argument given)"
        if self.origin is Origin.ARGUMENT_IN_CLUSTER:
            return "in-cluster service account (in_cluster=True argument)"
        if self.origin is Origin.DEFAULT_CHAIN:
            return f"{self.origin.value}: no argument, no connection source, no Composer kubeconfig"
        return f"{self.config_file} ({self.reason()})"

    def reason(self) -> str:
        """Return why a file was chosen (rows 2, 4 and 5), in a few words."""
        return {
            Origin.ARGUMENT_FILE: "explicit config_file argument",
            Origin.ENV_OVERRIDE: f"${KUBECONFIG_ENV_OVERRIDE} is set",
            Origin.COMPOSER_FILE: "Composer's kubeconfig exists; no argument or connection source",
        }.get(self.origin, self.origin.value)


def choose_client_config(
    *,
    config_file: str | None,
    in_cluster: bool | None,
    connection_fields: Mapping[str, object],
    conn_id: str | None,
    use_composer_kubeconfig: bool = True,
    environ: Mapping[str, str] | None = None,
    file_exists: Callable[[str], bool] = os.path.isfile,
) -> ClientConfigChoice:
    """Apply the rule in this module's docstring.

    :param config_file: the explicit ``config_file`` argument, or None when not given.
    :param in_cluster: the ``in_cluster`` argument.
    :param connection_fields: the connection's values for :data:`CONNECTION_SOURCE_FIELDS`
        (falsy when unset); values are never logged, since ``kube_config`` holds credentials.
    :param use_composer_kubeconfig: False to skip rows 4 and 5.
    """
    environ = os.environ if environ is None else environ
    if in_cluster:
        if config_file:
            raise KubeconfigResolutionError(
                f"in_cluster=True and config_file={config_file!r} were both given; pass only one of them."
            )
        return ClientConfigChoice(Origin.ARGUMENT_IN_CLUSTER, in_cluster=True)
    if config_file:
        return ClientConfigChoice(Origin.ARGUMENT_FILE, config_file=config_file)

    set_fields = [name for name in CONNECTION_SOURCE_FIELDS if connection_fields.get(name)]
    if len(set_fields) > 1:
        raise KubeconfigResolutionError(
            f"Connection {conn_id!r} sets {' and '.join(set_fields)}; they each select a cluster "
            f"configuration, so keep exactly one of them in the connection's extras."
        )
    if set_fields:
        return ClientConfigChoice(Origin.CONNECTION, connection_field=set_fields[0])

    if use_composer_kubeconfig:
        override = environ.get(KUBECONFIG_ENV_OVERRIDE)
        if override:
            if not file_exists(override):
                raise KubeconfigResolutionError(
                    f"${KUBECONFIG_ENV_OVERRIDE}={override!r} does not name a file; point it at a "
                    f"kubeconfig or unset it."
                )
            return ClientConfigChoice(Origin.ENV_OVERRIDE, config_file=override)
        if file_exists(COMPOSER_KUBECONFIG_PATH):
            return ClientConfigChoice(Origin.COMPOSER_FILE, config_file=COMPOSER_KUBECONFIG_PATH)
    return ClientConfigChoice(Origin.DEFAULT_CHAIN)


def _read_text(path: str) -> str:
    with open(os.path.expanduser(path), encoding="utf-8") as file:  # the client expands "~" too
        return file.read()


def read_kubeconfig_texts(path: str, read: Callable[[str], str] = _read_text) -> list[str]:
    """Return the text of each kubeconfig file at ``path`` (a ``:``-separated list too) that can be
    read; what is wrong with one that cannot is :func:`config_file_problem`'s to say."""
    texts = []
    for one in path.split(os.pathsep):
        try:
            texts.append(read(one))
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def config_file_problem(path: str, read: Callable[[str], str] = _read_text) -> str | None:
    """Return why the kubeconfig at ``path`` cannot configure a client, or None when it can.

    The file's content never enters the answer: a kubeconfig holds tokens and private keys. A
    ``:``-separated list is left to the client, which merges the files that exist.
    """
    if os.pathsep in path:
        return None
    try:
        text = read(path)
    except FileNotFoundError:
        return "does not exist"
    except IsADirectoryError:
        return "is a directory, not a file"
    except PermissionError:
        return "cannot be read: permission denied"
    except UnicodeDecodeError:
        return "is not a text file"
    except OSError as error:
        return f"cannot be read: {error.strerror or type(error).__name__}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return "is not valid YAML" + (f" (line {mark.line + 1})" if mark is not None else "")
    if not isinstance(data, dict) or not any(data.get(section) for section in KUBECONFIG_SECTIONS):
        state = "is empty" if not data else "is not a kubeconfig"
        return f"{state}: it has no {', '.join(repr(s) for s in KUBECONFIG_SECTIONS)}"
    return None


#: An inline kubeconfig is a few KiB; one past this is pasted by mistake (and would be logged whole).
MAX_INLINE_CONFIG_BYTES = 1024 * 1024


def inline_config_problem(value: object) -> str | None:
    """Return why the connection's inline kubeconfig (``kube_config``) cannot configure a client, or None.

    As for files, the content never enters the answer: it holds tokens and private keys.
    """
    if isinstance(value, str):
        if len(value.encode()) > MAX_INLINE_CONFIG_BYTES:
            return f"is {len(value.encode())} bytes, more than a kubeconfig ({MAX_INLINE_CONFIG_BYTES} at most)"
        return config_file_problem("<inline>", read=lambda _: value)
    if isinstance(value, dict):
        return config_file_problem("<inline>", read=lambda _: yaml.safe_dump(value))
    return f"is {type(value).__name__}, not a kubeconfig (JSON text or object)"


def unusable_inline_config(problem: str, conn_id: str | None) -> str:
    """Return the error for a connection whose inline kubeconfig cannot be used: the field and the fix."""
    return (
        f"The kubeconfig in connection {conn_id!r}, extra 'kube_config' (the form's \"Kube config (JSON format)\") "
        f"{problem}; its content is not shown, it holds credentials. Fix: paste a whole kubeconfig as JSON "
        "(kubectl config view --raw --flatten --minify -o json), or clear the field to use Composer's kubeconfig."
    )


def unusable_config_file(choice: ClientConfigChoice, path: str, problem: str, conn_id: str | None) -> str:
    """Return the error for a chosen kubeconfig that cannot be used: the path, the rule and the fix."""
    fix = {
        Origin.ARGUMENT_FILE: (
            f"correct config_file, or leave it out: on Composer the operator then uses {COMPOSER_KUBECONFIG_PATH}"
        ),
        Origin.ENV_OVERRIDE: f"point ${KUBECONFIG_ENV_OVERRIDE} at a kubeconfig, or unset it",
        Origin.COMPOSER_FILE: (
            "Composer writes this file on every worker; pass config_file= or set the connection's "
            "kube_config_path to use another kubeconfig"
        ),
        Origin.CONNECTION: (
            f"correct the extra {choice.connection_field!r} of connection {conn_id!r}, or remove it to use "
            f"Composer's kubeconfig"
        ),
    }.get(choice.origin, "pass config_file= naming a kubeconfig")
    chosen_by = choice.describe(conn_id) if choice.origin is Origin.CONNECTION else choice.reason()
    return f"Kubeconfig {path} {problem}; chosen by: {chosen_by}. Fix: {fix}."
