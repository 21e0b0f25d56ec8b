"""KubernetesPodOperator for Cloud Composer, safe by default."""

__version__ = "0.1.0"
