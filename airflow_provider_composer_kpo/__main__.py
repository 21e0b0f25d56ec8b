"""``python -m airflow_provider_composer_kpo``: the ``composer-kpo`` command."""

from .tools.cli import main

raise SystemExit(main())
