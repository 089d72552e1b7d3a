"""Every syntax (DG1xx) and linking (DG2xx) diagnostic, triggered by a small program, with its location."""

from __future__ import annotations

import textwrap

import pytest

from dygraph.diagnostics import Diagnostic
from dygraph.syntax import compile_file, compile_source


def diags(src: str) -> list[Diagnostic]:
    machine, diagnostics = compile_source(textwrap.dedent(src).lstrip("\n"), "t.dygram")
    return diagnostics


def only(src: str, code: str) -> Diagnostic:
    found = [d for d in diags(src) if d.code == code]
    assert len(found) == 1, diags(src)
    return found[0]


def at(d: Diagnostic) -> tuple[int, int]:
    return d.line, d.column


# ---------------------------------------------------------------- DG1xx: syntax

def test_dg101_unexpected_token_says_found_and_expected():
    d = only("a -> b;\nTask t { x: 1 } }\n", "DG101")
    assert at(d) == (2, 17) and "unexpected '}'" in d.message and "expected" in d.message


def test_dg101_unquoted_condition_has_a_hint():
    d = only("a -when: count > 3-> b;", "DG101")
    assert at(d) == (1, 16) and "quote the condition" in d.hint


def test_dg101_second_machine_header():
    d = only('machine "A"\nmachine "B"\n', "DG101")
    assert at(d) == (2, 1) and "machine" in d.message and "one 'machine" in d.hint


def test_dg101_reserved_word_as_name():
    d = only("from -> b;", "DG101")
    assert at(d) == (1, 1)


def test_dg101_annotation_inside_a_body_has_a_hint():
    d = only("Task a {\n  prompt: \"x\"\n  @meta\n}\n", "DG101")
    assert at(d) == (3, 3) and "annotations follow" in d.hint


def test_dg101_commas_in_objects_have_a_hint():
    d = only("n { o: { a: 1, b: 2 }; }", "DG101")
    assert "separated by ';'" in d.hint


def test_dg101_edge_from_a_typed_declaration():
    d = only("Task a -> b;", "DG101")
    assert "typed declaration" in d.hint


def test_dg102_unexpected_character_hash_comment():
    d = only("a -> b; # a comment\n", "DG102")
    assert at(d) == (1, 9) and "'#'" in d.message and "//" in d.hint


def test_dg103_unexpected_end_of_file_points_at_the_open_brace():
    d = only("a -> b;\nc {\n  d;\n", "DG103")
    assert "end of file" in d.message and "line 2, column 3" in d.hint


def test_dg104_unterminated_string():
    d = only('a { x: "abc; }\n', "DG104")
    assert at(d) == (1, 8)


def test_dg104_unterminated_comment():
    d = only("a -> b; /* never closed\n", "DG104")
    assert at(d) == (1, 9)


def test_several_independent_syntax_errors_are_all_reported():
    found = diags("""
        a -> b;
        c -when: x > 1-> d;
        e;
        f { g: 1, h: 2; }
        i # j
    """)
    assert [d.line for d in found] == [2, 4, 5]
    assert all(d.code.startswith("DG1") for d in found)


def test_a_broken_parse_never_yields_an_ir():
    machine, diagnostics = compile_source("a -> b; c {", "t")
    assert machine is None and diagnostics


def test_dg110_unreadable_file(tmp_path):
    machine, (d,) = compile_file(str(tmp_path / "missing.dygram"))
    assert machine is None and d.code == "DG110" and "missing.dygram" in d.file


# ---------------------------------------------------------------- DG2xx: names and references

def test_dg201_duplicate_in_the_same_scope():
    d = only("Task a;\nState a;\n", "DG201")
    assert at(d) == (2, 1) and "first declared at line 1" in d.message


def test_dg201_not_raised_for_same_name_under_different_parents():
    assert not diags("G1 { Step; } G2 { Step; }")


def test_dg202_ambiguous_reference_lists_candidates():
    d = only("G1 { Step; } G2 { Step; }\nstart -> Step;\n", "DG202")
    assert at(d) == (2, 10) and "G1.Step" in d.message and "G2.Step" in d.message


def test_dg203_undefined_in_strict_mode_with_did_you_mean():
    d = only('machine "M" @strict\nTask login;\nTask logout;\nlogin -> logot;\n', "DG203")
    assert at(d) == (4, 10) and "did you mean 'logout'" in d.hint


def test_dg203_applies_to_nested_edges_too():
    d = only('machine "M" @StrictMode\nG { a; a -> missing; }\n', "DG203")
    assert d.line == 2


def test_dg204_note_target_undefined_in_strict_mode():
    d = only('machine "M" @StrictMode\nTask a;\nnote b "doc";\n', "DG204")
    assert d.is_error and at(d) == (3, 1)


def test_dg213_note_target_undefined_warns_otherwise():
    d = only('Task a;\nnote b "doc";\n', "DG213")
    assert not d.is_error


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_imports_copy_symbols_with_aliases_and_qualified_names(tmp_path):
    _write(tmp_path, "lib.dy", """
        Task Login "Log in" { prompt: "ask"; }
        Workflow { Task Validate; }
        Login --> Other;
    """)
    main = _write(tmp_path, "main.dygram", """
        import { Login as SignIn, Workflow.Validate } from "./lib"
        machine "App"
        start -> SignIn -> Validate;
    """)
    machine, diagnostics = compile_file(str(main))
    assert not diagnostics
    assert machine.node("SignIn").title == "Log in"
    assert [(e.source, e.target) for e in machine.edges] == [("start", "SignIn"), ("SignIn", "Validate")]
    assert "Other" not in {n.path for n in machine.nodes}  # library edges are not imported
    assert machine.imports[0].resolved_path.endswith("lib.dy") and len(machine.source_files) == 2


def test_imports_are_transitive(tmp_path):
    _write(tmp_path, "c.dy", "Task Deep;")
    _write(tmp_path, "b.dy", 'import { Deep } from "./c.dy"\nTask Mid;')
    main = _write(tmp_path, "a.dy", 'import { Deep, Mid } from "./b.dy"\nDeep -> Mid;')
    machine, diagnostics = compile_file(str(main))
    assert not diagnostics and machine.node("Deep").type == "Task"


def test_dg206_missing_import_file(tmp_path):
    main = _write(tmp_path, "a.dy", 'import { X } from "./nope"\nX -> y;')
    _, diagnostics = compile_file(str(main))
    (d,) = [d for d in diagnostics if d.code == "DG206"]
    assert at(d) == (1, 19) and "nope" in d.message


def test_dg207_circular_import(tmp_path):
    _write(tmp_path, "b.dy", 'import { A } from "./a.dy"\nTask B;')
    main = _write(tmp_path, "a.dy", 'import { B } from "./b.dy"\nTask A;')
    _, diagnostics = compile_file(str(main))
    (d,) = [d for d in diagnostics if d.code == "DG207"]
    assert "a.dy -> b.dy -> a.dy" in d.message and d.file.endswith("b.dy")


def test_dg208_symbol_not_found_with_did_you_mean(tmp_path):
    _write(tmp_path, "lib.dy", "Task Validate;")
    main = _write(tmp_path, "a.dy", 'import { Validat } from "./lib.dy"\n')
    _, diagnostics = compile_file(str(main))
    (d,) = [d for d in diagnostics if d.code == "DG208"]
    assert at(d) == (1, 10) and "did you mean 'Validate'" in d.hint


def test_dg209_imported_symbol_collides_with_local_node(tmp_path):
    _write(tmp_path, "lib.dy", "Task Validate;")
    main = _write(tmp_path, "a.dy", 'import { Validate } from "./lib.dy"\nTask Validate;')
    _, diagnostics = compile_file(str(main))
    assert [d.code for d in diagnostics] == ["DG209"]


def test_dg210_same_symbol_from_two_files(tmp_path):
    _write(tmp_path, "x.dy", "Task Job;")
    _write(tmp_path, "y.dy", "Task Job;")
    main = _write(tmp_path, "a.dy", 'import { Job } from "./x.dy"\nimport { Job } from "./y.dy"\n')
    _, diagnostics = compile_file(str(main))
    (d,) = [d for d in diagnostics if d.code == "DG210"]
    assert d.line == 2


def test_dg211_empty_import_path(tmp_path):
    main = _write(tmp_path, "a.dy", 'import { X } from ""\n')
    _, diagnostics = compile_file(str(main))
    assert [d.code for d in diagnostics] == ["DG211"]


@pytest.mark.parametrize("ext", [".dy", ".dygram", ".mach"])
def test_import_extension_lookup(tmp_path, ext):
    _write(tmp_path, "lib" + ext, "Task T;")
    main = _write(tmp_path, "a.dy", 'import { T } from "./lib"\n')
    machine, diagnostics = compile_file(str(main))
    assert not diagnostics and machine.imports[0].resolved_path.endswith("lib" + ext)
