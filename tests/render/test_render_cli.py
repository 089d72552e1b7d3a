"""`dygraph render` end to end: formats, direction, diagnostics, and a missing Graphviz."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from click.testing import CliRunner

import dygraph
from dygraph.cli import main

PROGRAM = """
machine "Checkout"
init start;
Group pay { Task charge { prompt: "Charge the card"; } }
start -> pay;
pay.charge -when: 'amount > 0';-> done;
"""


def write(tmp_path, text=PROGRAM):
    path = tmp_path / "checkout.dygram"
    path.write_text(text)
    return path


def test_renders_svg_file(tmp_path):
    src = write(tmp_path)
    out = tmp_path / "out.svg"
    result = CliRunner().invoke(main, ["render", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    root = ET.fromstring(out.read_bytes())
    assert root.tag.endswith("svg") and "charge" in out.read_text()


def test_format_follows_output_suffix_png_and_pdf(tmp_path):
    src = write(tmp_path)
    for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
        out = tmp_path / f"out{suffix}"
        result = CliRunner().invoke(main, ["render", str(src), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(magic)


def test_dot_to_stdout_with_direction(tmp_path):
    result = CliRunner().invoke(main, ["render", str(write(tmp_path)), "--format", "dot", "--direction", "lr"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('digraph Checkout') and "rankdir=LR" in result.stdout
    assert '"pay.charge"' in result.stdout and "cluster_pay" in result.stdout


def test_file_with_errors_prints_diagnostics_and_exits_1(tmp_path):
    src = write(tmp_path, "machine \"Broken\"\na -> ;\n")
    result = CliRunner().invoke(main, ["render", str(src), "-f", "dot"])
    assert result.exit_code == 1
    assert f"{src}:2:" in result.stderr and "error DG1" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_missing_file_or_unknown_suffix_is_a_usage_error(tmp_path):
    assert CliRunner().invoke(main, ["render", str(tmp_path / "nope.dygram")]).exit_code == 2
    result = CliRunner().invoke(main, ["render", str(write(tmp_path)), "-o", str(tmp_path / "x.jpg")])
    assert result.exit_code == 2 and "--format" in result.stderr and not (tmp_path / "x.jpg").exists()


def test_missing_graphviz_says_how_to_install(tmp_path, monkeypatch):
    src = write(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` here
    result = CliRunner().invoke(main, ["render", str(src), "-o", str(tmp_path / "x.svg")])
    assert result.exit_code == 3
    assert "apt-get install graphviz" in result.stderr and "brew install graphviz" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.svg").exists()
    # DOT text needs no Graphviz; Jupyter falls back to the plain repr
    assert CliRunner().invoke(main, ["render", str(src), "-f", "dot"]).exit_code == 0
    assert dygraph.load(src)._repr_svg_() is None
