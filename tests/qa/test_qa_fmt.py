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


def test_fmt_write_failure_is_reported_and_the_file_left_whole(tmp_path, monkeypatch):
    import errno
    import os

    src = tmp_path / "x.dygram"
    src.write_text("a->b\n")

    def refuse(*_):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "replace", refuse)  # what an immutable file or a read-only mount answers
    result = run_cli("fmt", src)
    assert result.exit_code == 1 and f"cannot write {src}: Operation not permitted" in result.stderr
    assert "0 files reformatted, 0 unchanged, 1 with errors" in result.stderr
    assert src.read_text() == "a->b\n" and sorted(p.name for p in tmp_path.iterdir()) == ["x.dygram"]


def test_fmt_keeps_symlinks_and_permissions(tmp_path):
    real = tmp_path / "real.dygram"
    real.write_text("a->b\n")
    real.chmod(0o640)
    link = tmp_path / "link.dygram"
    link.symlink_to(real.name)
    assert run_cli("fmt", link).exit_code == 0
    assert link.is_symlink() and real.read_text() == "a -> b;\n" and real.stat().st_mode & 0o777 == 0o640
