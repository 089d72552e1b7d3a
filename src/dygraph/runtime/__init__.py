"""The runtime: steps execution paths through a compiled machine (reads the IR only)."""

from dygraph.runtime.engine import DEFAULT_MODEL, RunResult, Runtime, ToolFailure
from dygraph.runtime.journal import Journal, MemoryJournal, ToolInvocation, ToolOutcome
from dygraph.runtime.state import AsyncToolState, BarrierState, Limits, PathState, RunState
from dygraph.runtime.tools import Tool, tool

__all__ = [
    "DEFAULT_MODEL", "AsyncToolState", "BarrierState", "Journal", "Limits", "MemoryJournal", "PathState",
    "RunResult", "RunState", "Runtime", "Tool", "ToolFailure", "ToolInvocation", "ToolOutcome", "tool",
]
