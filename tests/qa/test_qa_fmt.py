"""`dygraph fmt` on every statement the grammar accepts."""

from __future__ import annotations

import pytest

from dygraph.fmt import format_source

from _cli import run_cli


@pytest.mark.parametrize("source, expected", [
    ('machine "M" { flag; }\n', 'machine "M" {\n    flag;\n}\n'),
    ("context C { v: { flag; x: 1; }; }\n", "context C {\n    v: { flag; x: 1; };\n}\n"),
])
def test_bare_attributes_in_header_and_object_blocks_are_formatted(source, expected):
    assert format_source(source) == (expected, [])


def test_fmt_cli_on_a_bare_header_attribute(tmp_path):
    src = tmp_path / "bare.dygram"
    src.write_text('machine "Loop" {\n    descrip//tion: "cut by a comment";\n}\n')
    assert run_cli("fmt", "--check", src).exit_code == 1
    assert run_cli("fmt", src).exit_code == 0 and run_cli("fmt", "--check", src).exit_code == 0
