"""Parse tree → declarations: a direct, still unlinked picture of what the file says.

Names are not resolved here; `link` turns declarations into the IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from lark import Token, Tree

from dygraph.ir.model import Annotation, Attribute, SourceSpan, TypeRef

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def unquote(raw: str) -> str:
    """Strip the outer quotes and process backslash escapes (`\\x` for any other x is x)."""
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c == "\\" and i + 1 < n:
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def number(raw: str) -> int | float:
    if "." in raw or "e" in raw or "E" in raw:
        return float(raw)
    return int(raw)


# ---------------------------------------------------------------- declarations

@dataclass(slots=True)
class Ref:
    """A name as written in an edge or note: `a`, `A.B`, `node.attr`."""

    text: str
    span: SourceSpan


@dataclass(slots=True)
class SegmentDecl:
    arrow: str
    targets: list[Ref]
    source_mult: Optional[str] = None
    target_mult: Optional[str] = None
    label: Optional[str] = None
    inline: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    span: Optional[SourceSpan] = None


@dataclass(slots=True)
class EdgeDecl:
    sources: list[Ref]
    segments: list[SegmentDecl]
    block: list[Attribute]
    span: SourceSpan


@dataclass(slots=True)
class NodeDecl:
    qname: list[str]
    type: Optional[str]
    title: Optional[str]
    annotations: list[Annotation]
    attributes: list[Attribute]
    children: list["NodeDecl"]
    edges: list[EdgeDecl]
    span: SourceSpan
    order: int

    @property
    def is_note(self) -> bool:
        return self.type is not None and self.type.lower() == "note"


@dataclass(slots=True)
class ImportDecl:
    path: str
    symbols: list[tuple[str, Optional[str], SourceSpan]]
    span: SourceSpan
    path_span: SourceSpan


@dataclass(slots=True)
class FileDecl:
    file: str
    imports: list[ImportDecl] = field(default_factory=list)
    title: Optional[str] = None
    annotations: list[Annotation] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)  # header block, then bare root attributes
    nodes: list[NodeDecl] = field(default_factory=list)
    edges: list[EdgeDecl] = field(default_factory=list)
    has_header: bool = False


# ---------------------------------------------------------------- lowering

class Lowerer:
    def __init__(self, file: str):
        self.file = file
        self.order = 0

    # spans from the first and last token under a tree
    def span(self, item: Tree | Token, last: Tree | Token | None = None) -> SourceSpan:
        first_tok = _first_token(item)
        last_tok = _last_token(last if last is not None else item)
        return SourceSpan(
            file=self.file, line=first_tok.line, column=first_tok.column,
            end_line=last_tok.end_line, end_column=last_tok.end_column,
            offset=first_tok.start_pos, end_offset=last_tok.end_pos)

    def file_decl(self, tree: Tree) -> FileDecl:
        out = FileDecl(self.file)
        for child in tree.children:
            kind = child.data
            if kind == "import_stmt":
                out.imports.append(self.import_decl(child))
            elif kind == "header":
                out.has_header = True
                self.header(child, out)
            elif kind == "attribute":
                out.attributes.append(self.attribute(child))
            elif kind in ("node", "typed_node"):
                out.nodes.append(self.node(child))
            elif kind == "edge":
                out.edges.append(self.edge(child))
        return out

    def import_decl(self, tree: Tree) -> ImportDecl:
        symbols = []
        path = ""
        path_span = None
        for c in tree.children:
            if isinstance(c, Tree) and c.data == "import_symbol":
                name = qname_text(c.children[0])
                alias = str(c.children[1]) if len(c.children) > 1 else None
                symbols.append((name, alias, self.span(c)))
            elif isinstance(c, Token) and c.type == "STRING":
                path, path_span = unquote(c), self.span(c)
        return ImportDecl(path, symbols, self.span(tree), path_span or self.span(tree))

    def header(self, tree: Tree, out: FileDecl) -> None:
        out.title = unquote(tree.children[0])
        for c in tree.children[1:]:
            if c.data == "annotation":
                out.annotations.append(self.annotation(c))
            elif c.data == "attr_block":
                out.attributes.extend(self.attr_items(c))

    def node(self, tree: Tree) -> NodeDecl:
        children = tree.children
        i = 0
        node_type = None
        if tree.data == "typed_node":
            node_type = str(children[0])
            i = 1
        qname = [str(t) for t in children[i].children]
        decl = NodeDecl(qname, node_type, None, [], [], [], [], self.span(tree), self.order)
        self.order += 1
        for c in children[i + 1:]:
            kind = c.data
            if kind == "title":
                if decl.title is None:
                    decl.title = unquote(c.children[0])
            elif kind == "annotation":
                decl.annotations.append(self.annotation(c))
            elif kind == "body":
                for s in c.children:
                    if isinstance(s, Token):
                        continue
                    if s.data == "attribute":
                        decl.attributes.append(self.attribute(s))
                    elif s.data in ("node", "typed_node"):
                        decl.children.append(self.node(s))
                    elif s.data == "edge":
                        decl.edges.append(self.edge(s))
        return decl

    def attr_items(self, tree: Tree) -> list[Attribute]:
        out = []
        for c in tree.children:
            if isinstance(c, Tree):
                if c.data == "attribute":
                    out.append(self.attribute(c))
                elif c.data == "bare_attribute":
                    out.append(Attribute.build(name=str(c.children[0]), type=None, value=None,
                                                         kind="none", span=self.span(c)))
        return out

    def attribute(self, tree: Tree) -> Attribute:
        children = tree.children
        name = str(children[0])
        type_ref = None
        value: Any = None
        kind = "none"
        for c in children[1:]:
            if c.data == "type_ann":
                type_ref = self.type_ref(c.children[0])
            else:
                value, kind = self.value(c)
        return Attribute.build(name=name, type=type_ref, value=value, kind=kind, span=self.span(tree))

    def type_ref(self, tree: Tree) -> TypeRef:
        optional = isinstance(tree.children[-1], Token) and tree.children[-1].type == "OPTIONAL"
        if tree.data == "type_union":
            literals = [unquote(t) for t in tree.children if isinstance(t, Token) and t.type == "STRING"]
            return TypeRef.build(name="", args=[], optional=optional, literals=literals)
        name = qname_text(tree.children[0])
        args = [self.type_ref(c) for c in tree.children[1:] if isinstance(c, Tree)]
        return TypeRef.build(name=name, args=args, optional=optional, literals=None)

    def value(self, tree: Tree) -> tuple[Any, str]:
        kind = tree.data
        if kind == "string":
            return unquote(tree.children[0]), "string"
        if kind == "number":
            return number(tree.children[0]), "number"
        if kind == "negative":
            return -number(tree.children[-1]), "number"
        if kind == "extid":
            return str(tree.children[0]), "external"
        if kind == "ident":
            text = qname_text(tree.children[0])
            if text == "true":
                return True, "boolean"
            if text == "false":
                return False, "boolean"
            if text == "null":
                return None, "null"
            return text, "identifier"
        if kind == "array":
            return [self.value(c)[0] for c in tree.children if isinstance(c, Tree)], "array"
        if kind == "object":
            obj = {}
            for a in self.attr_items(tree):
                if a.kind != "none":
                    obj[a.name] = a.value
            return obj, "object"
        raise AssertionError(f"unknown value kind {kind}")

    def annotation(self, tree: Tree) -> Annotation:
        children = tree.children[1:]  # after '@'
        name = str(children[0])
        value: Any = None
        kind = "none"
        params = None
        for c in children[1:]:
            if not isinstance(c, Tree):
                continue
            if c.data == "annotation_value":
                value, kind = token_value(c.children[0])
                if kind == "identifier" and value in ("true", "false", "null"):
                    value, kind = {"true": (True, "boolean"), "false": (False, "boolean"),
                                   "null": (None, "null")}[value]
            elif c.data == "annotation_params":
                params = {}
                for p in c.children:
                    if not isinstance(p, Tree):
                        continue
                    if p.data == "param_kv":
                        params[str(p.children[0])] = token_value(p.children[-1])[0]
                    elif p.data == "param_flag":
                        params[str(p.children[0])] = True
        return Annotation.build(name=name, value=value, kind=kind, params=params, span=self.span(tree))

    def edge(self, tree: Tree) -> EdgeDecl:
        sources: list[Ref] = []
        segments: list[SegmentDecl] = []
        block: list[Attribute] = []
        pending_mult: Optional[str] = None
        for c in tree.children:
            kind = c.data
            if kind == "qname":
                sources.append(Ref(qname_text(c), self.span(c)))
            elif kind == "source_mult":
                pending_mult = unquote(c.children[0])
            elif kind in ("first_segment", "segment"):
                seg = self.segment(c)
                if kind == "first_segment" and pending_mult is not None:
                    seg.source_mult = pending_mult
                segments.append(seg)
            elif kind == "attr_block":
                block = self.attr_items(c)
        return EdgeDecl(sources, segments, block, self.span(tree))

    def segment(self, tree: Tree) -> SegmentDecl:
        seg = SegmentDecl(arrow="", targets=[], span=self.span(tree))
        for c in tree.children:
            kind = c.data
            if kind == "source_mult":
                seg.source_mult = unquote(c.children[0])
            elif kind == "target_mult":
                seg.target_mult = unquote(c.children[0])
            elif kind == "targets":
                seg.targets = [Ref(qname_text(q), self.span(q)) for q in c.children]
            else:
                self.arrow(c, seg)
        return seg

    def arrow(self, tree: Tree, seg: SegmentDecl) -> None:
        kind = tree.data
        toks = tree.children
        if kind in ("arrow_single", "arrow_double", "arrow_fat", "arrow_other"):
            seg.arrow = str(toks[0])
            return
        seg.arrow = str(toks[-1])  # the closer names the arrow: -x-> is '->', --x--> is '-->'
        for item in toks[1:-1]:
            if isinstance(item, Token):
                continue
            k = item.data
            if k == "label_attr":
                seg.inline[str(item.children[0])] = token_value(item.children[1])[0]
            elif k == "label_flag":
                seg.inline[str(item.children[0])] = True
                seg.flags.append(str(item.children[0]))
            elif k == "label_text":
                v = token_value(item.children[0])[0]
                seg.label = v if isinstance(v, str) else _label_text(item.children[0], v)
            elif k == "annotation":
                seg.annotations.append(self.annotation(item))


def _label_text(item: Token | Tree, value: Any) -> str:
    """A non-string label as written (`-5->` is the text "5", `-true->` is "true")."""
    if isinstance(item, Tree):
        return "-" + str(item.children[-1])
    return str(item)


def token_value(tok: Token | Tree) -> tuple[Any, str]:
    """A single-token value (or a `negative` number, or a qualified name in an annotation)."""
    if isinstance(tok, Tree):
        if tok.data == "negative":
            return -number(tok.children[-1]), "number"
        return qname_text(tok), "identifier"
    t = tok.type
    if t == "STRING":
        return unquote(tok), "string"
    if t == "NUMBER":
        return number(tok), "number"
    if t == "EXTID":
        return str(tok), "external"
    text = str(tok)
    if text == "true":
        return True, "boolean"
    if text == "false":
        return False, "boolean"
    if text == "null":
        return None, "null"
    return text, "identifier"


def qname_text(tree: Tree) -> str:
    return ".".join(str(t) for t in tree.children)


def _first_token(item: Tree | Token) -> Token:
    while isinstance(item, Tree):
        item = item.children[0]
    return item


def _last_token(item: Tree | Token) -> Token:
    while isinstance(item, Tree):
        item = item.children[-1]
    return item
