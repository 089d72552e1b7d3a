"""Source text → Lark parse tree, or syntax diagnostics (never both, never a partial tree).

The LALR table is built once per grammar version and cached on disk by Lark, so a cold
`dygraph check` does not pay for table construction.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from dygraph.diagnostics import Diagnostic

RESERVED = frozenset({"machine", "import", "from", "as"})
MAX_SYNTAX_ERRORS = 20
BOM = "\ufeff"
# Blocks, arrays, objects and generic types nest at most this deep. Every later stage (linking,
# analysis, formatting, rendering, the runtime) walks the tree recursively; the limit keeps them
# far from Python's recursion limit while staying well beyond anything written by hand.
MAX_NESTING = 100
_NESTING_RULES = frozenset({"body", "attr_block", "array", "object", "type_ref"})


def grammar_text() -> str:
    """`grammar/dygram.lark` of a source checkout (editable installs), else the copy in the wheel."""
    checkout = Path(__file__).resolve().parents[2].parent / "grammar" / "dygram.lark"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    from importlib import resources  # installed wheel only; kept off the start-up path

    return resources.files("dygraph.syntax").joinpath("dygram.lark").read_text(encoding="utf-8")


def _cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "dygraph")
    try:
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, "lalr-")  # Lark appends a hash of grammar and options
    except OSError:
        import tempfile

        return os.path.join(tempfile.gettempdir(), "dygraph-lalr-")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    text = grammar_text()
    options = dict(parser="lalr", lexer="basic", maybe_placeholders=False)
    try:
        import hashlib

        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return Lark(text, cache=_cache_path() + digest + ".pickle", **options)
    except (OSError, EOFError, ValueError):  # unwritable or corrupt cache: build in memory
        return Lark(text, **options)


# ---------------------------------------------------------------- error messages

_TERMINAL_WORDS = {
    "ID": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "EXTID": "an #id",
    "$END": "end of file",
    "ARROW_SINGLE": "'->'",
    "ARROW_DOUBLE": "'-->'",
    "FAT_ARROW": "'=>'",
    "LABEL_SINGLE": "'-'",
    "LABEL_DOUBLE": "'--'",
    "LABEL_FAT": "'='",
    "BIDI_ARROW": "'<-->'",
    "BIDI_LABELED": "a labelled '<--x-->' arrow",
    "INHERIT_ARROW": "'<|--'",
    "COMPOSE_ARROW": "'*-->'",
    "AGGREGATE_ARROW": "'o-->'",
}
_ARROWS = {"ARROW_SINGLE", "ARROW_DOUBLE", "FAT_ARROW", "LABEL_SINGLE", "LABEL_DOUBLE", "LABEL_FAT",
           "BIDI_ARROW", "BIDI_LABELED", "INHERIT_ARROW", "COMPOSE_ARROW", "AGGREGATE_ARROW"}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    try:
        pattern = lark_parser().get_terminal(name).pattern
        if pattern.type == "str":
            return repr(pattern.value)
    except KeyError:
        pass
    return name.lower()


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    words: list[str] = []
    if names & _ARROWS:
        words.append("an arrow")
        names -= _ARROWS
    words.extend(sorted({_describe_terminal(n) for n in names}))
    if len(words) > 6:
        words = words[:6] + ["…"]
    if not words:
        return "nothing"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok)
    if len(text) > 30:
        text = text[:27] + "…"
    kind = {"ID": "name", "STRING": "string", "NUMBER": "number", "EXTID": "#id"}.get(tok.type)
    if tok.type == "STRING":
        return f"string {text}"
    if kind:
        return f"{kind} {text!r}"
    return repr(text)


def _line_text(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _hint_for(text: str, tok: Token | None, line: int, column: int, expected: set[str]) -> str | None:
    before = _line_text(text, line)[: max(column - 1, 0)]
    current = _line_text(text, line)
    value = str(tok) if tok is not None else ""
    if re.search(r"\b(when|unless|if)\s*:\s*[^'\"]*$", before) and not value.startswith(("'", '"')):
        return "quote the condition: -when: 'count > 3';-> (CEL expressions with spaces or operators need quotes)"
    if value.startswith("#") or (tok is None and current[column - 1:column] == "#"):
        return "comments are written // … or /* … */; '#' starts an external id like #envKey"
    if value == "@":
        return ("annotations follow a node's name and title, before '{' (Task a \"Title\" @Critical { … }), "
                "or go inside an arrow (a -@auto-> b)")
    if value == "," and re.search(r":\s*\S+\s*$", before) and "{" in before:
        return "object members are separated by ';', not ',': { min: 0; max: 10 }"
    if value == "-" or (tok is None and current[column - 1:column] == "-"):
        if re.search(r"@\w+\([^)]*$", before):
            return "hyphenated keys are not names; use an alias (col, penwidth) or a quoted string"
    if value == "machine":
        return "a file has one 'machine \"Title\"' header, before any node or edge"
    if value in RESERVED:
        return f"'{value}' is a reserved word; choose another name"
    if value == "[" and before.rstrip().endswith("-"):
        return "edge labels take plain values: a -when: 'x > 0';-> b (no [ … ])"
    if tok is not None and tok.type in _ARROWS and re.match(r"\s*\w+\s+\w+", current):
        return "a typed declaration cannot be an edge source: declare it, then write 'name -> target'"
    if value in ("", "$END"):
        opened = _unclosed_brace(text)
        if opened is not None:
            return f"the '{{' at line {opened[0]}, column {opened[1]} is never closed"
    return None


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    stack: list[int] = []
    for m in _SCAN.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif m.group() == "}" and stack:
            stack.pop()
    if not stack:
        return None
    pos = stack[-1]
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _syntax_diagnostic(text: str, file: str, err: UnexpectedInput) -> Diagnostic:
    line, column = getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        if char in "\"'":
            return Diagnostic.make("DG104", "unterminated string: the closing quote is missing",
                                   _Span(file, line, column, line, column + 1), file=file,
                                   hint="strings may span lines, but need a closing " + char)
        if text.startswith("/*", err.pos_in_stream):
            return Diagnostic.make("DG104", "unterminated comment: '*/' is missing",
                                   _Span(file, line, column, line, column + 2), file=file)
        expected = set(err.allowed or ())
        hint = _hint_for(text, None, line, column, expected)
        if hint is None and char and not char.isascii():
            hint = ("names are ASCII letters, digits and _; other text goes in a quoted title or string: "
                    'init start "Café"' if char.isprintable() and not char.isspace() else
                    f"an invisible character (U+{ord(char):04X}) is in the source; delete it")
        message = f"unexpected character {char!r}"
        if expected:
            message += f"; expected {_describe_expected(expected)}"
        return Diagnostic.make("DG102", message, _Span(file, line, column, line, column + 1), file=file, hint=hint)
    tok: Token = err.token  # type: ignore[attr-defined]
    expected = set(getattr(err, "expected", ()) or ())
    hint = _hint_for(text, tok, line, column, expected)
    if tok.type == "$END" or isinstance(err, UnexpectedEOF):
        end_line = text.count("\n") + 1
        end_col = len(text) - (text.rfind("\n") + 1) + 1
        return Diagnostic.make("DG103", f"unexpected end of file; expected {_describe_expected(expected)}",
                               _Span(file, end_line, end_col, end_line, end_col), file=file, hint=hint)
    end_line = tok.end_line or line
    end_col = tok.end_column or column + len(str(tok))
    message = f"unexpected {_describe_token(tok)}; expected {_describe_expected(expected)}"
    return Diagnostic.make("DG101", message, _Span(file, line, column, end_line, end_col), file=file, hint=hint)


class _Span:
    __slots__ = ("file", "line", "column", "end_line", "end_column")

    def __init__(self, file, line, column, end_line, end_column):
        self.file, self.line, self.column, self.end_line, self.end_column = file, line, column, end_line, end_column


# Strings, comments and braces, to find where the next top-level statement starts after an error.
_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|//[^\n]*|/\*.*?\*/|[{}]|\n', re.S)


def _next_statement_offsets(text: str) -> list[int]:
    """Offsets of line starts at brace depth 0 (candidate resynchronisation points)."""
    out, depth = [], 0
    for m in _SCAN.finditer(text):
        tok = m.group()
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(depth - 1, 0)
        elif tok == "\n" and depth == 0:
            out.append(m.end())
    return out


def parse(text: str, file: str = "<string>") -> tuple[Tree | None, list[Diagnostic]]:
    """Parse DyGram source. On syntax errors returns (None, diagnostics) with every error found:
    after an error, parsing resumes at the next top-level line so independent mistakes are all reported."""
    parser = lark_parser()
    diagnostics: list[Diagnostic] = []
    text = text.removeprefix(BOM)  # editors on Windows save UTF-8 with a byte-order mark
    try:
        tree = parser.parse(text)
    except UnexpectedInput as err:
        diagnostics.append(_syntax_diagnostic(text, file, err))
        tree = None
        resync = _next_statement_offsets(text)
        pos = getattr(err, "pos_in_stream", None)
        if pos is None:
            tok = getattr(err, "token", None)
            pos = getattr(tok, "start_pos", None) or len(text)
        while len(diagnostics) < MAX_SYNTAX_ERRORS:
            start = next((o for o in resync if o > pos and not text[o:].lstrip().startswith("}")), None)
            if start is None:
                break
            # Keep line numbers: blank out what came before, preserving newlines.
            padded = re.sub(r"[^\n]", " ", text[:start]) + text[start:]
            try:
                parser.parse(padded)
                break
            except UnexpectedInput as more:
                d = _syntax_diagnostic(padded, file, more)
                if d.code == "DG103" and any(x.code == "DG103" for x in diagnostics):
                    break
                diagnostics.append(d)
                tok = getattr(more, "token", None)
                pos = getattr(more, "pos_in_stream", None) or getattr(tok, "start_pos", None) or len(text)
    if tree is not None:
        too_deep = _too_deep(tree, text, file)
        if too_deep is not None:
            return None, [too_deep]
        diagnostics.extend(_reserved_word_uses(tree, file))
        if diagnostics:
            return None, diagnostics
    return tree, diagnostics


def _first_token(tree: Tree) -> Token | None:
    stack: list = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, Token):
            return item
        stack.extend(reversed(item.children))
    return None


def _token_place(tok: Token | None) -> tuple[int, int, int, int]:
    return (tok.line, tok.column, tok.end_line, tok.end_column) if tok is not None else (1, 1, 1, 2)


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|//[^\n]*|/\*.*?\*/|[{}\[\]]', re.S)


def _deep_bracket(text: str) -> tuple[int, int, int, int] | None:
    """Place of the first '{' or '[' opened more than MAX_NESTING deep (generic types have none)."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        tok = m.group()
        if tok in "{[":
            depth += 1
            if depth > MAX_NESTING:
                pos = m.start()
                line, column = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
                return line, column, line, column + 1
        elif tok in "}]":
            depth -= 1
    return None


def _too_deep(tree: Tree, text: str, file: str) -> Diagnostic | None:
    """DG105 at the construct that nests more than MAX_NESTING levels deep, found without recursion."""
    stack: list[tuple[Tree, Tree, int]] = [(tree, tree, 0)]
    while stack:
        node, parent, depth = stack.pop()
        if node.data in _NESTING_RULES:
            depth += 1
            if depth > MAX_NESTING:
                line, column, *end = _deep_bracket(text) or _token_place(_first_token(parent) or _first_token(node))
                return Diagnostic.make(
                    "DG105", f"nested more than {MAX_NESTING} levels deep",
                    _Span(file, line, column, *end), file=file,
                    hint="flatten the structure: declare nested nodes at the top level as qualified names "
                         "(Outer.Inner) or split the file with imports")
        stack.extend((child, node, depth) for child in node.children if isinstance(child, Tree))
    return None


def _reserved_word_uses(tree: Tree, file: str) -> list[Diagnostic]:
    """Keywords are reserved everywhere (reference §1.3); the contextual lexer would otherwise read
    `machine` as a name where the keyword cannot appear (e.g. a second header)."""
    out = []
    for tok in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "ID" and v in RESERVED):
        hint = ("a file has one 'machine \"Title\"' header, before any node or edge" if tok == "machine"
                else f"'{tok}' is a reserved word; choose another name")
        out.append(Diagnostic.make(
            "DG101", f"unexpected keyword {str(tok)!r}; it cannot be used as a name here",
            _Span(file, tok.line, tok.column, tok.end_line, tok.end_column), file=file, hint=hint))
    return out
