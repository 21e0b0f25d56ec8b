"""Every finding ``composer-kpo check`` reports: its code, how serious it is, and what it means.

==========  ==========  ======================================================================
group       severity    meaning
==========  ==========  ======================================================================
CK0xx       error       the file cannot be read as Python; nothing else in it is checked
CK1xx       error       an import that fails on the target
CK2xx       error/...   an argument the target removed (error), ignores (warning), deprecated (info),
                        or the operator refuses (error; in a mapped task, a warning)
CK3xx       error       a template variable the target no longer defines
CK4xx       warning/..  a shell script that does not stop at its first failing step
CK5xx       error/...   a startup or schedule timeout outside the package's bounds
CK6xx       warning     an option the target Composer changes, ignores or refuses
CK7xx       info        a Secret or ConfigMap the DAGs need: create it before the upgrade
CK8xx       info        a stock KubernetesPodOperator task: ``composer-kpo migrate`` moves it
==========  ==========  ======================================================================

Errors and warnings make ``check`` exit 1; info is listed and never fails a run. ``composer-kpo codes``
lists the codes, ``composer-kpo explain CODE`` prints one with what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pod.timeouts import DEFAULT_STARTUP_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)

_TIMEOUT_RANGE = f"a whole number of seconds from {MIN_TIMEOUT_SECONDS} to {MAX_TIMEOUT_SECONDS}"


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    #: What to do about a finding with this code (``composer-kpo explain``); each finding's own fix is more precise.
    action: str


CODES: dict[str, Code] = {
    code.code: code
    for code in (
        Code(
            "CK001",
            ERROR,
            "file is not valid Python",
            "Fix the syntax error at the line and column given, or save the file as UTF-8 if it cannot be read. "
            "Nothing else in the file is checked until it parses, and Airflow cannot load it either.",
        ),
        Code(
            "CK101",
            ERROR,
            "import removed on the target: the DAG fails to load",
            "Import the name from where the target has it (the finding's fix names the module). "
            "`composer-kpo migrate` rewrites the imports it knows, stock KubernetesPodOperator to ComposerPodOperator.",
        ),
        Code(
            "CK102",
            ERROR,
            "import not yet available on the target: the DAG fails to load",
            "Import the name from where the target has it (the finding's fix names the module; "
            "`composer-kpo migrate` does it), or target the version that added it with --airflow / --cncf-kubernetes.",
        ),
        Code(
            "CK201",
            ERROR,
            "argument removed on the target: the DAG fails to load",
            "Pass the replacement the finding's fix names. `composer-kpo migrate` rewrites renamed arguments, "
            "a literal `resources` dict and `is_delete_operator_pod`.",
        ),
        Code(
            "CK202",
            WARNING,
            "argument ignored on the target: accepted, without effect",
            "The target takes the argument and does nothing with it: pass the replacement the finding's fix names "
            "(`composer-kpo migrate` rewrites `is_delete_operator_pod` to `on_finish_action`).",
        ),
        Code(
            "CK203",
            INFO,
            "argument deprecated on the target",
            "Nothing fails yet: move to the replacement the finding's fix names before an upgrade removes the "
            "argument (`composer-kpo migrate` does it for renamed arguments).",
        ),
        Code(
            "CK204",
            ERROR,
            "argument not yet accepted on the target: the DAG fails to load",
            "Pass the older argument the finding's fix names, or target the version that added it with "
            "--airflow / --cncf-kubernetes.",
        ),
        Code(
            "CK205",
            ERROR,
            "argument the operator refuses: the DAG fails to load",
            "Change the call as the finding says: remove a keyword the target's operator does not take, or rename "
            "it to the nearest one the finding names; name positional arguments; add task_id; pass a value the "
            "operator accepts (its own message, quoted in the finding, says which).",
        ),
        Code(
            "CK206",
            WARNING,
            "argument the operator refuses in a mapped task: each mapped task fails when it runs",
            "Fix the value in the .partial() or .expand() call as the finding says. Airflow builds a mapped task "
            "only when it runs, so the DAG loads and every mapped task fails until then.",
        ),
        Code(
            "CK301",
            ERROR,
            "template variable removed on the target: the task fails when it renders",
            "Write the replacement the finding's fix names (`composer-kpo migrate` rewrites `execution_date` to "
            "`logical_date`). For a config_file templated from `conf.get(...)`, drop the argument: "
            "ComposerPodOperator finds Composer's kubeconfig itself.",
        ),
        Code(
            "CK401",
            WARNING,
            "shell script without errexit: a failed step before the last reports success",
            "Make `set -e` the script's first command (bash: `set -eo pipefail`). ComposerPodOperator adds it "
            "unless errexit_policy='off'; `composer-kpo migrate` moves stock KPO tasks to it.",
        ),
        Code(
            "CK402",
            ERROR,
            "errexit_policy='require' and a script without errexit: the DAG fails to load",
            "Make `set -e` the script's first command (bash: `set -eo pipefail`), or pass "
            "errexit_policy='inject' to have the operator add it.",
        ),
        Code(
            "CK501",
            ERROR,
            "ComposerPodOperator timeout outside the package's bounds: the DAG fails to load",
            f"Pass {_TIMEOUT_RANGE}, or leave it out: the default, {DEFAULT_STARTUP_TIMEOUT_SECONDS} s, "
            "covers a node scale-up and a large image pull.",
        ),
        Code(
            "CK502",
            WARNING,
            "timeout outside the package's bounds: the task times out early, or fails when it runs",
            f"Pass {_TIMEOUT_RANGE} (ComposerPodOperator's default is {DEFAULT_STARTUP_TIMEOUT_SECONDS}). "
            "Below the range a pod on a new node can time out while its image is pulled; above it a pod that "
            "cannot start holds a worker slot for hours; a mapped ComposerPodOperator task refuses the value when "
            "it runs.",
        ),
        Code(
            "CK503",
            INFO,
            "KubernetesPodOperator on its 120 s default startup timeout",
            f"Pass startup_timeout_seconds={DEFAULT_STARTUP_TIMEOUT_SECONDS}, or move the task to "
            "ComposerPodOperator, whose default it is (`composer-kpo migrate`).",
        ),
        Code(
            "CK601",
            WARNING,
            "option the target Composer changes, ignores or refuses",
            "Follow the finding's fix: the finding says what this Composer version does with the option (Composer 3, "
            "for one, runs every pod in composer-user-workloads whatever namespace the DAG sets). The docs' page "
            "On Composer 3 tables the rules with their sources.",
        ),
        Code(
            "CK701",
            INFO,
            "Secret the task needs",
            "Make sure the Secret exists in the namespace the finding names before the tasks run there; the "
            "finding's fix is the command that creates it. check cannot see the cluster, so it lists the Secret "
            "whether or not it exists.",
        ),
        Code(
            "CK702",
            INFO,
            "ConfigMap the task needs",
            "Make sure the ConfigMap exists in the namespace the finding names before the tasks run there; the "
            "finding's fix is the command that creates it. check cannot see the cluster, so it lists the "
            "ConfigMap whether or not it exists.",
        ),
        Code(
            "CK801",
            INFO,
            "stock KubernetesPodOperator: `composer-kpo migrate` moves it to ComposerPodOperator",
            "Run `composer-kpo migrate PATH` to see the rewrite as a diff, and with --write to apply it. "
            "Stock KPO keeps working: this never fails a run.",
        ),
    )
}
