"""`SQLiteJournal`: the runtime's journal backed by a run store — this is what makes a run durable.

Each commit point (`on_step`) writes what the step changed — run-level state, changed paths, new
history entries and counters — with its events in one transaction, and returns only once it is
committed. User tools are recorded as started before they
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
from dygraph.runtime.state import PathState, RunState
from dygraph.store.base import JSONText, LLMExchange, RunNotFound, RunStatus, ToolCallRecord, ToolCallStatus
from dygraph.store.recording import exchange_key, reply_from_json, reply_text, request_text

if TYPE_CHECKING:
    from dygraph.agents.base import Agent, AgentReply, AgentRequest
    from dygraph.store.sqlite import SQLiteStore

# What a commit writes is proportional to what the step changed, not to the size of the run: each
# path is its own row, written only when the path changed; a path's history (append-only) and its
# visit/turn counters travel as rows of their own, changed entries only. Changes are tracked, not
# searched for: paths, their lists and maps are swapped for tracking subclasses while the run is
# journaled (`StateEncoder.attach`), and swapped back when it ends (`detach`).
MAP_FIELDS = ("visits", "turns")
_PATH_EXCLUDE = {"history", *MAP_FIELDS}
_FINAL = {"completed": RunStatus.COMPLETED, "failed": RunStatus.FAILED, "cancelled": RunStatus.CANCELLED}
FORMAT = 2  # checkpoint layout: run-level state here, paths in their own rows

# id(path) -> (set of dirty path ids, path id), for the paths of runs being journaled
_SINKS: dict[int, tuple[set, str]] = {}


def _mark(owner: Any) -> None:
    sink = _SINKS.get(id(owner))
    if sink is not None:
        sink[0].add(sink[1])


class TrackedPath(PathState):
    """A `PathState` that reports attribute changes to its run's encoder."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        _mark(self)


class TrackedList(list):
    """A list that marks its path changed on any mutation."""

    __slots__ = ("owner",)

    def __init__(self, values: Any = (), owner: Any = None):
        super().__init__(values)
        self.owner = owner

    def _changed(self) -> None:
        _mark(self.owner)

    def __reduce__(self):  # copies and pickles are plain lists
        return list, (list(self),)


def _mutator(name: str):
    base = getattr(list, name)

    def method(self, *args):
        result = base(self, *args)
        self._changed()
        return self if name in ("__iadd__", "__imul__") else result

    method.__name__ = name
    return method


for _name in ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "__setitem__",
              "__delitem__", "__iadd__", "__imul__"):
    setattr(TrackedList, _name, _mutator(_name))


class TrackedDict(dict):
    """A dict that remembers which keys changed since the last checkpoint (and marks its owner)."""

    __slots__ = ("dirty", "owner")

    def __init__(self, *args: Any, owner: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.dirty: set = set()
        self.owner = owner

    def _changed(self, key) -> None:
        self.dirty.add(key)
        _mark(self.owner)

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self._changed(key)

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self._changed(key)

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
        self._changed(key)
        return super().pop(key, *default)

    def popitem(self):
        key, value = super().popitem()
        self._changed(key)
        return key, value

    def clear(self) -> None:
        for key in list(self):
            self._changed(key)
        super().clear()

    def __reduce__(self):  # copies and pickles are plain dicts
        return dict, (dict(self),)


class StateEncoder:
    """Turns the live state into what one commit writes: the run-level checkpoint, the rows of the
    paths that changed, their new history entries and their changed counters."""

    def __init__(self) -> None:
        self.state: RunState | None = None
        self.dirty: set[str] = set()   # path ids changed since the last commit
        self.persisted: dict[str, int] = {}  # path id -> history entries already stored
        self.tracked: dict[str, PathState] = {}
        self.order: dict[str, int] = {}  # path id -> creation rank (the order of `state.paths`)

    def attach(self, state: RunState, *, stored: bool = False) -> None:
        """Track `state`; `stored`: it was just loaded, so nothing in it needs writing."""
        self.detach()
        self.state = state
        self.order = {path_id: rank for rank, path_id in enumerate(state.paths)}
        state.__dict__["paths"] = TrackedDict(state.paths)
        for path_id in state.paths:
            self._track(path_id)
        if stored:
            self.dirty.clear()
            self.persisted = {pid: len(p.history) for pid, p in state.paths.items()}
            for path in state.paths.values():
                for field in MAP_FIELDS:
                    path.__dict__[field].dirty.clear()

    def _track(self, path_id: str) -> None:
        path = self.state.paths[path_id]
        if type(path) is PathState:
            path.__class__ = TrackedPath
        _SINKS[id(path)] = (self.dirty, path_id)
        self.tracked[path_id] = path
        self.order.setdefault(path_id, len(self.order))
        values = path.__dict__
        for field in ("history", "inbox"):
            if type(values[field]) is not TrackedList:
                values[field] = TrackedList(values[field], owner=path)
        for field in MAP_FIELDS:
            if type(values[field]) is not TrackedDict:
                values[field] = TrackedDict(values[field], owner=path)
                values[field].dirty.update(values[field])
                values[field].dirty.add(None)  # None: store the whole map again
        self.dirty.add(path_id)

    def detach(self) -> None:
        """Stop tracking: paths are plain `PathState`s again (lists and maps keep their values)."""
        for path in self.tracked.values():
            _SINKS.pop(id(path), None)
            if type(path) is TrackedPath:
                path.__class__ = PathState
        self.tracked.clear()
        self.state = None

    def encode(self, state: RunState) -> tuple[str, list[tuple], list[tuple], list[tuple]]:
        """(checkpoint text, path rows, history rows, map rows) for this commit."""
        if state is not self.state or type(state.__dict__["paths"]) is not TrackedDict:
            self.attach(state)
        paths = state.paths
        for path_id in paths.dirty:  # paths added, replaced or removed
            self.dirty.add(path_id)
            if path_id in paths and self.tracked.get(path_id) is not paths[path_id]:
                self._track(path_id)
        paths.dirty.clear()
        path_rows: list[tuple] = []
        history_rows: list[tuple] = []
        map_rows: list[tuple] = []
        for path_id in list(self.dirty):
            path = paths.get(path_id)
            if path is None:
                path_rows.append((path_id, None))
                continue
            values = path.__dict__
            if type(values["history"]) is not TrackedList or type(values["inbox"]) is not TrackedList \
                    or any(type(values[f]) is not TrackedDict for f in MAP_FIELDS):
                self._track(path_id)  # the runtime assigned a new list or map
            history = path.history
            n = len(history)
            start = self.persisted.get(path_id, 0)
            if start > n:
                start = 0
            history_rows.extend((path_id, i, history[i]) for i in range(start, n))
            self.persisted[path_id] = n
            for field in MAP_FIELDS:
                counters = values[field]
                if None in counters.dirty:
                    map_rows.append((path_id, field, None, None))
                    map_rows.extend((path_id, field, k, _json(v)) for k, v in counters.items())
                else:
                    map_rows.extend((path_id, field, k, _json(counters[k]) if k in counters else None)
                                    for k in counters.dirty)
                counters.dirty.clear()
            path_rows.append((path_id, '{"order":' + str(self.order[path_id]) + ',"history":' + str(n)
                              + ',"path":' + path.model_dump_json(exclude=_PATH_EXCLUDE) + "}"))
        self.dirty.clear()
        text = '{"format":2,"state":' + state.model_dump_json(exclude={"paths"}) + "}"
        return text, path_rows, history_rows, map_rows


def _json(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


def decode_state(text: str, history: dict[str, list[str]], maps: dict[str, dict[str, dict[str, Any]]],
                 paths: dict[str, str]) -> RunState:
    data = json.loads(text)
    state = data["state"]
    if "format" not in data:  # first layout: paths inside the checkpoint, histories as rows
        for path_id, path in state.get("paths", {}).items():
            path["history"] = history.get(path_id, [])[:data["history"].get(path_id, 0)]
            for field in MAP_FIELDS:
                path.setdefault(field, maps.get(path_id, {}).get(field, {}))
        return RunState.model_validate(state)
    rows = sorted((json.loads(row) | {"id_": path_id} for path_id, row in paths.items()), key=lambda r: r["order"])
    state["paths"] = {}
    for stored in rows:  # in creation order, as the runtime keeps them
        path_id, path = stored["id_"], stored["path"]
        path["history"] = history.get(path_id, [])[:stored["history"]]
        for field in MAP_FIELDS:
            path[field] = maps.get(path_id, {}).get(field, {})
        state["paths"][path_id] = path
    return RunState.model_validate(state)


def load_state(store: "SQLiteStore", run_id: str) -> tuple[int, RunState] | None:
    """The run's last committed checkpoint (step number, state), or None if it has none."""
    checkpoint = store.latest_checkpoint(run_id)
    if checkpoint is None:
        return None
    step, text = checkpoint
    return step, decode_state(text, store.history(run_id), store.path_maps(run_id), store.path_states(run_id))


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
        self.resumed = False  # True once resuming: only then can tool calls or replies be stored already

    def close(self) -> None:
        """The run stopped (finished, failed, interrupted): stop tracking its state."""
        self._encoder.detach()

    def prepare_resume(self, step: int, state: RunState) -> None:
        """Continue numbering after the checkpoint `state` was loaded from."""
        self.resumed = True
        self.commits = step
        self.next_seq = self.store.last_event_seq(self.run_id) + 1
        self._encoder.attach(state, stored=True)

    # ------------------------------------------------------------ commit points

    async def on_step(self, state: RunState, events: list[dict]) -> None:
        text, paths, rows, maps = self._encoder.encode(state)  # before any await: `state` is live
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
        if state.status in _FINAL:
            self._encoder.detach()  # the run is over: its paths are plain PathStates again
        await self.store.acommit_step(self.run_id, self.commits, text, rows_events, paths=paths, history=rows,
                                      maps=maps,
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
        # Not awaited: the step's own commit, which needs it, is queued after it (first in, first out).
        self.store.tool_call_finished_nowait(self.run_id, call.call_id, result=outcome.to_json(),
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
        asked = request_text(request)
        if self.journal.resumed:  # a fresh run has nothing stored to reuse
            stored = await store.allm_exchange(run_id, key)
            if stored is not None and stored.request == json.loads(asked):
                self.journal.reused_exchanges += 1
                return reply_from_json(stored.reply)
        reply = await self.agent.respond(request)
        store.put_llm_exchange_nowait(LLMExchange(run_id, key, JSONText(asked), JSONText(reply_text(reply)),
                                                  time.time()))
        return reply

    async def aclose(self) -> None:
        await self.agent.aclose()

    def __getattr__(self, name: str) -> Any:  # anything else the runtime asks of the agent
        return getattr(self.agent, name)


__all__ = ["JournaledAgent", "RunNotFound", "SQLiteJournal", "StateEncoder", "TrackedDict", "TrackedList",
           "decode_state", "load_state"]
