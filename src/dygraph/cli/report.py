"""Printing diagnostics: text (rich, with source excerpt and caret), json, github annotations, SARIF."""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from typing import IO, Iterable

from dygraph.diagnostics import CODES, Diagnostic, Severity

Results = list[tuple[str, list[Diagnostic]]]


def emit(fmt: str, results: Results, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(json.dumps([d.to_dict() for _, ds in results for d in ds], indent=2) + "\n")
    elif fmt == "github":
        for _, ds in results:
            for d in ds:
                stream.write(github_line(d) + "\n")
    elif fmt == "sarif":
        stream.write(json.dumps(sarif(results), indent=2) + "\n")
    else:
        text(results, quiet=quiet, stream=stream)


def counts(results: Results) -> tuple[int, int]:
    errors = sum(d.is_error for _, ds in results for d in ds)
    warnings = sum(d.severity is Severity.WARNING for _, ds in results for d in ds)
    return errors, warnings


def text(results: Results, *, quiet: bool, stream: IO[str]) -> None:
    errors, warnings = counts(results)
    if errors or warnings or any(ds for _, ds in results):
        if _wants_colour(stream):
            from rich.console import Console

            console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
            for _, ds in results:
                for d in ds:
                    _print_rich(console, d)
        else:  # the same text without styles, written directly: rich costs ~1 ms a diagnostic
            for _, ds in results:
                for d in ds:
                    stream.write("".join(line + "\n" for line in _plain_lines(d)))
    if not quiet:
        files = len(results)
        summary = f"{files} file{'s' * (files != 1)} checked: {errors} error{'s' * (errors != 1)}, " \
                  f"{warnings} warning{'s' * (warnings != 1)}"
        stream.write(summary + "\n")


EXCERPT_WIDTH = 120
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}


@lru_cache(maxsize=64)
def _source_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _wants_colour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty() or bool(os.environ.get("FORCE_COLOR"))
    except (AttributeError, ValueError):
        return False


def _excerpt(d: Diagnostic) -> tuple[str, str, int, int] | None:
    """(gutter, source line, caret indent, caret width) for the diagnostic's line, if it can be read.
    Tabs are expanded and wide characters (CJK, emoji) counted as two cells, so the caret lines up."""
    from rich.cells import cell_len

    lines = _source_lines(d.file)
    if not 0 < d.line <= len(lines):
        return None
    raw = lines[d.line - 1]
    gutter = f"{d.line:>5} | "
    width = 1
    if d.end_line == d.line and d.end_column and d.end_column > d.column:
        width = d.end_column - d.column
    width = max(1, min(width, len(raw) - d.column + 2))
    start, end = 0, len(raw)
    if len(raw) > EXCERPT_WIDTH:  # a long (e.g. generated) line: the part around the column
        start = max(0, min(d.column - 1 - EXCERPT_WIDTH // 3, len(raw) - EXCERPT_WIDTH))
        end = start + EXCERPT_WIDTH
        width = max(1, min(width, end - d.column + 1))
    before = ("…" if start else "") + raw[start:d.column - 1]
    marked = raw[d.column - 1:d.column - 1 + width]
    after = raw[d.column - 1 + width:end] + ("…" if end < len(raw) else "")
    indent = cell_len(before.expandtabs(4))
    caret = max(1, cell_len((before + marked).expandtabs(4)) - indent)
    return gutter, (before + marked + after).expandtabs(4), len(gutter) + indent, caret


def _plain_lines(d: Diagnostic) -> list[str]:
    out = [f"{d.location()}: {d.severity.value} {d.code} {d.message}"]
    excerpt = _excerpt(d)
    if excerpt is not None:
        gutter, src, indent, width = excerpt
        out += [gutter + src, " " * indent + "^" * width]
    if d.hint:
        out.append(f"      hint: {d.hint}")
    return out


def _print_rich(console, d: Diagnostic) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(d.location())}[/]: [{_STYLE[d.severity]}]{d.severity.value}[/] "
                  f"[dim]{d.code}[/] {escape(d.message)}")
    excerpt = _excerpt(d)
    if excerpt is not None:
        gutter, src, indent, width = excerpt
        console.print(f"[dim]{gutter}[/]{escape(src)}")
        console.print(" " * indent + f"[{_STYLE[d.severity]}]" + "^" * width + "[/]")
    if d.hint:
        console.print(f"      [cyan]hint:[/] {escape(d.hint)}")


def _escape_github(value: str, *, property_: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github_line(d: Diagnostic) -> str:
    level = {"error": "error", "warning": "warning"}.get(d.severity.value, "notice")
    props = [f"file={_escape_github(d.file, property_=True)}", f"line={d.line}", f"col={d.column}"]
    if d.end_line:
        props.append(f"endLine={d.end_line}")
    if d.end_column and d.end_line == d.line:
        props.append(f"endColumn={d.end_column}")
    props.append(f"title={_escape_github(d.code + ' ' + CODES[d.code].title if d.code in CODES else d.code, property_=True)}")
    message = d.message + (f" (hint: {d.hint})" if d.hint else "")
    return f"::{level} {','.join(props)}::{_escape_github(message)}"


def sarif(results: Results) -> dict:
    used = sorted({d.code for _, ds in results for d in ds})
    rules = [{"id": c, "name": CODES[c].title if c in CODES else c,
              "shortDescription": {"text": CODES[c].title if c in CODES else c},
              "defaultConfiguration": {"level": _sarif_level(CODES[c].severity if c in CODES else Severity.ERROR)}}
             for c in used]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "dygraph", "informationUri": "https://github.com/dygraph/dygraph",
                                "rules": rules}},
            "results": list(_sarif_results(results)),
        }],
    }


def _sarif_level(sev: Severity) -> str:
    return {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(sev, "note")


def _sarif_results(results: Results) -> Iterable[dict]:
    for _, ds in results:
        for d in ds:
            region = {"startLine": d.line, "startColumn": d.column}
            if d.end_line:
                region["endLine"] = d.end_line
            if d.end_column:
                region["endColumn"] = d.end_column
            message = d.message + (f" (hint: {d.hint})" if d.hint else "")
            yield {"ruleId": d.code, "level": _sarif_level(d.severity), "message": {"text": message},
                   "locations": [{"physicalLocation": {"artifactLocation": {"uri": d.file}, "region": region}}]}
