"""Shared, lazily computed facts about one machine that several checks need."""

from __future__ import annotations

from functools import cached_property
from typing import Iterator, Optional

from dygraph.diagnostics import Diagnostic, Severity
from dygraph.ir.model import Edge, Machine, Node, SourceSpan

NOT_GRAPH_TYPES = frozenset({"note", "style"})
SCHEMA_TYPE = "type"  # `Type User { … }` describes data; it is never a step


class Context:
    def __init__(self, machine: Machine):
        self.machine = machine
        self.file = machine.file or "<string>"
        self._types: dict[str, Optional[str]] = {}

    # ---- diagnostics ----

    def diag(self, code: str, message: str, span: Optional[SourceSpan], *, hint: Optional[str] = None,
             severity: Optional[Severity] = None) -> Diagnostic:
        file = span.file if span is not None and span.file else self.file
        return Diagnostic.make(code, message, span, file=file, hint=hint, severity=severity)

    def node_span(self, node: Node) -> Optional[SourceSpan]:
        """Where a node is written; for an auto-created node, the first edge that mentions it."""
        if node.span is not None:
            return node.span
        for e in self.machine.incoming(node.path, include_inferred=True) + self.machine.outgoing(
                node.path, include_inferred=True):
            if e.span is not None:
                return e.span
        return None

    # ---- nodes ----

    @cached_property
    def nodes(self) -> list[Node]:
        """Every node except notes and style definitions."""
        return [n for n in self.machine.nodes if n.type_lower not in NOT_GRAPH_TYPES]

    def etype(self, node: Node) -> Optional[str]:
        """Effective (lowercased, alias-folded, inferred) type, computed once per node."""
        try:
            return self._types[node.path]
        except KeyError:
            t = self._types[node.path] = self.machine.effective_type(node)
            return t

    def is_context(self, node: Node) -> bool:
        return self.etype(node) == "context"

    @cached_property
    def simple_name_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.machine.nodes:
            out[n.name] = out.get(n.name, 0) + 1
        return out

    def label(self, path: str) -> str:
        """How to name a node in a message: its simple name unless that is ambiguous."""
        node = self.machine.get(path)
        if node is None:
            return path
        return node.name if self.simple_name_counts.get(node.name, 0) <= 1 else path

    def ancestors(self, node: Node) -> Iterator[Node]:
        parent = node.parent
        while parent is not None:
            p = self.machine.get(parent)
            if p is None:
                return
            yield p
            parent = p.parent

    @cached_property
    def known_names(self) -> frozenset[str]:
        """Names an expression may start with: node simple names and the roots of node paths."""
        names = set(self.simple_name_counts)
        names.update(n.path.split(".", 1)[0] for n in self.machine.nodes)
        return frozenset(names)

    @cached_property
    def expression_roots(self) -> dict[str, set[str]]:
        """Root name → paths of the nodes whose templates use it ('' for conditions and the machine)."""
        from .expressions import analyse, placeholders, preprocess_condition

        out: dict[str, set[str]] = {}

        def add(text: str, owner: str) -> None:
            for body in placeholders(text):
                for root in analyse(body).names:
                    out.setdefault(root, set()).add(owner)

        for a in self.machine.attributes:
            if isinstance(a.value, str):
                add(a.value, "")
        for n in self.nodes:
            for a in n.attributes:
                if isinstance(a.value, str):
                    add(a.value, n.path)
        for e in self.machine.edges:
            cond = e.condition_expression
            if cond is not None:
                for root in analyse(preprocess_condition(cond)).names:
                    out.setdefault(root, set()).add("")
        return out

    # ---- edges ----

    def is_control(self, edge: Edge) -> bool:
        """Control edges drive execution; data edges (reference §12) only move or describe data."""
        if edge.inferred or edge.source_attribute or edge.target_attribute:
            return False
        if edge.relation in ("reads", "writes"):
            return False
        return edge.source in self.graph_nodes and edge.target in self.graph_nodes

    @cached_property
    def graph_nodes(self) -> dict[str, Node]:
        """Nodes of the control graph: everything but context, schema types, notes and styles."""
        return {n.path: n for n in self.nodes if n.type_lower != SCHEMA_TYPE and not self.is_context(n)}

    @cached_property
    def graph_children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path, node in self.graph_nodes.items():
            if node.parent is not None and node.parent in self.graph_nodes:
                out.setdefault(node.parent, []).append(path)
        return out

    @cached_property
    def control_edges(self) -> list[Edge]:
        return [e for e in self.machine.edges if self.is_control(e)]

    @cached_property
    def control_out(self) -> dict[str, list[Edge]]:
        out: dict[str, list[Edge]] = {}
        for e in self.control_edges:
            out.setdefault(e.source, []).append(e)
        return out

    @cached_property
    def control_in(self) -> dict[str, list[Edge]]:
        out: dict[str, list[Edge]] = {}
        for e in self.control_edges:
            out.setdefault(e.target, []).append(e)
        return out


def close_matches(word: str, candidates: list[str], *, n: int = 1, cutoff: float = 0.75) -> list[str]:
    """Spelling suggestions (difflib is loaded only when a suggestion is needed)."""
    import difflib

    return difflib.get_close_matches(word, candidates, n=n, cutoff=cutoff)


def is_conditional(edge: Edge) -> bool:
    """An edge that may not be taken: it has a guard, or it is only taken on failure."""
    return edge.condition is not None or edge.relation == "catch"
