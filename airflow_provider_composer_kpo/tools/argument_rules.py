"""CK205 and CK206: the arguments a KubernetesPodOperator or ComposerPodOperator call is refused for.

=====================================================  ===============  ==========================
what                                                   whose rule       refused when
=====================================================  ===============  ==========================
a keyword the target's operator does not take          Airflow          the file is imported
(:mod:`.parameters`), in the call or its ``.expand``
a positional argument, no ``task_id``                  Airflow          the file is imported
``.partial(resources={...})`` on Airflow 2             Airflow          the file is imported
a literal value ComposerPodOperator refuses            the operator's   the file is imported
(:mod:`..pod.validation`, the choices, ``resources``,  own functions    (``.partial``: when each
``on_finish_action``)                                                   mapped task runs, CK206)
=====================================================  ===============  ==========================

Values the file does not state (names from elsewhere, calls) and Jinja templates are skipped, as the
operator skips templates. Timeouts and ``errexit_policy='require'`` have codes of their own (CK501,
CK402).
"""

from __future__ import annotations

import ast
from typing import Any, NamedTuple, cast

from ..choices import closest
from ..pod.entrypoint import ErrexitPolicy
from ..pod.finish_action import finish_action_problem
from .dag_source import UNKNOWN, DagSource, callee, is_partial
from .parameters import DATED_KEYWORDS, accepted_keywords, why_unknown
from .target import Target, show_version
from .upgrade_facts import arguments_for

#: BaseOperator's ``resources`` (Airflow's Resources), not the pod's.
AIRFLOW_RESOURCES = ("cpus", "ram", "disk", "gpus")


class Refusal(NamedTuple):
    node: ast.AST
    code: str
    message: str
    fix: str


def refusals(source: DagSource, call: ast.Call, kind: str, target: Target, *, expand: ast.Call | None) -> list[Refusal]:
    """Return what the call (``kind`` "stock" or "composer") is refused for on ``target``.

    ``expand``: the ``.expand(...)`` call on a ``.partial(...)`` call, whose keywords must be accepted too.
    """
    found: list[Refusal] = []
    func = cast(ast.Attribute, call.func).value if is_partial(call) else call.func
    local = func.id if isinstance(func, ast.Name) else None
    own_keywords = source.local_keywords.get(local) if local else None
    if own_keywords is None:  # no __init__ of the DAG's own: the call goes straight to the operator
        found += _call_shape(source, call)
    found += _unknown_keywords(source, call, kind, target, own_keywords or frozenset(), expand)
    if is_partial(call) and target.airflow < (3, 0):
        found += _partial_resources(source, call, target)
    if kind == "composer":
        task_id = source.evaluate(getattr(source.keyword(call, "task_id"), "value", None))
        task = repr(task_id) if isinstance(task_id, str) else "?"
        for parameter, problem in rejected_values(source, call):
            keyword = source.keyword(call, parameter)
            node = keyword.value if keyword else call
            code, fix = (
                ("CK206", "a mapped task is built when it runs: each one fails until this is fixed")
                if is_partial(call)
                else ("CK205", "")  # the operator's message says what to pass
            )
            found.append(Refusal(node, code, f"Task {task}: {problem}", fix))
    return found


def expand_calls(tree: ast.AST) -> dict[int, ast.Call]:
    """Map each ``X.partial(...)`` call node (by id) to the ``.expand(...)`` call on it."""
    return {
        id(node.func.value): node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("expand", "expand_kwargs")
        and isinstance(node.func.value, ast.Call)
    }


def rejected_values(source: DagSource, call: ast.Call) -> list[tuple[str, str]]:
    """Return (parameter, the operator's message) for each value the file states that ComposerPodOperator refuses."""
    # Lazy for their cost, not for Airflow (none of them imports it): they load the kubernetes client,
    # over a thousand modules, which `composer-kpo` loads only for a file that needs it.
    from ..pod.resources import resources_problem
    from ..pod.validation import static_argument_problems
    from ..preflight.checks import PreflightMode

    values: dict[str, Any] = {}
    for keyword in call.keywords:
        value = source.evaluate(keyword.value) if keyword.arg else UNKNOWN
        if value is not UNKNOWN:
            values[str(keyword.arg)] = value
    problems = []
    for parameter, choice in (("errexit_policy", ErrexitPolicy), ("preflight", PreflightMode)):
        problem = choice.problem(values[parameter]) if parameter in values else None
        if problem:
            problems.append((parameter, problem))
    problems += static_argument_problems(values)
    if _given(source, call, "resources"):
        other = True if _given(source, call, "container_resources") else None
        problem = resources_problem(values.get("resources", {}), other)
        if problem:
            problems.append(("resources", problem))
    problem = finish_action_problem(values.get("on_finish_action"), values.get("is_delete_operator_pod"))
    if problem:
        problems.append(("on_finish_action", problem))
    return problems


def _call_shape(source: DagSource, call: ast.Call) -> list[Refusal]:
    name = callee(call) + (".partial" if is_partial(call) else "")
    found = []
    positional = [arg for arg in call.args if not isinstance(arg, ast.Starred)]
    if positional:
        found.append(Refusal(positional[0], "CK205", f"{name}() takes keyword arguments only", "name each one"))
    if source.keyword(call, "task_id") is None and all(keyword.arg is not None for keyword in call.keywords):
        found.append(Refusal(call, "CK205", f"{name}() without task_id", "add task_id='...'"))
    return found


def _unknown_keywords(
    source: DagSource,
    call: ast.Call,
    kind: str,
    target: Target,
    own_keywords: frozenset[str],
    expand: ast.Call | None,
) -> list[Refusal]:
    accepted = accepted_keywords(kind, target) | own_keywords
    reported_elsewhere = {argument.name for argument in arguments_for(kind)}  # CK201, CK204
    method = ".partial" if is_partial(call) else ""
    keywords = [(method, keyword) for keyword in call.keywords]
    keywords += [(".expand", keyword) for keyword in (expand.keywords if expand is not None else ())]
    found = []
    for method, keyword in keywords:
        name = keyword.arg
        if name is None or name in accepted or name in reported_elsewhere:
            continue
        label = f"{callee(call)}{method}({name}=...)"
        why = why_unknown(name, target)
        if why:
            message = f"{label}: {why}; {target} rejects it"
            fix = "remove it, or target a newer version" if why.startswith("added") else "remove it"
        else:
            close = closest(name, accepted | set(DATED_KEYWORDS))
            message = f"{label}: no such argument on {target}" + (f"; did you mean {close}?" if close else "")
            if close is None:
                fix = "remove it"
            elif close in accepted:
                fix = f"rename it to {close}"
            else:
                fix = f"{close} is not on this target ({why_unknown(close, target)}): remove it, or target another"
        found.append(Refusal(keyword.value, "CK205", message, fix))
    return found


def _partial_resources(source: DagSource, call: ast.Call, target: Target) -> list[Refusal]:
    """Airflow 2's ``.partial()`` builds BaseOperator's Resources from ``resources`` when it imports the file."""
    keyword = source.keyword(call, "resources")
    value = source.evaluate(keyword.value) if keyword else None
    if keyword is None or value is None or value is UNKNOWN:
        return []
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(AIRFLOW_RESOURCES), key=str)
        if not unknown:
            return []
        wrong = f"{unknown[0]!r} is not one of them"
    else:
        wrong = f"not {value!r}"
    message = (
        f"{callee(call)}.partial(resources=...): Airflow {show_version(target.airflow)} reads it as "
        f"BaseOperator's resources, a dict of {', '.join(AIRFLOW_RESOURCES)}; {wrong}"
    )
    fix = (
        "container_resources=k8s.V1ResourceRequirements(requests={...}, limits={...}) "
        "(`composer-kpo migrate` converts a literal dict)"
    )
    return [Refusal(keyword.value, "CK205", message, fix)]


def _given(source: DagSource, call: ast.Call, parameter: str) -> bool:
    """Return True if the call passes ``parameter`` a value other than a literal None."""
    keyword = source.keyword(call, parameter)
    return keyword is not None and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None)
