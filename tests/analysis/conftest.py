"""Helpers for validation tests: compile a small DyGram program and run the analyzer on it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from dygraph.analysis import analyze
from dygraph.diagnostics import Diagnostic
from dygraph.syntax import compile_source


@dataclass
class Checked:
    source: str
    diagnostics: list[Diagnostic]

    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def only(self, code: str) -> Diagnostic:
        """The single diagnostic with `code` (fails if there are none or several)."""
        found = [d for d in self.diagnostics if d.code == code]
        assert len(found) == 1, f"expected one {code}, got {self.diagnostics}"
        return found[0]

    def all(self, code: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.code == code]

    def position(self, needle: str, occurrence: int = 1) -> tuple[int, int]:
        """1-based (line, column) of the n-th occurrence of `needle` in the source."""
        index = -1
        for _ in range(occurrence):
            index = self.source.index(needle, index + 1)
        line = self.source.count("\n", 0, index) + 1
        column = index - (self.source.rfind("\n", 0, index) + 1) + 1
        return line, column

    def assert_at(self, code: str, needle: str, occurrence: int = 1) -> Diagnostic:
        """Exactly one `code` diagnostic, placed where `needle` is written."""
        d = self.only(code)
        assert (d.line, d.column) == self.position(needle, occurrence), (d, self.position(needle, occurrence))
        assert d.file == "test.dygram"
        return d


def run_check(source: str) -> Checked:
    text = textwrap.dedent(source).lstrip("\n")
    machine, diagnostics = compile_source(text, "test.dygram")
    assert machine is not None and not any(d.is_error for d in diagnostics), diagnostics
    return Checked(text, analyze(machine))


@pytest.fixture
def check():
    return run_check
