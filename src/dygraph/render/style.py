"""The visual language: looks per node type, CSS-like style keys, and style precedence.

Precedence, lowest first (the same for nodes, clusters and edges; see docs/rendering.md):
  1. defaults for the node type / arrow kind (and condition, async, barrier, data edges);
  2. built-in annotation modifiers (`@Abstract`, `@Deprecated`, `@Critical`, `@Singleton`);
  3. `style` selector nodes whose annotation the element carries, in declaration order;
  4. the element's `style` attribute;
  5. the element's `@style(...)` annotation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from dygraph.ir.model import Annotation, Attribute, Machine, Node

from .html import format_value


@dataclass(frozen=True)
class Look:
    shape: str
    fillcolor: str
    color: str
    style: str = "filled"


LOOKS: dict[Optional[str], Look] = {
    "task": Look("box", "#E3F2FD", "#1976D2", "filled,rounded"),
    "state": Look("diamond", "#F3E5F5", "#7B1FA2"),
    "context": Look("folder", "#E8F5E9", "#388E3C"),
    "tool": Look("component", "#FFF9C4", "#F57F17"),
    "init": Look("ellipse", "#FFF3E0", "#F57C00"),
    "end": Look("ellipse", "#FFFFFF", "#000000"),
    None: Look("box", "#FFFFFF", "#000000"),
}


def look_for(effective_type: Optional[str]) -> Look:
    """Looks for built-in types; any custom type is a plain white box."""
    return LOOKS.get(effective_type, LOOKS[None])


CSS_TO_DOT = {
    "stroke-width": "penwidth", "border-width": "penwidth", "stroke": "color", "border-color": "color",
    "fill": "fillcolor", "background-color": "fillcolor", "background": "fillcolor",
    "font-family": "fontname", "font-size": "fontsize", "font-weight": "fontweight",
    "text-align": "labeljust", "opacity": "alpha", "direction": "rankdir", "font-color": "fontcolor",
}
# Layout hints of the reference's grid layout; they are not Graphviz attributes.
LAYOUT_KEYS = frozenset({"grid", "columns", "cols", "col", "column", "grid-pos", "grid-position", "grid_pos",
                         "grid_position"})
DIRECTIONS = {
    "lr": "LR", "left-to-right": "LR", "column": "LR", "horizontal": "LR",
    "rl": "RL", "right-to-left": "RL",
    "tb": "TB", "top-to-bottom": "TB", "row": "TB", "vertical": "TB",
    "bt": "BT", "bottom-to-top": "BT",
}
# Modifiers for exact annotation names, as in the reference (§9.4).
MODIFIERS: dict[str, dict[str, str]] = {
    "Abstract": {"shape": "egg", "style": "dashed"},
    "Deprecated": {"style": "dashed", "fontcolor": "#999999"},
    "Critical": {"penwidth": "3"},
    "Singleton": {"peripheries": "2"},
}
# Edge annotations that change how the edge is drawn (names case-insensitive).
ASYNC_NAMES = ("async", "spawn", "fork", "parallel")
BARRIER_NAMES = ("barrier", "wait", "sync", "join", "merge")
MAP_NAMES = ("map", "foreach", "each")


_ATTRIBUTE_NAME = re.compile(r"[a-z_][a-z0-9_-]*")


def normalize_direction(value: Any) -> Optional[str]:
    return DIRECTIONS.get(str(value).strip().lower()) if value is not None else None


def parse_style_text(text: str) -> dict[str, Any]:
    """`"color: red; stroke-width: 3px"` → {'color': 'red', 'stroke-width': '3px'}."""
    out: dict[str, Any] = {}
    for part in re.split(r"[;\n]", text):
        key, sep, value = part.partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip().strip("\"'")
    return out


def style_from_value(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        return parse_style_text(value)
    return {}


def style_attribute(attributes: Iterable[Attribute]) -> dict[str, Any]:
    for a in attributes:
        if a.name == "style" and a.has_value:
            return style_from_value(a.value)
    return {}


def style_annotation(annotations: Iterable[Annotation]) -> dict[str, Any]:
    """`@style(k: v)` or `@style("k: v; …")`; several `@style`s merge in order."""
    out: dict[str, Any] = {}
    for a in annotations:
        if a.name.lower() == "style":
            if a.params:
                out.update(a.params)
            elif isinstance(a.value, str):
                out.update(parse_style_text(a.value))
    return out


def to_dot_attrs(style: dict[str, Any]) -> dict[str, str]:
    """CSS-like keys → Graphviz keys; layout-only keys dropped; values as strings."""
    out: dict[str, str] = {}
    for key, value in style.items():
        k = str(key).strip().lower()
        if not _ATTRIBUTE_NAME.fullmatch(k) or k in LAYOUT_KEYS or (k.startswith("max") and k.endswith("length")) or value is None:
            continue
        k = CSS_TO_DOT.get(k, k)
        v = format_value(value)
        if k == "rankdir":
            v = normalize_direction(v) or v
        elif k == "penwidth":
            v = re.sub(r"px$", "", v.strip())
        elif k in COLOR_KEYS and not _weights_are_numbers(v):
            continue  # Graphviz refuses the whole diagram (or crashes) on a malformed `color;weight`
        out[k] = v
    return out


COLOR_KEYS = frozenset({"color", "fillcolor", "fontcolor", "bgcolor", "pencolor", "labelfontcolor"})


def _weights_are_numbers(value: str) -> bool:
    """In a color list `red;0.3:blue`, every `;weight` must be a number from 0 to 1."""
    for part in value.split(":"):
        _, sep, weight = part.partition(";")
        if not sep or not weight.strip():
            continue
        try:
            if not 0 <= float(weight) <= 1:
                return False
        except ValueError:
            return False
    return True


def merge(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """Later wins, except `style` flags, which accumulate (dashed on a filled node stays filled)."""
    out = dict(base)
    for k, v in extra.items():
        if k == "style" and out.get("style"):
            flags = [f.strip() for f in (out["style"] + "," + v).split(",") if f.strip()]
            out[k] = ",".join(dict.fromkeys(flags))
        else:
            out[k] = v
    return out


class StyleSheet:
    """The `style` nodes of a machine, as selectors keyed by annotation name (exact case)."""

    def __init__(self, machine: Machine):
        self.rules: list[tuple[frozenset[str], dict[str, str]]] = []
        for node in machine.nodes:
            if node.type_lower == "style" and node.annotations:
                attrs = {a.name: a.value for a in node.attributes if a.has_value}
                self.rules.append((frozenset(a.name for a in node.annotations), to_dot_attrs(attrs)))

    def matching(self, annotations: Iterable[Annotation]) -> dict[str, str]:
        names = {a.name for a in annotations}
        out: dict[str, str] = {}
        for selectors, attrs in self.rules:
            if selectors & names:
                out = merge(out, attrs)
        return out

    def layered(self, annotations: list[Annotation], attributes: Iterable[Attribute]) -> dict[str, str]:
        """Levels 3–5 of the precedence: selector nodes < `style` attribute < `@style`."""
        out = self.matching(annotations)
        out = merge(out, to_dot_attrs(style_attribute(attributes)))
        return merge(out, to_dot_attrs(style_annotation(annotations)))


def modifiers(node: Node) -> dict[str, str]:
    out: dict[str, str] = {}
    for a in node.annotations:
        out = merge(out, MODIFIERS.get(a.name, {}))
    return out
