"""Facts and verdict values at the bottom of the package, which any layer may use.

Kept apart from the stages that judge (``lifecycle/``) so that the layers below them can return
the same verdicts (Composer 3's peer VM says why a placeholder has not started yet), and apart from
``compat`` and ``tools/`` so that both read one version fact without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Older cncf-kubernetes releases import Airflow 2-only modules (compat.py refuses them on Airflow 3).
CNCF_KUBERNETES_FOR_AIRFLOW_3: tuple[int, int] = (10, 5)


@dataclass(frozen=True)
class StartupBlocker:
    """A reason the pod cannot start; ``fatal`` means waiting longer will not help."""

    reason: str
    message: str
    container: str | None = None
    fatal: bool = True

    def describe(self) -> str:
        where = f" (container {self.container!r})" if self.container else ""
        return f"{self.reason}: {self.message}{where}"
