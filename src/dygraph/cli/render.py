"""`dygraph render FILE`: draw a machine as SVG, PNG, PDF or DOT."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import click

SUFFIX_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_NO_GRAPHVIZ = 3


@click.command("render")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Where to write the diagram (default: standard output). Its suffix picks the format.")
@click.option("-f", "--format", "fmt", type=click.Choice(["svg", "png", "pdf", "dot"], case_sensitive=False),
              help="Output format (default: from the output suffix, else svg).")
@click.option("-d", "--direction", type=click.Choice(["LR", "TB", "RL", "BT"], case_sensitive=False),
              help="Layout direction; overrides the machine's own @style(rankdir: …).")
def render(file: Path, output: Optional[Path], fmt: Optional[str], direction: Optional[str]) -> None:
    """Draw the machine in FILE as a diagram (needs Graphviz `dot` except for --format dot)."""
    import dygraph
    from dygraph.diagnostics import DygraphError
    from dygraph.render import GraphvizNotFound, RenderError
    from dygraph.render import render as render_machine

    if fmt is None and output is not None and output.suffix.lower() not in SUFFIX_FORMATS:
        raise click.UsageError(f"cannot tell the format from {output.name!r}; use --format svg|png|pdf|dot")
    fmt = (fmt or SUFFIX_FORMATS.get(output.suffix.lower() if output else "", "svg")).lower()
    if output is None and fmt in ("png", "pdf") and sys.stdout.isatty():
        raise click.UsageError(f"{fmt.upper()} is binary; write it to a file with -o FILE.{fmt}")
    try:
        machine = dygraph.load(file)
    except DygraphError as exc:
        from dygraph.cli import report

        report.emit("text", [(str(file), exc.diagnostics)], quiet=True, stream=sys.stderr)
        sys.exit(EXIT_ERRORS)
    from dygraph.cli.paths import overwrites_source

    if overwrites_source(output, machine.source_files or [file]):
        click.echo(f"dygraph: -o {output} is a source file of the machine; refusing to overwrite it", err=True)
        sys.exit(EXIT_USAGE)
    try:
        data = render_machine(machine, fmt, direction=direction.upper() if direction else None)
    except GraphvizNotFound as exc:
        click.echo(f"dygraph: {exc}", err=True)
        sys.exit(EXIT_NO_GRAPHVIZ)
    except RenderError as exc:
        click.echo(f"dygraph: {exc}", err=True)
        sys.exit(EXIT_ERRORS)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            output.write_bytes(data)
        except OSError as exc:
            click.echo(f"dygraph: cannot write {output}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_USAGE)
        click.echo(f"wrote {output} ({fmt}, {len(data):,} bytes)", err=True)
