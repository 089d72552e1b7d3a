"""`dygraph fmt`: rewrite DyGram files in the canonical layout (or check / diff them)."""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile

import click

from dygraph.cli.paths import source_files_or_exit

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
def _read(path: str, name: str):
    from dygraph.diagnostics import Diagnostic
    from dygraph.syntax import decode_source

    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        return None, [Diagnostic.make("DG110", f"cannot read file: {exc.strerror or exc}", file=name)]
    return decode_source(data, name, universal_newlines=False)


def _replace(path: str, text: str) -> None:
    """Write through a temporary file beside the target, so an interrupted write never truncates it."""
    target = os.path.realpath(path)
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".", suffix=".fmt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of the changes.")
def fmt(paths: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Format DyGram files in place (a directory: its .dygram/.dy/.mach files; `-`: standard input to
    standard output).

    Comments are kept and meaning never changes. Files with syntax errors are left alone and
    their diagnostics printed. Exit status: 0 done (or nothing to change), 1 syntax errors or, with
    --check, files that would change, 2 usage error or missing file.
    """
    from dygraph.cli import report
    from dygraph.fmt import format_source

    files = source_files_or_exit(paths)
    failed = changed = 0
    for path in files:
        name = "<stdin>" if path == "-" else path
        text, diagnostics = _read(path, name)
        formatted = None
        if text is not None:
            formatted, diagnostics = format_source(text, name)
        if formatted is None:
            report.emit("text", [(name, diagnostics)], quiet=True, stream=sys.stderr)
            failed += 1
            continue
        if path == "-" and not (check or show_diff):
            sys.stdout.write(formatted)
            continue
        if formatted == text:
            continue
        changed += 1
        if show_diff:
            for line in difflib.unified_diff(
                    text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                    fromfile=f"{name} (original)", tofile=f"{name} (formatted)"):
                sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        if check:
            click.echo(f"would reformat {name}", err=True)
        elif not show_diff:
            try:
                _replace(path, formatted)
            except OSError as exc:
                click.echo(f"dygraph: cannot write {name}: {exc.strerror or exc}", err=True)
                changed -= 1
                failed += 1
                continue
            click.echo(f"reformatted {name}", err=True)
    if check or show_diff:
        summary = f"{changed} file{'s' * (changed != 1)} would be reformatted"
    else:
        summary = f"{changed} file{'s' * (changed != 1)} reformatted"
    click.echo(f"{summary}, {len(files) - changed - failed} unchanged, {failed} with errors", err=True)
    sys.exit(EXIT_ERRORS if failed or (check and changed) else EXIT_OK)
