"""`dygraph check` / `compile` / `schema` as a user runs them: exit codes, formats, output."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
import sys

import pytest
from click.testing import CliRunner

from dygraph.cli import main

CLEAN = 'machine "M"\ninit start;\nstart -> work;\nTask work { prompt: "do it"; }\nwork -writes-> store;\ncontext store { v: 1; }\n'
BROKEN = "a -> b;\nc -when: x > 1-> d;\n"


@pytest.fixture()
def files(tmp_path):
    clean = tmp_path / "clean.dygram"
    clean.write_text(CLEAN)
    broken = tmp_path / "broken.dygram"
    broken.write_text(BROKEN)
    warn = tmp_path / "warn.dygram"
    warn.write_text("Task a @Singleton;\nState s @Singleton;\na -> s;\n")
    return clean, broken, warn


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def test_clean_file_exits_zero(files):
    r = run("check", files[0])
    assert r.exit_code == 0, r.output
    assert "1 file checked: 0 errors" in r.output


def test_errors_exit_one_with_excerpt_and_caret(files):
    r = run("check", files[1])
    assert r.exit_code == 1
    assert "broken.dygram:2:12: error DG101" in r.output
    assert "c -when: x > 1-> d;" in r.output and "^" in r.output and "hint:" in r.output


def test_many_files_in_one_process(files):
    r = run("check", *files)
    assert r.exit_code == 1 and "3 files checked" in r.output


def test_missing_file_exits_two(tmp_path):
    r = run("check", tmp_path / "nope.dygram")
    assert r.exit_code == 2 and "no such file" in r.output


def test_warnings_pass_unless_warnings_as_errors(files):
    assert run("check", files[2]).exit_code == 0
    assert run("check", "--warnings-as-errors", files[2]).exit_code == 1


def test_quiet_prints_errors_only(files):
    r = run("check", "-q", files[0], files[2])
    assert r.exit_code == 0 and r.output == ""


def test_json_format(files):
    r = run("check", "--format", "json", files[1])
    (d,) = json.loads(r.output)
    assert set(d) >= {"file", "line", "column", "end_line", "end_column", "code", "severity", "message"}
    assert (d["line"], d["column"], d["code"], d["severity"]) == (2, 12, "DG101", "error")


def test_github_format(files):
    r = run("check", "--format", "github", files[1])
    assert r.output.startswith("::error file=") and ",line=2,col=12," in r.output and "DG101" in r.output


def test_sarif_format(files):
    r = run("check", "--format", "sarif", files[1])
    sarif = json.loads(r.output)
    assert sarif["version"] == "2.1.0"
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "DG101"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_compile_json_to_stdout_and_file(files, tmp_path):
    r = run("compile", files[0])
    ir = json.loads(r.output)
    assert ir["format_version"] and [n["path"] for n in ir["nodes"]] == ["start", "work", "store"]
    out = tmp_path / "out.json"
    assert run("compile", files[0], "-o", out).exit_code == 0
    assert json.loads(out.read_text()) == ir


def test_compile_reference_json(files):
    r = run("compile", "--format", "reference-json", files[0])
    ref = json.loads(r.output)
    assert ref["title"] == "M" and ref["edges"][0]["arrowType"] == "->"


def test_compile_refuses_broken_input_without_output(files):
    r = CliRunner().invoke(main, ["compile", str(files[1])])
    assert r.exit_code == 1 and "DG101" in r.output and "{" not in r.output.split("DG101")[0]


def test_schema_is_json_schema():
    r = run("schema")
    schema = json.loads(r.output)
    assert schema["type"] == "object" and "nodes" in schema["properties"]


def test_console_script_has_no_traceback_for_user_errors(files):
    p = subprocess.run([sys.executable, "-m", "dygraph", "check", str(files[1])], capture_output=True, text=True)
    assert p.returncode == 1 and "Traceback" not in p.stdout + p.stderr


def test_directories_are_expanded(files):
    r = run("check", files[0].parent)
    assert r.exit_code == 1 and "3 files checked" in r.output


def test_empty_directory_is_a_usage_error(tmp_path):
    assert run("check", tmp_path).exit_code == 2


def test_installed_script_flushes_everything_before_its_fast_exit(files):
    script = Path(sys.executable).with_name("dygraph")
    if not script.exists():
        pytest.skip("the dygraph script is not installed next to this interpreter")
    broken = subprocess.run([str(script), "check", str(files[1])], capture_output=True, text=True)
    assert broken.returncode == 1 and "DG101" in broken.stdout and broken.stdout.endswith("0 warnings\n")
    ir = subprocess.run([str(script), "compile", str(files[0])], capture_output=True, text=True)
    assert ir.returncode == 0 and json.loads(ir.stdout)["nodes"]
    missing = subprocess.run([str(script), "check", str(files[0]) + ".nope"], capture_output=True, text=True)
    assert missing.returncode == 2 and "no such file" in missing.stderr
