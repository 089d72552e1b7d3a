"""`dygraph fmt`: the canonical layout of DyGram source.

`format_source` keeps every comment and never changes meaning: the result compiles to the same IR
(spans aside) as the input, which is checked on every call; files with syntax errors are not
formatted. The style is described in docs/editor.md.
"""

from __future__ import annotations

from typing import Any, Optional

from dygraph.diagnostics import Diagnostic

__all__ = ["format_source", "format_text", "ir_fingerprint", "FormatError"]


class FormatError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__(str(diagnostics[0]) if diagnostics else "cannot format")


def _strip_spans(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_spans(v) for k, v in value.items() if k != "span"}
    if isinstance(value, list):
        return [_strip_spans(v) for v in value]
    return value


def ir_fingerprint(machine) -> dict:
    """The machine's IR without source spans: what formatting must leave unchanged."""
    return _strip_spans(machine.model_dump(mode="json"))


def _meaning(text: str, file: str) -> tuple[Optional[dict], list[str]]:
    from dygraph.syntax import compile_source

    machine, diagnostics = compile_source(text, file)
    codes = sorted(d.code for d in diagnostics)
    return (ir_fingerprint(machine) if machine is not None else None), codes


def format_source(text: str, file: str = "<string>", *, verify: bool = True) -> tuple[Optional[str], list[Diagnostic]]:
    """Format DyGram source. Returns (formatted text, []) or (None, syntax diagnostics)."""
    from dygraph.fmt.printer import Printer, cst_parser
    from dygraph.syntax import parse
    from dygraph.syntax.parser import BOM

    tree, diagnostics = parse(text, file)
    if tree is None:
        return None, diagnostics
    if text.startswith(BOM):  # kept as it was: the printer sees the text after it
        formatted, diagnostics = format_source(text[len(BOM):], file, verify=verify)
        return (BOM + formatted if formatted is not None else None), diagnostics
    formatted = Printer(text, cst_parser().parse(text)).print()
    if verify and formatted != text and _meaning(formatted, file) != _meaning(text, file):
        # A printer defect must never cost the user their program; refuse instead.
        return None, [Diagnostic.make(
            "DG190", "the formatter would change this program's meaning; the file was left as is",
            file=file, hint="please report this file to the dygraph maintainers")]
    return formatted, []


def format_text(text: str, file: str = "<string>") -> str:
    """Like `format_source`, but raises `FormatError` with the diagnostics instead."""
    formatted, diagnostics = format_source(text, file)
    if formatted is None:
        raise FormatError(diagnostics)
    return formatted
