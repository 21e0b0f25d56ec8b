"""The ``composer-kpo`` command (also ``python -m airflow_provider_composer_kpo``).

    composer-kpo check PATH... [--airflow 3.1] [--cncf-kubernetes 10.5] [--composer 3] [--format json]
    composer-kpo migrate PATH... [--write] [same target options]
    composer-kpo codes
    composer-kpo explain CODE

The exit statuses are ``EXIT_STATUS``, which ``--help`` prints. A reader that closes the pipe early
(``composer-kpo check dags/ | head -1``) ends the command quietly with status 141, as SIGPIPE ends a
shell tool, instead of a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import textwrap
from collections import Counter
from typing import Iterator, Sequence, TextIO

from .. import __version__
from .check import FileReport, Reference, check_source, not_checked
from .codes import CODES, ERROR, INFO, SEVERITIES, WARNING
from .target import AIRFLOW, CNCF_KUBERNETES, Target, resolve_target, supported_range

_SKIPPED_DIRECTORIES = {"__pycache__", "node_modules"}

EXIT_STATUS = """\
exit status:
    0  check: no error or warning; migrate: nothing to change, or the changes
       written; codes, explain: printed
    1  check: an error or a warning; migrate: changes to make (without
       --write), or a file it could not parse
    2  bad usage: an unknown option or code, a missing PATH, a version that is
       not one or that composer-kpo does not support, migrate without its
       extra (pip install 'airflow-provider-composer-kpo[migrate]')
  141  the reader closed the pipe early (| head): the output stops there,
       without a traceback
"""
#: 128 + SIGPIPE: what a shell reports for a tool that SIGPIPE ended (``yes | head -1``).
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    try:
        try:
            return _run(argv, out)
        finally:
            out.flush()  # inside the try: the reader may be gone when the last of the output goes out
    except BrokenPipeError:
        # The reader closed the pipe (`| head`): stop without a traceback. Python flushes stdout
        # again at exit, which would fail the same way, so stdout now points at /dev/null.
        if out is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None, out: TextIO) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "codes":
        return _codes(out)
    if args.command == "explain":
        return _explain(args.code, out)
    try:
        target = resolve_target(airflow=args.airflow, cncf_kubernetes=args.cncf_kubernetes, composer=args.composer)
        files = list(_python_files(args.paths))
    except ValueError as e:
        parser.error(str(e))  # exits 2
    if args.command == "check":
        return _check(files, target, args, out)
    return _migrate(files, target, args, out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="composer-kpo",
        description="Check and migrate DAGs for ComposerPodOperator.",
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def subcommand(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter
        )

    check = subcommand("check", "report what breaks on the target, without importing the DAGs")
    migrate = subcommand("migrate", "rewrite stock KPO tasks to ComposerPodOperator (prints a diff)")
    subcommand("codes", "list every code check reports, with its severity and meaning")
    explain = subcommand("explain", "say what one code means and what to do about it")
    explain.add_argument("code", metavar="CODE", help="a code check reports, e.g. CK205")
    for command in (check, migrate):
        command.add_argument("paths", nargs="+", metavar="PATH", help="DAG files or folders (searched for *.py)")
        target = command.add_argument_group("target (default: the installed versions, COMPOSER_VERSION)")
        target.add_argument(
            "--airflow", metavar="X.Y", help=f"Airflow version the DAGs will run on ({supported_range(AIRFLOW)})"
        )
        target.add_argument(
            "--cncf-kubernetes",
            metavar="X.Y",
            help=f"cncf-kubernetes provider version ({supported_range(CNCF_KUBERNETES)})",
        )
        target.add_argument("--composer", metavar="N", help="Composer major version (2 or 3)")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument(
        "--ignore", default="", metavar="CODES", help="comma-separated codes not to report, e.g. CK503,CK801"
    )
    migrate.add_argument("--write", action="store_true", help="write the changes instead of printing a diff")
    return parser


def _python_files(paths: Sequence[str]) -> Iterator[str]:
    for path in paths:
        if os.path.isfile(path):
            yield path
        elif os.path.isdir(path):
            for root, directories, names in os.walk(path):
                directories[:] = sorted(
                    d for d in directories if not d.startswith(".") and d not in _SKIPPED_DIRECTORIES
                )
                yield from (os.path.join(root, name) for name in sorted(names) if name.endswith(".py"))
        else:
            raise ValueError(f"PATH {path!r} does not exist; pass DAG files or the DAGs folder")


def _read(path: str) -> tuple[str | None, str]:
    """Return (text, "") or (None, why it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), ""
    except (OSError, UnicodeDecodeError) as e:
        return None, str(e)


def _check(files: list[str], target: Target, args: argparse.Namespace, out: TextIO) -> int:
    ignored = {code.strip().upper() for code in args.ignore.split(",") if code.strip()}
    unknown = ignored - set(CODES)
    if unknown:
        print(
            f"composer-kpo: --ignore {','.join(sorted(unknown))}: no such code (composer-kpo codes lists them)",
            file=sys.stderr,
        )
        return 2
    counts: Counter[str] = Counter()
    files_with_findings = 0
    references: dict[tuple[str, str, str | None], Reference] = {}
    findings_json = []
    for path in files:
        text, error = _read(path)
        if text is None:
            report = FileReport([not_checked(path, f"cannot read it: {error}")])
        else:
            report = check_source(path, text, target)
        findings = [finding for finding in report.findings if finding.code not in ignored]
        files_with_findings += bool(findings)
        for finding in findings:
            counts[finding.severity] += 1
            if args.format == "json":
                findings_json.append(finding.as_dict())
            else:
                print(finding.as_text(), file=out)
        for reference in report.references:
            merged = references.get((reference.kind, reference.name, reference.namespace))
            keys = tuple(dict.fromkeys((merged.keys if merged else ()) + reference.keys))
            references[(reference.kind, reference.name, reference.namespace)] = Reference(
                reference.kind, reference.name, reference.namespace, keys, reference.image_pull, reference.files
            )
    summary = (
        f"composer-kpo check: {len(files)} files against {target}: "
        + ", ".join(f"{counts[severity]} {_plural(severity, counts[severity])}" for severity in SEVERITIES)
        + f" in {files_with_findings} files"
    )
    needed = sorted(references.values(), key=lambda r: (r.kind, r.namespace or "", r.name))
    if args.format == "json":
        document = {
            "target": {
                "airflow": list(target.airflow),
                "cncf_kubernetes": list(target.cncf_kubernetes),
                "composer": target.composer,
            },
            "findings": findings_json,
            "needs": [{"kind": r.kind, "name": r.name, "namespace": r.namespace, "keys": list(r.keys)} for r in needed],
            "summary": {"files": len(files), **{severity: counts[severity] for severity in SEVERITIES}},
        }
        json.dump(document, out, indent=2)
        print(file=out)
    else:
        if needed and INFO not in ignored:
            print("Secrets and ConfigMaps these DAGs need (create them before the upgrade):", file=out)
            for r in needed:
                shown_keys = f" keys: {', '.join(r.keys)}" if r.keys else ""
                print(f"    {r.kind} {r.namespace or '<task namespace>'}/{r.name}{shown_keys}", file=out)
        print(summary, file=out)
    return 1 if counts[ERROR] or counts[WARNING] else 0


def _codes(out: TextIO) -> int:
    for code in CODES.values():
        print(f"{code.code}  {code.severity:<7}  {code.title}", file=out)
    print("\ncomposer-kpo explain CODE says what one means and what to do about it.", file=out)
    return 0


def _explain(name: str, out: TextIO) -> int:
    code = CODES.get(name.strip().upper())
    if code is None:
        print(f"composer-kpo explain: no such code {name!r} (composer-kpo codes lists them)", file=sys.stderr)
        return 2
    severity = {ERROR: "An error", WARNING: "A warning", INFO: "Info"}[code.severity]
    fails = "check lists it and still exits 0" if code.severity == INFO else "check exits 1 when it reports one"
    print(f"{code.code} ({code.severity}): {code.title}", file=out)
    print(f"{severity}: {fails}.", file=out)
    what = f"What to do: {code.action}"
    print(textwrap.fill(what, width=100, subsequent_indent="    ", break_on_hyphens=False), file=out)
    print(f"To silence it: `# noqa: {code.code}` on the line, or --ignore {code.code}.", file=out)
    return 0


def _plural(severity: str, n: int) -> str:
    return severity if n == 1 or severity == INFO else severity + "s"


def _migrate(files: list[str], target: Target, args: argparse.Namespace, out: TextIO) -> int:
    try:
        import libcst

        from .migrate import migrate_source
    except ImportError:
        print(
            "composer-kpo migrate needs libcst: pip install 'airflow-provider-composer-kpo[migrate]' "
            "(check works without it)",
            file=sys.stderr,
        )
        return 2
    changed = unparsable = 0
    for path in files:
        text, error = _read(path)
        if text is None:
            print(f"{path}: not migrated: cannot read it: {error}", file=out)
            unparsable += 1
            continue
        try:
            migration = migrate_source(path, text, target)
        except libcst.ParserSyntaxError as e:
            where = f"{path}:{e.editor_line}:{e.editor_column}"
            print(f"{where}: not migrated: it does not parse ({e.message}); left as is", file=out)
            unparsable += 1
            continue
        if migration.changed:
            changed += 1
            if args.write:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(migration.migrated)
                print(f"{path}: rewritten", file=out)
            else:
                diff = difflib.unified_diff(
                    text.splitlines(keepends=True),
                    migration.migrated.splitlines(keepends=True),
                    f"a/{path}",
                    f"b/{path}",
                )
                out.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
        for note in migration.notes:
            print(f"{path}:{note.line}: note: {note.message}", file=out)
        remaining = [
            f for f in check_source(path, migration.migrated, target).findings if f.severity in (ERROR, WARNING)
        ]
        if remaining:
            codes = ", ".join(sorted({f.code for f in remaining}))
            print(
                f"{path}: {len(remaining)} findings left for a person ({codes}): run composer-kpo check {path}",
                file=out,
            )
    action = "rewrote" if args.write else "would rewrite"
    print(
        f"composer-kpo migrate: {action} {changed} of {len(files)} files for {target}; {unparsable} not parsed",
        file=out,
    )
    return 1 if unparsable or (changed and not args.write) else 0
