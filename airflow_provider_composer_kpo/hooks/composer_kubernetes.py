"""ComposerKubernetesHook: upstream's KubernetesHook with one rule for where the config comes from.

We subclass and delegate rather than build clients ourselves: on Composer 3 Google patches the
client that upstream's hook creates, and that must keep working.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, cast

from ..compat import AirflowNotFoundException, Connection, KubernetesHook, mask_secret
from ..exceptions import KubeconfigResolutionError
from ..kube.client import RetryingCoreV1Api
from ..kube.kubeconfig import (
    CONNECTION_SOURCE_FIELDS,
    ClientConfigChoice,
    Origin,
    choose_client_config,
    config_file_problem,
    inline_config_problem,
    read_kubeconfig_texts,
    unusable_config_file,
    unusable_inline_config,
)
from ..kube.kubeconfig_secrets import configuration_secrets, inline_kubeconfig_text, kubeconfig_secrets
from ..platform.composer import COMPOSER_USER_WORKLOADS_NAMESPACE
from . import connection_form


class ComposerKubernetesHook(KubernetesHook):
    """Kubernetes hook for Cloud Composer.

    Differences from ``KubernetesHook``, the same on every cncf-kubernetes version:

    * the client configuration is chosen by the rule in :mod:`airflow_provider_composer_kpo.kube.kubeconfig`
      (arguments, then the connection, then Composer's kubeconfig, then upstream's chain), so an
      argument and a connection extra never raise "mutually exclusive";
    * a missing ``kubernetes_default`` connection is an empty connection, not an error;
    * :meth:`test_connection` talks to the cluster;
    * ``core_v1_client`` retries transient API failures (see :mod:`airflow_provider_composer_kpo.kube.retry`).

    :param conn_id: The connection id; ``kubernetes_default`` by default, and None for no connection.
    :param kubernetes_conn_id: The same, under the name Airflow uses to build a connection's hook.
    :param use_composer_kubeconfig: Fall back to ``$COMPOSER_KPO_KUBECONFIG`` or Composer's kubeconfig
        when neither an argument nor the connection selects a configuration.
    :param kwargs: Passed to ``KubernetesHook`` (``config_file``, ``in_cluster``, ``cluster_context``, ...).
    """

    conn_name_attr = "kubernetes_conn_id"
    default_conn_name = "kubernetes_default"
    conn_type = "composer_kubernetes"
    hook_name = "Kubernetes (Cloud Composer)"
    #: Log the client configuration chosen; ComposerPodOperator turns it off (its header block says it).
    announce_config = True

    def __init__(
        self,
        conn_id: str | None = default_conn_name,
        *,
        kubernetes_conn_id: str | None = None,
        use_composer_kubeconfig: bool = True,
        **kwargs: Any,
    ) -> None:
        # Airflow builds a connection's hook (the UI's Test button) with ``conn_name_attr``:
        # ``kubernetes_conn_id=``. It names the connection; upstream's hook takes it only from 6.0 on.
        if kubernetes_conn_id is not None:
            conn_id = kubernetes_conn_id
        super().__init__(conn_id=conn_id, **kwargs)
        self.use_composer_kubeconfig = use_composer_kubeconfig

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the connection form's extra fields for Airflow 2 and 3.1 (stored without a prefix)."""
        return connection_form.form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return which standard fields the Airflow 2 and 3.1 form hides and what it suggests."""
        return connection_form.field_behaviour(kebab=False)

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """Return the connection; a missing default connection is empty (6.0.0 raised instead)."""
        try:
            return super().get_connection(conn_id)
        except AirflowNotFoundException:
            if conn_id == cls.default_conn_name:
                return Connection(conn_id=conn_id)
            raise

    @cached_property
    def client_config_choice(self) -> ClientConfigChoice:
        """Return which client configuration this hook uses, by the package's one rule."""
        fields = {name: KubernetesHook._get_field(self, name) for name in CONNECTION_SOURCE_FIELDS}
        return choose_client_config(
            config_file=self.config_file,
            in_cluster=self.in_cluster,
            connection_fields=fields,
            conn_id=self.conn_id,
            use_composer_kubeconfig=self.use_composer_kubeconfig,
        )

    def _get_field(self, field_name: str) -> Any:
        # Connection extras that lost to a higher-ranked source are invisible to upstream's
        # get_conn, so it sees exactly one source and never raises "mutually exclusive".
        if field_name in CONNECTION_SOURCE_FIELDS and not self.client_config_choice.uses_connection_source:
            return None
        return super()._get_field(field_name)  # type: ignore[no-untyped-call]  # upstream's is unannotated

    def get_conn(self) -> Any:
        """Return an API client built by upstream's hook from the chosen configuration."""
        choice = self.client_config_choice
        log = self.log.info if self.announce_config else self.log.debug
        log("Kubernetes client configuration: %s", choice.describe(self.conn_id))
        path = self._chosen_file()
        self._mask_kubeconfig(path)
        problem = config_file_problem(path) if path else None
        if problem:
            raise KubeconfigResolutionError(unusable_config_file(choice, cast(str, path), problem, self.conn_id))
        if choice.connection_field == "kube_config":
            problem = inline_config_problem(KubernetesHook._get_field(self, "kube_config"))
            if problem:
                raise KubeconfigResolutionError(unusable_inline_config(problem, self.conn_id))
        if choice.origin is not Origin.CONNECTION:
            self.config_file = choice.config_file
            self.in_cluster = choice.in_cluster
        client = super().get_conn()
        # Tokens that exec plugins and auth providers (GKE's) hand the client exist only now.
        _mask(configuration_secrets(getattr(client, "configuration", None)))
        return client

    def _mask_kubeconfig(self, path: str | None) -> None:
        """Register the credentials of the kubeconfig about to be loaded with Airflow's secrets masker.

        Airflow masks connection extras by key name only; a kubeconfig's tokens and keys would show
        in any later log line that prints the connection, the file or the client's configuration.
        """
        secrets: list[str] = []
        if self.client_config_choice.connection_field == "kube_config":
            inline = KubernetesHook._get_field(self, "kube_config")
            secrets += inline_kubeconfig_text(inline) + kubeconfig_secrets(inline)
        for text in read_kubeconfig_texts(path) if path else []:
            secrets += kubeconfig_secrets(text)
        _mask(secrets)

    def mask_connection_credentials(self) -> None:
        """Register the credentials of the connection's kubeconfig (inline, or the file it names), loaded or not.

        For what reads the connection before the hook loads it: a template such as
        ``{{ conn.<id>.extra }}``, whose rendered value Airflow stores and shows masked by what is
        registered by then. Nothing happens without a connection.
        """
        if not self.conn_id:
            return
        try:
            inline = KubernetesHook._get_field(self, "kube_config")
            path = KubernetesHook._get_field(self, "kube_config_path")
        except AirflowNotFoundException:
            return
        secrets = inline_kubeconfig_text(inline) + kubeconfig_secrets(inline) if inline else []
        for text in read_kubeconfig_texts(str(path)) if path else []:
            secrets += kubeconfig_secrets(text)
        _mask(secrets)

    @property
    def is_in_cluster(self) -> bool:
        """Return whether the client uses the in-cluster service account, without building it if the rule says.

        Upstream builds the client to answer, and its pod builder asks before the task log's header
        is written; a kubeconfig that cannot be used would then fail with no header above it.
        """
        known = self.client_config_choice.is_in_cluster
        return super().is_in_cluster if known is None else known

    def _chosen_file(self) -> str | None:
        """Return the kubeconfig file the chosen source names, if it names one."""
        choice = self.client_config_choice
        if choice.origin is Origin.CONNECTION:
            if choice.connection_field != "kube_config_path":
                return None
            return str(KubernetesHook._get_field(self, "kube_config_path"))
        return choice.config_file

    @cached_property
    def core_v1_client(self) -> RetryingCoreV1Api:
        """Return a CoreV1Api on upstream's client that retries transient API failures."""
        return RetryingCoreV1Api(api_client=self.api_client)

    def test_connection(self) -> tuple[bool, str]:
        """Reach the API server and list pods in the connection's namespace; return (ok, message)."""
        from kubernetes.client import VersionApi
        from kubernetes.client.exceptions import ApiException

        namespace = self._get_field("namespace") or COMPOSER_USER_WORKLOADS_NAMESPACE
        try:
            version = VersionApi(self.api_client).get_code().git_version
            self.core_v1_client.list_namespaced_pod(namespace=namespace, limit=1)
        except ApiException as e:
            return False, f"Kubernetes API answered {e.status} {e.reason} (listing pods in {namespace!r})."
        except Exception as e:
            return False, f"Cannot reach the Kubernetes API: {type(e).__name__}: {e}"
        # Not named: the UI's Test runs on a copy of the form under a random connection id.
        return True, (
            f"Connected to Kubernetes {version} via {self.client_config_choice.describe(None)}; "
            f"pods in {namespace!r} are listable."
        )


#: Registered once per process: on Airflow 3 each registration is also a request to the supervisor.
_masked: set[str] = set()


def _mask(secrets: list[str]) -> None:
    for secret in secrets:
        if secret in _masked:
            continue
        try:
            mask_secret(secret)
        except RuntimeError:  # Airflow 2 outside a task: logging has no masker to add it to
            return
        _masked.add(secret)
