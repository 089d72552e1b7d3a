"""`SQLiteJournal`: the runtime's journal backed by a run store — this is what makes a run durable.

Each commit point (`on_step`) writes the state, its events and the new path-history entries in one
transaction and returns only once it is committed. User tools are recorded as started before they
run and as finished after, so a resumed run reuses a completed call's outcome instead of calling
again; an interrupted call is retried only when the tool is idempotent. Agent exchanges are stored
too, so a resumed turn gets its recorded reply instead of paying for the model again.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Iterable, Optional

import pydantic_core

from dygraph.runtime.journal import ToolInvocation, ToolOutcome
from dygraph.runtime.state import RunState
from dygraph.store.base import LLMExchange, RunNotFound, RunStatus, ToolCallRecord, ToolCallStatus
from dygraph.store.recording import exchange_key, reply_from_json, reply_to_json, request_to_json

if TYPE_CHECKING:
    from dygraph.agents.base import Agent, AgentReply, AgentRequest
    from dygraph.store.sqlite import SQLiteStore

# Parts of a path that grow with the run travel as rows, changed entries only, instead of inside
# every checkpoint (which would make a long run quadratic): histories (append-only lists) and the
# visit/turn counters (maps whose changes are tracked, see `TrackedDict`).
MAP_FIELDS = ("visits", "turns")
_WITHOUT_GROWING = {"paths": {"__all__": {"history", *MAP_FIELDS}}}
_FINAL = {"completed": RunStatus.COMPLETED, "failed": RunStatus.FAILED, "cancelled": RunStatus.CANCELLED}


class TrackedDict(dict):
    """A dict that remembers which keys changed since the last checkpoint."""

    __slots__ = ("dirty",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.dirty: set = set()

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.dirty.add(key)

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self.dirty.add(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key, *default):
        self.dirty.add(key)
        return super().pop(key, *default)

    def popitem(self):
        key, value = super().popitem()
        self.dirty.add(key)
        return key, value

    def clear(self) -> None:
        self.dirty.update(self)
        super().clear()

    def __reduce__(self):  # copies and pickles are plain dicts
        return dict, (dict(self),)


class StateEncoder:
    """Turns the live state into (checkpoint text, new history rows, changed map rows)."""

    def __init__(self) -> None:
        self.persisted: dict[str, int] = {}  # path id -> history entries already stored

    def seed(self, state: RunState) -> None:
        """The state was just loaded from the store: everything in it is stored already."""
        self.persisted = {pid: len(p.history) for pid, p in state.paths.items()}
        for path in state.paths.values():
            for field in MAP_FIELDS:
                path.__dict__[field] = TrackedDict(getattr(path, field))

    def encode(self, state: RunState) -> tuple[str, list[tuple[str, int, str]], list[tuple]]:
        rows: list[tuple[str, int, str]] = []
        maps: list[tuple] = []
        lengths: dict[str, int] = {}
        persisted = self.persisted
        for path_id, path in state.paths.items():
            history = path.history
            n = len(history)
            lengths[path_id] = n
            start = persisted.get(path_id, 0)
            if start > n:  # a history got shorter: rewrite it from its start
                start = 0
            if n > start:
                rows.extend((path_id, i, history[i]) for i in range(start, n))
                persisted[path_id] = n
            for field in MAP_FIELDS:
                values = path.__dict__[field]
                if type(values) is TrackedDict:
                    for key in values.dirty:
                        maps.append((path_id, field, key, _json(values[key]) if key in values else None))
                    values.dirty.clear()
                else:  # new, or replaced by the runtime: store it whole and track it from now on
                    maps.append((path_id, field, None, None))
                    maps.extend((path_id, field, key, _json(value)) for key, value in values.items())
                    path.__dict__[field] = TrackedDict(values)
        text = ('{"history":' + _json(lengths) + ',"state":'
                + state.model_dump_json(exclude=_WITHOUT_GROWING) + "}")
        return text, rows, maps


def _json(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


def decode_state(text: str, history: dict[str, list[str]],
                 maps: dict[str, dict[str, dict[str, Any]]] | None = None) -> RunState:
    data = json.loads(text)
    paths = data["state"].get("paths", {})
    for path_id, length in data["history"].items():
        if path_id in paths:
            paths[path_id]["history"] = history.get(path_id, [])[:length]
    for path_id, path in paths.items():
        for field in MAP_FIELDS:
            if field not in path:
                path[field] = (maps or {}).get(path_id, {}).get(field, {})
    return RunState.model_validate(data["state"])


def load_state(store: "SQLiteStore", run_id: str) -> tuple[int, RunState] | None:
    """The run's last committed checkpoint (step number, state), or None if it has none."""
    checkpoint = store.latest_checkpoint(run_id)
    if checkpoint is None:
        return None
    step, text = checkpoint
    return step, decode_state(text, store.history(run_id), store.path_maps(run_id))


class SQLiteJournal:
    """Implements `dygraph.runtime.journal.Journal` for one run in a `SQLiteStore`."""

    def __init__(self, store: "SQLiteStore", run_id: str, *, record_exchanges: bool = True,
                 tools: Iterable[Any] = ()):
        self.store = store
        self.run_id = run_id
        # Whether a tool may be re-run after a crash, by name (`Tool.idempotent`).
        self.idempotent = {t.name: bool(getattr(t, "idempotent", True)) for t in tools}
        self.record_exchanges = record_exchanges
        self.commits = 0        # commit points stored so far (the checkpoint number)
        self.next_seq = 1       # next event sequence number
        self._encoder = StateEncoder()
        self.reused_tool_calls = 0
        self.reused_exchanges = 0
        self.surfaced: list[str] = []  # interrupted non-idempotent calls that were not re-run
        self._committed: set[int] = set()  # runtime event seqs already stored by this process

    def prepare_resume(self, step: int, state: RunState) -> None:
        """Continue numbering after the checkpoint `state` was loaded from."""
        self.commits = step
        self.next_seq = self.store.last_event_seq(self.run_id) + 1
        self._encoder.seed(state)

    # ------------------------------------------------------------ commit points

    async def on_step(self, state: RunState, events: list[dict]) -> None:
        text, rows, maps = self._encoder.encode(state)  # before any await: `state` is live
        rows_events = []
        for event in events:
            seq = event.get("seq")
            if seq is not None:
                if seq in self._committed:  # the runtime handed this event over twice
                    continue
                self._committed.add(seq)
            rows_events.append((str(event.get("type", "event")), {k: v for k, v in event.items() if k != "type"}))
        self.commits += 1
        first, self.next_seq = self.next_seq, self.next_seq + len(rows_events)
        await self.store.acommit_step(self.run_id, self.commits, text, rows_events, history=rows, maps=maps,
                                      status=_FINAL.get(state.status), first_seq=first, steps=state.steps)

    # ------------------------------------------------------------ tool calls

    async def tool_started(self, call: ToolInvocation) -> Optional[ToolOutcome]:
        idempotent = getattr(call, "idempotent", None)
        if idempotent is None:
            idempotent = self.idempotent.get(call.name, True)
        record = ToolCallRecord(run_id=self.run_id, call_id=call.call_id, name=call.name,
                                arguments=call.arguments, status=ToolCallStatus.STARTED,
                                path_id=call.path_id, idempotent=idempotent, started_at=time.time())
        stored = await self.store.atool_call_begin(record)
        if stored is None:
            return None  # first time: recorded as started, now run it
        if stored.status is not ToolCallStatus.STARTED:
            self.reused_tool_calls += 1
            outcome = stored.result if isinstance(stored.result, dict) else None
            if outcome is not None and "ok" in outcome:
                return ToolOutcome.from_json(outcome)
            return ToolOutcome(ok=stored.status is ToolCallStatus.COMPLETED, value=stored.result,
                               error=stored.error)
        # Started but never finished: the process died while the tool ran.
        if idempotent and stored.idempotent:
            await self.store.acall(self.store._tool_started, record)  # counts the attempt
            return None
        message = (f"tool '{call.name}' (call {call.call_id}) was interrupted by a crash and is not "
                   f"idempotent; it was not run again — check its effect and retry by hand")
        self.surfaced.append(message)
        await self.store.atool_call_finished(self.run_id, call.call_id,
                                             result=ToolOutcome(False, None, message).to_json(),
                                             error=message)
        return ToolOutcome(ok=False, error=message)

    async def tool_finished(self, call: ToolInvocation, outcome: ToolOutcome) -> None:
        await self.store.atool_call_finished(self.run_id, call.call_id, result=outcome.to_json(),
                                             error=None if outcome.ok else (outcome.error or "failed"))

    # ------------------------------------------------------------ agent exchanges

    def wrap_agent(self, agent: "Agent") -> "Agent":
        return JournaledAgent(agent, self) if self.record_exchanges else agent


class JournaledAgent:
    """Answers a request the run already paid for from the store; records every new exchange."""

    def __init__(self, agent: "Agent", journal: SQLiteJournal):
        self.agent = agent
        self.journal = journal
        self.name = getattr(agent, "name", "agent")

    async def respond(self, request: "AgentRequest") -> "AgentReply":
        store, run_id = self.journal.store, self.journal.run_id
        key = exchange_key(request)
        asked = request_to_json(request)
        stored = await store.allm_exchange(run_id, key)
        if stored is not None and stored.request == asked:
            self.journal.reused_exchanges += 1
            return reply_from_json(stored.reply)
        reply = await self.agent.respond(request)
        await store.aput_llm_exchange(LLMExchange(run_id, key, asked, reply_to_json(reply), time.time()))
        return reply

    async def aclose(self) -> None:
        await self.agent.aclose()

    def __getattr__(self, name: str) -> Any:  # anything else the runtime asks of the agent
        return getattr(self.agent, name)


__all__ = ["JournaledAgent", "RunNotFound", "SQLiteJournal", "StateEncoder", "TrackedDict", "decode_state",
           "load_state"]
