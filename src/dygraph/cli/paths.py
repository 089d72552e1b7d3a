"""Command-line path arguments: files as given, directories expanded to their DyGram files."""

from __future__ import annotations

import os

SOURCE_SUFFIXES = (".dygram", ".dy", ".mach")


def expand(paths: tuple[str, ...]) -> list[str]:
    """Files as given; directories become their DyGram files (recursively, sorted)."""
    out: list[str] = []
    for path in paths:
        if path != "-" and os.path.isdir(path):
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
                out.extend(os.path.join(folder, n) for n in sorted(names) if n.endswith(SOURCE_SUFFIXES))
        else:
            out.append(path)
    return out


def overwrites_source(output, sources) -> bool:
    """True when `output` is one of the machine's source files (the file itself or an import)."""
    if output is None or not os.path.exists(output):
        return False
    for source in sources:
        try:
            if os.path.samefile(output, source):
                return True
        except OSError:
            continue
    return False


def not_a_file(path: str) -> str:
    """Why `path` cannot be read as a source file, for a usage error."""
    if not os.path.exists(path):
        return "no such file"
    return "is a directory" if os.path.isdir(path) else "not a regular file"


def source_files_or_exit(paths: tuple[str, ...]) -> list[str]:
    """The DyGram files a command was given (directories expanded, `-` kept), or a usage error
    (exit 2) when there are none or one cannot be read."""
    import sys

    import click

    files = expand(paths)
    if not files:
        click.echo("dygraph: no DyGram files found", err=True)
        sys.exit(2)
    missing = [f for f in files if f != "-" and not os.path.isfile(f)]
    for f in missing:
        click.echo(f"dygraph: {f}: {not_a_file(f)}", err=True)
    if missing:
        sys.exit(2)
    return files
