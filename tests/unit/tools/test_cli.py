"""The ``composer-kpo`` command itself: ``codes``, ``explain``, ``--help`` and a reader that leaves early.

What ``check`` and ``migrate`` report is tested in test_check.py and test_migrate.py.
"""

from __future__ import annotations

import io
import os
import re
import subprocess

import pytest

from airflow_provider_composer_kpo.tools import cli
from airflow_provider_composer_kpo.tools.codes import CODES, INFO
from tests.interpreter import run_python

STOCK_TASK = (
    "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"
    "KubernetesPodOperator(task_id='t', image='i', cmds=['sh', '-c'], arguments=['a\\nb'])\n"
)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(list(argv), stdout=out), out.getvalue()


def test_codes_lists_every_code_with_its_severity_and_title():
    status, out = run("codes")
    assert status == 0
    rows = [line.split(None, 2) for line in out.splitlines() if line.startswith("CK")]
    assert rows == [[code.code, code.severity, code.title] for code in CODES.values()]


@pytest.mark.parametrize("name", ["CK205", "ck205"])
def test_explain_says_what_a_code_means_how_serious_it_is_and_what_to_do(name):
    status, out = run("explain", name)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "CK205 (error): argument the operator refuses: the DAG fails to load"
    assert lines[1] == "An error: check exits 1 when it reports one."
    assert lines[2].startswith("What to do: Change the call as the finding says")
    assert lines[-1] == "To silence it: `# noqa: CK205` on the line, or --ignore CK205."


@pytest.mark.parametrize("code", list(CODES.values()), ids=list(CODES))
def test_every_code_has_an_explanation(code):
    status, out = run("explain", code.code)
    assert status == 0
    assert " ".join(code.action.split()) in " ".join(out.split())
    assert ("still exits 0" in out) == (code.severity == INFO)


def test_explain_an_unknown_code_exits_2_naming_it(capsys):
    status, out = run("explain", "CK999")
    assert (status, out) == (2, "")
    assert "no such code 'CK999'" in capsys.readouterr().err


def test_help_documents_the_exit_statuses(capsys):
    assert re.findall(r"^ *(\d+)  ", cli.EXIT_STATUS, re.MULTILINE) == ["0", "1", "2", "141"]
    for argv in (["--help"], ["check", "--help"], ["migrate", "--help"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 0
        assert cli.EXIT_STATUS in capsys.readouterr().out, argv


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "{dags}", "--format", "json", "--airflow", "3.3", "--cncf-kubernetes", "10.25"],
        ["check", "{dags}", "--airflow", "3.3", "--cncf-kubernetes", "10.25"],
        ["codes"],
        ["explain", "CK205"],
    ],
)
def test_a_reader_that_left_ends_the_command_quietly(tmp_path, argv):
    """`composer-kpo check dags/ --format json | head -1`, with head gone before the output ends:
    no BrokenPipeError traceback, and the status a shell tool that SIGPIPE ended would have."""
    for i in range(20):
        (tmp_path / f"dag_{i}.py").write_text(STOCK_TASK)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: every write to the pipe fails
    try:
        done = run_python(
            "-m",
            "airflow_provider_composer_kpo",
            *(a.format(dags=tmp_path) for a in argv),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (cli.EXIT_BROKEN_PIPE, "")
