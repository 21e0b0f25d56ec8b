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

Errors and warnings make ``check`` exit 1; info is listed and never fails a run.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str


CODES: dict[str, Code] = {
    code.code: code
    for code in (
        Code("CK001", ERROR, "file is not valid Python"),
        Code("CK101", ERROR, "import removed on the target: the DAG fails to load"),
        Code("CK102", ERROR, "import not yet available on the target: the DAG fails to load"),
        Code("CK201", ERROR, "argument removed on the target: the DAG fails to load"),
        Code("CK202", WARNING, "argument ignored on the target: accepted, without effect"),
        Code("CK203", INFO, "argument deprecated on the target"),
        Code("CK204", ERROR, "argument not yet accepted on the target: the DAG fails to load"),
        Code("CK205", ERROR, "argument the operator refuses: the DAG fails to load"),
        Code("CK206", WARNING, "argument the operator refuses in a mapped task: each mapped task fails when it runs"),
        Code("CK301", ERROR, "template variable removed on the target: the task fails when it renders"),
        Code("CK401", WARNING, "shell script without errexit: a failed step before the last reports success"),
        Code("CK402", ERROR, "errexit_policy='require' and a script without errexit: the DAG fails to load"),
        Code("CK501", ERROR, "ComposerPodOperator timeout outside the package's bounds: the DAG fails to load"),
        Code("CK502", WARNING, "timeout outside the package's bounds: the task times out early, or fails when it runs"),
        Code("CK503", INFO, "KubernetesPodOperator on its 120 s default startup timeout"),
        Code("CK601", WARNING, "option the target Composer changes, ignores or refuses"),
        Code("CK701", INFO, "Secret the task needs"),
        Code("CK702", INFO, "ConfigMap the task needs"),
        Code("CK801", INFO, "stock KubernetesPodOperator: `composer-kpo migrate` moves it to ComposerPodOperator"),
    )
}
