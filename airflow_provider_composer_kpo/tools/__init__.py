"""Tools for DAGs folders: ``composer-kpo check`` (find what breaks) and ``migrate`` (rewrite it)."""
