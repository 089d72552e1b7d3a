"""Durable runs: where runs, their checkpoints, events, tool calls and LLM exchanges are kept.

`open_store()` opens the default store (`$DYGRAPH_HOME/runs.db`, default `~/.dygraph/runs.db`).
"""

from __future__ import annotations

import os

from dygraph.store.base import (
    EventRecord, LLMExchange, RunBusy, RunExists, RunNotFound, RunRecord, RunStatus, RunStore,
    RunTakenOver, StoreError, ToolCallRecord, ToolCallStatus, default_db_path, default_home,
)
from dygraph.store.sqlite import SQLiteStore


def open_store(path: str | os.PathLike | None = None) -> SQLiteStore:
    """The SQLite store at `path`, or the default one."""
    return SQLiteStore(path)


__all__ = [
    "EventRecord", "LLMExchange", "RunBusy", "RunExists", "RunNotFound", "RunRecord", "RunStatus",
    "RunStore", "RunTakenOver", "SQLiteStore", "StoreError", "ToolCallRecord", "ToolCallStatus", "default_db_path",
    "default_home", "open_store",
]
