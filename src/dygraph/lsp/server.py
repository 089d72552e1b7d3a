"""The DyGram language server (pygls, stdio): diagnostics as you type, hover, go to definition,
references, completion, outline, formatting and semantic tokens.

Every feature reads a `DocumentIndex` (see index.py). While the text does not parse, navigation and
completion use the last index that did, so names stay available as you type.
"""

from __future__ import annotations

import json
import re
from typing import Optional
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from dygraph.diagnostics import Diagnostic, Severity
from dygraph.ir.model import Machine, Node
from dygraph.lsp import docs
from dygraph.lsp.index import KEYWORDS, DocumentIndex, LineIndex, analyze_document

TOKEN_TYPES = ["namespace", "type", "class", "variable", "property", "decorator", "keyword", "string",
               "number", "comment", "operator", "macro", "enumMember", "parameter"]
TOKEN_MODIFIERS = ["declaration", "defaultLibrary"]
TRIGGER_CHARACTERS = ["@", ">", ",", " ", "."]
NODE_TYPE_KEYWORDS = ["Task", "State", "Context", "Init", "Tool", "End", "Input", "Output", "Data", "Result",
                      "Process", "Type", "Style", "note"]

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


class DygramLanguageServer(LanguageServer):
    def __init__(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            own_version = version("dygraph")
        except PackageNotFoundError:
            own_version = "0"
        super().__init__("dygraph", own_version)
        self.indexes: dict[str, DocumentIndex] = {}
        self.last_good: dict[str, DocumentIndex] = {}

    # ---- documents
    def encoding(self) -> str:
        enc = self.workspace.position_encoding
        return str(enc.value if hasattr(enc, "value") else enc or "utf-16")

    def refresh(self, uri: str, version: Optional[int] = None) -> DocumentIndex:
        document = self.workspace.get_text_document(uri)
        try:
            index = analyze_document(document.source, _file_of(uri), self.encoding())
        except Exception as exc:  # a compiler defect must not take the editor session down
            self.window_log_message(types.LogMessageParams(
                type=types.MessageType.Error, message=f"dygraph: internal error analysing {uri}: {exc!r}"))
            index = DocumentIndex(document.source, _file_of(uri), None, [], LineIndex(document.source))
        self.indexes[uri] = index
        if index.parsed:
            self.last_good[uri] = index
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=[_lsp_diagnostic(index, d) for d in index.diagnostics]))
        return index

    def current(self, uri: str) -> DocumentIndex:
        index = self.indexes.get(uri)
        try:
            source = self.workspace.get_text_document(uri).source
        except (OSError, UnicodeDecodeError):  # neither open in the editor nor readable on disk
            return DocumentIndex("", _file_of(uri), None, [], LineIndex(""))
        if index is None or index.text != source:
            index = self.refresh(uri)
        return index

    def navigable(self, uri: str) -> Optional[DocumentIndex]:
        """The current index if it parsed, else the last one that did (names as of then)."""
        index = self.current(uri)
        return index if index.parsed else self.last_good.get(uri)

    def node_at(self, uri: str, position: types.Position, *, current_only: bool = False):
        """(index, occurrence) for the resolved node name at `position`, or None."""
        index = self.current(uri) if current_only else self.navigable(uri)
        if index is None or not index.parsed:
            return None
        occ = index.occurrence_at(index.lines.offset(position.line, position.character))
        return (index, occ) if occ is not None and occ.path is not None else None


def _file_of(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def _range(index: DocumentIndex, start: int, end: int) -> types.Range:
    sl, sc = index.lines.position(start)
    el, ec = index.lines.position(end)
    return types.Range(start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec))


def _lsp_diagnostic(index: DocumentIndex, d: Diagnostic) -> types.Diagnostic:
    lines = index.lines
    if d.file not in (index.file, "<string>"):
        start = end = 0  # reported in an imported file: show it at the top, naming the place
        message = f"{d.location()}: {d.message}"
    else:
        start = lines.offset_of(d.line, d.column)
        end = lines.offset_of(d.end_line or d.line, d.end_column or d.column)
        message = d.message
    if end <= start:
        end = min(start + 1, len(index.text))
    if d.hint:
        message += f"\nhint: {d.hint}"
    return types.Diagnostic(range=_range(index, start, end), message=message, code=d.code, source="dygraph",
                            severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Error))


def _is_elsewhere(index: DocumentIndex, span) -> bool:
    return bool(span.file) and span.file not in (index.file, "<string>")


def _location_in_file(span) -> types.Location:
    from pathlib import Path

    try:
        lines = LineIndex(Path(span.file).read_text(encoding="utf-8"))
        start = lines.position(lines.offset_of(span.line, span.column))
        end = lines.position(lines.offset_of(span.end_line, span.end_column))
    except (OSError, UnicodeDecodeError):
        start, end = (span.line - 1, span.column - 1), (span.end_line - 1, span.end_column - 1)
    return types.Location(uri=Path(span.file).resolve().as_uri(), range=types.Range(
        start=types.Position(line=start[0], character=start[1]), end=types.Position(line=end[0], character=end[1])))


# ---------------------------------------------------------------- hover text

def _node_hover(machine: Machine, node: Node, notes: list[str]) -> str:
    kind = node.type or machine.effective_type(node) or "node"
    head = f"**{kind}** `{node.path}`"
    if node.title:
        head += f' — "{node.title}"'
    parts = [head]
    effective = machine.effective_type(node)
    if effective and effective != (node.type or "").lower():
        parts.append(f"effective type: `{effective}`" + ("" if node.type else " (inferred)"))
    if node.auto_created:
        parts.append("auto-created: only referenced by edges")
    if node.annotations:
        parts.append(" ".join(f"`@{a.name}`" for a in node.annotations))
    if node.attributes:
        rows = ["| attribute | type | value |", "|---|---|---|"]
        for a in node.attributes:
            value = "" if not a.has_value else _short(
                str(a.value) if a.kind in ("external", "identifier") else json.dumps(a.value, ensure_ascii=False))
            declared = f"`{a.type}`" if a.type else ""
            value = value.replace("|", "\\|")
            rows.append(f"| `{a.name}` | {declared} | {value} |")
        parts.append("\n".join(rows))
    outgoing = machine.outgoing(node.path)
    incoming = machine.incoming(node.path)
    if outgoing or incoming:
        parts.append(f"{len(incoming)} incoming, {len(outgoing)} outgoing: "
                     + ", ".join(f"`{e.arrow} {e.target}`" for e in outgoing[:6])
                     + (" …" if len(outgoing) > 6 else ""))
    children = machine.children(node.path)
    if children:
        parts.append("children: " + ", ".join(f"`{c.name}`" for c in children[:10]))
    parts.extend(f"> {n}" for n in notes)
    return "\n\n".join(parts)


def _short(text: str, limit: int = 60) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _topic_hover(topic: str) -> Optional[str]:
    kind, _, name = topic.partition(":")
    if kind == "annotation":
        return docs.annotation_doc(name) or f"**@{name}** — custom annotation (metadata; also a style selector)."
    if kind == "attribute" and name in docs.ATTRIBUTES:
        return f"**{name}** — {docs.ATTRIBUTES[name]}"
    if kind == "type":
        text = docs.NODE_TYPES.get(name.lower())
        return f"**{name}** — {text}" if text else f"**{name}** — custom node type."
    if kind == "arrow":
        text = docs.ARROWS.get(name)
        if text is None and name.startswith("<--"):
            text = docs.ARROWS["<-->"]
        return f"`{name}` — {text}" if text else None
    return None


# ---------------------------------------------------------------- completion

def _block_depth(text: str) -> int:
    depth = 0
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|//[^\n]*|/\*.*?\*/|[{}]', text, re.S):
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth = max(depth - 1, 0)
    return depth


def _node_items(machine: Optional[Machine]) -> list[types.CompletionItem]:
    if machine is None:
        return []
    items, seen = [], set()
    simple_count: dict[str, int] = {}
    for n in machine.nodes:
        simple_count[n.name] = simple_count.get(n.name, 0) + 1
    for n in machine.nodes:
        label = n.name if simple_count[n.name] == 1 else n.path
        for text in dict.fromkeys((label, n.path)):
            if text in seen:
                continue
            seen.add(text)
            items.append(types.CompletionItem(
                label=text, kind=types.CompletionItemKind.Class,
                detail=" ".join(x for x in (n.type or machine.effective_type(n) or "node", n.path) if x),
                documentation=n.title))
    return items


def _annotation_items() -> list[types.CompletionItem]:
    return [types.CompletionItem(label=name, kind=types.CompletionItemKind.Keyword, detail=f"@{name} ({where})",
                                 documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))
            for name, (where, text) in docs.ANNOTATIONS.items()]


def _arrow_items() -> list[types.CompletionItem]:
    return [types.CompletionItem(label=label, kind=types.CompletionItemKind.Operator, insert_text=snippet,
                                 insert_text_format=types.InsertTextFormat.Snippet,
                                 detail=docs.ARROWS.get(label.split("@")[0].rstrip("-") or "->", "edge"))
            for label, snippet in docs.ARROW_SNIPPETS]


def _attribute_items(names: list[str]) -> list[types.CompletionItem]:
    return [types.CompletionItem(label=name, kind=types.CompletionItemKind.Property,
                                 insert_text=f"{name}: ${{1}};", insert_text_format=types.InsertTextFormat.Snippet,
                                 documentation=docs.ATTRIBUTES.get(name))
            for name in names]


def _type_items() -> list[types.CompletionItem]:
    return [types.CompletionItem(label=t, kind=types.CompletionItemKind.TypeParameter,
                                 documentation=docs.NODE_TYPES.get(t.lower()))
            for t in NODE_TYPE_KEYWORDS]


def complete(text: str, offset: int, machine: Optional[Machine]) -> list[types.CompletionItem]:
    before = text[:offset]
    line = before[before.rfind("\n") + 1:]
    if re.search(r"@\w*$", line):
        return _annotation_items()
    # inside an arrow label: `a -wh|`
    if re.search(r"[\w.\"]\s*(?:-|--|=)(?![->])[^>\n]*$", line) and not re.search(r"(->|-->|=>)\s*[\w.]*$", line):
        return _attribute_items(["when", "unless", "if"]) + [
            types.CompletionItem(label=t, kind=types.CompletionItemKind.EnumMember) for t in ("reads", "writes", "catch")]
    if re.search(r"(->|-->|=>|<-->|<--\w+-->|<\|--|\*-->|o-->)\s*(\"[^\"]*\"\s*)?[\w.]*$", line) or (
            re.search(r"(->|-->|=>|>)", line) and re.search(r",\s*[\w.]*$", line)):
        return _node_items(machine)
    if re.fullmatch(r"\s*[\w.]+(\s*,\s*[\w.]+)*\s+", line):  # after the source(s) of an edge
        return _arrow_items()
    if re.fullmatch(r"\s*[\w]*", line):
        items = _node_items(machine) + _type_items()
        if _block_depth(before) > 0:
            items += _attribute_items(sorted(docs.ATTRIBUTES))
        elif machine is None or machine.title is None:
            items.append(types.CompletionItem(label="machine", kind=types.CompletionItemKind.Keyword,
                                              insert_text='machine "${1:Title}"',
                                              insert_text_format=types.InsertTextFormat.Snippet))
        return items
    return []


# ---------------------------------------------------------------- symbols

def _symbols(index: DocumentIndex) -> list[types.DocumentSymbol]:
    machine = index.machine
    if machine is None:
        return []

    def span_range(span) -> tuple[int, int]:
        return (index.lines.offset_of(span.line, span.column), index.lines.offset_of(span.end_line, span.end_column))

    def attr_symbols(attributes) -> list[types.DocumentSymbol]:
        out = []
        for a in attributes:
            if a.span is None:
                continue
            start, end = span_range(a.span)
            r = _range(index, start, end)
            out.append(types.DocumentSymbol(name=a.name, kind=types.SymbolKind.Property, range=r, selection_range=r,
                                            detail=str(a.type) if a.type else None))
        return out

    def node_symbol(node: Node) -> Optional[types.DocumentSymbol]:
        if node.span is None or node.auto_created or _is_elsewhere(index, node.span):
            return None
        start, end = span_range(node.span)
        definitions = index.definitions_of(node.path)
        sel = (definitions[0].start, definitions[0].end) if definitions else (start, start)
        children = attr_symbols(node.attributes) + [s for c in machine.children(node.path)
                                                     if (s := node_symbol(c)) is not None]
        for child in children:
            child_end = index.lines.offset(child.range.end.line, child.range.end.character)
            child_start = index.lines.offset(child.range.start.line, child.range.start.character)
            start, end = min(start, child_start), max(end, child_end)
        start, end = min(start, sel[0]), max(end, sel[1])
        kind = _symbol_kind(machine.effective_type(node))
        return types.DocumentSymbol(name=node.name, kind=kind, range=_range(index, start, end),
                                    selection_range=_range(index, *sel), detail=node.type or node.title,
                                    children=children)

    symbols = []
    if index.header_range is not None:
        start, end = index.header_range
        symbols.append(types.DocumentSymbol(
            name=f"machine {machine.title!r}" if machine.title else "machine", kind=types.SymbolKind.Module,
            range=_range(index, start, end), selection_range=_range(index, start, start + len("machine")),
            children=[s for s in attr_symbols(machine.attributes)
                      if start <= index.lines.offset(s.range.start.line, s.range.start.character) <= end]))
    for root in machine.roots():
        sym = node_symbol(root)
        if sym is not None:
            symbols.append(sym)
        else:  # an auto-created parent of declared nodes: show its declared descendants
            symbols.extend(s for c in machine.children(root.path) if (s := node_symbol(c)) is not None)
    return symbols


def _symbol_kind(effective: Optional[str]) -> types.SymbolKind:
    return {
        "task": types.SymbolKind.Function,
        "state": types.SymbolKind.EnumMember,
        "context": types.SymbolKind.Struct,
        "init": types.SymbolKind.Event,
        "tool": types.SymbolKind.Method,
        "note": types.SymbolKind.String,
    }.get(effective or "", types.SymbolKind.Class)


# ---------------------------------------------------------------- semantic tokens

def semantic_tokens(index: DocumentIndex) -> list[int]:
    data: list[int] = []
    prev_line = prev_col = 0
    for mark in index.marks:
        if mark.kind not in TOKEN_TYPES:
            continue
        type_id = TOKEN_TYPES.index(mark.kind)
        mods = sum(1 << TOKEN_MODIFIERS.index(m) for m in mark.modifiers if m in TOKEN_MODIFIERS)
        # one entry per line: clients need not support multi-line tokens
        pos = mark.start
        while pos < mark.end:
            nl = index.text.find("\n", pos, mark.end)
            piece_end = mark.end if nl == -1 else nl
            if piece_end > pos:
                line, col = index.lines.position(pos)
                _, end_col = index.lines.position(piece_end)
                delta_col = col - prev_col if line == prev_line else col
                data += [line - prev_line, delta_col, end_col - col, type_id, mods]
                prev_line, prev_col = line, col
            pos = piece_end + 1
    return data


# ---------------------------------------------------------------- server wiring

def create_server() -> DygramLanguageServer:
    server = DygramLanguageServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: DygramLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: DygramLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: DygramLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)  # imported files may have changed

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: DygramLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.indexes.pop(uri, None)
        ls.last_good.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: DygramLanguageServer, params: types.HoverParams) -> Optional[types.Hover]:
        index = ls.navigable(params.text_document.uri)
        if index is None or index.machine is None:
            return None
        offset = index.lines.offset(params.position.line, params.position.character)
        occ = index.occurrence_at(offset)
        if occ is not None and occ.path is not None and index.machine.get(occ.path) is not None:
            node = index.machine.node(occ.path)
            notes = [n.text for n in index.machine.notes if n.target == node.path and n.text]
            text = _node_hover(index.machine, node, notes)
            return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                               range=_range(index, occ.start, occ.end))
        mark = index.mark_at(offset)
        if mark is not None and mark.topic:
            text = _topic_hover(mark.topic)
            if text:
                return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                                   range=_range(index, mark.start, mark.end))
        return None

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: DygramLanguageServer, params: types.DefinitionParams) -> Optional[list[types.Location]]:
        found = ls.node_at(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occ = found
        targets = index.definitions_of(occ.path)
        node = index.machine.get(occ.path)
        if not targets and node is not None and node.span is not None and _is_elsewhere(index, node.span):
            return [_location_in_file(node.span)]  # an imported node: its declaration in the other file
        if not targets:  # auto-created: its first mention
            targets = index.occurrences_of(occ.path)[:1]
        return [types.Location(uri=params.text_document.uri, range=_range(index, t.start, t.end)) for t in targets]

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def references(ls: DygramLanguageServer, params: types.ReferenceParams) -> Optional[list[types.Location]]:
        found = ls.node_at(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occ = found
        include = params.context.include_declaration if params.context else True
        return [types.Location(uri=params.text_document.uri, range=_range(index, o.start, o.end))
                for o in index.occurrences_of(occ.path) if include or not o.definition]

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    def highlight(ls: DygramLanguageServer, params: types.DocumentHighlightParams) -> Optional[list[types.DocumentHighlight]]:
        found = ls.node_at(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occ = found
        return [types.DocumentHighlight(range=_range(index, o.start, o.end), kind=types.DocumentHighlightKind.Write
                                        if o.definition else types.DocumentHighlightKind.Read)
                for o in index.occurrences_of(occ.path)]

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(ls: DygramLanguageServer, params: types.PrepareRenameParams) -> Optional[types.Range]:
        found = ls.node_at(params.text_document.uri, params.position, current_only=True)
        if found is None:
            return None
        index, occ = found
        return _range(index, occ.start, occ.end)

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    def rename(ls: DygramLanguageServer, params: types.RenameParams) -> Optional[types.WorkspaceEdit]:
        """Rename a node: its declaration and every reference (each is one name segment)."""
        found = ls.node_at(params.text_document.uri, params.position, current_only=True)
        if found is None:
            return None
        index, occ = found
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", params.new_name) or params.new_name in KEYWORDS:
            raise JsonRpcInvalidParams(f"'{params.new_name}' is not a valid node name: use letters, digits "
                                       f"and _, not starting with a digit, and not a keyword")
        edits = [types.TextEdit(range=_range(index, o.start, o.end), new_text=params.new_name)
                 for o in index.occurrences_of(occ.path)]
        return types.WorkspaceEdit(changes={params.text_document.uri: edits})

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    def completion(ls: DygramLanguageServer, params: types.CompletionParams) -> types.CompletionList:
        index = ls.current(params.text_document.uri)
        good = index if index.parsed else ls.last_good.get(params.text_document.uri)
        offset = index.lines.offset(params.position.line, params.position.character)
        items = complete(index.text, offset, good.machine if good else None)
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbols(ls: DygramLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        index = ls.navigable(params.text_document.uri)
        return _symbols(index) if index is not None else []

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: DygramLanguageServer, params: types.DocumentFormattingParams) -> Optional[list[types.TextEdit]]:
        from dygraph.fmt import format_source

        index = ls.current(params.text_document.uri)
        formatted, diagnostics = format_source(index.text, index.file)
        if formatted is None:
            ls.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Warning,
                message=f"dygraph fmt: not formatted: {diagnostics[0] if diagnostics else 'syntax errors'}"))
            return None
        if formatted == index.text:
            return []
        return [types.TextEdit(range=_range(index, 0, len(index.text)), new_text=formatted)]

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                    types.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS))
    def semantic_tokens_full(ls: DygramLanguageServer, params: types.SemanticTokensParams) -> types.SemanticTokens:
        index = ls.current(params.text_document.uri)
        return types.SemanticTokens(data=semantic_tokens(index) if index.parsed else [])

    return server


def main() -> None:
    create_server().start_io()


__all__ = ["create_server", "main", "complete", "semantic_tokens", "LineIndex"]
