"""Graphviz HTML-like label text: escaping, wrapping, inline markdown and value formatting.

Everything user-written that ends up in a label passes through `escape` (plain text) or `markdown`
(prose), so no name or value can break the DOT it is embedded in.
"""

from __future__ import annotations

import json
import re
import textwrap
from functools import lru_cache
from typing import Any

# Characters XML 1.0 forbids; Graphviz parses HTML labels with expat, which rejects them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MARKDOWN_TRIGGER = re.compile(r"[*_`\[\]~\\]")

WRAP_WIDTH = 40
CODE_FONT = '<FONT FACE="monospace" COLOR="#6C757D">'


def printable(text: str) -> str:
    """Text with the characters XML cannot hold replaced (they would break the SVG)."""
    return _XML_INVALID.sub("\ufffd", text)


def escape(text: str) -> str:
    """Plain text → HTML-label text. Tabs become spaces; newlines are left to the caller."""
    text = printable(text.replace("\t", "    "))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return text.replace("]", "&#93;")  # Graphviz's HTML lexer chokes on a leading `]` or on `]]`


def wrap_lines(text: str, width: int = WRAP_WIDTH) -> list[str]:
    """Wrap each written line at `width`, never splitting a word; blank lines are dropped."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        out.extend(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False))
    return out


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, width: int = WRAP_WIDTH, br: str = "<BR/>") -> str:
    """Escaped, wrapped plain text."""
    return br.join(escape(line) for line in wrap_lines(text, width))


@lru_cache(maxsize=1)
def _markdown_parser():
    from markdown_it import MarkdownIt

    # Inline rules only: prose in titles and labels is one paragraph, never headings or lists.
    return MarkdownIt("zero").enable(["newline", "escape", "backticks", "strikethrough", "emphasis",
                                      "link", "image"])


_TAGS = {"strong": "B", "em": "I", "s": "S", "a": "U"}


def markdown(text: str, width: int = WRAP_WIDTH, br: str = "<BR/>") -> str:
    """Inline markdown → Graphviz HTML: **bold**, *italic*, ~~strike~~, `code`, [link](url), wrapped.

    Raw HTML in the text is shown as written (escaped), never interpreted.
    """
    lines = wrap_lines(text, width)
    if not _MARKDOWN_TRIGGER.search(text):
        return br.join(escape(line) for line in lines)
    tokens = _markdown_parser().parseInline("\n".join(lines))
    children = (tokens[0].children or []) if tokens else []
    out: list[str] = []
    for tok in children:
        kind = tok.type
        if kind == "text":
            out.append(escape(tok.content))
        elif kind in ("softbreak", "hardbreak"):
            out.append(br)
        elif kind == "code_inline":
            out.append(f"{CODE_FONT}{escape(tok.content)}</FONT>")
        elif kind == "image":
            out.append(escape(tok.content))
        elif kind.endswith("_open") and tok.tag in ("strong", "em", "s", "a"):
            out.append(f"<{_TAGS[tok.tag]}>")
        elif kind.endswith("_close") and tok.tag in ("strong", "em", "s", "a"):
            out.append(f"</{_TAGS[tok.tag]}>")
        else:
            out.append(escape(tok.content))
    return drop_empty_elements("".join(out))


_EMPTY_ELEMENT = re.compile(r"<(B|I|S|U|FONT)(?: [^>]*)?></\1>")


def drop_empty_elements(html: str) -> str:
    """Graphviz rejects `<B></B>` and friends; markup around nothing is dropped."""
    while True:
        shorter = _EMPTY_ELEMENT.sub("", html)
        if shorter == html:
            return html
        html = shorter


def format_value(value: Any) -> str:
    """A JSON value as a person reads it: strings bare, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def format_annotation(name: str, value: Any = None, params: dict | None = None, has_value: bool = False) -> str:
    """`@name`, `@name(value)` or `@name(k: v; flag)`, as written (plain text, not escaped)."""
    if params:
        inner = "; ".join(k if v is True else f"{k}: {format_value(v)}" for k, v in params.items())
        return f"@{name}({inner})"
    if has_value:
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else format_value(value)
        return f"@{name}({shown})"
    return f"@{name}"


def port_name(name: str) -> str:
    """A port id made of [A-Za-z0-9_] only, so it never needs quoting."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
