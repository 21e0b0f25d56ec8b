"""Talking to the Kubernetes API: which configuration, and the retry policy for transient failures."""
