"""Rendering user styles: a malformed color list must not take the whole diagram down."""

from __future__ import annotations

import pytest

import dygraph
from dygraph.render import to_dot

from _cli import run_cli


@pytest.mark.parametrize("program", [
    'init s @style(fillcolor: "red;x");\ns -> done;\n',
    'init s { style: { fillcolor: "#fff\\"; x"; }; }\ns -> done;\n',
    'style hot @Hot { color: "blue;2"; }\nstate a @Hot;\ninit s;\ns -@style(color: "red;q")-> a;\n',
    'machine "M" @style(bgcolor: "red;x")\ninit s;\n',
])
def test_malformed_color_weights_are_dropped_and_the_diagram_renders(tmp_path, program):
    src = tmp_path / "styled.dygram"
    src.write_text(program)
    out = tmp_path / "styled.svg"
    result = run_cli("render", src, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().lstrip().startswith((b"<?xml", b"<svg"))


def test_valid_color_lists_are_kept():
    dot = to_dot(dygraph.loads('init s @style(fillcolor: "red;0.3:blue"; color: "a:b:c;");\ns -> done;\n'))
    assert 'fillcolor="red;0.3:blue"' in dot and 'color="a:b:c;"' in dot


def test_render_errors_use_the_same_prefix_as_every_other_command(tmp_path, monkeypatch):
    src = tmp_path / "m.dygram"
    src.write_text("init s;\ns -> done;\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz here
    result = run_cli("render", src, "-o", tmp_path / "m.svg")
    assert result.exit_code == 3 and result.stderr.startswith("dygraph: Graphviz's `dot` program is needed")
