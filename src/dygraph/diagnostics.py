"""Diagnostics: the one shape every user-facing problem takes.

Every layer (syntax, linking, analysis, runtime readiness) reports problems as `Diagnostic`s with a
stable code from `CODES`. User errors never surface as tracebacks: the API raises `DygraphError`,
which carries the diagnostics, and the CLI prints them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Iterable


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    title: str


def _catalogue(*entries: tuple[str, str, str]) -> dict[str, Code]:
    return {c: Code(c, Severity(s), t) for c, s, t in entries}


# Stable codes. DG1xx syntax, DG2xx names/references, DG3xx types and expressions,
# DG4xx graph, DG5xx runtime readiness. Codes are never reused or renumbered.
CODES: dict[str, Code] = _catalogue(
    ("DG101", "error", "unexpected token"),
    ("DG102", "error", "unexpected character"),
    ("DG103", "error", "unexpected end of file"),
    ("DG104", "error", "unterminated string or comment"),
    ("DG105", "error", "nested too deeply"),
    ("DG110", "error", "file cannot be read"),
    ("DG190", "error", "formatting would change the program"),
    ("DG201", "error", "duplicate node declaration"),
    ("DG202", "error", "ambiguous node reference"),
    ("DG203", "error", "undefined node reference"),
    ("DG204", "error", "note target is undefined"),
    ("DG205", "warning", "reserved node name"),
    ("DG206", "error", "import file not found"),
    ("DG207", "error", "circular import"),
    ("DG208", "error", "imported symbol not found"),
    ("DG209", "error", "imported symbol collides with a local node"),
    ("DG210", "error", "symbol imported from two files"),
    ("DG211", "error", "empty import path"),
    ("DG212", "warning", "same simple name twice at one level"),
    ("DG213", "warning", "note target is undefined"),
    ("DG301", "error", "typed attribute without a value"),
    ("DG302", "error", "null for a non-optional type"),
    ("DG303", "error", "value is not one of the union literals"),
    ("DG304", "error", "value does not match the declared type"),
    ("DG305", "error", "invalid multiplicity"),
    ("DG306", "warning", "multiplicity lower bound exceeds upper bound"),
    ("DG310", "error", "condition does not compile"),
    ("DG311", "error", "condition uses an unknown name"),
    ("DG312", "error", "template expression does not compile"),
    ("DG313", "warning", "template uses an unknown name"),
    ("DG401", "warning", "unreachable nodes"),
    ("DG402", "warning", "orphaned nodes"),
    ("DG403", "warning", "cycle without a way out"),
    ("DG404", "warning", "no entry point"),
    ("DG405", "warning", "init node without exits"),
    ("DG406", "warning", "context node with incoming control edges"),
    ("DG407", "warning", "inheritance between different node types"),
    ("DG408", "warning", "ambiguous exits"),
    ("DG409", "warning", "barrier group that no path can complete"),
    ("DG410", "error", "@map source is not an array"),
    ("DG501", "warning", "@Async on a node that is not a task"),
    ("DG502", "warning", "@Singleton on a state node"),
    ("DG503", "error", "@Abstract on an init node"),
    ("DG504", "warning", "context used without an access edge"),
    ("DG505", "warning", "task with a prompt but nothing to do"),
    ("DG506", "warning", "unknown edge annotation that looks like a typo"),
    ("DG507", "error", "@map without a source"),
    ("DG508", "error", "invalid annotation argument"),
)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem at a place in a file. Lines and columns are 1-based; `end_*` is exclusive."""

    code: str
    message: str
    file: str = "<string>"
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None
    severity: Severity = field(default=Severity.ERROR)
    hint: str | None = None

    @classmethod
    def make(cls, code: str, message: str, span=None, *, file: str | None = None,
             hint: str | None = None, severity: Severity | None = None) -> "Diagnostic":
        """Build a diagnostic from a code and an optional `SourceSpan`-like object."""
        sev = severity or CODES[code].severity
        if span is None:
            return cls(code, message, file or "<string>", 1, 1, 1, 1, sev, hint)
        return cls(code, message, file or span.file or "<string>", span.line, span.column,
                   span.end_line, span.end_column, sev, hint)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        text = f"{self.location()}: {self.severity.value} {self.code}: {self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.value
        d["end_line"] = self.end_line or self.line
        d["end_column"] = self.end_column or self.column
        return d


def sort_key(d: Diagnostic):
    return (d.file, d.line, d.column, d.code)


class DygraphError(Exception):
    """Raised by the Python API when a program has errors; `.diagnostics` says what and where."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=sort_key)
        errors = [d for d in self.diagnostics if d.is_error] or self.diagnostics
        first = str(errors[0]) if errors else "unknown error"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]
