"""A small TextMate tokenizer (the subset our generated grammar uses: match, begin/end, captures,
contentName, #repository includes) so the grammar is checked even where node and vscode-textmate
are not installed. It follows vscode-textmate's rules: at each position the earliest match wins,
ties go to the first pattern, and a rule's `end` is tried before its nested patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Token:
    line: int
    start: int
    end: int
    scopes: tuple[str, ...]


class Grammar:
    def __init__(self, raw: dict):
        self.raw = raw
        self.scope = raw["scopeName"]
        self._cache: dict[str, re.Pattern] = {}

    def _resolve(self, patterns: list[dict]) -> list[dict]:
        out = []
        for p in patterns:
            if "include" in p:
                ref = p["include"]
                out.extend(self._resolve([self.raw if ref == "$self" else self.raw["repository"][ref.lstrip("#")]]))
            elif "match" in p or "begin" in p:
                out.append(p)
            else:
                out.extend(self._resolve(p.get("patterns", [])))
        return out

    def _regex(self, source: str) -> re.Pattern:
        if source not in self._cache:
            self._cache[source] = re.compile(source)
        return self._cache[source]

    def tokenize(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        stack: list[tuple[dict, tuple[str, ...]]] = [({"patterns": self.raw["patterns"]}, (self.scope,))]
        for line_no, line in enumerate(text.split("\n")):
            pos = 0
            while pos < len(line):
                rule, scopes = stack[-1]
                content = scopes + ((rule["contentName"],) if "contentName" in rule else ())
                best = None
                if "end" in rule:
                    m = self._regex(rule["end"]).search(line, pos)
                    best = (m, None) if m else None
                for p in self._resolve(rule.get("patterns", [])):
                    m = self._regex(p.get("match") or p["begin"]).search(line, pos)
                    if m and (best is None or m.start() < best[0].start()):
                        best = (m, p)
                if best is None:
                    tokens.append(Token(line_no, pos, len(line), content))
                    break
                m, p = best
                if m.start() > pos:
                    tokens.append(Token(line_no, pos, m.start(), content))
                if p is None:  # the rule's end
                    self._emit(tokens, line_no, line, m, scopes, rule.get("endCaptures") or rule.get("captures"))
                    stack.pop()
                else:
                    inner = scopes + ((p["name"],) if "name" in p else ())
                    if "match" in p:
                        self._emit(tokens, line_no, line, m, inner, p.get("captures"))
                    else:
                        self._emit(tokens, line_no, line, m, inner, p.get("beginCaptures") or p.get("captures"))
                        stack.append((p, inner))
                if m.end() == m.start():  # no progress: the character gets the enclosing scopes
                    tokens.append(Token(line_no, pos, pos + 1, content))
                    pos = m.end() + 1
                else:
                    pos = m.end()
        return tokens

    def _emit(self, tokens: list[Token], line_no: int, line: str, m: re.Match, scopes: tuple[str, ...],
              captures) -> None:
        """The match as tokens, split where capture groups (or their nested patterns) add scopes."""
        extra: list[tuple[str, ...]] = [()] * (m.end() - m.start())
        for group, capture in sorted((captures or {}).items(), key=lambda kv: int(kv[0])):
            g = int(group)
            if m.start(g) < 0:
                continue
            if "name" in capture:
                for i in range(m.start(g), m.end(g)):
                    extra[i - m.start()] += (capture["name"],)
            for p in self._resolve(capture.get("patterns", [])):
                for sub in self._regex(p["match"]).finditer(line, m.start(g), m.end(g)):
                    for i in range(sub.start(), sub.end()):
                        extra[i - m.start()] += ((p["name"],) if "name" in p else ())
        start = m.start()
        for i in range(1, len(extra) + 1):
            if i == len(extra) or extra[i] != extra[i - 1]:
                tokens.append(Token(line_no, start, m.start() + i, scopes + extra[i - 1]))
                start = m.start() + i


def unscoped(grammar: Grammar, text: str) -> list[tuple[int, int, str]]:
    """(line, column, text) of every non-blank piece that got only the root scope."""
    lines = text.split("\n")
    return [(t.line + 1, t.start + 1, lines[t.line][t.start:t.end]) for t in grammar.tokenize(text)
            if len(t.scopes) < 2 and lines[t.line][t.start:t.end].strip()]
