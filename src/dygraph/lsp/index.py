"""What the language server knows about one document: diagnostics, where every node name occurs
(definitions and references, resolved to node paths), and a classification of every token.

Plain Python, independent of the LSP transport; offsets are character offsets into the text and
`LineIndex` converts them to LSP (line, UTF-16 column) positions.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Optional

from lark import Token, Tree

from dygraph.diagnostics import Diagnostic, sort_key
from dygraph.ir.model import Machine, Node

KEYWORDS = frozenset({"machine", "import", "from", "as"})
ARROW_TERMINALS = frozenset({
    "ARROW_SINGLE", "ARROW_DOUBLE", "FAT_ARROW", "LABEL_SINGLE", "LABEL_DOUBLE", "LABEL_FAT",
    "BIDI_ARROW", "BIDI_LABELED", "INHERIT_ARROW", "COMPOSE_ARROW", "AGGREGATE_ARROW",
})


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


class LineIndex:
    """Character offsets <-> LSP positions (0-based line; columns in the negotiated encoding's code
    units, UTF-16 unless the client asked for another)."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.encoding = encoding
        self.starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self.starts.append(i + 1)

    def _line_end(self, line: int) -> int:
        return self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)

    def position(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        prefix = self.text[self.starts[line]:offset]
        return line, sum(_units(ch, self.encoding) for ch in prefix)

    def offset(self, line: int, character: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        start, units = self.starts[line], 0
        end = self._line_end(line)
        i = start
        while i < end and units < character:
            units += _units(self.text[i], self.encoding)
            i += 1
        return i

    def offset_of(self, line: int, column: int) -> int:
        """1-based line and code-point column (as in diagnostics and Lark tokens) -> offset."""
        if line - 1 >= len(self.starts):
            return len(self.text)
        return min(self.starts[max(line - 1, 0)] + max(column - 1, 0), len(self.text))


@dataclass(slots=True)
class Occurrence:
    start: int
    end: int
    path: Optional[str]  # resolved node path; None when it names nothing
    definition: bool
    text: str  # the reference as written up to this segment


@dataclass(slots=True)
class Mark:
    """A token the server can say something about (hover) or colour (semantic tokens)."""

    start: int
    end: int
    kind: str  # semantic token type
    modifiers: tuple[str, ...] = ()
    topic: Optional[str] = None  # hover topic: "annotation:x", "attribute:x", "type:x", "arrow:x"


@dataclass
class DocumentIndex:
    text: str
    file: str
    machine: Optional[Machine]
    diagnostics: list[Diagnostic]
    lines: LineIndex
    occurrences: list[Occurrence] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    header_range: Optional[tuple[int, int]] = None
    parsed: bool = False

    # ---- lookups
    def occurrence_at(self, offset: int) -> Optional[Occurrence]:
        for occ in self.occurrences:
            if occ.start <= offset <= occ.end:
                return occ
        return None

    def mark_at(self, offset: int) -> Optional[Mark]:
        for mark in self.marks:
            if mark.start <= offset < mark.end or (mark.start < offset == mark.end):
                return mark
        return None

    def occurrences_of(self, path: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.path == path]

    def definitions_of(self, path: str) -> list[Occurrence]:
        return [o for o in self.occurrences if o.path == path and o.definition]


# ---------------------------------------------------------------- name resolution

def lookup(machine: Machine, ref: str, scope: Optional[str]) -> Optional[Node]:
    return machine.lookup(ref, scope)


def resolve(machine: Machine, ref: str, scope: Optional[str]) -> Optional[str]:
    node = lookup(machine, ref, scope)
    if node is not None:
        return node.path
    if "." in ref:  # attribute port `node.attr`
        owner_ref, _, attr = ref.rpartition(".")
        owner = lookup(machine, owner_ref, scope)
        if owner is not None and owner.attribute(attr) is not None:
            return owner.path
    return None


# ---------------------------------------------------------------- building the index

def analyze_document(text: str, file: str, encoding: str = "utf-16") -> DocumentIndex:
    """Compile `text` as `dygraph check` does and index it."""
    from dygraph.syntax import compile_source

    machine, diagnostics = compile_source(text, file)
    if machine is not None and not any(d.is_error for d in diagnostics):
        try:
            from dygraph.analysis import analyze
        except ImportError:  # validation layer not installed in this build
            pass
        else:
            diagnostics = diagnostics + analyze(machine)
    index = DocumentIndex(text, file, machine, sorted(diagnostics, key=sort_key),
                          LineIndex(text, encoding))
    if machine is not None:
        from dygraph.fmt.printer import collect_comments, cst_parser
        from dygraph.syntax.parser import BOM

        tree = cst_parser().parse(text.replace(BOM, " ", 1) if text.startswith(BOM) else text)  # same offsets
        _Indexer(index, machine).walk(tree.children, None)
        for comment in collect_comments(text, tree):
            index.marks.append(Mark(comment.start, comment.end, "comment"))
        index.marks.sort(key=lambda m: m.start)
        index.occurrences.sort(key=lambda o: o.start)
        index.parsed = True
    return index


def _ids(qname: Tree) -> list[Token]:
    return [t for t in qname.children if isinstance(t, Token) and t.type == "ID"]


class _Indexer:
    def __init__(self, index: DocumentIndex, machine: Machine):
        self.index = index
        self.machine = machine

    def mark(self, tok: Token, kind: str, *modifiers: str, topic: Optional[str] = None) -> None:
        self.index.marks.append(Mark(tok.start_pos, tok.end_pos, kind, modifiers, topic))

    def reference(self, qname: Tree, scope: Optional[str], *, only_resolved: bool = False) -> None:
        ids = _ids(qname)
        full = resolve(self.machine, ".".join(ids), scope)
        if full is None and only_resolved:
            return
        for i, tok in enumerate(ids):
            text = ".".join(ids[: i + 1])
            path = full if i == len(ids) - 1 else resolve(self.machine, text, scope)
            self.index.occurrences.append(Occurrence(tok.start_pos, tok.end_pos, path, False, text))
            self.mark(tok, "class" if path else "variable")

    def definition(self, qname: Tree, container: Optional[str]) -> str:
        ids = _ids(qname)
        path = container
        for i, tok in enumerate(ids):
            path = f"{path}.{tok}" if path else str(tok)
            last = i == len(ids) - 1
            self.index.occurrences.append(Occurrence(tok.start_pos, tok.end_pos, path, last, str(tok)))
            self.mark(tok, "class", *(("declaration",) if last else ()))
        return path or ""

    def walk(self, items: list, container: Optional[str]) -> None:
        for item in items:
            if isinstance(item, Tree):
                getattr(self, "w_" + item.data, self.generic)(item, container)
            else:
                self.token(item)

    def generic(self, tree: Tree, container: Optional[str]) -> None:
        self.walk(tree.children, container)

    def token(self, tok: Token) -> None:
        if tok.type == "STRING":
            self.mark(tok, "string")
        elif tok.type == "NUMBER":
            self.mark(tok, "number")
        elif tok.type == "EXTID":
            self.mark(tok, "macro")
        elif tok.type in ARROW_TERMINALS:
            self.mark(tok, "operator", topic=f"arrow:{tok}")
        elif str(tok) in KEYWORDS and tok.type != "ID":
            self.mark(tok, "keyword")

    # ---- statements
    def w_header(self, tree: Tree, container: Optional[str]) -> None:
        self.index.header_range = (tree.meta.start_pos, tree.meta.end_pos)
        self.walk(tree.children, container)

    def w_typed_node(self, tree: Tree, container: Optional[str]) -> None:
        type_tok, qname, *rest = tree.children
        self.mark(type_tok, "type", topic=f"type:{type_tok}")
        if str(type_tok).lower() == "note":
            self.reference(qname, container)
            self.walk(rest, container)
        else:
            self._node(qname, rest, container)

    def w_node(self, tree: Tree, container: Optional[str]) -> None:
        qname, *rest = tree.children
        self._node(qname, rest, container)

    def _node(self, qname: Tree, rest: list, container: Optional[str]) -> None:
        path = self.definition(qname, container)
        for part in rest:
            if isinstance(part, Tree) and part.data == "body":
                self.walk(part.children, path)
            else:
                self.walk([part], container)

    def w_title(self, tree: Tree, container: Optional[str]) -> None:
        self.mark(tree.children[0], "string")

    def w_edge(self, tree: Tree, container: Optional[str]) -> None:
        for part in tree.children:
            if isinstance(part, Tree) and part.data == "qname":
                self.reference(part, container)
            elif isinstance(part, Tree) and part.data in ("first_segment", "segment"):
                for seg_part in part.children:
                    if isinstance(seg_part, Tree) and seg_part.data == "targets":
                        for target in seg_part.children:
                            if isinstance(target, Tree):
                                self.reference(target, container)
                    else:
                        self.walk([seg_part], container)
            else:
                self.walk([part], container)

    def w_import_symbol(self, tree: Tree, container: Optional[str]) -> None:
        """`Workflow.Validate as V`: the local name (alias, else last segment) refers to the imported node."""
        local = [p for p in tree.children if isinstance(p, Token) and p.type == "ID"] or _ids(tree.children[0])[-1:]
        for part in tree.children:
            if isinstance(part, Tree):
                for tok in _ids(part):
                    self.mark(tok, "namespace")
            elif part.type != "ID":
                self.token(part)
        name = local[-1]
        path = resolve(self.machine, str(name), None)
        self.index.occurrences.append(Occurrence(name.start_pos, name.end_pos, path, False, str(name)))
        self.mark(name, "class" if path else "namespace")

    # ---- attributes, annotations, labels
    def w_attribute(self, tree: Tree, container: Optional[str]) -> None:
        key, *rest = tree.children
        self.mark(key, "property", "declaration", topic=f"attribute:{key}")
        for part in rest:
            self.walk([part], container)

    def w_type_ref(self, tree: Tree, container: Optional[str]) -> None:
        for part in tree.children:
            if isinstance(part, Tree) and part.data == "qname":
                if resolve(self.machine, ".".join(_ids(part)), container):
                    self.reference(part, container)
                else:
                    for tok in _ids(part):
                        self.mark(tok, "type", "defaultLibrary")
            else:
                self.walk([part], container)

    def w_ident(self, tree: Tree, container: Optional[str]) -> None:
        qname = tree.children[0]
        if resolve(self.machine, ".".join(_ids(qname)), container):
            self.reference(qname, container)
        else:
            for tok in _ids(qname):
                self.mark(tok, "keyword" if tok in ("true", "false", "null") else "enumMember")

    def w_annotation(self, tree: Tree, container: Optional[str]) -> None:
        at, name, *rest = tree.children
        self.mark(at, "decorator")
        self.mark(name, "decorator", topic=f"annotation:{name}")
        for part in rest:
            if isinstance(part, Tree) and part.data == "annotation_value":
                value = part.children[0]
                if isinstance(value, Tree):
                    for tok in _ids(value):
                        self.mark(tok, "variable")
                else:
                    self.token(value)
            else:
                self.walk([part], container)

    def w_param_kv(self, tree: Tree, container: Optional[str]) -> None:
        """`k: v` in annotation parameters, and (as `w_label_attr`) inside an arrow label."""
        key, _, value, *_ = tree.children
        if tree.data == "label_attr":
            self.mark(key, "property", topic=f"attribute:{key}")
        else:
            self.mark(key, "parameter")
        if value.type == "ID":
            self.mark(value, "enumMember")
        else:
            self.token(value)

    w_label_attr = w_param_kv

    def w_param_flag(self, tree: Tree, container: Optional[str]) -> None:
        self.mark(tree.children[0], "parameter")

    w_label_flag = w_param_flag

    def w_label_text(self, tree: Tree, container: Optional[str]) -> None:
        value = tree.children[0]
        self.mark(value, "number" if value.type == "NUMBER" else "string")
