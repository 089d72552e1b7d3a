"""Generate the VS Code TextMate grammar from the Lark grammar's terminals.

Every token regex (identifiers, numbers, external ids, arrows, keywords, punctuation) is taken from
`grammar/dygram.lark`; only the scope names and the contextual shape (typed node heads, attribute
keys, `<…>` type arguments, string templates) are decided here. A terminal this module does not know
is an error, so a grammar change cannot silently leave tokens unhighlighted.

    python -m dygraph.lsp.textmate            # rewrite vscode-extension/syntaxes/dygram.tmLanguage.json
    python -m dygraph.lsp.textmate --check    # exit 1 if the committed file is stale
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from lark import Lark
from lark.lexer import PatternStr

REPO_ROOT = Path(__file__).resolve().parents[3]
OUTPUT_PATH = REPO_ROOT / "vscode-extension" / "syntaxes" / "dygram.tmLanguage.json"
SCOPE = "source.dygram"

# Regex terminals by role. Arrow terminals are recognised by name (`*_ARROW`, `ARROW_*`, `LABEL_*`,
# `BIDI_*`), keywords by being a literal that lexes as an identifier.
REGEX_ROLES = {
    "ID": "identifier",
    "EXTID": "external",
    "NUMBER": "number",
    "STRING": "string",
    "LINE_COMMENT": "line_comment",
    "BLOCK_COMMENT": "block_comment",
    "WS": "whitespace",
}

PUNCTUATION_SCOPES = {
    "{": "punctuation.section.block",
    "}": "punctuation.section.block",
    "[": "punctuation.section.array",
    "]": "punctuation.section.array",
    "(": "punctuation.section.parens",
    ")": "punctuation.section.parens",
    ";": "punctuation.terminator.statement",
    ",": "punctuation.separator.comma",
    ":": "punctuation.separator.key-value",
    ".": "punctuation.accessor",
    "|": "punctuation.separator.union",
    "?": "keyword.operator.optional",
    "<": "punctuation.definition.typeparameters.begin",
    ">": "punctuation.definition.typeparameters.end",
    "@": "punctuation.definition.annotation",
}

KEYWORD_SCOPES = {
    "machine": "storage.type.machine",
    "import": "keyword.control.import",
    "from": "keyword.control.import",
    "as": "keyword.control.import",
}

LANGUAGE_CONSTANTS = ("true", "false", "null")
QUOTE_CANDIDATES = "\"'`"


def grammar_text() -> str:
    """The compiler's grammar (the checkout's `grammar/dygram.lark`, or the wheel's copy)."""
    from dygraph.syntax.parser import grammar_text as compiler_grammar

    return compiler_grammar()


def _is_arrow(name: str) -> bool:
    return name.endswith("_ARROW") or name.startswith(("ARROW_", "LABEL_", "BIDI_"))


def _sc(scope: str) -> str:
    return f"{scope}.dygram"


class _Terminals:
    """The grammar's terminals sorted into roles, with their regexes in Oniguruma form."""

    def __init__(self, grammar_text: str):
        lark = Lark(grammar_text, parser="lalr", lexer="contextual")
        self.regex: dict[str, str] = {}
        self.arrows: list[tuple[int, str]] = []  # (priority, regex)
        self.keywords: list[str] = []
        self.punctuation: list[str] = []
        unknown = []
        for term in lark.terminals:
            pattern = term.pattern
            if _is_arrow(term.name):
                self.arrows.append((term.priority, _onig(pattern)))
            elif term.name in REGEX_ROLES:
                self.regex[REGEX_ROLES[term.name]] = pattern.value
            elif isinstance(pattern, PatternStr) and re.fullmatch(r"[A-Za-z_]\w*", pattern.value):
                self.keywords.append(pattern.value)
            elif isinstance(pattern, PatternStr) and pattern.value in PUNCTUATION_SCOPES:
                self.punctuation.append(pattern.value)
            else:
                unknown.append(f"{term.name} = {pattern.value!r}")
        if unknown:
            raise ValueError("textmate: no scope for grammar terminal(s): " + ", ".join(unknown))
        missing = set(REGEX_ROLES.values()) - set(self.regex)
        if missing:
            raise ValueError(f"textmate: grammar lacks terminal(s) for {sorted(missing)}")

    def string_quotes(self) -> list[str]:
        """Quote characters the STRING terminal accepts, each with backslash escapes and raw newlines."""
        pattern = re.compile(self.regex["string"], re.S)
        quotes = [q for q in QUOTE_CANDIDATES if pattern.fullmatch(f"{q}a\\{q}\nb{q}")]
        if not quotes:
            raise ValueError("textmate: STRING terminal accepts no quoted form")
        return quotes

    def block_comment_delimiters(self) -> tuple[str, str]:
        pattern = re.compile(self.regex["block_comment"], re.S)
        nested = pattern.match("/* a */ b */")
        if not pattern.fullmatch("/* a\n * b */") or nested is None or nested.group() != "/* a */":
            raise ValueError("textmate: BLOCK_COMMENT is not a non-nesting /* */ comment")
        return r"/\*", r"\*/"


def _onig(pattern) -> str:
    """A Lark pattern as an Oniguruma regex. Literals are escaped; the dialects agree on what we use."""
    if isinstance(pattern, PatternStr):
        return re.escape(pattern.value).replace("\\-", "-")
    return pattern.value


def _word(regex: str) -> str:
    return rf"(?<![A-Za-z0-9_#]){regex}(?![A-Za-z0-9_])"


def build(grammar_text: str) -> dict:
    t = _Terminals(grammar_text)
    ident = t.regex["identifier"]
    qname = rf"{ident}(?:\.{ident})*"
    number = t.regex["number"]
    sign = "[+-]?"
    unsigned = number[len(sign):] if number.startswith(sign) else number
    begin_comment, end_comment = t.block_comment_delimiters()

    # Lark lexes by priority, then length; TextMate takes the first alternative that matches.
    arrows = [rx for _, rx in sorted(t.arrows, key=lambda a: (-a[0], -len(a[1])))]
    arrows = [rf"(?<![A-Za-z0-9_#]){rx}" if re.match(r"[A-Za-z]", rx) else rx for rx in arrows]

    keywords = sorted(t.keywords, key=lambda k: (-len(k), k))
    keyword_patterns = [
        {"match": _word(re.escape(k)), "name": _sc(KEYWORD_SCOPES.get(k, "keyword.other"))} for k in keywords
    ]
    punctuation_patterns = [
        {"match": re.escape(p), "name": _sc(PUNCTUATION_SCOPES[p])}
        for p in sorted(t.punctuation, key=lambda p: list(PUNCTUATION_SCOPES).index(p))
        if p not in "<>@"  # handled by #type-arguments and #annotation
    ]
    not_keyword = "".join(rf"(?!{re.escape(k)}(?![A-Za-z0-9_]))" for k in keywords)

    strings = []
    for quote in t.string_quotes():
        kind = {"\"": "double", "'": "single", "`": "backtick"}[quote]
        strings.append({
            "name": _sc(f"string.quoted.{kind}"),
            "begin": re.escape(quote),
            "end": re.escape(quote),
            "beginCaptures": {"0": {"name": _sc("punctuation.definition.string.begin")}},
            "endCaptures": {"0": {"name": _sc("punctuation.definition.string.end")}},
            "patterns": [
                {"match": r"\\.", "name": _sc("constant.character.escape")},
                {"include": "#template"},
            ],
        })

    repository = {
        "comments": {"patterns": [
            {
                "name": _sc("comment.block"),
                "begin": begin_comment,
                "end": end_comment,
                "captures": {"0": {"name": _sc("punctuation.definition.comment")}},
            },
            {
                "name": _sc("comment.line.double-slash"),
                "match": t.regex["line_comment"],
            },
        ]},
        "strings": {"patterns": strings},
        "template": {
            "name": _sc("meta.template.expression"),
            "begin": r"\{\{",
            "end": r"\}\}",
            "beginCaptures": {"0": {"name": _sc("punctuation.definition.template.begin")}},
            "endCaptures": {"0": {"name": _sc("punctuation.definition.template.end")}},
            "contentName": _sc("meta.embedded.expression"),
        },
        "keywords": {"patterns": keyword_patterns},
        "annotation": {
            "match": rf"(@)\s*({ident})",
            "captures": {
                "1": {"name": _sc("punctuation.definition.annotation")},
                "2": {"name": _sc("storage.modifier.annotation")},
            },
        },
        "arrows": {"patterns": [{"match": "|".join(arrows), "name": _sc("keyword.operator.arrow")}]},
        "type-arguments": {
            "begin": "<",
            "end": ">",
            "beginCaptures": {"0": {"name": _sc("punctuation.definition.typeparameters.begin")}},
            "endCaptures": {"0": {"name": _sc("punctuation.definition.typeparameters.end")}},
            "name": _sc("meta.type.parameters"),
            "patterns": [
                {"include": "#comments"},
                {"include": "#strings"},
                {"include": "#type-arguments"},
                {"match": _word(ident), "name": _sc("entity.name.type")},
                {"include": "#punctuation"},
            ],
        },
        # `Task review "Title"`: a type followed by a (qualified) name heads a node declaration.
        "node-head": {
            "match": rf"(?<![A-Za-z0-9_.#@]){not_keyword}({ident})\s+{not_keyword}({qname})(?![A-Za-z0-9_])(?!\s*:)(?!-->)",
            "captures": {
                "1": {"name": _sc("storage.type.node")},
                "2": {"name": _sc("entity.name.node")},
            },
        },
        "property": {
            "match": rf"(?<![A-Za-z0-9_.#]){not_keyword}({ident})(?=\s*(?:<[^-|]|:))",
            "captures": {"1": {"name": _sc("variable.other.property")}},
        },
        "numbers": {"patterns": [
            {   # a sign belongs to the number only where a value is expected
                "match": rf"([:,\[(])\s*({number})(?![A-Za-z0-9_])",
                "captures": {
                    "1": {"patterns": [{"include": "#punctuation"}]},
                    "2": {"name": _sc("constant.numeric")},
                },
            },
            {"match": rf"(?<![A-Za-z0-9_.]){unsigned}", "name": _sc("constant.numeric")},
        ]},
        "external": {"match": t.regex["external"], "name": _sc("variable.other.external")},
        "constants": {"match": _word("(?:" + "|".join(LANGUAGE_CONSTANTS) + ")"),
                      "name": _sc("constant.language")},
        # Words are consumed whole, so no guard: after a number (`30s`) the letters are a new token.
        "identifiers": {"match": ident, "name": _sc("variable.other.node")},
        "punctuation": {"patterns": punctuation_patterns},
    }
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "DyGram",
        "scopeName": SCOPE,
        "fileTypes": ["dygram", "dy", "mach"],
        "comment": "Generated by `python -m dygraph.lsp.textmate` from grammar/dygram.lark; do not edit.",
        "patterns": [{"include": f"#{name}"} for name in (
            "comments", "strings", "annotation", "arrows", "keywords", "numbers", "external",
            "type-arguments", "node-head", "property", "constants", "identifiers", "punctuation")],
        "repository": repository,
    }


def render(grammar_text: str) -> str:
    return json.dumps(build(grammar_text), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render(grammar_text())
    if "--check" in args:
        current = OUTPUT_PATH.read_text(encoding="utf-8") if OUTPUT_PATH.exists() else ""
        if current != text:
            print(f"{OUTPUT_PATH} is stale; run: python -m dygraph.lsp.textmate", file=sys.stderr)
            return 1
        return 0
    OUTPUT_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
