"""Source → IR: the Lark grammar, lowering, linking and imports.

`compile_source` never raises for bad input: it returns the diagnostics instead, and never an IR
from a broken parse (decision 6).
"""

from __future__ import annotations

import os
from typing import Optional

from dygraph.diagnostics import CODES, Diagnostic
from dygraph.ir.model import Machine
from dygraph.syntax.lower import FileDecl, Lowerer
from dygraph.syntax.parser import parse

__all__ = ["compile_source", "compile_file", "parse", "read_source", "decode_source"]


def _decl(text: str, file: str) -> tuple[Optional[FileDecl], list[Diagnostic]]:
    tree, diagnostics = parse(text, file)
    if tree is None:
        return None, diagnostics
    return Lowerer(file).file_decl(tree), diagnostics


def read_source(path: str) -> tuple[Optional[str], list[Diagnostic]]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        return None, [Diagnostic.make("DG110", f"cannot read file: {getattr(exc, 'strerror', None) or exc}",
                                      file=path)]
    return decode_source(data, path)


def decode_source(data: bytes, path: str, *, universal_newlines: bool = True) -> tuple[Optional[str], list[Diagnostic]]:
    """UTF-8 text (with universal newlines, as `open` reads it), or DG110 at the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
        return (text.replace("\r\n", "\n").replace("\r", "\n") if universal_newlines else text), []
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        return None, [Diagnostic(
            "DG110", f"cannot read file: it is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded)",
            path, line, column, line, column + 1, CODES["DG110"].severity,
            "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); binary files cannot be checked")]


def _load_decl(path: str) -> tuple[Optional[FileDecl], list[Diagnostic]]:
    text, diagnostics = read_source(path)
    if text is None:
        return None, diagnostics
    return _decl(text, path)


def compile_source(text: str | bytes, file: str = "<string>") -> tuple[Optional[Machine], list[Diagnostic]]:
    """Compile DyGram source to a linked `Machine`. Returns (None, diagnostics) on syntax errors;
    otherwise the machine plus any linking diagnostics (errors included: the caller decides)."""
    from dygraph.syntax.link import Linker

    if isinstance(text, (bytes, bytearray)):
        text, unreadable = decode_source(bytes(text), file)
        if text is None:
            return None, unreadable
    if not isinstance(text, str):
        raise TypeError(f"DyGram source must be str or bytes, not {type(text).__name__}")
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
