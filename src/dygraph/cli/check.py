"""`dygraph check`, `dygraph compile` and `dygraph schema`."""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

import click

from dygraph.diagnostics import Diagnostic, Severity, sort_key

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
STDIN = "<stdin>"


def _check_file(path: str) -> tuple[Optional[object], list[Diagnostic]]:
    from dygraph.syntax import compile_file, compile_source

    if path == "-":
        machine, diagnostics = compile_source(sys.stdin.buffer.read(), STDIN)
    else:
        machine, diagnostics = compile_file(path)
    if machine is not None and not any(d.is_error for d in diagnostics):
        from dygraph import _analyze

        diagnostics = diagnostics + _analyze(machine)
    return machine, sorted(diagnostics, key=sort_key)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]), default="text",
              show_default=True, help="Output format.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only (no warnings, no summary).")
@click.option("--warnings-as-errors", "--strict-warnings", "warnings_as_errors", is_flag=True,
              help="Fail (exit 1) on warnings too.")
def check(files: tuple[str, ...], fmt: str, quiet: bool, warnings_as_errors: bool) -> None:
    """Check DyGram files (a directory: its .dygram/.dy/.mach files; `-`: standard input): syntax,
    names, types, conditions and graph structure.

    Exit status: 0 clean, 1 errors (or warnings with --warnings-as-errors), 2 usage error or missing file.
    """
    from dygraph.cli.paths import source_files_or_exit

    files = tuple(source_files_or_exit(files))
    results: list[tuple[str, list[Diagnostic]]] = []
    for path in files:
        _, diagnostics = _check_file(path)
        if quiet:
            diagnostics = [d for d in diagnostics if d.is_error or (warnings_as_errors and d.severity is Severity.WARNING)]
        results.append((STDIN if path == "-" else path, diagnostics))
    from dygraph.cli import report

    report.emit(fmt, results, quiet=quiet)
    failing = any(d.is_error or (warnings_as_errors and d.severity is Severity.WARNING)
                  for _, ds in results for d in ds)
    sys.exit(EXIT_ERRORS if failing else EXIT_OK)


@click.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "reference-json", "dot"]), default="json",
              show_default=True, help="json: dygraph IR (lossless); reference-json: the reference's MachineJSON; "
                                      "dot: Graphviz source.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
def compile_(file: str, fmt: str, output: Optional[str]) -> None:
    """Compile FILE to JSON IR (or DOT). Exits 1 without output when the file has errors."""
    if not os.path.isfile(file):
        from dygraph.cli.paths import not_a_file

        click.echo(f"dygraph: {file}: {not_a_file(file)}", err=True)
        sys.exit(EXIT_USAGE)
    from dygraph.syntax import compile_file

    machine, diagnostics = compile_file(file)
    errors = [d for d in diagnostics if d.is_error]
    if machine is None or errors:
        from dygraph.cli import report

        report.emit("text", [(file, sorted(errors or diagnostics, key=sort_key))], quiet=True, stream=sys.stderr)
        sys.exit(EXIT_ERRORS)
    if fmt == "json":
        text = machine.to_json(indent=2)
    elif fmt == "reference-json":
        from dygraph.ir.reference import to_reference_json

        text = json.dumps(to_reference_json(machine), indent=2, ensure_ascii=False)
    else:
        from dygraph.render import to_dot

        text = to_dot(machine)
    if output:
        from dygraph.cli.paths import overwrites_source

        if overwrites_source(output, machine.source_files or [file]):
            click.echo(f"dygraph: -o {output} is a source file of the machine; refusing to overwrite it", err=True)
            sys.exit(EXIT_USAGE)
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            click.echo(f"dygraph: cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_USAGE)
    else:
        click.echo(text)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the dygraph IR."""
    from dygraph.ir import json_schema

    click.echo(json.dumps(json_schema(), indent=2))
