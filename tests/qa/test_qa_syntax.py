"""Hostile source files: deep nesting, byte-order marks, non-UTF-8 bytes and non-text arguments end in
diagnostics with a place and a code, never in a traceback."""

from __future__ import annotations

import pytest

import dygraph
from dygraph.syntax.parser import MAX_NESTING

from _cli import run_cli


def nested_blocks(levels: int) -> str:
    opening = "".join(f"{'  ' * i}state s{i} {{\n" for i in range(levels))
    return opening + "".join(f"{'  ' * i}}}\n" for i in reversed(range(levels)))


DEEP = {
    "blocks": nested_blocks(300),
    "arrays": "Context C { x: " + "[" * 2000 + "1" + "]" * 2000 + "; }\n",
    "objects": "Context C { x: " + "{ a: " * 2000 + "1" + "; }" * 2000 + "; }\n",
    "generics": "Context C { x<" + "Array<" * 2000 + "string" + ">" * 2000 + ">: []; }\n",
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_too_deep_nesting_is_dg105_for_every_command(tmp_path, kind):
    src = tmp_path / "deep.dygram"
    src.write_text(DEEP[kind])
    for command in (["check"], ["compile"], ["render", "-f", "dot"], ["fmt", "--check"],
                    ["run", "--agent", "offline", "--ephemeral", "-q"]):
        result = run_cli(*command, src)
        assert result.exit_code == 1, (command, result.output)
        assert f"{src}:" in result.stderr + result.stdout and "DG105" in result.stderr + result.stdout, command


def test_dg105_points_at_the_bracket_that_crosses_the_limit():
    text = "Context C { x: " + "[" * 150 + "]" * 150 + "; }"
    (d,) = dygraph.check(text)
    assert d.code == "DG105" and (d.line, d.column) == (1, len("Context C { x: ") + MAX_NESTING)
    block = [d for d in dygraph.check(nested_blocks(MAX_NESTING + 5))]
    assert [(d.code, d.line) for d in block] == [("DG105", MAX_NESTING + 1)]


def test_nesting_at_the_limit_works_everywhere(tmp_path):
    src = tmp_path / "limit.dygram"
    src.write_text(nested_blocks(MAX_NESTING))
    for command in (["check"], ["compile"], ["render", "-f", "dot"], ["fmt", "--diff"],
                    ["run", "--agent", "offline", "--ephemeral", "-q"]):
        result = run_cli(*command, src)
        assert "DG105" not in result.output and result.exit_code in (0, 1), (command, result.output)
    assert len(dygraph.load(src).nodes) == MAX_NESTING


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    src = tmp_path / "bom.dygram"
    src.write_bytes("\ufeffinit start;\nend done;\nstart -> done;\n".encode())
    assert run_cli("check", src).exit_code == 0
    machine = dygraph.load(src)
    assert [n.path for n in machine.nodes] == ["start", "done"] and machine.nodes[0].span.column == 1
    assert run_cli("run", src, "--agent", "offline", "--ephemeral", "-q").exit_code == 0


def test_fmt_keeps_a_byte_order_mark(tmp_path):
    src = tmp_path / "bom.dygram"
    src.write_bytes("\ufeffinit start;end done;start->done;\n".encode())
    assert run_cli("fmt", src).exit_code == 0
    assert src.read_bytes() == "\ufeffinit start;\nend done;\nstart -> done;\n".encode()


def test_non_utf8_file_names_the_first_bad_byte(tmp_path):
    src = tmp_path / "latin1.dygram"
    src.write_bytes(b'init start;\nTask t "caf\xe9";\n')
    for command in ("check", "compile", "fmt"):
        result = run_cli(command, src)
        out = result.stderr + result.stdout
        assert result.exit_code == 1 and f"{src}:2:12: error DG110" in out, (command, out)
        assert "not UTF-8" in out and "0xe9" in out and "codec" not in out


def test_fmt_stdin_that_is_not_utf8_is_dg110():
    result = run_cli("fmt", "-", input=b"a -> b;\n\xff\n")
    assert result.exit_code == 1 and "<stdin>:2:1: error DG110" in result.stderr


def test_loads_accepts_bytes_and_rejects_other_types_clearly():
    assert [n.path for n in dygraph.loads(b"a -> b;").nodes] == ["a", "b"]
    with pytest.raises(dygraph.DygraphError) as err:
        dygraph.loads(b"a -> \xff;")
    assert err.value.diagnostics[0].code == "DG110"
    for bad in (None, 42, ["a -> b;"]):
        with pytest.raises(TypeError, match="str or bytes"):
            dygraph.loads(bad)
    assert [d.code for d in dygraph.check(b"a ->")] == ["DG103"]


def test_load_of_a_directory_is_dg110(tmp_path):
    with pytest.raises(dygraph.DygraphError) as err:
        dygraph.load(tmp_path)
    assert [d.code for d in err.value.diagnostics] == ["DG110"]



def test_non_ascii_in_names_gets_a_hint():
    (accented,) = dygraph.check('init sért;\n')
    assert accented.code == "DG102" and "ASCII" in accented.hint and '"Café"' in accented.hint
    (invisible,) = dygraph.check("init start;\nend \u200bdone;\n")
    assert (invisible.line, invisible.column) == (2, 5) and "U+200B" in invisible.hint


def test_load_of_a_path_with_a_nul_byte_is_dg110():
    with pytest.raises(dygraph.DygraphError) as err:
        dygraph.load("machine\x00.dygram")
    assert [d.code for d in err.value.diagnostics] == ["DG110"] and "null byte" in err.value.diagnostics[0].message
