"""`dygraph fmt`: canonical layout, comments kept, meaning unchanged, idempotent."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dygraph.cli.fmt import fmt
from dygraph.fmt import format_source, format_text, ir_fingerprint, FormatError
from dygraph.fmt.printer import cst_parser
from dygraph.syntax import compile_source
from lark import Token

from editor_corpus import corpus_programs


def ir_of(text: str, file: str) -> dict:
    machine, diagnostics = compile_source(text, file)
    assert machine is not None, diagnostics
    return ir_fingerprint(machine)


@pytest.mark.parametrize("path", corpus_programs("ok"), ids=lambda p: p.stem)
def test_corpus_program_formats_idempotently_to_the_same_ir(path):
    source = path.read_text()
    formatted, diagnostics = format_source(source, str(path), verify=False)
    assert diagnostics == []
    assert format_text(formatted, str(path)) == formatted
    assert ir_of(formatted, str(path)) == ir_of(source, str(path))


def _with_comments(source: str, rng: random.Random, count: int) -> tuple[str, list[str]]:
    """Insert distinct block and line comments at random token boundaries."""
    tokens = list(cst_parser().parse(source).scan_values(lambda v: isinstance(v, Token)))
    spots = sorted({rng.choice(tokens).end_pos for _ in range(count)}, reverse=True)
    texts = []
    for i, pos in enumerate(spots):
        text = f"/* c{i} */" if i % 2 else f"// c{i}"
        source = source[:pos] + (f" {text} " if i % 2 else f" {text}\n") + source[pos:]
        texts.append(text)
    return source, texts


@pytest.mark.parametrize("seed", range(40))
def test_comments_anywhere_are_kept_and_change_nothing(seed):
    rng = random.Random(seed)
    programs = [p for p in corpus_programs("ok") if p.stat().st_size > 200]
    if not programs:
        pytest.skip("conformance corpus not found")
    path = rng.choice(programs)
    source, comments = _with_comments(path.read_text(), rng, 8)
    formatted = format_text(source, str(path))
    for comment in comments:
        assert formatted.count(comment) == 1, comment
    assert format_text(formatted, str(path)) == formatted
    assert ir_of(formatted, str(path)) == ir_of(source, str(path))


@pytest.mark.parametrize("seed", range(40))
def test_extra_whitespace_and_newlines_anywhere_change_nothing(seed):
    rng = random.Random(seed)
    programs = corpus_programs("ok")
    if not programs:
        pytest.skip("conformance corpus not found")
    path = rng.choice(programs)
    source = path.read_text()
    tokens = list(cst_parser().parse(source).scan_values(lambda v: isinstance(v, Token)))
    for pos in sorted({rng.choice(tokens).end_pos for _ in range(15)}, reverse=True):
        source = source[:pos] + rng.choice(["\n", "  ", "\n\n\n", " \t "]) + source[pos:]
    formatted = format_text(source, str(path))
    assert format_text(formatted, str(path)) == formatted
    assert ir_of(formatted, str(path)) == ir_of(source, str(path))


def test_empty_values_written_over_lines_still_align():
    source = "Task t {\n  a: [\n  ]\n  longer: {\n  }\n}\n"
    assert format_text(source) == "Task t {\n    a:      [];\n    longer: {};\n}\n"


def test_canonical_layout():
    source = (
        'machine "Demo"   @Version("1")   { version:"1.0" ; owner : "me" }\n'
        'Task  review @Critical "Review" { prompt:"Check it"\n timeout<number>:30 model: gpt }\n'
        'review-when:\'ok\';->done,failed;review  -->  audit\n\n\n\n'
        'Context data { items<Array<string>>: ["a","b",] ; limits: {min:0;max:10} }\n'
        'a "1"-->"*" b { weight: 2 }\n'
        '@style_like_nothing_here;\n'.replace("@style_like_nothing_here;\n", "")
    )
    assert format_text(source) == (
        'machine "Demo" @Version("1") {\n'
        '    version: "1.0";\n'
        '    owner:   "me";\n'
        '}\n'
        'Task review "Review" @Critical {\n'
        '    prompt:          "Check it";\n'
        '    timeout<number>: 30;\n'
        '    model:           gpt;\n'
        '}\n'
        "review -when: 'ok';-> done, failed;\n"
        'review --> audit;\n'
        '\n'
        'Context data {\n'
        '    items<Array<string>>: ["a", "b"];\n'
        '    limits:               { min: 0; max: 10; };\n'
        '}\n'
        'a "1" --> "*" b { weight: 2; }\n'
    )


def test_multiline_values_keep_their_shape_and_break_alignment():
    source = 'Task t {\n  a: 1\n  items: [\n {x: 1},\n {x: 2}\n ]\n  longer_name: 2\n  b: 3\n}\n'
    assert format_text(source) == (
        'Task t {\n'
        '    a: 1;\n'
        '    items: [\n'
        '        { x: 1; },\n'
        '        { x: 2; }\n'
        '    ];\n'
        '    longer_name: 2;\n'
        '    b:           3;\n'
        '}\n'
    )


def test_statements_split_one_per_line_and_blank_lines_collapse():
    assert format_text("a; b;;c;\n\n\n\nd -> e") == "a;\nb;\nc;\n\nd -> e;\n"


def test_annotation_parameters_and_flags_keep_their_meaning():
    source = "a -@barrier(id: x; merge: true;)-> b\nn @x(flag;) @y(flag) @z(k:v;f;)\n"
    formatted = format_text(source)
    assert formatted == "a -@barrier(id: x; merge: true)-> b;\nn @x(flag;) @y(flag) @z(k: v; f);\n"
    assert ir_of(formatted, "f") == ir_of(source, "f")


def test_label_spacing_never_fuses_tokens():
    source = "a - -1 -> b\nc -30s-> d\ne =x=> f\ng -- @auto , w: 1 --> h\n"
    formatted = format_text(source)
    assert formatted == "a - -1-> b;\nc -30s-> d;\ne =x=> f;\ng --@auto, w: 1--> h;\n"
    assert ir_of(formatted, "f") == ir_of(source, "f")


def test_comments_stay_beside_their_code():
    source = (
        "// header comment\n"
        "Task a { // opens\n"
        "  x: 1 // about x\n"
        "  /* block */ y: 2\n"
        "  // closing remark\n"
        "}\n"
        "a -> b /* edge */ // trailing\n"
    )
    assert format_text(source) == (
        "// header comment\n"
        "Task a { // opens\n"
        "    x: 1; // about x\n"
        "    /* block */\n"
        "    y: 2;\n"
        "    // closing remark\n"
        "}\n"
        "a -> b; /* edge */ // trailing\n"
    )


def test_syntax_errors_are_reported_not_formatted():
    formatted, diagnostics = format_source("a -> ;\nb -when: x > 1-> c\n", "bad.dygram")
    assert formatted is None
    assert diagnostics and all(d.code.startswith("DG1") for d in diagnostics)
    with pytest.raises(FormatError):
        format_text("Task {")


def test_a_printer_defect_is_refused_rather_than_written(monkeypatch):
    from dygraph.fmt import printer

    monkeypatch.setattr(printer.Printer, "print", lambda self: "something -> else;\n")
    formatted, diagnostics = format_source("a -> b;\n", "x.dygram")
    assert formatted is None and [d.code for d in diagnostics] == ["DG190"]


# ---------------------------------------------------------------- command line

def test_cli_check_diff_and_rewrite(tmp_path):
    clean = tmp_path / "clean.dygram"
    clean.write_text("a -> b;\n")
    messy = tmp_path / "messy.dy"
    messy.write_text("a->b   c")
    runner = CliRunner()

    result = runner.invoke(fmt, ["--check", str(clean), str(messy)])
    assert result.exit_code == 1 and f"would reformat {messy}" in result.stderr
    assert messy.read_text() == "a->b   c"

    result = runner.invoke(fmt, ["--check", str(clean)])
    assert result.exit_code == 0

    result = runner.invoke(fmt, ["--diff", str(messy)])
    assert result.exit_code == 0 and "-a->b   c" in result.stdout and "+a -> b;\n+c;\n" in result.stdout
    assert messy.read_text() == "a->b   c"

    result = runner.invoke(fmt, [str(clean), str(messy)])
    assert result.exit_code == 0 and messy.read_text() == "a -> b;\nc;\n" and clean.read_text() == "a -> b;\n"


def test_cli_syntax_error_exits_1_and_leaves_the_file(tmp_path):
    bad = tmp_path / "bad.dygram"
    bad.write_text("a -> ;\n")
    result = CliRunner().invoke(fmt, [str(bad)])
    assert result.exit_code == 1 and "DG101" in result.stderr and f"{bad}:1:6" in result.stderr
    assert bad.read_text() == "a -> ;\n"


def test_cli_formats_the_dygram_files_of_a_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.dygram").write_text("a->b")
    (tmp_path / "sub" / "b.dy").write_text("c->d")
    (tmp_path / "sub" / "notes.txt").write_text("x->y")
    result = CliRunner().invoke(fmt, ["--check", str(tmp_path)])
    assert result.exit_code == 1 and "2 files would be reformatted" in result.stderr
    assert CliRunner().invoke(fmt, [str(tmp_path)]).exit_code == 0
    assert (tmp_path / "sub" / "b.dy").read_text() == "c -> d;\n"
    assert (tmp_path / "sub" / "notes.txt").read_text() == "x->y"


def test_cli_missing_file_is_a_usage_error(tmp_path):
    assert CliRunner().invoke(fmt, [str(tmp_path / "nope.dygram")]).exit_code == 2


def test_cli_stdin_to_stdout():
    proc = subprocess.run([sys.executable, "-m", "dygraph", "fmt", "-"], input="x;y", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "x;\ny;\n"


def test_a_long_union_type_does_not_push_the_other_values_right():
    src = "context Order {\n    status<'new' | 'approved' | 'rejected'>: \"new\";\n    qty: 2;\n    item: \"lamp\";\n}\n"
    out = format_text(src)
    assert "    status<'new' | 'approved' | 'rejected'>: \"new\";\n    qty:  2;\n    item: \"lamp\";\n" in out
    assert format_text(out) == out
