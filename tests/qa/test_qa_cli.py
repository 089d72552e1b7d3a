"""The file commands from a user's shell: unwritable outputs and diagnostics in one format everywhere."""

from __future__ import annotations

import pytest

from _cli import run_cli

PROGRAM = "init start;\nend done;\nstart -> done;\n"


@pytest.fixture
def program(tmp_path):
    src = tmp_path / "ok.dygram"
    src.write_text(PROGRAM)
    return src


@pytest.mark.parametrize("command", [["render", "-f", "dot"], ["render", "-f", "svg"], ["compile"],
                                     ["compile", "--format", "dot"]])
def test_unwritable_output_is_a_usage_error_not_a_traceback(program, tmp_path, command):
    target = tmp_path / "missing-dir" / "out.txt"
    result = run_cli(*command, program, "-o", target)
    assert result.exit_code == 2, result.output
    assert f"cannot write {target}" in result.stderr and "No such file or directory" in result.stderr
    assert not target.parent.exists()


def test_render_reports_diagnostics_like_check(tmp_path):
    src = tmp_path / "broken.dygram"
    src.write_text("init start;\nstart -when: x > 1-> done;\n")
    checked, rendered = run_cli("check", src), run_cli("render", "-f", "dot", src)
    assert rendered.exit_code == checked.exit_code == 1
    first = checked.stdout.splitlines()[0]
    assert first.startswith(f"{src}:2:") and " error DG1" in first
    assert rendered.stderr.splitlines()[:3] == checked.stdout.splitlines()[:3]  # message, excerpt, caret
    assert rendered.stdout == ""


def test_check_text_output_is_verbatim_and_same_as_the_coloured_one(tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from dygraph.cli import report
    from dygraph.cli.check import _check_file

    src = tmp_path / "emoji.dygram"
    src.write_text('init start;\nTask t { prompt: "Done :white_check_mark: [bold]x[/]"; }\nstart -> t;\nt -> done;\n'
                   "start -when: 'a >';-> t;\n")
    result = run_cli("check", src)
    assert ":white_check_mark: [bold]x[/]" in result.stdout and "✅" not in result.stdout
    _, diagnostics = _check_file(str(src))
    assert diagnostics
    for d in diagnostics:
        coloured = io.StringIO()
        report._print_rich(Console(file=coloured, highlight=False, soft_wrap=True, emoji=False, color_system=None), d)
        assert coloured.getvalue() == "".join(line + "\n" for line in report._plain_lines(d))


def test_check_reads_standard_input_like_fmt_does():
    broken = run_cli("check", "-", input="init start;\nstart -when: x > 1-> done;\n")
    assert broken.exit_code == 1 and broken.stdout.startswith("<stdin>:2:") and "DG101" in broken.stdout
    clean = run_cli("check", "-", "--format", "json", input=PROGRAM)
    assert clean.exit_code == 0 and clean.stdout.strip() == "[]"
    latin1 = run_cli("check", "-", input=b"init start;\n\xe9\n")
    assert latin1.exit_code == 1 and "<stdin>:2:1: error DG110" in latin1.stdout


def test_fmt_and_check_agree_on_a_directory_without_dygram_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not a machine")
    for command in (["check"], ["fmt"], ["fmt", "--check"]):
        result = run_cli(*command, tmp_path)
        assert result.exit_code == 2 and "no DyGram files found" in result.stderr, command


@pytest.mark.parametrize("command", [["compile"], ["render", "-f", "svg"], ["render", "-f", "dot"]])
def test_output_over_a_source_file_is_refused_and_the_source_kept(tmp_path, command):
    (tmp_path / "lib.dygram").write_text("state review;\n")
    main = tmp_path / "main.dygram"
    main.write_text('import { review } from "./lib.dygram";\ninit start;\nstart -> review;\n')
    for target in (main, tmp_path / "lib.dygram"):
        before = target.read_bytes()
        result = run_cli(*command, main, "-o", target)
        assert result.exit_code == 2 and "refusing to overwrite" in result.stderr
        assert target.read_bytes() == before


@pytest.mark.parametrize("column_of_error", ["end", "start", "middle"])
def test_excerpt_of_a_very_long_line_is_a_window_with_the_caret_on_the_error(tmp_path, column_of_error):
    states = " ".join(f"state n{i};" for i in range(3000))
    text = {"end": f"init s; {states} s -> ;", "start": f"s -> ; {states}",
            "middle": f"{states[:20000]} s -> ; {states[20000:]}"}[column_of_error]
    src = tmp_path / "long.dygram"
    src.write_text(text + "\n")
    result = run_cli("check", src)
    message, excerpt, caret = result.stdout.splitlines()[:3]
    column = int(message.split(":")[2])
    assert text[column - 1] == ";" and len(excerpt) < 140
    assert excerpt[caret.index("^")] == ";"


@pytest.mark.parametrize("text, line, cells_before", [
    ('init s "日本"; s -when: x > 1-> done;\n', 1, 8 + 4 + 14),  # CJK: two cells each
    ("init s;\n\ts -when: x > 1-> done;\n", 2, 4 + 11),             # a tab: four columns
])
def test_caret_lines_up_under_wide_characters_and_tabs(tmp_path, text, line, cells_before):
    src = tmp_path / "wide.dygram"
    src.write_text(text)
    message, excerpt, caret = run_cli("check", src).stdout.splitlines()[:3]
    assert message.startswith(f"{src}:{line}:") and "DG101" in message
    assert "\t" not in excerpt and caret.index("^") == len("    1 | ") + cells_before


def test_a_path_that_is_not_a_regular_file_is_named_as_such(tmp_path):
    import os

    fifo = tmp_path / "pipe.dygram"
    os.mkfifo(fifo)
    for command in (["check"], ["compile"], ["fmt", "--check"]):
        result = run_cli(*command, fifo)
        assert result.exit_code == 2 and f"{fifo}: not a regular file" in result.stderr, command
    assert "missing.dygram: no such file" in run_cli("check", tmp_path / "missing.dygram").stderr
