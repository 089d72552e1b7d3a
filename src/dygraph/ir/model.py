"""The typed, lossless IR every layer after the parser reads.

Identity is the full path (`Group.Step`); `name` is its last segment. Values are JSON values, with
`null` a real null and quoted strings kept as strings. Lines and columns are 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator, Literal, Mapping, Optional, Sequence, TypeVar

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = "1.0"

T = TypeVar("T")
Value = Any  # JSON: str | int | float | bool | None | list[Value] | dict[str, Value]


def string_leaves(value: Value) -> Iterator[str]:
    """Every string in a value, at any depth of its arrays and objects."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from string_leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from string_leaves(v)

# Node types that mean "context" for every semantic purpose (reference §4.2).
CONTEXT_ALIASES = frozenset({"context", "data", "input", "output", "result", "entity", "resource", "concept"})
PRIMITIVE_TYPES = frozenset({"string", "number", "boolean", "float", "double", "integer", "int", "decimal"})


def lookup_reference(ref: str, scope: Optional[str], by_path: Mapping[str, T],
                     by_name: Mapping[str, Sequence[T]]) -> tuple[Optional[T], list[T]]:
    """Resolve a node reference written inside `scope` (decision 7), generic over the node type.

    The scope-relative path, walking outwards to the root; else the only node with that simple name
    (or, for a qualified reference, the only path ending in it). Returns (node, []) when found,
    (None, candidates) when ambiguous and (None, []) when nothing matches.
    """
    s = scope
    while True:
        node = by_path.get(f"{s}.{ref}" if s else ref)
        if node is not None:
            return node, []
        if not s:
            break
        s = s.rpartition(".")[0] or None
    if "." not in ref:
        found = list(by_name.get(ref, ()))
    else:
        suffix = "." + ref
        found = [n for p, n in by_path.items() if p.endswith(suffix)]
    if len(found) == 1:
        return found[0], []
    return None, found


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants", defer_build=True)

    @classmethod
    def build(cls, **values: Any):
        """Construct without validation from a complete set of trusted field values.

        The compiler builds thousands of IR objects per file from already-checked data; this is
        `model_construct` without its per-call field bookkeeping. Every field must be given."""
        obj = cls.__new__(cls)
        object.__setattr__(obj, "__dict__", values)
        object.__setattr__(obj, "__pydantic_fields_set__", set(values))
        object.__setattr__(obj, "__pydantic_extra__", None)
        object.__setattr__(obj, "__pydantic_private__", None)
        return obj


@dataclass(slots=True)
class SourceSpan:
    """Where an element was written: 1-based line/column, end exclusive.

    A plain dataclass (pydantic validates and serialises it like a model): the compiler creates one
    for every element, so it must be cheap."""

    line: int
    column: int
    end_line: int
    end_column: int
    offset: int = 0
    end_offset: int = 0
    file: Optional[str] = None


class TypeRef(_Model):
    """A declared attribute type: `number`, `Array<string>`, `Map<K, V>?`, or `'a' | 'b'`."""

    name: str = Field(description="Base type name; empty for a union of literals")
    args: list["TypeRef"] = Field(default_factory=list)
    optional: bool = False
    literals: Optional[list[str]] = Field(default=None, description="For a union of string literals")

    def __str__(self) -> str:
        if self.literals is not None:
            text = " | ".join(repr(x) for x in self.literals)
        else:
            text = self.name + (f"<{', '.join(str(a) for a in self.args)}>" if self.args else "")
        return text + ("?" if self.optional else "")

    @property
    def is_primitive(self) -> bool:
        return self.literals is None and not self.args and self.name.lower() in PRIMITIVE_TYPES


ValueKind = Literal["string", "number", "boolean", "null", "identifier", "external", "array", "object", "none"]


class Attribute(_Model):
    name: str
    type: Optional[TypeRef] = None
    value: Value = None
    kind: ValueKind = Field("none", description="How the value was written; 'none' means no value")
    span: Optional[SourceSpan] = None

    @property
    def has_value(self) -> bool:
        return self.kind != "none"


class Annotation(_Model):
    """`@name`, `@name(value)` or `@name(k: v; flag)`."""

    name: str
    value: Value = None
    kind: ValueKind = Field("none", description="How the single argument was written ('identifier' for a qualified name)")
    params: Optional[dict[str, Value]] = None
    span: Optional[SourceSpan] = None

    @property
    def has_value(self) -> bool:
        return self.kind != "none"


class Node(_Model):
    path: str = Field(description="Full path from the root, e.g. 'Group.Step' — the node's identity")
    name: str
    type: Optional[str] = Field(None, description="Type as written (case kept); None when untyped")
    title: Optional[str] = None
    parent: Optional[str] = Field(None, description="Path of the parent node")
    attributes: list[Attribute] = Field(default_factory=list)
    annotations: list[Annotation] = Field(default_factory=list)
    auto_created: bool = Field(False, description="Created because an edge referenced it")
    span: Optional[SourceSpan] = None

    @property
    def type_lower(self) -> Optional[str]:
        return self.type.lower() if self.type else None

    def attribute(self, name: str) -> Optional[Attribute]:
        for a in self.attributes:
            if a.name == name:
                return a
        return None

    def attr_value(self, name: str, default: Value = None) -> Value:
        a = self.attribute(name)
        return a.value if a is not None and a.has_value else default

    def annotation(self, name: str, *, case_sensitive: bool = False) -> Optional[Annotation]:
        for a in self.annotations:
            if a.name == name or (not case_sensitive and a.name.lower() == name.lower()):
                return a
        return None

    def has_annotation(self, name: str, *, case_sensitive: bool = False) -> bool:
        return self.annotation(name, case_sensitive=case_sensitive) is not None


ArrowKind = Literal["transition", "dependency", "transform", "bidirectional", "inheritance",
                    "composition", "aggregation", "inferred"]


def arrow_kind(arrow: Optional[str]) -> ArrowKind:
    if arrow is None:
        return "inferred"
    if arrow == "->":
        return "transition"
    if arrow == "-->":
        return "dependency"
    if arrow == "=>":
        return "transform"
    if arrow == "<|--":
        return "inheritance"
    if arrow == "*-->":
        return "composition"
    if arrow == "o-->":
        return "aggregation"
    return "bidirectional"  # <--> and <--label-->


class Edge(_Model):
    source: str = Field(description="Source node path")
    target: str = Field(description="Target node path")
    arrow: Optional[str] = Field(description="Arrow token as written: '->', '-->', '=>', '<-->', '<--x-->', "
                                             "'<|--', '*-->', 'o-->'; None for inferred attribute edges")
    source_attribute: Optional[str] = None
    target_attribute: Optional[str] = None
    label: Optional[str] = Field(None, description="Bare text of the arrow label ('text')")
    inline: dict[str, Value] = Field(default_factory=dict,
                                     description="Named attributes written inside the arrow (flags are true)")
    flags: list[str] = Field(default_factory=list, description="Names written as flags (`-async;->`)")
    block: list[Attribute] = Field(default_factory=list, description="Attributes of the `{ … }` block after the edge")
    annotations: list[Annotation] = Field(default_factory=list)
    source_multiplicity: Optional[str] = None
    target_multiplicity: Optional[str] = None
    inferred: bool = Field(False, description="Derived from an attribute value naming a node (data, never control)")
    scope: Optional[str] = Field(None, description="Path of the node whose body holds the edge; None at root")
    span: Optional[SourceSpan] = None

    @property
    def kind(self) -> ArrowKind:
        return arrow_kind(self.arrow)

    @property
    def attributes(self) -> dict[str, Value]:
        """Inline attributes, the label as `text`, then block attributes (the block wins)."""
        out: dict[str, Value] = dict(self.inline)
        if self.label is not None:
            out.setdefault("text", self.label)
        for a in self.block:
            out[a.name] = a.value
        return out

    @property
    def text(self) -> Optional[str]:
        t = self.attributes.get("text")
        return None if t is None else str(t)

    @property
    def condition(self) -> Optional[tuple[str, str]]:
        """The guard as (keyword, CEL source): `when` → expr, `unless` → !(expr), `if` → expr."""
        attrs = self.attributes
        for key in ("when", "unless", "if"):
            if key in attrs and attrs[key] is not None and attrs[key] is not True:
                return key, str(attrs[key])
        return None

    @property
    def condition_expression(self) -> Optional[str]:
        c = self.condition
        if c is None:
            return None
        key, expr = c
        return f"!({expr})" if key == "unless" else expr

    @property
    def relation(self) -> Optional[Literal["reads", "writes", "catch"]]:
        """Semantic edge type from its label text (reference §7.9)."""
        t = self.text
        if t in ("writes", "stores"):
            return "writes"
        if t == "reads":
            return "reads"
        if t in ("catch", "error"):
            return "catch"
        return None

    def annotation(self, *names: str) -> Optional[Annotation]:
        lowered = {n.lower() for n in names}
        for a in self.annotations:
            if a.name.lower() in lowered:
                return a
        return None

    def has_annotation(self, *names: str) -> bool:
        return self.annotation(*names) is not None


class Note(_Model):
    """Documentation attached to a node; a note never retypes its target."""

    target: str = Field(description="Resolved target path, or the reference as written if it resolves to nothing")
    reference: str = Field("", description="The target as written, e.g. 'Processor.Validate'")
    resolved: bool = True
    text: Optional[str] = None
    type: str = Field("note", description="The keyword as written (note/Note/NOTE)")
    scope: Optional[str] = Field(None, description="Path of the node whose body holds the note")
    attributes: list[Attribute] = Field(default_factory=list)
    annotations: list[Annotation] = Field(default_factory=list)
    span: Optional[SourceSpan] = None


class ImportedSymbol(_Model):
    symbol: str
    alias: Optional[str] = None
    span: Optional[SourceSpan] = None

    @property
    def local_name(self) -> str:
        return self.alias or self.symbol.rsplit(".", 1)[-1]


class Import(_Model):
    path: str = Field(description="As written")
    resolved_path: Optional[str] = None
    symbols: list[ImportedSymbol] = Field(default_factory=list)
    span: Optional[SourceSpan] = None


class Machine(_Model):
    format_version: str = FORMAT_VERSION
    file: Optional[str] = None
    title: Optional[str] = None
    annotations: list[Annotation] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list, description="Depth-first pre-order")
    edges: list[Edge] = Field(default_factory=list, description="Explicit edges in source order, then inferred")
    notes: list[Note] = Field(default_factory=list)
    imports: list[Import] = Field(default_factory=list)
    source_files: list[str] = Field(default_factory=list, description="Every file merged into this machine")

    # ---- lookups (cached; the IR is treated as immutable once built) ----

    @cached_property
    def _by_path(self) -> dict[str, Node]:
        return {n.path: n for n in self.nodes}

    @cached_property
    def _by_name(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {}
        for n in self.nodes:
            out.setdefault(n.name, []).append(n)
        return out

    @cached_property
    def _children(self) -> dict[Optional[str], list[Node]]:
        out: dict[Optional[str], list[Node]] = {}
        for n in self.nodes:
            out.setdefault(n.parent, []).append(n)
        return out

    @cached_property
    def _outgoing(self) -> dict[str, list[Edge]]:
        out: dict[str, list[Edge]] = {}
        for e in self.edges:
            out.setdefault(e.source, []).append(e)
        return out

    @cached_property
    def _incoming(self) -> dict[str, list[Edge]]:
        out: dict[str, list[Edge]] = {}
        for e in self.edges:
            out.setdefault(e.target, []).append(e)
        return out

    def node(self, path: str) -> Node:
        return self._by_path[path]

    def get(self, path: str) -> Optional[Node]:
        return self._by_path.get(path)

    def find(self, ref: str) -> list[Node]:
        """Nodes a reference can mean: the exact path, else every node with that simple name."""
        hit = self._by_path.get(ref)
        if hit is not None:
            return [hit]
        return list(self._by_name.get(ref, ()))

    def lookup(self, ref: str, scope: Optional[str] = None) -> Optional[Node]:
        """The node a reference written in `scope` means (None if unknown or ambiguous)."""
        return lookup_reference(ref, scope, self._by_path, self._by_name)[0]

    def children(self, path: Optional[str]) -> list[Node]:
        return list(self._children.get(path, ()))

    def roots(self) -> list[Node]:
        return self.children(None)

    def outgoing(self, path: str, *, include_inferred: bool = False) -> list[Edge]:
        return [e for e in self._outgoing.get(path, ()) if include_inferred or not e.inferred]

    def incoming(self, path: str, *, include_inferred: bool = False) -> list[Edge]:
        return [e for e in self._incoming.get(path, ()) if include_inferred or not e.inferred]

    def attribute(self, name: str) -> Optional[Attribute]:
        for a in self.attributes:
            if a.name == name:
                return a
        return None

    def annotation(self, name: str) -> Optional[Annotation]:
        for a in self.annotations:
            if a.name.lower() == name.lower():
                return a
        return None

    @property
    def strict(self) -> bool:
        return any(a.name.lower() in ("strictmode", "strict") for a in self.annotations)

    # ---- semantics shared by analysis, rendering and the runtime ----

    def effective_type(self, node: Node | str) -> Optional[str]:
        """The node's type for every semantic purpose (reference §4.2–4.3), lowercased.

        Context aliases fold to 'context'. Untyped nodes are inferred: prompt → task; tool-schema
        attributes → tool; context-like names or data-only attributes → context; source-only → init.
        """
        if isinstance(node, str):
            node = self.node(node)
        t = node.type_lower
        if t:
            return "context" if t in CONTEXT_ALIASES else t
        names = {a.name for a in node.attributes}
        if "prompt" in names:
            return "task"
        if names & {"input", "output", "parameters", "schema", "returns"}:
            return "tool"
        low = node.name.lower()
        if any(k in low for k in ("context", "output", "input", "data", "result", "config")) or (
            "state" in low and low != "state"
        ):
            return "context"
        if names and not names & {"prompt", "meta", "condition", "action"}:
            return "context"
        if not self.incoming(node.path) and self.outgoing(node.path):
            return "init"
        return None

    def is_context(self, node: Node | str) -> bool:
        return self.effective_type(node) == "context"

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent, exclude_none=False)

    def _repr_svg_(self) -> Optional[str]:
        """Jupyter shows a machine as its diagram; None (plain repr) when Graphviz is missing."""
        from dygraph.render import RenderError, to_svg  # lazy: rendering is optional at import time

        try:
            return to_svg(self)
        except RenderError:
            return None


def json_schema() -> dict:
    """The published JSON Schema of the IR (`dygraph schema`)."""
    schema = Machine.model_json_schema()
    schema["$id"] = f"https://dygraph.dev/schema/ir-{FORMAT_VERSION}.json"
    schema["title"] = f"dygraph IR {FORMAT_VERSION}"
    return schema
