"""IR → the reference implementation's `MachineJSON` (reference-language.md §13), for interoperability.

The shape is the reference's: flattened nodes with `parent` as a simple name, edges by simple name,
`value`/`attributes` on edges, notes as `note` nodes. Where the reference loses information (node
annotation values, union literals, edge flags, `null`) this output loses it the same way; our own
`json` format keeps everything.
"""

from __future__ import annotations

from typing import Any, Optional

from dygraph.ir.model import Annotation, Attribute, Edge, Machine, Node, Note, SourceSpan


def _value(v: Any) -> Any:
    if v is None:
        return "null"
    if isinstance(v, str):  # the reference strips a quote character at either end of a string
        if v[:1] in ("'", '"'):
            v = v[1:]
        if v[-1:] in ("'", '"'):
            v = v[:-1]
        return v
    if isinstance(v, list):
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    return v


def _attribute(a: Attribute) -> dict:
    out: dict[str, Any] = {"name": a.name}
    if a.type is not None:
        out["type"] = "" if a.type.literals is not None else str(a.type)
    if a.has_value:
        out["value"] = _value(a.value)
    return out


def _param(v: Any) -> Any:
    return True if v is True else ("null" if v is None else str(v).lower() if isinstance(v, bool) else str(v))


def _node_annotation(a: Annotation) -> dict:
    out: dict[str, Any] = {"name": a.name}
    if a.params:
        out["attributes"] = {k: _param(v) for k, v in a.params.items()}
    return out


def _edge_annotation(a: Annotation) -> dict:
    out: dict[str, Any] = {"name": a.name}
    if a.kind == "identifier":
        out["qualifiedValue"] = a.value
    elif a.has_value:
        out["value"] = _param(a.value)
    if a.params:
        out["attributes"] = {k: _param(v) for k, v in a.params.items()}
    return out


def _range(span: Optional[SourceSpan]) -> Optional[dict]:
    if span is None:
        return None
    return {"start": {"line": span.line - 1, "character": span.column - 1, "offset": span.offset},
            "end": {"line": span.end_line - 1, "character": span.end_column - 1, "offset": span.end_offset}}


def _node(machine: Machine, n: Node) -> dict:
    out: dict[str, Any] = {"name": n.name}
    if n.type:
        out["type"] = n.type.lower()
    out["attributes"] = [_attribute(a) for a in n.attributes]
    if n.parent:
        out["parent"] = machine.node(n.parent).name
    if n.annotations:
        out["annotations"] = [_node_annotation(a) for a in n.annotations]
    if n.title is not None:
        out["title"] = n.title
    if not n.auto_created and n.span is not None:
        out["$sourceRange"] = _range(n.span)
    return out


def _nodes(machine: Machine) -> list[dict]:
    """Nodes, then notes the way the reference stores them: a note is a node named after its target.

    A qualified note (`note Processor.Validate "…"`) is expanded relative to where it is written and
    merged into the node at that path; untyped nodes on the way become `note` nodes (reference §4.6).
    dygraph's own IR keeps notes apart and never retypes (decision 8); this reproduces the export only.
    """
    by_path: dict[str, dict] = {n.path: _node(machine, n) for n in machine.nodes}
    extra: list[dict] = []
    for note in machine.notes:
        if "." not in note.reference:
            extra.append(_plain_note(machine, note))
            continue
        path = f"{note.scope}.{note.reference}" if note.scope else note.reference
        parts = path.split(".")
        for i in range(path.count(".") - note.reference.count(".") + 1, len(parts) + 1):
            key, leaf = ".".join(parts[:i]), i == len(parts)
            entry = by_path.get(key)
            if entry is None:
                entry = {"name": parts[i - 1], "type": "note", "attributes": []}
                if i > 1:
                    entry["parent"] = parts[i - 2]
                by_path[key] = entry
            elif "type" not in entry:
                entry["type"] = "note"
                if leaf and note.text is not None:
                    entry["title"] = note.text
            if leaf:
                names = {a["name"] for a in entry.get("annotations", [])}
                anns = entry.get("annotations", []) + [_node_annotation(a) for a in note.annotations
                                                        if a.name not in names]
                if anns:
                    entry["annotations"] = anns
                attrs = {a["name"]: a for a in entry["attributes"]}
                attrs.update({a.name: _attribute(a) for a in note.attributes})
                entry["attributes"] = list(attrs.values())
                if entry.get("type") == "note" and "title" not in entry and note.text is not None:
                    entry["title"] = note.text
            if entry.get("type") == "note" and note.type == "note" and not any(
                    a["name"] == "target" for a in entry["attributes"]):
                entry["attributes"].append({"name": "target", "value": entry["name"]})
    return list(by_path.values()) + extra


def _plain_note(machine: Machine, note: Note) -> dict:
    target = machine.get(note.target) if note.resolved else None
    name = target.name if target else note.reference
    attributes = [_attribute(a) for a in note.attributes]
    if note.type == "note":  # the reference adds `target` only for lowercase `note`
        attributes.append({"name": "target", "value": name})
    out: dict[str, Any] = {"name": name, "type": "note", "attributes": attributes}
    if note.scope:
        out["parent"] = machine.node(note.scope).name
    if note.annotations:
        out["annotations"] = [_node_annotation(a) for a in note.annotations]
    if note.text is not None:
        out["title"] = note.text
    out["$sourceRange"] = _range(note.span)
    return out


def _edge(machine: Machine, e: Edge) -> dict:
    out: dict[str, Any] = {"source": machine.node(e.source).name, "target": machine.node(e.target).name}
    if e.inferred:
        value = {"attribute": e.source_attribute, "text": e.source_attribute, "type": "inferred",
                 "sourceAttribute": e.source_attribute}
        if e.target_attribute:
            value["targetAttribute"] = e.target_attribute
        out.update(type="inferred", value=value, attributes=dict(value), sourceAttribute=e.source_attribute)
        if e.target_attribute:
            out["targetAttribute"] = e.target_attribute
        return out
    out["arrowType"] = e.arrow
    if e.annotations:
        out["annotations"] = [_edge_annotation(a) for a in e.annotations]
    if e.source_multiplicity is not None:
        out["sourceMultiplicity"] = e.source_multiplicity
    if e.target_multiplicity is not None:
        out["targetMultiplicity"] = e.target_multiplicity
    value: dict[str, Any] = {k: (str(v).lower() if isinstance(v, bool) else "null" if v is None else str(v))
                             for k, v in e.inline.items() if k not in e.flags}
    if e.label is not None:
        value["text"] = e.label
    else:
        style = e.annotation("style")
        if style is not None and style.kind == "string":
            value["text"] = style.value
    for key, attr in (("sourceAttribute", e.source_attribute), ("targetAttribute", e.target_attribute)):
        if attr:
            value[key] = attr
            out[key] = attr
    attributes = dict(value)
    for a in e.block:
        if a.has_value:
            attributes[a.name] = _value(a.value)
    if value:
        out["value"] = value
    if attributes:
        out["attributes"] = attributes
    relation = e.relation
    if relation:
        out["type"] = relation
    out["$sourceRange"] = _range(e.span)
    return out


def to_reference_json(machine: Machine) -> dict:
    out: dict[str, Any] = {}
    if machine.title is not None:
        out["title"] = machine.title
    out["attributes"] = [_attribute(a) for a in machine.attributes]
    out["annotations"] = [_node_annotation(a) for a in machine.annotations]
    out["nodes"] = _nodes(machine)
    explicit = [e for e in machine.edges if not e.inferred]
    out["edges"] = [_edge(machine, e) for e in explicit] + [_edge(machine, e) for e in machine.edges if e.inferred]
    out["inferredDependencies"] = []
    return out
