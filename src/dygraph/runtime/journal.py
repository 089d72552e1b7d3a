"""The journal: where the runtime reports each committed step, so runs can be made durable.

The runtime calls these hooks; the default `MemoryJournal` does nothing. A durable store implements
the same protocol (checkpoint the state and events in one transaction, record tool calls, record and
replay agent exchanges).

Commit points. `on_step(state, events)` is called after every change of the run state that must
survive a crash: run start (events `run_started`, `node_entered` for the start paths), each path step
(one path processing one node), a barrier release, a background tool finishing, and run end.
`state` is the live object — serialise it (`state.to_json()`) before the next `await`, don't keep it.

Replaying a step. A step that was interrupted is run again from the last checkpoint. It reproduces the
same agent requests (keyed by run_id, path_id, node, visit, round — wrap the agent with `wrap_agent`
to answer from a recording) and the same tool-call ids; built-in tools (transitions, spawns, context
reads/writes) are re-executed against the state and are idempotent by id, while user tools go through
`tool_started`: return the stored outcome of a call that completed and it is not run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Protocol, runtime_checkable

if TYPE_CHECKING:
    from dygraph.agents.base import Agent
    from dygraph.runtime.state import RunState


@dataclass
class ToolInvocation:
    """One call of a user tool. `call_id` is deterministic: `<path>:<step>:<visit>:<round>:<n>`."""

    run_id: str
    path_id: str
    node: str
    call_id: str
    name: str
    arguments: dict
    background: bool = False  # started with `_executeAsync: true`


@dataclass
class ToolOutcome:
    ok: bool
    value: Any = None  # JSON-serialisable result when ok
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "value": self.value, "error": self.error}

    @classmethod
    def from_json(cls, data: dict) -> "ToolOutcome":
        return cls(ok=bool(data.get("ok")), value=data.get("value"), error=data.get("error"))


@runtime_checkable
class Journal(Protocol):
    async def on_step(self, state: "RunState", events: list[dict]) -> None:
        """A commit point: persist `state` and `events` together."""

    async def tool_started(self, call: ToolInvocation) -> Optional[ToolOutcome]:
        """Before a user tool runs. Return a stored outcome to skip running it (resume)."""

    async def tool_finished(self, call: ToolInvocation, outcome: ToolOutcome) -> None:
        """After a user tool ran (successfully or not)."""

    def wrap_agent(self, agent: "Agent") -> "Agent":
        """Return the agent the runtime should use (e.g. one that records or replays exchanges)."""


class MemoryJournal:
    """The default: keeps nothing; every hook is a no-op."""

    async def on_step(self, state: "RunState", events: list[dict]) -> None:
        return None

    async def tool_started(self, call: ToolInvocation) -> Optional[ToolOutcome]:
        return None

    async def tool_finished(self, call: ToolInvocation, outcome: ToolOutcome) -> None:
        return None

    def wrap_agent(self, agent: "Agent") -> "Agent":
        return agent
