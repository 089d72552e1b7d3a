"""Source → IR: the Lark grammar, lowering, linking and imports.

`compile_source` never raises for bad input: it returns the diagnostics instead, and never an IR
from a broken parse (decision 6).
"""

from __future__ import annotations

import os
from typing import Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.model import Machine
from dygraph.syntax.lower import FileDecl, Lowerer
from dygraph.syntax.parser import parse

__all__ = ["compile_source", "compile_file", "parse", "read_source"]


def _decl(text: str, file: str) -> tuple[Optional[FileDecl], list[Diagnostic]]:
    tree, diagnostics = parse(text, file)
    if tree is None:
        return None, diagnostics
    return Lowerer(file).file_decl(tree), diagnostics


def read_source(path: str) -> tuple[Optional[str], list[Diagnostic]]:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(), []
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Diagnostic.make("DG110", f"cannot read file: {reason}", file=path)]


def _load_decl(path: str) -> tuple[Optional[FileDecl], list[Diagnostic]]:
    text, diagnostics = read_source(path)
    if text is None:
        return None, diagnostics
    return _decl(text, path)


def compile_source(text: str, file: str = "<string>") -> tuple[Optional[Machine], list[Diagnostic]]:
    """Compile DyGram source to a linked `Machine`. Returns (None, diagnostics) on syntax errors;
    otherwise the machine plus any linking diagnostics (errors included: the caller decides)."""
    from dygraph.syntax.link import Linker

    decl, diagnostics = _decl(text, file)
    if decl is None:
        return None, diagnostics
    imports = []
    files = [file]
    if decl.imports:
        from dygraph.syntax.imports import ImportResolver

        resolver = ImportResolver(_load_decl)
        imports = resolver.resolve(decl)
        diagnostics.extend(resolver.diagnostics)
        files += resolver.files
        if any(d.is_error for d in resolver.diagnostics if d.code in ("DG110",) or d.code.startswith("DG1")):
            return None, diagnostics
    linker = Linker(decl)
    machine = linker.link()
    machine.imports = imports
    machine.source_files = files
    diagnostics.extend(linker.diagnostics)
    return machine, diagnostics


def compile_file(path: str) -> tuple[Optional[Machine], list[Diagnostic]]:
    text, diagnostics = read_source(path)
    if text is None:
        return None, diagnostics
    return compile_source(text, os.fspath(path))
