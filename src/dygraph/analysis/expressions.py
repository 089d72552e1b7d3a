"""CEL conditions and `{{ … }}` templates: compile them at check time and find the names they use.

Expressions are parsed with the grammar cel-python (`celpy`) evaluates at run time, so an expression
that passes here parses there. Lark's grammar cache keeps the parser's start-up cost to a few
milliseconds, and each distinct expression text is analysed once per process.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

# The reference's placeholder pattern (`/\{\{\s*([^}]+)\s*\}\}/`).
TEMPLATE = re.compile(r"\{\{\s*([^}]+)\s*\}\}")

# Names every condition and template may use besides node names.
BUILTIN_NAMES = frozenset({"errorCount", "errors", "activeState", "machine", "item", "index"})
# CEL's own identifiers: type denotations usable as values (`type(x) == string`).
CEL_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "type",
                       "null_type", "dyn", "google"})
# Macros whose first argument binds a variable: `items.exists(i, i > 2)`.
_BINDING_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_RESERVED = frozenset({"as", "break", "const", "continue", "else", "for", "function", "if", "import",
                       "let", "loop", "package", "namespace", "return", "var", "void", "while", "in"})
_SIMPLE_PATH = re.compile(r"\s*([A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)*\s*\Z")

_PUNCTUATION = {
    "RPAR": "')'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "RBRACE": "'}'", "LBRACE": "'{'",
    "DOT": "'.'", "COMMA": "','", "COLON": "':'", "QMARK": "'?'", "EQUAL": "'='", "BANG": "'!'",
    "MINUS": "'-'", "PLUS": "'+'", "STAR": "'*'", "SLASH": "'/'", "PERCENT": "'%'", "LESSTHAN": "'<'",
    "MORETHAN": "'>'", "IDENT": "a name", "$END": "the end of the expression",
}


@dataclass(frozen=True, slots=True)
class ExpressionInfo:
    """What compiling one expression found: a syntax error, or the root names it reads."""

    error: Optional[str]
    column: Optional[int]
    names: tuple[str, ...]


def preprocess_condition(text: str) -> str:
    """The reference's rewriting before evaluation: `{{ a.b }}` → `a.b`, `===` → `==`, `!==` → `!=`."""
    text = TEMPLATE.sub(lambda m: m.group(1).strip(), text)
    return text.replace("!==", "!=").replace("===", "==")


def placeholders(text: str) -> list[str]:
    """The expressions inside the `{{ … }}` placeholders of a string."""
    if "{{" not in text:
        return []
    return [m.group(1).strip() for m in TEMPLATE.finditer(text)]


def _bool_literal(token):
    from lark import Token

    if token.value in ("true", "false"):
        return Token("BOOL_LIT", token.value)
    return token


def _cache_file(grammar: str) -> str:
    """A per-user cache file for the parser tables (never a shared temporary directory)."""
    import hashlib

    import lark

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(f"{lark.__version__}\n{grammar}".encode()).hexdigest()[:16]
    folder = os.path.join(base, "dygraph")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"cel-{digest}.pickle")


@lru_cache(maxsize=1)
def cel_parser():
    """A Lark LALR parser over celpy's own CEL grammar, built once per process (tables cached on disk)."""
    import lark

    spec = importlib.util.find_spec("celpy")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - declared dependency
        raise RuntimeError("cel-python is not installed")
    grammar = (Path(next(iter(spec.submodule_search_locations))) / "cel.lark").read_text()
    options = dict(parser="lalr", start="expr", g_regex_flags=re.M, lexer_callbacks={"IDENT": _bool_literal},
                   maybe_placeholders=False, priority="invert")
    try:
        return lark.Lark(grammar, cache=_cache_file(grammar), **options)
    except (OSError, EOFError, ValueError):  # unwritable or corrupt cache: build in memory
        return lark.Lark(grammar, **options)


def _describe_expected(expected) -> str:
    names = sorted({_PUNCTUATION.get(e, "") for e in expected} - {""})
    if not names or len(names) > 4:
        return ""
    return "; expected " + " or ".join(names)


def _error_text(exc, text: str) -> tuple[str, Optional[int]]:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return "the expression ends too early" + _describe_expected(exc.expected), len(text) + 1
        return f"unexpected '{tok.value}'" + _describe_expected(exc.expected), exc.column
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character '{text[exc.pos_in_stream]}'", exc.column
    if isinstance(exc, UnexpectedEOF):
        return "the expression ends too early", len(text) + 1
    return str(exc).splitlines()[0], None


def _root_names(tree) -> tuple[str, ...]:
    names: list[str] = []
    bound: set[str] = set()
    for sub in tree.iter_subtrees():
        data = sub.data
        if data == "ident" or data == "dot_ident":
            names.append(str(sub.children[0]))
        elif data == "member_dot_arg" and len(sub.children) == 3 and str(sub.children[1]) in _BINDING_MACROS:
            first = sub.children[2].children[0] if sub.children[2].children else None
            for leaf in (first.iter_subtrees() if first is not None else ()):
                if leaf.data == "ident":
                    bound.add(str(leaf.children[0]))
    seen: dict[str, None] = {}
    for n in reversed(names):  # iter_subtrees is bottom-up; report in source order
        if n not in bound:
            seen.setdefault(n, None)
    return tuple(seen)


@lru_cache(maxsize=8192)
def analyse(text: str) -> ExpressionInfo:
    """Compile a CEL expression; return its syntax error (with 1-based column) or its root names."""
    simple = _SIMPLE_PATH.match(text)
    if simple and simple.group(1) not in _RESERVED:
        root = simple.group(1)
        return ExpressionInfo(None, None, () if root in ("true", "false", "null") else (root,))
    if not text.strip():
        return ExpressionInfo("the expression is empty", 1, ())
    from lark.exceptions import LarkError

    try:
        tree = cel_parser().parse(text)
    except LarkError as exc:
        message, column = _error_text(exc, text)
        return ExpressionInfo(message, column, ())
    return ExpressionInfo(None, None, _root_names(tree))


def syntax_hint(text: str) -> Optional[str]:
    """A hint for the usual non-CEL habits."""
    if re.search(r"(?<![=!<>])=(?!=)", text):
        return "CEL compares with `==`; a single `=` is not an operator"
    if re.search(r"\b(and|or|not)\b", text):
        return "CEL writes `and`/`or`/`not` as `&&`, `||` and `!`"
    if text.count("(") != text.count(")"):
        return "the parentheses are not balanced"
    if "{{" in text or "}}" in text:
        return "placeholders cannot nest: write `{{ a.b }}` around a single expression"
    return None
