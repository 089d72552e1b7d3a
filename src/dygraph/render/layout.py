"""Running Graphviz `dot` on the DOT text, with errors a person can act on."""

from __future__ import annotations

from typing import Optional

import graphviz

from dygraph.ir.model import Machine

from .dot import to_dot

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = ("Graphviz's `dot` program is needed to lay out diagrams and was not found on PATH. "
                "Install Graphviz (Debian/Ubuntu: `sudo apt-get install graphviz`; macOS: `brew install "
                "graphviz`; Windows: `winget install graphviz`), or write DOT text with `--format dot`.")


class RenderError(Exception):
    """Graphviz could not lay out the diagram."""


class GraphvizNotFound(RenderError):
    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


def layout(dot_source: str, fmt: str) -> bytes:
    """Lay out DOT text with `dot` into `fmt` (svg, png, pdf)."""
    try:
        return graphviz.Source(dot_source).pipe(format=fmt, engine="dot", quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFound() from exc
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz failed to lay out the diagram: {detail or exc}") from exc


def render(machine: Machine, fmt: str = "svg", direction: Optional[str] = None) -> bytes:
    """The machine as `fmt` bytes: 'dot' (text, no Graphviz needed), 'svg', 'png' or 'pdf'."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    source = to_dot(machine, direction)
    return source.encode("utf-8") if fmt == "dot" else layout(source, fmt)


def to_svg(machine: Machine, direction: Optional[str] = None) -> str:
    return render(machine, "svg", direction).decode("utf-8")
