"""Declarations → IR: qualified-name expansion and merging, name resolution, auto-creation of
edge-only nodes, attribute ports, notes and inferred attribute edges (reference §4.5–§6.6, decisions 7–10).
"""

from __future__ import annotations

import difflib
from typing import Iterator, Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.model import (FORMAT_VERSION, Annotation, Attribute, Edge, Machine, Node, Note, SourceSpan,
                              lookup_reference, string_leaves)
from dygraph.syntax.lower import EdgeDecl, FileDecl, NodeDecl, Ref


class _LNode:
    """A node while linking: mutable, with ordered children."""

    __slots__ = ("path", "name", "parent", "type", "title", "annotations", "attributes", "children",
                 "span", "auto")

    def __init__(self, path: str, name: str, parent: Optional["_LNode"], type_: Optional[str],
                 span: Optional[SourceSpan], auto: bool = False):
        self.path, self.name, self.parent, self.type = path, name, parent, type_
        self.title: Optional[str] = None
        self.annotations: list[Annotation] = []
        self.attributes: list[Attribute] = []
        self.children: dict[str, _LNode] = {}
        self.span, self.auto = span, auto

    def attribute_names(self) -> set[str]:
        return {a.name for a in self.attributes}


def _merge_annotations(into: list[Annotation], new: list[Annotation]) -> None:
    names = {a.name for a in into}
    into.extend(a for a in new if a.name not in names)


def _merge_attributes(into: list[Attribute], new: list[Attribute]) -> None:
    index = {a.name: i for i, a in enumerate(into)}
    for a in new:
        if a.name in index:
            into[index[a.name]] = a
        else:
            index[a.name] = len(into)
            into.append(a)


class Linker:
    def __init__(self, decl: FileDecl):
        self.decl = decl
        self.file = decl.file
        self.diagnostics: list[Diagnostic] = []
        self.root = _LNode("", "", None, None, None)
        self.by_path: dict[str, _LNode] = {}
        self.by_name: dict[str, list[_LNode]] = {}
        self.edges: list[tuple[int, Optional[str], EdgeDecl]] = []  # (source offset, scope path, decl)
        self.notes: list[tuple[Optional[str], NodeDecl]] = []
        self.strict = any(a.name.lower() in ("strictmode", "strict") for a in decl.annotations)

    # ---------------------------------------------------------------- tree building

    def _add(self, parent: _LNode, name: str, type_: Optional[str], span: Optional[SourceSpan],
             auto: bool = False) -> _LNode:
        path = f"{parent.path}.{name}" if parent.path else name
        node = _LNode(path, name, parent if parent.path else None, type_, span, auto)
        parent.children[name] = node
        self.by_path[path] = node
        self.by_name.setdefault(name, []).append(node)
        return node

    def insert(self, container: _LNode, decls: list[NodeDecl], edges: list[EdgeDecl]) -> None:
        scope = container.path or None
        for e in edges:
            self.edges.append((e.span.offset, scope, e))
        qualified = []
        for d in decls:
            if d.is_note:
                self.notes.append((scope, d))
            elif len(d.qname) > 1:
                qualified.append(d)
            else:
                name = d.qname[0]
                existing = container.children.get(name)
                if existing is not None:
                    first = f" (first declared at line {existing.span.line})" if existing.span else ""
                    self.diagnostics.append(Diagnostic.make(
                        "DG201", f"duplicate declaration of '{existing.path}'{first}", d.span, file=self.file,
                        hint="give it another name, nest it under a different parent, or merge the two blocks"))
                    continue
                node = self._add(container, name, d.type, d.span)
                node.title = d.title
                node.annotations = list(d.annotations)
                node.attributes = list(d.attributes)
                self.insert(node, d.children, d.edges)
        # Reverse order, each replacing: the textually first qualified definition wins (reference §4.5).
        for d in reversed(qualified):
            self._insert_qualified(container, d)

    def _insert_qualified(self, container: _LNode, d: NodeDecl) -> None:
        node = container
        for seg in d.qname[:-1]:
            nxt = node.children.get(seg)
            if nxt is None:
                nxt = self._add(node, seg, d.type, d.span)
            elif nxt.type is None and d.type is not None:
                nxt.type = d.type
            node = nxt
        leaf_name = d.qname[-1]
        leaf = node.children.get(leaf_name)
        if leaf is None:
            leaf = self._add(node, leaf_name, d.type, d.span)
        elif d.type is not None and not (self.strict and leaf.type):
            leaf.type = d.type
        if d.title is not None:
            leaf.title = d.title
        _merge_annotations(leaf.annotations, d.annotations)
        _merge_attributes(leaf.attributes, d.attributes)
        self.insert(leaf, d.children, d.edges)

    # ---------------------------------------------------------------- resolution

    def _lookup(self, ref: str, scope: Optional[str]) -> tuple[Optional[_LNode], list[_LNode]]:
        return lookup_reference(ref, scope, self.by_path, self.by_name)

    def resolve(self, ref: Ref, scope: Optional[str], what: str) -> Optional[tuple[_LNode, Optional[str]]]:
        node, candidates = self._lookup(ref.text, scope)
        if node is not None:
            return node, None
        if candidates:
            listed = ", ".join(sorted(c.path for c in candidates))
            self.diagnostics.append(Diagnostic.make(
                "DG202", f"'{ref.text}' is ambiguous: it could be {listed}", ref.span, file=self.file,
                hint=f"write the full path, e.g. '{sorted(c.path for c in candidates)[0]}'"))
            return None
        if "." in ref.text:  # attribute port: node.attr
            owner_ref, _, attr = ref.text.rpartition(".")
            owner, _ = self._lookup(owner_ref, scope)
            if owner is not None and attr in owner.attribute_names():
                return owner, attr
        if self.strict:
            self.diagnostics.append(Diagnostic.make(
                "DG203", f"{what} '{ref.text}' is not defined (strict mode)", ref.span, file=self.file,
                hint=self._did_you_mean(ref.text) or "declare the node, or remove @StrictMode to auto-create it"))
            return None
        return self._auto_create(ref), None

    def _did_you_mean(self, text: str) -> Optional[str]:
        names = list(self.by_path) + list(self.by_name)
        close = difflib.get_close_matches(text, names, n=1, cutoff=0.7)
        return f"did you mean '{close[0]}'?" if close else None

    def _auto_create(self, ref: Ref) -> _LNode:
        node = self.root
        for seg in ref.text.split("."):
            nxt = node.children.get(seg)
            if nxt is None:
                nxt = self._add(node, seg, None, ref.span, auto=True)
            node = nxt
        return node

    # ---------------------------------------------------------------- output

    def link(self) -> Machine:
        d = self.decl
        self.insert(self.root, d.nodes, d.edges)
        self.edges.sort(key=lambda item: item[0])
        edges: list[Edge] = []
        for _, scope, e in self.edges:
            edges.extend(self._edges_of(e, scope))
        notes = [self._note(scope, n) for scope, n in self.notes]
        nodes = [self._ir_node(n) for n in self._walk(self.root)]
        machine = Machine.build(
            format_version=FORMAT_VERSION, file=self.file, title=d.title, annotations=list(d.annotations), attributes=list(d.attributes),
            nodes=nodes, edges=edges, notes=notes, imports=[], source_files=[self.file] if self.file else [])
        machine.edges.extend(_inferred_edges(machine))
        return machine

    def _walk(self, node: _LNode) -> Iterator[_LNode]:
        for child in node.children.values():
            yield child
            yield from self._walk(child)

    @staticmethod
    def _ir_node(n: _LNode) -> Node:
        return Node.build(
            path=n.path, name=n.name, type=n.type, title=n.title, parent=n.parent.path if n.parent else None,
            attributes=n.attributes, annotations=n.annotations, auto_created=n.auto, span=n.span)

    def _edges_of(self, e: EdgeDecl, scope: Optional[str]) -> list[Edge]:
        out: list[Edge] = []
        sources = [r for r in (self.resolve(ref, scope, "edge source") for ref in e.sources) if r]
        for seg in e.segments:
            targets = [r for r in (self.resolve(ref, scope, "edge target") for ref in seg.targets) if r]
            for src, src_attr in sources:
                for tgt, tgt_attr in targets:
                    out.append(Edge.build(
                        source=src.path, target=tgt.path, arrow=seg.arrow, source_attribute=src_attr,
                        target_attribute=tgt_attr, label=seg.label, inline=dict(seg.inline), flags=list(seg.flags),
                        block=list(e.block),
                        annotations=list(seg.annotations), source_multiplicity=seg.source_mult,
                        target_multiplicity=seg.target_mult, inferred=False, scope=scope, span=seg.span))
            sources = targets
        return out

    def _note(self, scope: Optional[str], d: NodeDecl) -> Note:
        ref = Ref(".".join(d.qname), d.span)
        node, candidates = self._lookup(ref.text, scope)
        if node is None and candidates:
            self.resolve(ref, scope, "note target")  # reports the ambiguity
        elif node is None:
            code = "DG204" if self.strict else "DG213"
            self.diagnostics.append(Diagnostic.make(
                code, f"note target '{ref.text}' is not defined", d.span, file=self.file,
                hint=self._did_you_mean(ref.text) or "a note documents an existing node: declare the node first"))
        return Note.build(
            target=node.path if node else ref.text, reference=ref.text, resolved=node is not None, text=d.title, type=d.type or "note",
            scope=scope, attributes=list(d.attributes), annotations=list(d.annotations), span=d.span)


# ---------------------------------------------------------------- inferred attribute edges

def _inferred_edges(machine: Machine) -> list[Edge]:
    """An attribute value naming a node (optionally `.attr`) is a data edge (reference §6.6)."""
    by_path = {n.path: n for n in machine.nodes}
    by_name: dict[str, list[Node]] = {}
    for n in machine.nodes:
        by_name.setdefault(n.name, []).append(n)
    explicit = {(e.source, e.target, e.text) for e in machine.edges}
    out: list[Edge] = []
    for node in machine.nodes:
        if node.type_lower in ("style", "note"):
            continue
        for attr in node.attributes:
            if not attr.has_value or attr.kind == "external" or (attr.type is not None and attr.type.is_primitive):
                continue
            for leaf in string_leaves(attr.value):
                if leaf.startswith("#") or not leaf or leaf[0].isdigit() or " " in leaf:
                    continue
                target, target_attr = _node_ref(leaf, by_path, by_name)
                if target is None or (node.path, target.path, attr.name) in explicit:
                    continue
                out.append(Edge.build(
                    source=node.path, target=target.path, arrow=None, source_attribute=attr.name,
                    target_attribute=target_attr, label=None, inline={}, flags=[], block=[], annotations=[],
                    source_multiplicity=None, target_multiplicity=None, inferred=True, scope=node.parent,
                    span=attr.span))
    return out


def _node_ref(text: str, by_path: dict[str, Node], by_name: dict[str, list[Node]]) -> tuple[Optional[Node], Optional[str]]:
    hit = by_path.get(text)
    if hit is None:
        named = by_name.get(text)
        hit = named[0] if named and len(named) == 1 else None
    if hit is not None:
        return hit, None
    if "." in text:
        head, _, attr = text.rpartition(".")
        owner, _ = _node_ref(head, by_path, by_name)
        if owner is not None and owner.attribute(attr) is not None:
            return owner, attr
    return None, None
