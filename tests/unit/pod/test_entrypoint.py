from __future__ import annotations

import pytest

from airflow_provider_composer_kpo.exceptions import ErrexitRequiredError
from airflow_provider_composer_kpo.operators.arguments import apply_errexit
from airflow_provider_composer_kpo.pod.entrypoint import (
    ErrexitPolicy,
    Outcome,
    apply_errexit_policy,
    find_shell_entrypoint,
    inject_errexit,
    script_enables_errexit,
    script_is_and_list,
)

INJECT, REQUIRE, OFF = ErrexitPolicy.INJECT, ErrexitPolicy.REQUIRE, ErrexitPolicy.OFF


def apply(cmds, arguments=(), policy=INJECT, **kw):
    return apply_errexit_policy(cmds, arguments, policy, **kw)


def require(cmds, arguments=(), **kw):
    """The policy as the operator applies it: a refusal raised, naming the task."""
    return apply_errexit(cmds, arguments, REQUIRE, task_id="t", **kw)


class TestFindShellEntrypoint:
    @pytest.mark.parametrize(
        ("argv", "shell", "script_index", "inline"),
        [
            (["bash", "-c", "x"], "bash", 2, True),
            (["/bin/sh", "-c", "x"], "sh", 2, True),
            (["/usr/bin/env", "bash", "-c", "x"], "bash", 3, True),
            (["env", "A=1", "sh", "-c", "x"], "sh", 4, True),
            (["busybox", "sh", "-c", "x"], "sh", 3, True),
            (["bash", "-x", "-c", "x"], "bash", 3, True),
            (["bash", "-o", "pipefail", "-c", "x"], "bash", 4, True),
            (["bash", "--norc", "-c", "x"], "bash", 3, True),
            (["bash", "run.sh", "arg"], "bash", 1, False),
        ],
    )
    def test_finds_shell_and_script(self, argv, shell, script_index, inline):
        entry = find_shell_entrypoint(argv)
        assert entry is not None
        assert (entry.shell, entry.script_index, entry.inline) == (shell, script_index, inline)

    @pytest.mark.parametrize("argv", [[], ["python", "-c", "print(1)"], ["perl", "-e", "1"], ["echo", "bash"]])
    def test_not_a_shell(self, argv):
        assert find_shell_entrypoint(argv) is None

    @pytest.mark.parametrize("flags", [["-e", "-c"], ["-ec"], ["-euxc"], ["-o", "errexit", "-c"]])
    def test_errexit_flags_are_recognised(self, flags):
        assert find_shell_entrypoint(["sh", *flags, "x"]).flags_errexit

    @pytest.mark.parametrize("flags", [["-c"], ["-xc"], ["+e", "-c"], ["-o", "pipefail", "-c"]])
    def test_other_flags_are_not_errexit(self, flags):
        assert not find_shell_entrypoint(["sh", *flags, "x"]).flags_errexit


class TestScriptEnablesErrexit:
    @pytest.mark.parametrize(
        "script",
        [
            "set -e\necho a",
            "set -eu\necho a",
            "set -euo pipefail\necho a",
            "set -o errexit\necho a",
            "#!/bin/bash\n# comment\n\nset -e\necho a",
            "set -u\nset -e\necho a",
            "set -e; echo a",
            "  set -ex  \necho a",
        ],
    )
    def test_recognised(self, script):
        assert script_enables_errexit(script)

    @pytest.mark.parametrize(
        "script",
        [
            "echo a\nset -e",  # too late: echo already ran unguarded
            "set -u\necho a",
            "set +e\necho a",
            "set -o pipefail\necho a",
            "# set -e\necho a",
            "echo set -e",
            "setup -e",
            "",
        ],
    )
    def test_not_recognised(self, script):
        assert not script_enables_errexit(script)


class TestInjectErrexit:
    def test_plain_script_gets_line_first(self):
        assert inject_errexit("echo a; false; echo b", "sh") == "set -e\necho a; false; echo b"

    def test_bash_gets_pipefail(self):
        assert inject_errexit("echo a", "bash") == "set -eo pipefail\necho a"

    def test_shebang_and_comments_stay_first(self):
        script = "#!/bin/bash\n# does things\n\necho a\n"
        assert inject_errexit(script, "bash") == "#!/bin/bash\n# does things\n\nset -eo pipefail\necho a\n"

    def test_header_without_newline(self):
        assert inject_errexit("#!/bin/sh", "sh") == "#!/bin/sh\nset -e\n"

    def test_rest_is_byte_for_byte(self):
        script = "echo \"$HOME\" '$(x)' `y` \\\n  && printf '%s\\n' \"a b\"\r\nexit 0"
        result = inject_errexit(script, "sh")
        assert result == "set -e\n" + script


class TestScriptIsAndList:
    @pytest.mark.parametrize(
        "script",
        [
            "a && b",
            "a && b && c",
            "a &&\n  b",
            "a && \\\n  b",
            "#!/bin/sh\n# note\na && b  # why\n",
            "mkdir -p /x && echo '{\"rows\": 42}' > /x/r.json",
            "a 2>&1 && b &>/dev/null",
            'echo "x; y | z" && b',
            "a && b;",
        ],
    )
    def test_one_and_list(self, script):
        assert script_is_and_list(script)

    @pytest.mark.parametrize(
        "script",
        [
            "a",
            "a; b",
            "a\nb",
            "a && b; c",
            "a && b\nc",
            "a || b",
            "a | b && c",
            "a && b &",
            "(a; b) && c",
            "x=$(a; b) && c",
            'echo "$(a)" && c',
            "echo `a` && c",
            "if a; then b; fi",
            "cat <<EOF && b\nbody\nEOF",
            "a 'unbalanced && b",
            "a &&",
        ],
    )
    def test_anything_else(self, script):
        assert not script_is_and_list(script)


class TestApplyErrexitPolicy:
    def test_and_list_left_alone(self):
        result = apply(["sh", "-c", "false && echo ok"], policy=REQUIRE)
        assert result.cmds == ["sh", "-c", "false && echo ok"]
        assert result.outcome is Outcome.AND_LIST
        assert apply(["sh", "-c", "false && true; echo ok"]).outcome is Outcome.INJECTED

    def test_inline_script_in_cmds(self):
        result = apply(["sh", "-c", "false; echo ok"])
        assert result.cmds == ["sh", "-c", "set -e\nfalse; echo ok"]
        assert result.arguments == []
        assert result.outcome is Outcome.INJECTED

    def test_inline_script_in_arguments(self):
        result = apply(["bash", "-c"], ["false; echo ok", "arg0"])
        assert result.cmds == ["bash", "-c"]
        assert result.arguments == ["set -eo pipefail\nfalse; echo ok", "arg0"]

    def test_shell_in_arguments_only_when_cmds_empty(self):
        # With no cmds the image's entrypoint runs; arguments starting with a shell name are only
        # a shell when the image has no entrypoint, which we cannot know: still a shell argv.
        result = apply([], ["sh", "-c", "false"])
        assert result.arguments == ["sh", "-c", "set -e\nfalse"]

    def test_script_file_gets_flags(self):
        result = apply(["bash", "/scripts/run.sh"], ["x"])
        assert result.cmds == ["bash", "-e", "-o", "pipefail", "/scripts/run.sh"]
        assert result.arguments == ["x"]

    def test_script_file_sh_gets_e_only(self):
        assert apply(["sh"], ["/scripts/run.sh"]).cmds == ["sh", "-e"]

    def test_never_injects_twice(self):
        once = apply(["sh", "-c", "false"])
        twice = apply(once.cmds, once.arguments)
        assert twice.cmds == once.cmds
        assert twice.outcome is Outcome.ALREADY_SET

    def test_flag_errexit_left_alone(self):
        result = apply(["sh", "-ec", "false; true"])
        assert result.cmds == ["sh", "-ec", "false; true"]
        assert result.outcome is Outcome.ALREADY_SET

    def test_not_a_shell_left_alone(self):
        result = apply(["perl"], ["-Mbignum=bpi", "-wle", "print bpi(20)"])
        assert result.cmds == ["perl"]
        assert result.arguments == ["-Mbignum=bpi", "-wle", "print bpi(20)"]
        assert result.outcome is Outcome.NOT_A_SHELL

    def test_shell_without_script_left_alone(self):
        assert apply(["bash"]).outcome is Outcome.NOT_A_SHELL

    def test_off_sends_script_unchanged(self):
        result = apply(["sh", "-c", "false; true"], policy=OFF)
        assert result.cmds == ["sh", "-c", "false; true"]
        assert result.outcome is Outcome.OFF

    def test_require_rejects_and_names_task_and_place(self):
        with pytest.raises(ErrexitRequiredError, match=r"Task 't'.*arguments\[0\].*set -euo pipefail"):
            require(["bash", "-c"], ["false; true"])

    def test_require_refusal_is_returned_not_raised_by_the_rule(self):
        result = apply(["bash", "-c"], ["false; true"], policy=REQUIRE)
        assert (result.cmds, result.arguments, result.outcome) == (["bash", "-c"], ["false; true"], Outcome.REFUSED)
        assert result.problem == (
            "the bash script in arguments[0] does not start with errexit, and errexit_policy='require'. "
            "Make `set -euo pipefail` its first command, or use errexit_policy='inject'."
        )
        assert apply(["sh", "-c", "false; true"]).problem is None

    def test_require_accepts_set_e(self):
        result = require(["bash", "-c", "set -euo pipefail\nfalse"])
        assert result.outcome is Outcome.ALREADY_SET

    def test_require_rejects_script_file_without_flag(self):
        with pytest.raises(ErrexitRequiredError, match="Add '-e'"):
            require(["bash", "run.sh"])
        assert apply(["bash", "run.sh"], policy=REQUIRE).problem == (
            "bash runs the script file in cmds[1] without errexit, and errexit_policy='require'. "
            "Add '-e' after 'bash' in cmds, or use errexit_policy='inject'."
        )

    def test_templated_script_deferred_at_parse_time(self):
        result = require(["sh", "-c", "echo {{ ds }}"], allow_templates=True)
        assert result.outcome is Outcome.TEMPLATED
        with pytest.raises(ErrexitRequiredError):
            require(["sh", "-c", "echo 2024-01-01"])

    def test_error_message_does_not_echo_script(self):
        with pytest.raises(ErrexitRequiredError) as err:
            require(["sh", "-c", "curl -H 'Authorization: secret-token' x"])
        assert "secret-token" not in str(err.value)


@pytest.mark.parametrize("value", ["inject", "require", "off", ErrexitPolicy.OFF])
def test_policy_accepts(value):
    assert ErrexitPolicy.problem(value) is None
    assert ErrexitPolicy(value).value == str(getattr(value, "value", value))


@pytest.mark.parametrize("value", ["Inject", "on", None, True])
def test_policy_rejects_with_accepted_values(value):
    assert ErrexitPolicy.problem(value) == f"errexit_policy={value!r} is not one of 'inject', 'require', 'off'."
