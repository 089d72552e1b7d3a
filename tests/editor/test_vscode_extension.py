"""The VS Code extension: manifest validity, generated TextMate grammar, tokenization of the corpus."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from dygraph.lsp import textmate

from editor_corpus import EXTENSION_DIR, corpus_programs
from textmate_engine import Grammar, unscoped

MANIFEST = json.loads((EXTENSION_DIR / "package.json").read_text())


def test_manifest_declares_language_grammar_snippets_and_entry_point():
    contributes = MANIFEST["contributes"]
    (language,) = contributes["languages"]
    assert language["id"] == "dygram"
    assert set(language["extensions"]) == {".dygram", ".dy", ".mach"}
    assert (EXTENSION_DIR / language["configuration"]).is_file()
    (grammar,) = contributes["grammars"]
    assert grammar["language"] == "dygram" and grammar["scopeName"] == textmate.SCOPE
    assert (EXTENSION_DIR / grammar["path"]).is_file()
    for snippet in contributes["snippets"]:
        assert snippet["language"] == "dygram"
        assert (EXTENSION_DIR / snippet["path"]).is_file()
    assert (EXTENSION_DIR / MANIFEST["main"]).is_file()
    assert "onLanguage:dygram" in MANIFEST["activationEvents"]
    assert MANIFEST["engines"]["vscode"].startswith("^")
    assert "vscode-languageclient" in MANIFEST["dependencies"]


def test_every_contributed_command_is_registered_by_the_client():
    client = (EXTENSION_DIR / MANIFEST["main"]).read_text()
    commands = [c["command"] for c in MANIFEST["contributes"]["commands"]]
    assert "dygram.renderPreview" in commands
    for command in commands:
        assert f'registerCommand("{command}"' in client
    for menu in MANIFEST["contributes"]["menus"].values():
        for item in menu:
            assert item["command"] in commands


def test_configuration_settings_are_read_by_the_client():
    client = (EXTENSION_DIR / MANIFEST["main"]).read_text()
    for key in MANIFEST["contributes"]["configuration"]["properties"]:
        section, _, name = key.partition(".")
        assert section == "dygram"
        if not name.startswith("trace."):  # read by vscode-languageclient itself
            assert f'"{name}"' in client, key


def test_language_configuration_comments_and_brackets():
    config = json.loads((EXTENSION_DIR / "language-configuration.json").read_text())
    assert config["comments"] == {"lineComment": "//", "blockComment": ["/*", "*/"]}
    assert ["{", "}"] in config["brackets"] and ["<", ">"] in config["brackets"]
    closing = {pair["open"]: pair["close"] for pair in config["autoClosingPairs"]}
    assert closing['"'] == '"' and closing["'"] == "'"


def test_snippets_cover_the_common_forms():
    snippets = json.loads((EXTENSION_DIR / "snippets" / "dygram.json").read_text())
    bodies = {s["prefix"]: "\n".join(s["body"]) for s in snippets.values()}
    for prefix in ("machine", "task", "state", "context", "when", "async", "barrier", "note"):
        assert prefix in bodies, prefix
    assert "prompt:" in bodies["task"]
    assert "@async" in bodies["async"] and "@barrier" in bodies["barrier"]


def test_committed_textmate_grammar_is_generated_from_the_lark_grammar():
    generated = textmate.render(textmate.grammar_text())
    committed = (EXTENSION_DIR / "syntaxes" / "dygram.tmLanguage.json").read_text()
    assert committed == generated, "run: python -m dygraph.lsp.textmate"


def test_generator_rejects_a_terminal_it_cannot_scope():
    grammar = textmate.grammar_text().replace("start:", "start: TILDE_THING |", 1)
    grammar += '\nTILDE_THING: "~~"\n'
    with pytest.raises(ValueError, match="TILDE_THING"):
        textmate.build(grammar)


GRAMMAR_FILE = EXTENSION_DIR / "syntaxes" / "dygram.tmLanguage.json"


def test_textmate_grammar_scopes_every_corpus_program_python_engine(ok_programs):
    grammar = Grammar(json.loads(GRAMMAR_FILE.read_text()))
    problems = {p.name: unscoped(grammar, p.read_text()) for p in corpus_programs()}
    assert {name: found for name, found in problems.items() if found} == {}


def test_python_engine_reports_an_unscoped_character():
    grammar = Grammar(json.loads(GRAMMAR_FILE.read_text()))
    assert unscoped(grammar, "a -> b;\n$ ~\n") == [(2, 1, "$ ~")]


def _innermost_scopes(tokens) -> dict:
    """(line, column) of every non-blank character -> its innermost scope."""
    return {(line, col): scopes[-1] for line, col, text, scopes in tokens
            for col, ch in enumerate(text, start=col) if not ch.isspace()}


def _tokenizer_ready() -> bool:
    return shutil.which("node") is not None and (EXTENSION_DIR / "node_modules" / "vscode-textmate").is_dir()


needs_textmate = pytest.mark.skipif(
    not _tokenizer_ready(), reason="needs node and `npm install` in vscode-extension/ (vscode-textmate)")


def _tokenize(paths) -> tuple[int, dict]:
    proc = subprocess.run(["node", str(EXTENSION_DIR / "scripts" / "tokenize.js"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@needs_textmate
def test_textmate_grammar_tokenizes_every_corpus_program(ok_programs):
    programs = corpus_programs()  # every program, not only the accepted ones
    code, report = _tokenize(programs)
    assert report["files"] == len(programs) and report["tokens"] > 10 * len(programs)
    assert report["untokenized"] == [] and code == 0


@needs_textmate
def test_tokenizer_check_reports_an_unscoped_character(tmp_path):
    stray = tmp_path / "stray.dygram"
    stray.write_text("a -> b;\n$ ~\n")  # `$` and `~` are no DyGram token
    code, report = _tokenize([stray])
    assert code == 1
    assert {p["line"] for p in report["untokenized"]} == {2}
    assert " ".join(p["text"] for p in report["untokenized"]).split() == ["$", "~"]


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


def _run_client(dygram_file, server_path) -> dict:
    harness = EXTENSION_DIR.parent / "tests" / "editor" / "extension_harness.js"
    proc = subprocess.run(["node", str(harness), str(dygram_file), str(server_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _dygraph_executable() -> str:
    import sys
    from pathlib import Path

    candidate = Path(sys.executable).with_name("dygraph")
    return str(candidate) if candidate.exists() else "dygraph"


@needs_node
def test_client_starts_the_server_and_previews_the_rendered_svg(tmp_path):
    source = tmp_path / "flow.dygram"
    source.write_text('machine "Flow"\nstart -> work -> done;\n')
    report = _run_client(source, _dygraph_executable())
    assert report["commands"] == sorted(c["command"] for c in MANIFEST["contributes"]["commands"])
    assert report["started"] == [{"id": "dygram", "command": _dygraph_executable(), "args": ["lsp"],
                                  "selector": ["dygram", "dygram"]}]
    assert report["panels"] == ["Preview flow.dygram"]
    assert report["previewHasSvg"] and "work" in report["previewText"]


@needs_node
def test_preview_shows_the_compiler_error_for_a_broken_file(tmp_path):
    source = tmp_path / "broken.dygram"
    source.write_text("a -> ;\n")
    report = _run_client(source, _dygraph_executable())
    assert not report["previewHasSvg"]
    assert "DG101" in report["previewText"]


@needs_textmate
def test_python_engine_agrees_with_vscode_textmate():
    programs = [p for p in corpus_programs("ok") if p.stat().st_size > 400][::12]
    assert len(programs) >= 5
    proc = subprocess.run(["node", str(EXTENSION_DIR / "scripts" / "tokenize.js"), "--dump", *map(str, programs)],
                          capture_output=True, text=True, timeout=120)
    dump = json.loads(proc.stdout)["dump"]
    grammar = Grammar(json.loads(GRAMMAR_FILE.read_text()))
    for program in programs:
        lines = program.read_text().split("\n")
        node_tokens = [(line, start, lines[line - 1][start:end], scopes)
                       for file, line, start, end, scopes in dump if file == str(program)]
        python_tokens = [(t.line + 1, t.start, lines[t.line][t.start:t.end], t.scopes)
                         for t in grammar.tokenize(program.read_text())]
        assert _innermost_scopes(python_tokens) == _innermost_scopes(node_tokens), program.name
