"""Build time: the pod spec's policies (``set -e``, timeouts, resources, finish action, validation) and DAG helpers."""
