"""The IR: pydantic models of a compiled machine, and its JSON forms."""

from dygraph.ir.model import (
    CONTEXT_ALIASES,
    FORMAT_VERSION,
    Annotation,
    Attribute,
    Edge,
    Import,
    ImportedSymbol,
    Machine,
    Node,
    Note,
    SourceSpan,
    TypeRef,
    json_schema,
)

__all__ = [
    "CONTEXT_ALIASES", "FORMAT_VERSION", "Annotation", "Attribute", "Edge", "Import", "ImportedSymbol",
    "Machine", "Node", "Note", "SourceSpan", "TypeRef", "json_schema",
]
