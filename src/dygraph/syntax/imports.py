"""Multi-file programs: `import { A, B.C as D } from "./lib.dy"` (reference §10, decisions 7 and 10).

Each imported symbol's declaration (with its subtree, attributes and nested edges) is copied into the
importing file's root, renamed to its alias. Imports are transitive; cycles and missing files or
symbols are diagnostics.
"""

from __future__ import annotations

import copy
import difflib
import os
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.model import Import, ImportedSymbol
from dygraph.syntax.lower import FileDecl, ImportDecl, NodeDecl

EXTENSIONS = (".dy", ".dygram", ".mach")


def resolve_import_path(importer: str, path: str) -> Optional[str]:
    base = os.path.dirname(os.path.abspath(importer)) if importer and not importer.startswith("<") else os.getcwd()
    candidate = os.path.normpath(os.path.join(base, path))
    for option in (candidate, *(candidate + ext for ext in EXTENSIONS)):
        if os.path.isfile(option):
            return _display(option)
    return None


def _display(path: str) -> str:
    """Paths under the working directory are shown relative to it, as users type them."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _all_decls(decls: list[NodeDecl], prefix: str = "") -> list[tuple[str, NodeDecl]]:
    out = []
    for d in decls:
        if d.is_note:
            continue
        path = f"{prefix}.{'.'.join(d.qname)}" if prefix else ".".join(d.qname)
        out.append((path, d))
        out.extend(_all_decls(d.children, path))
    return out


def find_symbol(decl: FileDecl, symbol: str) -> Optional[NodeDecl]:
    """Exact path first, then the symbol's short name anywhere in the file (first match)."""
    everything = _all_decls(decl.nodes)
    for path, d in everything:
        if path == symbol:
            return d
    short = symbol.rsplit(".", 1)[-1]
    for path, d in everything:
        if path.rsplit(".", 1)[-1] == short:
            return d
    return None


@dataclass
class ImportResolver:
    """Loads imported files (each once), splicing imported declarations into the importer."""

    load_decl: Callable[[str], tuple[Optional[FileDecl], list[Diagnostic]]]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    loaded: dict[str, Optional[FileDecl]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def resolve(self, decl: FileDecl, stack: tuple[str, ...] = ()) -> list[Import]:
        stack = stack + (_display(decl.file) if not decl.file.startswith("<") else decl.file,)
        imports: list[Import] = []
        seen_symbols: dict[str, str] = {}
        for imp in decl.imports:
            imports.append(self._resolve_one(decl, imp, stack, seen_symbols))
        return imports

    def _resolve_one(self, decl: FileDecl, imp: ImportDecl, stack: tuple[str, ...],
                     seen_symbols: dict[str, str]) -> Import:
        symbols = [ImportedSymbol.build(symbol=s, alias=a, span=sp) for s, a, sp in imp.symbols]
        result = Import.build(path=imp.path, resolved_path=None, symbols=symbols, span=imp.span)
        if not imp.path.strip():
            self._error("DG211", "import path is empty", imp.path_span)
            return result
        target = resolve_import_path(decl.file, imp.path)
        if target is None:
            self._error("DG206", f"cannot find '{imp.path}' (tried {', '.join(EXTENSIONS)})", imp.path_span,
                        hint="import paths are relative to the importing file")
            return result
        result.resolved_path = target
        if target in stack:
            chain = " -> ".join(os.path.basename(p) for p in stack[stack.index(target):] + (target,))
            self._error("DG207", f"circular import: {chain}", imp.path_span)
            return result
        lib = self._load(target, stack, imp.path_span)
        if lib is None:
            return result
        local_names = {d.qname[0] for d in decl.nodes if not d.is_note and len(d.qname) == 1}
        for sym in symbols:
            found = find_symbol(lib, sym.symbol)
            if found is None:
                names = [p for p, _ in _all_decls(lib.nodes)]
                close = difflib.get_close_matches(sym.symbol, names, n=1, cutoff=0.6)
                self._error("DG208", f"'{sym.symbol}' is not defined in '{imp.path}'", sym.span,
                            hint=f"did you mean '{close[0]}'?" if close else
                            (f"it defines: {', '.join(names[:8])}" if names else "that file defines no nodes"))
                continue
            local = sym.local_name
            if seen_symbols.get(local) == imp.path:
                continue  # the same symbol from the same file again: nothing new to splice
            first = seen_symbols.setdefault(local, imp.path)
            if first != imp.path:
                self._error("DG210", f"'{local}' is imported from both '{first}' and '{imp.path}'", sym.span)
                continue
            if local in local_names:
                self._error("DG209", f"imported '{local}' collides with the local node '{local}'", sym.span,
                            hint=f"import it under another name: {sym.symbol} as Other{local}")
                continue
            clone = copy.deepcopy(found)
            clone.qname = [local]
            decl.nodes.append(clone)
            local_names.add(local)
        return result

    def _load(self, path: str, stack: tuple[str, ...], imported_at) -> Optional[FileDecl]:
        if path in self.loaded:
            return self.loaded[path]
        lib, diags = self.load_decl(path)
        if imported_at is not None and imported_at.file:  # say which import brought the broken file in
            where = f"imported at {_display(imported_at.file)}:{imported_at.line}:{imported_at.column}"
            diags = [replace(d, hint=f"{d.hint}; {where}" if d.hint else where) if d.is_error else d for d in diags]
        self.diagnostics.extend(diags)
        self.loaded[path] = lib
        if lib is not None:
            self.files.append(path)
            self.resolve(lib, stack)
        return lib

    def _error(self, code: str, message: str, span, hint: Optional[str] = None) -> None:
        self.diagnostics.append(Diagnostic.make(code, message, span, hint=hint))
