"""Diagrams of machines: DOT text from the IR, laid out by Graphviz into SVG, PNG or PDF.

`to_dot` needs only the `graphviz` Python package; `to_svg` and `render` also need the Graphviz
`dot` program.
"""

from __future__ import annotations

from .dot import to_dot
from .layout import FORMATS, GraphvizNotFound, RenderError, render, to_svg

__all__ = ["FORMATS", "GraphvizNotFound", "RenderError", "render", "to_dot", "to_svg"]
