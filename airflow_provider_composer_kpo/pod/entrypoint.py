"""The ``set -e`` policy for shell entrypoints.

A shell runs every line of a script and exits with the status of the last one, so without errexit
a failed step in the middle is reported as success. This module finds the script a container will
run and makes sure it starts with errexit.

==================================  =========================  ==========================================
entrypoint (``cmds`` + ``arguments``)  what is checked             what ``inject`` does
==================================  =========================  ==========================================
``sh|bash|... -c SCRIPT [ARG...]``  the leading lines of SCRIPT  inserts ``set -e`` (bash: ``set -eo
                                                                 pipefail``) after a shebang / comments
``bash -ec SCRIPT``, ``-o errexit``   the shell's own flags        nothing: errexit is already on
``bash FILE [ARG...]``               the shell's flags            adds ``-e`` (bash: ``-e -o pipefail``)
anything else (no shell, no cmds)    nothing                      nothing: the image decides
==================================  =========================  ==========================================

A ``-c`` script that is one ``&&`` list (``a && b && c``) is left as is: a failed step already stops it
and becomes its exit status.

The script text is never re-quoted: injection prepends one line and sends the rest byte for byte.
"""

from __future__ import annotations

import enum
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from ..choices import ParameterChoice

SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})
# Shells where `set -o pipefail` is safe to add; POSIX sh (dash before 0.5.11) rejects it.
PIPEFAIL_SHELLS = frozenset({"bash"})
# Programs that run the shell named after them.
_LAUNCHERS = frozenset({"env", "busybox"})
_TEMPLATE_MARK = re.compile(r"{{|{%")


class ErrexitPolicy(ParameterChoice):
    """What to do with a shell script that does not enable errexit."""

    INJECT = "inject"
    REQUIRE = "require"
    OFF = "off"

    @classmethod
    def parameter(cls) -> str:
        return "errexit_policy"


class Outcome(str, enum.Enum):
    """What the policy found or did, for the task log."""

    NOT_A_SHELL = "entrypoint is not a shell script; left as is"
    ALREADY_SET = "script already enables errexit"
    AND_LIST = "script is one && list: a failed step already fails it; left as is"
    INJECTED = "errexit injected"
    TEMPLATED = "script is templated; checked when rendered"
    OFF = "errexit policy is off"
    REFUSED = "script does not enable errexit; errexit_policy='require' refuses it"


@dataclass(frozen=True)
class ShellEntrypoint:
    """Where the shell and its script sit in ``cmds + arguments``."""

    shell: str
    shell_index: int
    flags_errexit: bool
    script_index: int | None  # index of the -c string or the script file
    inline: bool  # True for -c SCRIPT, False for a script file


@dataclass(frozen=True)
class ErrexitResult:
    """The entrypoint to send; ``problem`` says why the policy refuses it (and the fix), for :attr:`Outcome.REFUSED`."""

    cmds: list[str]
    arguments: list[str]
    outcome: Outcome
    problem: str | None = None


def find_shell_entrypoint(argv: Sequence[str]) -> ShellEntrypoint | None:
    """Return the shell entrypoint in ``argv``, or None when the container does not start a shell."""
    i = 0
    while i < len(argv) and os.path.basename(argv[i]) in _LAUNCHERS:
        i += 1
        while i < len(argv) and "=" in argv[i] and not argv[i].startswith("-"):  # env NAME=VALUE ...
            i += 1
    if i >= len(argv) or not isinstance(argv[i], str) or os.path.basename(argv[i]) not in SHELLS:
        return None
    shell, shell_index = os.path.basename(argv[i]), i
    i += 1
    errexit, command_mode = False, False
    while i < len(argv) and argv[i][:1] in ("-", "+") and argv[i] not in ("-", "--"):
        token = argv[i]
        if token in ("-o", "+o"):
            errexit = errexit or (token == "-o" and i + 1 < len(argv) and argv[i + 1] == "errexit")
            i += 2
            continue
        if not token.startswith("--"):  # long options such as --norc carry no letters we need
            errexit = errexit or (token[0] == "-" and "e" in token[1:])
            command_mode = command_mode or "c" in token[1:]
        i += 1
    if i < len(argv) and argv[i] == "--":
        i += 1
    script_index = i if i < len(argv) else None
    return ShellEntrypoint(shell, shell_index, errexit, script_index, inline=command_mode)


def script_enables_errexit(script: str) -> bool:
    """Return True if the script's leading ``set`` statements turn errexit on.

    Only statements before the first other command count: a ``set -e`` further down leaves the
    earlier commands unguarded.
    """
    for line in _body_lines(script):
        statement = line.split(";", 1)[0].strip()
        if not re.match(r"set(\s|$)", statement):
            return False
        if _set_enables_errexit(statement):
            return True
    return False


def script_is_and_list(script: str) -> bool:
    """Return True if the script is one list of commands joined by ``&&``, such as ``a && b && c``.

    A failed step stops such a list and becomes its exit status, so it needs no errexit. Anything
    else counts as more than one list and needs errexit: ``;``, ``&``, ``|``, ``||``, a newline
    between commands (one right after ``&&`` continues the list), subshells, command
    substitutions. A single command is not an and-list here; comments and blank lines are ignored.
    """
    i, n = 0, len(script)
    steps, in_word, awaiting, ended = 0, False, True, False  # awaiting: at the start or after `&&`

    def word() -> bool:
        nonlocal steps, in_word, awaiting
        if ended:
            return False
        if awaiting:
            steps, awaiting = steps + 1, False
        in_word = True
        return True

    while i < n:
        char = script[i]
        if char in " \t\r":
            in_word = False
        elif char == "\n":
            in_word = False
            ended = ended or not awaiting
        elif char == "#" and not in_word:
            while i < n and script[i] != "\n":
                i += 1
            continue
        elif char == "\\":
            if script[i + 1 : i + 2] != "\n" and not word():  # backslash-newline continues the line
                return False
            i += 2
            continue
        elif char == "'":
            end = script.find("'", i + 1)
            if end < 0 or not word():
                return False
            i = end + 1
            continue
        elif char == '"':
            i += 1
            while i < n and script[i] != '"':
                if script[i] == "`" or script.startswith("$(", i):  # a command substitution
                    return False
                i += 2 if script[i] == "\\" else 1
            if i >= n or not word():
                return False
            i += 1
            continue
        elif script.startswith("&&", i):
            if awaiting or ended:
                return False
            awaiting, in_word = True, False
            i += 2
            continue
        elif (char == "&" and script[i + 1 : i + 2] == ">") or char in "<>":
            if not word():  # a redirection such as 2>&1, &>file or <in
                return False
            i += 1
            while i < n and script[i] in "<>&|":
                i += 1
            in_word = False
            continue
        elif char == ";":
            if awaiting:
                return False
            ended, in_word = True, False
        elif char in "&|()`" or script.startswith("$(", i) or not word():
            return False
        i += 1
    return steps >= 2 and not awaiting


def inject_errexit(script: str, shell: str) -> str:
    """Return ``script`` with an errexit line after its shebang and leading comments."""
    line = "set -eo pipefail\n" if shell in PIPEFAIL_SHELLS else "set -e\n"
    offset = 0
    for raw in script.splitlines(keepends=True):
        stripped = raw.strip()
        if stripped and not stripped.startswith("#"):
            break
        offset += len(raw)
    head = script[:offset]
    if head and not head.endswith("\n"):
        head += "\n"
    return head + line + script[offset:]


def apply_errexit_policy(
    cmds: Sequence[str],
    arguments: Sequence[str],
    policy: ErrexitPolicy,
    *,
    allow_templates: bool = False,
) -> ErrexitResult:
    """Return ``cmds`` and ``arguments`` with the policy applied, or unchanged with the refusal's ``problem``.

    :param allow_templates: True at DAG parse time, when a script holding Jinja is checked later,
        after rendering; False for rendered values, where every script is checked.
    """
    cmds, arguments = list(cmds), list(arguments)
    if policy is ErrexitPolicy.OFF:
        return ErrexitResult(cmds, arguments, Outcome.OFF)
    argv = cmds + arguments
    entry, outcome = errexit_gap(cmds, arguments, allow_templates=allow_templates)
    if entry is None:
        return ErrexitResult(cmds, arguments, outcome)
    assert entry.script_index is not None  # errexit_gap returns an entry only with a script
    if policy is ErrexitPolicy.REQUIRE:
        return ErrexitResult(cmds, arguments, Outcome.REFUSED, problem=_require_problem(entry, len(cmds)))
    if not entry.inline:
        flags = ["-e", "-o", "pipefail"] if entry.shell in PIPEFAIL_SHELLS else ["-e"]
        argv[entry.shell_index + 1 : entry.shell_index + 1] = flags
        split = len(cmds) + (len(flags) if entry.shell_index < len(cmds) else 0)
        return ErrexitResult(argv[:split], argv[split:], Outcome.INJECTED)
    argv[entry.script_index] = inject_errexit(argv[entry.script_index], entry.shell)
    return ErrexitResult(argv[: len(cmds)], argv[len(cmds) :], Outcome.INJECTED)


def _require_problem(entry: ShellEntrypoint, n_cmds: int) -> str:
    """Return why ``errexit_policy='require'`` refuses the entry (the script is never quoted: it may hold secrets)."""
    where = describe_location(entry, n_cmds)
    if not entry.inline:
        return (
            f"{entry.shell} runs the script file in {where} without errexit, and "
            f"errexit_policy='require'. Add '-e' after {entry.shell!r} in cmds, or use "
            f"errexit_policy='inject'."
        )
    suggestion = "set -euo pipefail" if entry.shell in PIPEFAIL_SHELLS else "set -eu"
    return (
        f"the {entry.shell} script in {where} does not start with errexit, and "
        f"errexit_policy='require'. Make `{suggestion}` its first command, or use "
        f"errexit_policy='inject'."
    )


def errexit_gap(
    cmds: Sequence[str], arguments: Sequence[str], *, allow_templates: bool = False
) -> tuple[ShellEntrypoint | None, Outcome]:
    """Return the shell entrypoint whose script runs without errexit, or None and why there is none.

    The one statement of the rule, shared by the operator (at parse and run time) and by
    ``composer-kpo check`` (on source it has not run).
    """
    argv = list(cmds) + list(arguments)
    entry = find_shell_entrypoint(argv)
    if entry is None or entry.script_index is None:
        return None, Outcome.NOT_A_SHELL
    if entry.flags_errexit:
        return None, Outcome.ALREADY_SET
    if entry.inline:
        script = argv[entry.script_index]
        if allow_templates and _TEMPLATE_MARK.search(script):
            return None, Outcome.TEMPLATED
        if script_enables_errexit(script):
            return None, Outcome.ALREADY_SET
        if script_is_and_list(script):
            return None, Outcome.AND_LIST
    return entry, Outcome.INJECTED


def describe_location(entry: ShellEntrypoint, n_cmds: int) -> str:
    """Return where the entry's script sits, as ``cmds[i]`` or ``arguments[i]``."""
    assert entry.script_index is not None
    return _location(entry.script_index, n_cmds)


def _body_lines(script: str) -> list[str]:
    """Return the script's lines without blank lines and comments (a shebang is a comment)."""
    lines = (line.strip() for line in script.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _set_enables_errexit(statement: str) -> bool:
    try:
        tokens = shlex.split(statement, comments=True)[1:]
    except ValueError:  # unbalanced quotes: not a plain set statement
        return False
    for i, token in enumerate(tokens):
        if token == "-o":
            if i + 1 < len(tokens) and tokens[i + 1] == "errexit":
                return True
        elif token.startswith("-") and not token.startswith("--") and "e" in token[1:]:
            return True
    return False


def _location(index: int, n_cmds: int) -> str:
    return f"cmds[{index}]" if index < n_cmds else f"arguments[{index - n_cmds}]"
