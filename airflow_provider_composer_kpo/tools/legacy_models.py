"""Airflow 1.10's own Kubernetes classes, rewritten by ``composer-kpo migrate`` as Kubernetes client models.

Airflow 2.0 dropped them for ``kubernetes.client.models``; the import moves with the class name
(:data:`.upgrade_facts.SYMBOLS`), and the call's arguments change as follows:

=================  =========================================  ==============================================
Airflow 1.10       its arguments                              written as
=================  =========================================  ==============================================
VolumeMount        name, mount_path, sub_path, read_only      V1VolumeMount(the same, as keywords)
Port               name=None, container_port=None             V1ContainerPort(the same, as keywords)
Volume             name, configs (the API's camelCase keys)   V1Volume(name=..., persistent_volume_claim=...)
Resources          request_memory=..., limit_gpu=..., ...     V1ResourceRequirements(requests=.., limits=..)
PodRuntimeInfoEnv  name, field_path                           V1EnvVar(name=..., value_from=V1EnvVarSource(
                                                              field_ref=V1ObjectFieldSelector(field_path=...)))
=================  =========================================  ==============================================

A ``Volume`` keeps each ``configs`` value as Airflow 1.10 did (a dict with the API's camelCase keys,
which the client sends as written). What cannot be rewritten safely comes back as a reason for a note.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence, Tuple, Union, cast

import libcst as cst

from ..pod.resources import LEGACY_RESOURCE_KEYS

#: class name -> its Airflow 1.10 parameters, in order.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "VolumeMount": ("name", "mount_path", "sub_path", "read_only"),
    "Port": ("name", "container_port"),
    "Volume": ("name", "configs"),
    "Resources": tuple(LEGACY_RESOURCE_KEYS),
    "PodRuntimeInfoEnv": ("name", "field_path"),
}
_MODULES = ("airflow.kubernetes.", "airflow.contrib.kubernetes.")

#: The rewritten call and the further models it uses; or why it was left alone.
Rewrite = Union[Tuple[cst.Call, Tuple[str, ...]], str]


def legacy_class(qualified_names: set[str]) -> str | None:
    """Return ``Volume`` and the like when one of ``qualified_names`` is such an Airflow 1.10 class."""
    for name in qualified_names:
        module, _, cls = name.rpartition(".")
        if cls in PARAMETERS and module.startswith(_MODULES):
            return cls
    return None


def rewrite(cls: str, call: cst.Call, dicts: Mapping[str, cst.Dict]) -> Rewrite:
    """Return ``call`` (an Airflow 1.10 ``cls`` whose name already reads as the model) with the model's arguments.

    ``dicts``: the file's module-level dict literals by name, for ``Volume(configs=NAME)``.
    """
    given = _by_parameter(cls, call.args)
    if isinstance(given, str):
        return given
    if cls in ("VolumeMount", "Port"):
        return call.with_changes(args=list(given.values())), ()
    if cls == "Resources":
        return _resources(call, given), ()
    if cls == "PodRuntimeInfoEnv":
        return _runtime_env(call, given)
    return _volume(call, given, dicts)


def _by_parameter(cls: str, args: Sequence[cst.Arg]) -> dict[str, cst.Arg] | str:
    """Return parameter -> the call's argument, every one as a keyword argument."""
    parameters = PARAMETERS[cls]
    given: dict[str, cst.Arg] = {}
    for position, arg in enumerate(args):
        if arg.star:
            return f"{cls}(...) with *args or **kwargs"
        if arg.keyword is None:
            if position >= len(parameters):
                return f"{cls}(...) with more than {len(parameters)} arguments"
            arg = arg.with_changes(keyword=cst.Name(parameters[position]), equal=_EQUAL)
        name = arg.keyword.value if arg.keyword else ""
        if name not in parameters:
            return f"{cls}({name}=...) is not an argument Airflow 1.10 knew"
        given[name] = arg
    return given


_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _resources(call: cst.Call, given: Mapping[str, cst.Arg]) -> cst.Call:
    parts: dict[str, list[str]] = {"requests": [], "limits": []}
    for name, arg in given.items():
        field, resource = LEGACY_RESOURCE_KEYS[name]
        parts[field].append(f'"{resource}": {_code(arg.value)}')
    fields = ", ".join(f"{field}={{{', '.join(items)}}}" for field, items in parts.items() if items)
    return call.with_changes(args=cast(cst.Call, cst.parse_expression(f"f({fields})")).args)


def _runtime_env(call: cst.Call, given: Mapping[str, cst.Arg]) -> Rewrite:
    if set(given) != {"name", "field_path"}:
        return "PodRuntimeInfoEnv(...) without both name and field_path"
    field_path = _code(given["field_path"].value)
    value_from = cst.parse_expression(f"V1EnvVarSource(field_ref=V1ObjectFieldSelector(field_path={field_path}))")
    args = [given["name"].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
            cst.Arg(value_from, keyword=cst.Name("value_from"), equal=_EQUAL)]  # fmt: skip
    return call.with_changes(args=args), ("V1EnvVarSource", "V1ObjectFieldSelector")


def _volume(call: cst.Call, given: Mapping[str, cst.Arg], dicts: Mapping[str, cst.Dict]) -> Rewrite:
    from kubernetes.client import V1Volume

    configs = given.get("configs")
    value = configs.value if configs else None
    literal = dicts.get(value.value) if isinstance(value, cst.Name) else value
    if "name" not in given or not isinstance(literal, cst.Dict):
        return "Volume(configs=...) is not a dict literal of the file"
    fields = []
    for element in literal.elements:
        key = _string_key(element)
        field = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() if key else None
        if field is None or field not in V1Volume.attribute_map or field == "name":
            return f"Volume(configs=...) has a key that is not a field of V1Volume ({key!r})"
        assert isinstance(element, cst.DictElement)
        # A dict of the file is read where it is, so a later change to it still counts.
        code = f"{value.value}[{_code(element.key)}]" if isinstance(value, cst.Name) else _code(element.value)
        fields.append(f"{field}={code}")
    name = _code(given["name"].value)
    return call.with_changes(args=cast(cst.Call, cst.parse_expression(f"f(name={name}, {', '.join(fields)})")).args), ()


def _string_key(element: cst.BaseDictElement) -> str | None:
    if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
        value = element.key.evaluated_value
        return value if isinstance(value, str) else None
    return None
