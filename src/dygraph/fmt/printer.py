"""The canonical printer: walks the concrete syntax tree (every token kept) and re-emits it with
canonical spacing, putting each comment back next to the token it was written beside.

Layout decisions are made from the tree only (plus, for `{ … }` values and `[ … ]`, whether the
author wrote them on one line), so printing a printed file gives the same text. See docs/editor.md
for the style.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Tree

INDENT = "    "
ALIGN_MAX = 24  # longest `name<Type>:` that takes part in aligning a block's values
ALIGN = "\x00"  # placeholder after an attribute's `:`; replaced by padding that aligns a run of lines
_COMMENT = re.compile(r"//[^\n\r]*|/\*.*?\*/", re.S)


@lru_cache(maxsize=1)
def cst_parser() -> Lark:
    """The compiler's grammar with every token kept (punctuation included), for printing."""
    from dygraph.syntax.parser import grammar_text

    return Lark(grammar_text(), parser="lalr", lexer="contextual", keep_all_tokens=True,
                propagate_positions=True, maybe_placeholders=False, cache=True)


@dataclass(slots=True)
class Comment:
    start: int
    end: int
    text: str
    own_line: bool  # nothing but whitespace before it on its source line

    @property
    def is_line(self) -> bool:
        return self.text.startswith("//")


def collect_comments(text: str, tree: Tree) -> list[Comment]:
    """Comments are exactly what lies between tokens besides whitespace (strings are tokens)."""
    out: list[Comment] = []
    pos = 0
    for tok in [*tree.scan_values(lambda v: isinstance(v, Token)), None]:
        gap_end = len(text) if tok is None else tok.start_pos
        for m in _COMMENT.finditer(text, pos, gap_end):
            line_start = text.rfind("\n", 0, m.start()) + 1
            body = m.group().rstrip() if m.group().startswith("//") else m.group()
            out.append(Comment(m.start(), m.end(), body, not text[line_start:m.start()].strip()))
        if tok is not None:
            pos = tok.end_pos
    return out


def _tokens(tree: Tree | Token) -> list[Token]:
    if isinstance(tree, Token):
        return [tree]
    return list(tree.scan_values(lambda v: isinstance(v, Token)))


def _first_pos(tree: Tree | Token) -> int:
    return _tokens(tree)[0].start_pos


def _last_end(tree: Tree | Token) -> int:
    return _tokens(tree)[-1].end_pos


class _Emitter:
    """Collects output lines. Separators requested between tokens merge (a newline beats a space);
    comments found in the source before a token are written first, in their original order."""

    _RANK = {None: 0, "space": 1, "align": 2, "newline": 3}

    def __init__(self, text: str, comments: list[Comment]):
        self.src = text
        self.comments = deque(comments)
        self.lines: list[str] = []
        self.cur = ""
        self.indent = 0
        self.sep: str | None = None
        self.blank_ok = False
        self.last_end = 0

    # ---- separators
    def space(self) -> None:
        self._want("space")

    def align(self) -> None:
        self._want("align")

    def newline(self, *, blank_ok: bool = True) -> None:
        if self.sep != "newline":
            self.blank_ok = blank_ok
        else:
            self.blank_ok = self.blank_ok and blank_ok
        self._want("newline")

    def _want(self, sep: str) -> None:
        if self._RANK[sep] > self._RANK[self.sep]:
            self.sep = sep

    # ---- output
    def _blank_in_source(self, start: int) -> bool:
        return self.src.count("\n", self.last_end, start) >= 2

    def _write(self, text: str, start: int | None, end: int | None, indent: int) -> None:
        if not self.cur and not self.lines:
            self.cur = INDENT * indent + text
        elif self.sep == "newline":
            self.lines.append(self.cur)
            if self.blank_ok and start is not None and self._blank_in_source(start):
                self.lines.append("")
            self.cur = INDENT * indent + text
        elif self.sep == "space":
            self.cur += " " + text
        elif self.sep == "align":
            self.cur += ALIGN + text
        else:
            self.cur += text
        self.sep = None
        self.blank_ok = False
        if end is not None:
            self.last_end = end

    def token(self, tok: Token | str, *, start: int | None = None, closing: bool = False) -> None:
        """Write a token. Source tokens carry their position; synthetic ones (`;`) may pass one."""
        if isinstance(tok, Token):
            start = tok.start_pos
        if start is not None:
            self.flush_comments(start, indent=self.indent + 1 if closing else self.indent)
        end = tok.end_pos if isinstance(tok, Token) else None
        self._write(str(tok), start, end, self.indent)

    def flush_comments(self, before: int, *, indent: int | None = None) -> None:
        indent = self.indent if indent is None else indent
        while self.comments and self.comments[0].start < before:
            c = self.comments.popleft()
            wanted, blank_ok = self.sep, self.blank_ok
            if c.own_line or not (self.cur or self.lines):
                self.sep = "newline"
                self.blank_ok = wanted == "newline" and blank_ok
                self._write(c.text, c.start, c.end, indent)
                self.newline()
            else:  # trailing: stays after the token it followed
                self.sep = "space"
                self._write(c.text, c.start, c.end, indent)
                self.sep, self.blank_ok = wanted, blank_ok
                if c.is_line or "\n" in c.text:
                    self.newline(blank_ok=blank_ok if wanted == "newline" else True)
                else:
                    self.space()

    def finish(self) -> str:
        self.flush_comments(len(self.src) + 1)
        if self.cur or self.lines:
            self.lines.append(self.cur)
        text = "\n".join(_align(self.lines))
        return text + "\n" if text.strip() else ""


def _align(lines: list[str]) -> list[str]:
    """Pad each run of consecutive attribute lines (same indentation) so their values line up."""
    out = list(lines)
    i = 0
    while i < len(out):
        if ALIGN not in out[i]:
            i += 1
            continue
        indent = len(out[i]) - len(out[i].lstrip(" "))
        j = i
        while j < len(out) and ALIGN in out[j] and len(out[j]) - len(out[j].lstrip(" ")) == indent:
            j += 1
        # A very long `name<Type>:` (a union of literals, say) is left out of the alignment, so it
        # does not push every short value in the block far to the right.
        keys = [len(out[k].split(ALIGN, 1)[0]) for k in range(i, j)]
        width = max([n for n in keys if n - indent <= ALIGN_MAX] or [0])
        for k in range(i, j):
            key, rest = out[k].split(ALIGN, 1)
            out[k] = key + " " * max(width - len(key) + 1, 1) + rest
        i = j
    return [line.replace(ALIGN, " ") for line in out]


class Printer:
    def __init__(self, text: str, tree: Tree):
        self.src = text
        self.comments = collect_comments(text, tree)
        self.out = _Emitter(text, self.comments)
        self.tree = tree
        self.inline_depth = 0  # inside a one-line `{ … }`: nothing to align

    def print(self) -> str:
        self.statements(self.tree.children, first_blank_ok=False)
        return self.out.finish()

    # ---- helpers
    def _has_comment(self, node: Tree | Token) -> bool:
        start, end = _first_pos(node), _last_end(node)
        return any(start < c.start < end for c in self.comments)

    def _one_line_in_source(self, node: Tree) -> bool:
        start, end = _first_pos(node), _last_end(node)
        return "\n" not in self.src[start:end] and not self._has_comment(node)

    def _tok(self, tok: Token, **kw) -> None:
        self.out.token(tok, **kw)

    def _separated(self, items: list, sep_tok: str = ",") -> None:
        """`a, b, c` with the source commas (for their positions and the comments beside them)."""
        for item in items:
            if isinstance(item, Token) and item == sep_tok:
                self._tok(item)
                self.out.space()
            else:
                self.node(item)

    # ---- statement lists
    def statements(self, items: list, *, first_blank_ok: bool) -> None:
        first = True
        for item in items:
            if isinstance(item, Token):  # stray `;`: an empty statement, dropped
                continue
            if self.out.cur or self.out.lines:
                self.out.newline(blank_ok=first_blank_ok or not first)
            self.statement(item)
            first = False

    def statement(self, stmt: Tree) -> None:
        self.node(stmt)
        if not self._ends_with_block(stmt):
            self.out.token(";", start=_last_end(stmt))

    @staticmethod
    def _ends_with_block(stmt: Tree) -> bool:
        last = next((c for c in reversed(stmt.children) if not (isinstance(c, Token) and c == ";")), None)
        return isinstance(last, Tree) and last.data in ("body", "attr_block")

    def block(self, node: Tree, *, inline: bool) -> None:
        """`{ statements }` — a node body, header or edge block, or an object value."""
        lbrace, *inner, rbrace = node.children
        stmts = [c for c in inner if isinstance(c, Tree)]
        self._tok(lbrace)
        if not stmts and not self._has_comment(node):
            self._tok(rbrace)
            return
        if inline:
            self.inline_depth += 1
            for stmt in stmts:
                self.out.space()
                self.node(stmt)
                self.out.token(";", start=_last_end(stmt))
            self.inline_depth -= 1
            self.out.space()
            self._tok(rbrace)
            return
        self.out.indent += 1
        for i, stmt in enumerate(stmts):
            self.out.newline(blank_ok=i > 0)
            self.statement(stmt)
        self.out.indent -= 1
        self.out.newline(blank_ok=False)
        self._tok(rbrace, closing=True)

    # ---- dispatch
    def node(self, node: Tree | Token) -> None:
        if isinstance(node, Token):
            self._tok(node)
            return
        getattr(self, "p_" + node.data)(node)

    def p_import_stmt(self, n: Tree) -> None:
        kw, lbrace, *rest = n.children
        self._tok(kw)
        self.out.space()
        self._tok(lbrace)
        self.out.space()
        close = next(i for i, c in enumerate(rest) if isinstance(c, Token) and c == "}")
        self._separated(rest[:close])
        self.out.space()
        self._tok(rest[close])
        for tok in rest[close + 1:]:
            if isinstance(tok, Token) and tok == ";":
                continue
            self.out.space()
            self._tok(tok)

    def p_import_symbol(self, n: Tree) -> None:
        for i, c in enumerate(n.children):
            if i:
                self.out.space()
            self.node(c)

    def p_qname(self, n: Tree) -> None:
        for tok in n.children:
            self._tok(tok)

    def _decor_and_block(self, rest: list) -> None:
        """Title first, then annotations (decision 4 makes the order free), then the block."""
        rest = [c for c in rest if not (isinstance(c, Token) and c == ";")]
        titles = [c for c in rest if isinstance(c, Tree) and c.data == "title"]
        annotations = [c for c in rest if isinstance(c, Tree) and c.data == "annotation"]
        blocks = [c for c in rest if isinstance(c, Tree) and c.data in ("body", "attr_block")]
        for part in titles + annotations:
            self.out.space()
            self.node(part)
        for blk in blocks:
            self.out.space()
            self.block(blk, inline=False)

    def p_typed_node(self, n: Tree) -> None:
        head, name, *rest = n.children  # `Type name` or `machine "Title"`
        self._tok(head)
        self.out.space()
        self.node(name)
        self._decor_and_block(rest)

    p_header = p_typed_node

    def p_node(self, n: Tree) -> None:
        name, *rest = n.children
        self.node(name)
        self._decor_and_block(rest)

    def p_title(self, n: Tree) -> None:
        self._tok(n.children[0])

    # ---- attributes, types and values
    def p_attribute(self, n: Tree) -> None:
        name, *rest = n.children
        self._tok(name)
        # Only attributes printed on one line take part in a run of aligned values.
        alignable = (not self.inline_depth and not self._has_comment(n)
                     and not any("\n" in t for t in _tokens(n) if t.type == "STRING")
                     and not self._has_multiline_value(n))
        for c in rest:
            if isinstance(c, Token) and c == ":":
                self._tok(c)
                if alignable:
                    self.out.align()
                else:
                    self.out.space()
            else:
                self.node(c)

    def p_bare_attribute(self, n: Tree) -> None:
        self._tok(n.children[0])

    def _has_multiline_value(self, n: Tree) -> bool:
        return any(isinstance(v, Tree) and v.data in ("array", "object") and self._prints_multiline(v)
                   for v in n.iter_subtrees())

    def _prints_multiline(self, value: Tree) -> bool:
        """The layout `p_array` / `p_object` choose: empty values print as `[]` / `{}`."""
        if self._one_line_in_source(value):
            return False
        has_members = any(isinstance(c, Tree) for c in value.children)
        return has_members or (value.data == "object" and self._has_comment(value))

    def p_type_ann(self, n: Tree) -> None:
        for c in n.children:
            self.node(c)

    def p_type_ref(self, n: Tree) -> None:
        for c in n.children:
            self.node(c)
            if isinstance(c, Token) and c == ",":
                self.out.space()

    def p_type_union(self, n: Tree) -> None:
        for c in n.children:
            if isinstance(c, Token) and c == "|":
                self.out.space()
                self._tok(c)
                self.out.space()
            else:
                self.node(c)

    def p_string(self, n: Tree) -> None:
        self._tok(n.children[0])

    p_number = p_extid = p_string

    def p_negative(self, n: Tree) -> None:
        for c in n.children:  # `-` and the number, written together
            self._tok(c)

    def p_ident(self, n: Tree) -> None:
        self.node(n.children[0])

    def p_object(self, n: Tree) -> None:
        self.block(n, inline=not self._prints_multiline(n))

    def p_array(self, n: Tree) -> None:
        lsqb, *inner, rsqb = n.children
        elements = [c for c in inner if not (isinstance(c, Token) and c == ",")]
        self._tok(lsqb)
        if not elements:
            self._tok(rsqb, closing=True)
            return
        if self._one_line_in_source(n):
            for i, el in enumerate(elements):
                if i:
                    self.out.token(",", start=_first_pos(el))
                    self.out.space()
                self.node(el)
            self._tok(rsqb)
            return
        self.out.indent += 1
        for i, el in enumerate(elements):
            if i:
                self.out.token(",", start=_last_end(elements[i - 1]))
            self.out.newline(blank_ok=i > 0)
            self.node(el)
        self.out.indent -= 1
        self.out.newline(blank_ok=False)
        self._tok(rsqb, closing=True)

    # ---- annotations
    def p_annotation(self, n: Tree) -> None:
        at, name, *args = n.children
        self._tok(at)
        self._tok(name)
        for c in args:
            self.node(c)

    def p_annotation_value(self, n: Tree) -> None:
        self.node(n.children[0])

    def p_annotation_params(self, n: Tree) -> None:
        params = [c for c in n.children if isinstance(c, Tree)]
        for i, p in enumerate(params):
            if i:
                self.out.token(";", start=_last_end(params[i - 1]))
                self.out.space()
            self.node(p)
        if len(params) == 1 and params[0].data == "param_flag":
            self.out.token(";", start=_last_end(params[0]))  # `@a(flag;)`; `@a(flag)` is a value

    def p_param_kv(self, n: Tree) -> None:
        key, colon, value = n.children
        self._tok(key)
        self._tok(colon)
        self.out.space()
        self.node(value)

    def p_param_flag(self, n: Tree) -> None:
        self._tok(n.children[0])

    # ---- edges
    def p_edge(self, n: Tree) -> None:
        for c in n.children:
            if isinstance(c, Token) and c == ",":
                self._tok(c)
                self.out.space()
            elif isinstance(c, Tree) and c.data in ("first_segment", "segment", "source_mult", "attr_block"):
                self.out.space()
                if c.data == "attr_block":
                    self.block(c, inline=self._one_line_in_source(c))
                else:
                    self.node(c)
            else:
                self.node(c)

    def p_first_segment(self, n: Tree) -> None:
        for i, c in enumerate(n.children):
            if i:
                self.out.space()
            self.node(c)

    p_segment = p_first_segment

    def p_source_mult(self, n: Tree) -> None:
        self._tok(n.children[0])

    p_target_mult = p_source_mult

    def p_targets(self, n: Tree) -> None:
        self._separated(n.children)

    def p_arrow_single(self, n: Tree) -> None:
        self._tok(n.children[0])

    p_arrow_double = p_arrow_fat = p_arrow_other = p_arrow_single

    def p_label_single(self, n: Tree) -> None:
        opener, *items, closer = n.children
        self._tok(opener)
        first = True
        for c in items:
            if isinstance(c, Token) and c in (",", ";"):
                self._tok(c)
                continue
            head = _tokens(c)[0]
            if head.startswith(("-", "+")):
                self.out.space()  # `- -1->` must not become `--1->`
            elif not first and self.src[head.start_pos - 1:head.start_pos].strip():
                pass  # written touching the previous item (`-30s->`): keep it so
            elif not first:
                self.out.space()
            self.node(c)
            first = False
        self._tok(closer)

    p_label_double = p_label_fat = p_label_single

    def p_label_attr(self, n: Tree) -> None:
        key, colon, value, *semi = n.children
        self._tok(key)
        self._tok(colon)
        self.out.space()
        self.node(value)
        for s in semi:
            self._tok(s)

    def p_label_flag(self, n: Tree) -> None:
        for c in n.children:
            self._tok(c)

    def p_label_text(self, n: Tree) -> None:
        self.node(n.children[0])

    def p_attr_block(self, n: Tree) -> None:
        self.block(n, inline=False)

    def p_body(self, n: Tree) -> None:
        self.block(n, inline=False)
