"""dygraph — a compiler and durable runtime for DyGram, a declarative language for agentic workflows.

    >>> import dygraph
    >>> m = dygraph.loads("start -> work -> done;")
    >>> [n.path for n in m.nodes]
    ['start', 'work', 'done']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dygraph.diagnostics import Diagnostic, DygraphError, Severity

if TYPE_CHECKING:
    from dygraph.ir import Machine

__all__ = ["load", "loads", "check", "Diagnostic", "DygraphError", "Severity", "Machine"]


def loads(text: str, file: str = "<string>", *, analyze: bool = False) -> "Machine":
    """Compile DyGram source. Raises `DygraphError` (with `.diagnostics`) if it has errors."""
    from dygraph.syntax import compile_source

    machine, diagnostics = compile_source(text, file)
    return _finish(machine, diagnostics, analyze)


def load(path, *, analyze: bool = False) -> "Machine":
    """Compile a `.dygram` / `.dy` / `.mach` file (imports included)."""
    import os

    from dygraph.syntax import compile_file

    machine, diagnostics = compile_file(os.fspath(path))
    return _finish(machine, diagnostics, analyze)


def check(text: str, file: str = "<string>") -> list[Diagnostic]:
    """Every diagnostic for a program: syntax, names, types and graph checks."""
    from dygraph.syntax import compile_source

    machine, diagnostics = compile_source(text, file)
    if machine is not None and not any(d.is_error for d in diagnostics):
        diagnostics += _analyze(machine)
    return diagnostics


def _analyze(machine) -> list[Diagnostic]:
    try:
        from dygraph.analysis import analyze
    except ImportError:
        return []
    return analyze(machine)


def _finish(machine, diagnostics, analyze: bool):
    if machine is not None and analyze and not any(d.is_error for d in diagnostics):
        diagnostics = diagnostics + _analyze(machine)
    if machine is None or any(d.is_error for d in diagnostics):
        raise DygraphError(diagnostics)
    return machine


def __getattr__(name: str):
    if name == "Machine":
        from dygraph.ir import Machine

        return Machine
    raise AttributeError(name)
