"""IR → Graphviz DOT.

Every node is keyed by its full path. A node with children is a cluster (`cluster_<path>`); inside
it, a node with the parent's own path stands for the parent: its attribute table when it has
attributes (so attribute ports work), else an invisible point. Edges to a parent end at that node
and are clipped to the cluster border (`lhead`/`ltail`) unless the other end is inside the cluster.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import graphviz

from dygraph.ir.model import Annotation, Attribute, Edge, Machine, Node, Note

from .html import (drop_empty_elements, escape, format_annotation, format_value, markdown, plain, port_name,
                   printable, truncate)
from .style import (ASYNC_NAMES, BARRIER_NAMES, MAP_NAMES, StyleSheet, look_for, merge, modifiers,
                    normalize_direction, style_annotation, style_attribute, style_from_value, to_dot_attrs)

FONT = "Helvetica,Arial,sans-serif"
NODE_TEXT_ATTRS = frozenset({"desc", "prompt", "style"})  # shown in their own rows, or not at all
NOTE_HIDDEN_ATTRS = frozenset({"target", "desc", "prompt", "style"})
MACHINE_TEXT_ATTRS = frozenset({"description", "desc", "version", "style", "title"})
CONDITION_KEYS = ("when", "unless", "if")
PROMPT_PREVIEW = 140
VALUE_LIMIT = 160
HIDDEN_ANNOTATIONS = frozenset({"style", "note"})

ARROWS: dict[str, dict[str, str]] = {
    "transition": {},
    "dependency": {"style": "dashed"},
    "transform": {"penwidth": "2.5", "color": "#D32F2F"},
    "bidirectional": {"dir": "both", "arrowtail": "normal", "arrowhead": "normal"},
    # UML: the triangle / diamond sits at the parent / whole, which is the source as written.
    "inheritance": {"dir": "back", "arrowtail": "empty"},
    "composition": {"dir": "back", "arrowtail": "diamond"},
    "aggregation": {"dir": "back", "arrowtail": "odiamond"},
    "inferred": {"style": "dotted", "color": "#78909C", "arrowhead": "vee", "fontcolor": "#78909C"},
}
RELATIONS = {
    "reads": {"style": "dashed", "color": "#388E3C", "arrowhead": "vee"},
    "writes": {"style": "dashed", "color": "#388E3C", "arrowhead": "vee"},
    "catch": {"color": "#C62828", "fontcolor": "#C62828"},
}
ASYNC_LOOK = {"color": "#00838F", "arrowhead": "veevee"}
BARRIER_LOOK = {"color": "#6A1B9A", "arrowhead": "teenormal", "penwidth": "1.5"}
MAP_LOOK = {"color": "#00838F", "arrowhead": "crowvee"}
CONDITION_LOOK = {"color": "#455A64"}
NOTE_LOOK = {"shape": "note", "style": "filled", "fillcolor": "#FFFACD", "color": "#BDB76B", "fontsize": "9"}
NOTE_LINK = {"style": "dashed", "color": "#9E9E9E", "arrowhead": "none"}
MISSING_LOOK = {"shape": "box", "style": "dashed", "color": "#D32F2F", "fontcolor": "#D32F2F"}
CLUSTER_FILLS = ("#FAFAFA", "#FFFFFF")


def to_dot(machine: Machine, direction: Optional[str] = None) -> str:
    """The machine as DOT text. `direction` (LR, TB, RL, BT) overrides the machine's own."""
    return _DotBuilder(machine, direction).build()


def _table(rows: Iterable[str], **attrs: str) -> str:
    """A one-column borderless table of the non-empty rows; "" when nothing is left."""
    kept = [r for r in (drop_empty_elements(r) for r in rows) if r.strip()]
    if not kept:
        return ""
    head = " ".join(f'{k.upper()}="{v}"' for k, v in
                    {"border": "0", "cellborder": "0", "cellspacing": "0", "cellpadding": "1", **attrs}.items())
    return f"<TABLE {head}>" + "".join(f"<TR><TD>{r}</TD></TR>" for r in kept) + "</TABLE>"


def _html(inner: str) -> str:
    return f"<{inner}>"


def _annotation_text(annotations: Iterable[Annotation]) -> str:
    return " ".join(format_annotation(a.name, a.value, a.params, a.has_value)
                    for a in annotations if a.name.lower() not in HIDDEN_ANNOTATIONS)


def _value_html(value: Any) -> str:
    if value == "":
        return "&quot;&quot;"  # an empty string is a value, unlike a missing one
    return plain(truncate(format_value(value), VALUE_LIMIT), br='<BR ALIGN="LEFT"/>')


class _DotBuilder:
    def __init__(self, machine: Machine, direction: Optional[str]):
        self.m = machine
        self.direction = normalize_direction(direction) if direction else None
        if direction and not self.direction:
            raise ValueError(f"unknown direction {direction!r}; use LR, TB, RL or BT")
        self.sheet = StyleSheet(machine)
        self.ports: dict[str, dict[str, str]] = {}  # node path -> attribute name -> port id
        self.referenced: set[str] = set()
        for e in machine.edges:
            self.referenced.update((e.source, e.target))
        for n in machine.notes:
            if n.resolved:
                self.referenced.add(n.target)
        self.clusters = {n.path for n in machine.nodes if self._drawn_children(n.path)}
        self.notes_by_container: dict[Optional[str], list[tuple[int, Note]]] = {}
        for i, note in enumerate(machine.notes):
            where = self.container_of(note.target) if note.resolved and machine.get(note.target) else None
            self.notes_by_container.setdefault(where, []).append((i, note))

    # ---- structure ----

    def hidden(self, node: Node) -> bool:
        """Style nodes are stylesheet, not graph — unless an edge or note points at one."""
        return node.type_lower == "style" and node.path not in self.referenced

    def _drawn_children(self, path: str) -> bool:
        return any(not self.hidden(c) or self._drawn_children(c.path) for c in self.m.children(path))

    def container_of(self, path: str) -> Optional[str]:
        """The cluster that holds the node's stand-in, excluding its own cluster."""
        node = self.m.get(path)
        parent = node.parent if node else None
        while parent is not None and parent not in self.clusters:
            up = self.m.get(parent)
            parent = up.parent if up else None
        return parent

    def inside(self, path: str, cluster: str) -> bool:
        return path == cluster or path.startswith(cluster + ".")

    # ---- build ----

    def build(self) -> str:
        # Graphviz copies `&…;` into the SVG as if it were an entity; `&amp;` always is one.
        title = printable(" ".join((self.m.title or "").split())).replace("&", "&amp;") or "machine"
        g = graphviz.Digraph(graphviz.escape(title))  # becomes the SVG <title>
        g.attr(**self.graph_attrs())
        g.attr("node", fontname=FONT, fontsize="10")
        g.attr("edge", fontname=FONT, fontsize="9")
        self.emit_container(g, None, 0)
        known = {n.path for n in self.m.nodes}
        for path in sorted(self.referenced - known):
            g.node(path, label=_html(escape(path)), **MISSING_LOOK)
        for e in self.m.edges:
            self.emit_edge(g, e)
        for i, note in enumerate(self.m.notes):
            self.emit_note_link(g, i, note)
        return g.source

    def graph_attrs(self) -> dict[str, str]:
        m = self.m
        attrs = {"compound": "true", "rankdir": "TB", "pad": "0.25", "fontname": FONT, "fontsize": "10",
                 "labelloc": "t"}
        label = self.machine_label()
        if label:
            attrs["label"] = _html(label)
        user = merge(to_dot_attrs(style_attribute(m.attributes)), to_dot_attrs(style_annotation(m.annotations)))
        attrs = merge(attrs, {k: graphviz.escape(v) for k, v in user.items()})
        if self.direction:
            attrs["rankdir"] = self.direction
        return attrs

    def machine_label(self) -> str:
        m = self.m
        rows = []
        if m.title:
            rows.append(f'<FONT POINT-SIZE="14"><B>{markdown(m.title, 60)}</B></FONT>')
        version = next((a.value for a in m.attributes if a.name == "version" and a.has_value), None)
        meta = ([f"v{format_value(version)}"] if version is not None else []) + (
            [_annotation_text(m.annotations)] if _annotation_text(m.annotations) else [])
        if meta:
            rows.append(f'<I>{plain(" ".join(meta), 80)}</I>')
        desc = next((a.value for a in m.attributes if a.name in ("description", "desc") and a.has_value), None)
        if desc is not None:
            rows.append(f'<FONT COLOR="#455A64">{markdown(format_value(desc), 80)}</FONT>')
        table = self.attribute_table("", [a for a in m.attributes if a.name not in MACHINE_TEXT_ATTRS])
        if table:
            rows.append(table)
        return _table(rows, cellpadding="2")

    def emit_container(self, g: graphviz.Digraph, parent: Optional[str], depth: int) -> None:
        for node in self.m.children(parent):
            if self.hidden(node):
                self.emit_container(g, node.path, depth)  # a style node's children still show
            elif node.path in self.clusters:
                with g.subgraph(name=f"cluster_{node.path}") as sub:
                    self.emit_cluster(sub, node, depth + 1)
            else:
                g.node(node.path, **self.node_attrs(node))
        for i, note in self.notes_by_container.get(parent, ()):
            g.node(f"note#{i}", **self.note_attrs(i, note))

    # ---- nodes ----

    def header_rows(self, node: Node) -> list[str]:
        head = f"<B>{escape(node.name)}</B>"
        if node.type:
            head += f" <I>&lt;{escape(node.type)}&gt;</I>"
        rows = [head]
        ann = _annotation_text(node.annotations)
        if ann:
            rows.append(f'<FONT POINT-SIZE="9" COLOR="#455A64"><I>{plain(ann)}</I></FONT>')
        if node.title and node.title != node.name:
            rows.append(markdown(node.title))
        desc = node.attr_value("desc")
        if desc is not None:
            rows.append(f'<FONT POINT-SIZE="9" COLOR="#455A64">{markdown(format_value(desc))}</FONT>')
        prompt = node.attr_value("prompt")
        if prompt is not None:
            preview = truncate(" ".join(format_value(prompt).split()), PROMPT_PREVIEW)
            rows.append(f'<FONT POINT-SIZE="8" COLOR="#666666">→ {markdown(preview, 48)}</FONT>')
        return rows

    def attribute_table(self, path: str, attributes: list[Attribute]) -> str:
        if not attributes:
            return ""
        ports = self.ports.setdefault(path, {})
        used = set(ports.values())
        rows = []
        for a in attributes:
            port = base = port_name(a.name)
            n = 0
            while port in used:
                n += 1
                port = f"{base}_{n}"
            used.add(port)
            ports.setdefault(a.name, port)
            key = escape(a.name) + (f'<FONT COLOR="#757575"> : {escape(str(a.type))}</FONT>' if a.type else "")
            value = _value_html(a.value) if a.has_value else ""
            rows.append(f'<TR><TD PORT="{port}__key" ALIGN="LEFT">{key}</TD>'
                        f'<TD PORT="{port}__value" ALIGN="LEFT" BALIGN="LEFT">{value}</TD></TR>')
        return ('<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3" COLOR="#BDBDBD" '
                'BGCOLOR="#FFFFFF">' + "".join(rows) + "</TABLE>")

    def shown_attributes(self, node: Node) -> list[Attribute]:
        return [a for a in node.attributes if a.name not in NODE_TEXT_ATTRS]

    def node_attrs(self, node: Node) -> dict[str, str]:
        rows = self.header_rows(node)
        table = self.attribute_table(node.path, self.shown_attributes(node))
        if table:
            rows.append(table)
        etype = self.m.effective_type(node)
        if etype == "note":
            base = dict(NOTE_LOOK)
        else:
            look = look_for(etype)
            base = {"shape": look.shape, "style": look.style, "fillcolor": look.fillcolor, "color": look.color}
        base["label"] = _html(_table(rows))
        base["margin"] = "0.12,0.06"
        return merge(merge(base, modifiers(node)), self.user_style(node.annotations, node.attributes))

    def user_style(self, annotations: list[Annotation], attributes: Iterable[Attribute]) -> dict[str, str]:
        return {k: graphviz.escape(v) for k, v in self.sheet.layered(annotations, attributes).items()}

    def emit_cluster(self, sub: graphviz.Digraph, node: Node, depth: int) -> None:
        look = look_for(self.m.effective_type(node))
        base = {"label": _html(_table(self.header_rows(node))), "style": "rounded,filled",
                "fillcolor": CLUSTER_FILLS[depth % 2], "color": look.color if look.color != "#000000" else "#999999",
                "fontname": FONT, "fontsize": "10", "labeljust": "l", "margin": "12"}
        mods = {k: v for k, v in modifiers(node).items() if k not in ("shape", "peripheries", "fontcolor")}
        sub.attr(**merge(merge(base, mods), self.user_style(node.annotations, node.attributes)))
        table = self.attribute_table(node.path, self.shown_attributes(node))
        if table:
            sub.node(node.path, label=_html(table), shape="plain")
        elif node.path in self.referenced:
            sub.node(node.path, label="", shape="point", style="invis", width="0.01", height="0.01")
        self.emit_container(sub, node.path, depth)

    # ---- notes ----

    def note_attrs(self, i: int, note: Note) -> dict[str, str]:
        rows = []
        ann = _annotation_text(note.annotations)
        if ann:
            rows.append(f"<I>{plain(ann)}</I>")
        content = note.text
        if content is None:
            content = next((format_value(a.value) for a in note.attributes
                            if a.name in ("desc", "prompt") and a.has_value), None)
        if content:
            rows.append(markdown(content))
        if not note.resolved or self.m.get(note.target) is None:
            rows.append(f'<FONT COLOR="#D32F2F">note on {escape(note.target)}, which does not exist</FONT>')
        table = self.attribute_table(f"note#{i}",
                                     [a for a in note.attributes if a.name not in NOTE_HIDDEN_ATTRS])
        if table:
            rows.append(table)
        attrs = dict(NOTE_LOOK, label=_html(_table(rows) or " "))
        return merge(attrs, self.user_style(note.annotations, note.attributes))

    def emit_note_link(self, g: graphviz.Digraph, i: int, note: Note) -> None:
        if not note.resolved or self.m.get(note.target) is None:
            return
        attrs = dict(NOTE_LINK)
        if note.target in self.clusters:
            attrs["lhead"] = f"cluster_{note.target}"
        g.edge(f"note#{i}", note.target, **attrs)

    # ---- edges ----

    def endpoint(self, path: str, attribute: Optional[str]) -> tuple[str, bool]:
        """DOT endpoint and whether it is an attribute port."""
        port = self.ports.get(path, {}).get(attribute) if attribute else None
        return (f"{path}:{port}__value", True) if port else (path, False)

    def emit_edge(self, g: graphviz.Digraph, e: Edge) -> None:
        tail, tail_port = self.endpoint(e.source, e.source_attribute)
        head, head_port = self.endpoint(e.target, e.target_attribute)
        attrs = self.edge_attrs(e)
        if e.source in self.clusters and not tail_port and not self.inside(e.target, e.source):
            attrs["ltail"] = f"cluster_{e.source}"
        if e.target in self.clusters and not head_port and not self.inside(e.source, e.target):
            attrs["lhead"] = f"cluster_{e.target}"
        g.edge(tail, head, **attrs)

    def edge_attrs(self, e: Edge) -> dict[str, str]:
        attrs: dict[str, str] = dict(ARROWS[e.kind])
        if e.relation:
            attrs = merge(attrs, RELATIONS[e.relation])
        if e.condition:
            attrs = merge(attrs, CONDITION_LOOK)
        if e.has_annotation(*ASYNC_NAMES):
            attrs = merge(attrs, ASYNC_LOOK)
        if e.has_annotation(*MAP_NAMES):
            attrs = merge(attrs, MAP_LOOK)
        if e.has_annotation(*BARRIER_NAMES):
            attrs = merge(attrs, BARRIER_LOOK)
        label = self.edge_label(e)
        if label:
            attrs["label"] = _html(label)
        for key, multiplicity in (("taillabel", e.source_multiplicity), ("headlabel", e.target_multiplicity)):
            text = plain(multiplicity or "", 20)
            if text:
                # Longer edges and a wider angle keep the end labels clear of the arrow and mid label.
                attrs.update({key: _html(text), "labelfontsize": "8", "labelfontcolor": "#555555",
                              "labeldistance": "2.2", "labelangle": "35", "minlen": "2"})
        style_attr = e.attributes.get("style")
        user = merge(self.sheet.matching(e.annotations), to_dot_attrs(style_from_value(style_attr)))
        user = merge(user, to_dot_attrs(style_annotation(e.annotations)))
        return merge(attrs, {k: graphviz.escape(v) for k, v in user.items()})

    def edge_label(self, e: Edge) -> str:
        if e.inferred:
            return drop_empty_elements(f'<FONT POINT-SIZE="8">{escape(e.source_attribute or e.text or "")}</FONT>')
        rows = []
        attrs = e.attributes
        text = e.text
        if text:
            rows.append(f"<B>{markdown(text, 30)}</B>")
        hide = e.has_annotation("hideLabel", "hideAnnotation") or any(
            a.name.lower() == "showannotation" and str(a.value).lower() == "false" for a in e.annotations)
        ann = "" if hide else _annotation_text(e.annotations)
        if ann:
            rows.append(f"<I>{plain(ann, 30)}</I>")
        cond = e.condition
        if cond:
            keyword, expr = cond
            rows.append(f'<B>{keyword}</B> <FONT FACE="monospace">{plain(expr, 36)}</FONT>')
        extra = [(k, v) for k, v in attrs.items() if k not in ("text", "style") and k not in CONDITION_KEYS]
        for k, v in extra:
            rows.append(escape(k) if v is True else f'{escape(k)}: {_value_html(v)}')
        return _table(rows, bgcolor="#FFFFFF")
