"""Which parts of a kubeconfig are secrets, so that they can be masked in every later log line.

Airflow's secrets masker hides connection extras only by their key names (``token``, ``password``,
...): an inline kubeconfig (the connection's ``kube_config`` field) or a kubeconfig file is not
masked at all, and its bearer tokens and private keys would show in any log line that prints them.
Pure functions: no Airflow, no API calls; :mod:`..hooks.composer_kubernetes` registers the answer.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Iterable, Iterator, Mapping

import yaml

#: Fields of a kubeconfig ``users[].user`` entry whose values are credentials.
USER_SECRET_FIELDS = ("token", "password", "client-key-data")
#: Key fragments that make an ``auth-provider`` config value or an ``exec`` env value a credential.
SECRET_KEY_FRAGMENTS = ("token", "secret", "password", "key", "credential")
#: Shorter values are not masked: they would hide common words and numbers in every log line.
MIN_SECRET_LENGTH = 6
#: Whole texts longer than this are not registered: the masker compiles each into a pattern (re2
#: refuses very large ones), and the hook rejects an inline kubeconfig over 1 MiB anyway.
MAX_WHOLE_TEXT = 64 * 1024


def parse_kubeconfig(value: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Return the kubeconfig as a mapping (JSON or YAML text, or a mapping), or None if it is not one."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        data = yaml.safe_load(value)  # JSON is YAML, so one parser serves the form's JSON field too
    except yaml.YAMLError:
        return None
    return data if isinstance(data, Mapping) else None


def kubeconfig_secrets(value: str | Mapping[str, Any] | None) -> list[str]:
    """Return every credential in a kubeconfig: tokens, passwords, private keys (also decoded), and
    the tokens and secrets of auth-provider configs and exec plugins' environments.

    Text that does not parse is returned whole (when long enough): it may still hold credentials.
    """
    data = parse_kubeconfig(value)
    if data is None:
        return _whole(value)
    found: list[str] = []
    for entry in _entries(data.get("users")):
        user = entry.get("user")
        if not isinstance(user, Mapping):
            continue
        for field in USER_SECRET_FIELDS:
            found.extend(_strings(user.get(field)))
        found.extend(_decoded_key(user.get("client-key-data")))
        provider = user.get("auth-provider")
        if isinstance(provider, Mapping) and isinstance(provider.get("config"), Mapping):
            found.extend(_secret_values(provider["config"].items()))
        plugin = user.get("exec")
        if isinstance(plugin, Mapping):
            pairs = ((e.get("name"), e.get("value")) for e in _entries(plugin.get("env")))
            found.extend(_secret_values(pairs))
    return _unique(found)


def configuration_secrets(configuration: Any) -> list[str]:
    """Return the credentials a built kubernetes client ``Configuration`` holds.

    Exec plugins and auth providers (GKE's ``gke-gcloud-auth-plugin``) produce their token only when
    the client is built: it is in ``api_key``, as ``Bearer <token>``.
    """
    found: list[str] = []
    for value in (getattr(configuration, "api_key", None) or {}).values():
        if isinstance(value, str):
            found.append(value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value)
    found.extend(_strings(getattr(configuration, "password", None)))
    return _unique(found)


def inline_kubeconfig_text(value: str | Mapping[str, Any] | None) -> list[str]:
    """Return the inline kubeconfig as it may be printed: its text, and as upstream dumps a mapping."""
    return _whole(json.dumps(value) if isinstance(value, Mapping) else value)


def _whole(value: Any) -> list[str]:
    if not isinstance(value, str) or not MIN_SECRET_LENGTH <= len(value.strip()) <= MAX_WHOLE_TEXT:
        return []
    return [value]


def _entries(value: Any) -> Iterator[Mapping[str, Any]]:
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, Mapping):
            yield entry


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH else []


def _secret_values(pairs: Iterable[tuple[Any, Any]]) -> list[str]:
    found: list[str] = []
    for key, value in pairs:
        if isinstance(key, str) and any(fragment in key.lower() for fragment in SECRET_KEY_FRAGMENTS):
            found.extend(_strings(value))
    return found


def _decoded_key(value: Any) -> list[str]:
    """The PEM text of a base64 ``client-key-data``, whole and line by line (a log may print either)."""
    if not isinstance(value, str):
        return []
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, ValueError):
        return []
    lines = [line for line in text.splitlines() if len(line) >= MIN_SECRET_LENGTH and not line.startswith("-----")]
    return [text.strip(), *lines]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
