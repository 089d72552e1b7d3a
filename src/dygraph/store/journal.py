"""`SQLiteJournal`: the runtime's journal backed by a run store — this is what makes a run durable.

A commit writes what changed since the last one — run-level state, changed paths, new history
entries and counters — with the events in one transaction: after every step (`sync` durability), or
grouped, and always before anything leaves the run (`async`, see `SQLiteJournal`). User tools are
recorded as started before they run and as finished after, so a resumed run reuses a completed
call's outcome instead of calling again; an interrupted call is retried only when the tool is
idempotent. Agent exchanges are stored
too, so a resumed turn gets its recorded reply instead of paying for the model again.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Iterable, Optional

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
DURABILITY = ("async", "sync")
# async durability: steps computed since the last commit are committed once this many seconds passed
COMMIT_INTERVAL = 0.005
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
            start = self.persisted.get(path_id)
            if start is None or start > n:  # a new path, or its history was replaced: (re)write it whole
                history_rows.append((path_id, 0, history[:n]))
            elif n > start:
                history_rows.append((path_id, start, history[start:n]))
            self.persisted[path_id] = n
            for field in MAP_FIELDS:
                counters = values[field]
                dirty = counters.dirty
                if None in dirty:
                    map_rows.append((path_id, field, True, dict(counters)))
                elif dirty:
                    map_rows.append((path_id, field, False, {k: counters.get(k) for k in dirty}))
                dirty.clear()
            path_rows.append((path_id, '{"order":' + str(self.order[path_id]) + ',"history":' + str(n)
                              + ',"path":' + path.model_dump_json(exclude=_PATH_EXCLUDE) + "}"))
        self.dirty.clear()
        text = '{"format":2,"state":' + state.model_dump_json(exclude={"paths"}) + "}"
        return text, path_rows, history_rows, map_rows


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
    """Implements `dygraph.runtime.journal.Journal` for one run in a `SQLiteStore`.

    `durability` says when a step's commit must be done before the run goes on:

    - ``"sync"``: after every step. A crash loses nothing that was computed.
    - ``"async"`` (the default): what changed is committed once `commit_interval` has passed since
      the last commit (by the step that finds it passed, or by a timer when the run goes quiet), and
      when a model is asked (handed to the store thread, committed while the model thinks). The run
      waits for every earlier step to be committed before a user tool or `@code` node runs, at a
      `@checkpoint` node and at the end. A crash can therefore lose only steps that had no effect
      outside the run; resuming computes them again from the last commit, with the same ids, so the
      run comes out the same.
    """

    def __init__(self, store: "SQLiteStore", run_id: str, *, record_exchanges: bool = True,
                 tools: Iterable[Any] = (), durability: str = "async",
                 commit_interval: float = COMMIT_INTERVAL):
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {', '.join(DURABILITY)}, not {durability!r}")
        self.store = store
        self.run_id = run_id
        self.durability = durability
        # Whether a tool may be re-run after a crash, by name (`Tool.idempotent`).
        self.idempotent = {t.name: bool(getattr(t, "idempotent", True)) for t in tools}
        self.record_exchanges = record_exchanges
        self.commits = 0        # commit points stored so far (the checkpoint number)
        self.next_seq = 1       # next event sequence number
        self._encoder = StateEncoder()
        self.reused_tool_calls = 0
        self.reused_exchanges = 0
        self.surfaced: list[str] = []  # interrupted non-idempotent calls that were not re-run
        self.resumed = False  # True once resuming: only then can tool calls or replies be stored already
        # async durability: what the next commit carries, and the commit in flight
        self._state: RunState | None = None
        self._events: list[dict] = []
        self._unsent = False
        self.commit_interval = commit_interval
        self._inflight: Optional[Future] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._sent_at = time.monotonic()
        self._failure: Optional[BaseException] = None  # a background commit failed: the run must stop
        self._closed = False

    def close(self) -> None:
        """The run stopped (finished, failed, interrupted): stop tracking its state. Steps not yet
        handed to the store are dropped; a resume computes them again."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._encoder.detach()

    def prepare_resume(self, step: int, state: RunState) -> None:
        """Continue numbering after the checkpoint `state` was loaded from."""
        self.resumed = True
        self.commits = step
        self.next_seq = self.store.last_event_seq(self.run_id) + 1
        self._encoder.attach(state, stored=True)

    # ------------------------------------------------------------ commit points

    async def on_step(self, state: RunState, events: list[dict]) -> None:
        self._raise_failure()
        self._state = state
        self._events += events  # kept as they are: the store encodes a commit's events in one go
        self._unsent = True
        final = state.status in _FINAL
        if self.durability == "sync" or final or not self._background_ok() \
                or any(event.get("type") == "checkpoint" for event in events):  # a `@checkpoint` node
            await self.store.awrite(self.store._commit_step, *self._take(final=final))
            self._inflight = None
        elif time.monotonic() - self._sent_at >= self.commit_interval:
            args = self._take()
            done, _ = self.store.try_write_here(self.store._commit_step, *args)
            if not done:  # the database is busy (another writer): the store thread commits it
                self._queue(args)
        elif self._timer is None:  # the run may go quiet: commit what it did by the deadline anyway
            self._timer = self._loop.call_at(self._loop.time() + self.commit_interval, self._send_queued)

    def send(self) -> Optional[Future]:
        """Hand the steps not yet committed to the store thread now; the returned future (None when
        nothing is in flight) settles once they are committed."""
        if self._unsent and not self._closed:
            self._queue(self._take())
        return self._inflight

    async def flush(self) -> None:
        """Return once every step so far is committed (async durability's barrier before effects)."""
        self._raise_failure()
        future = self.send()
        if future is not None and not future.done():
            try:
                await self.store.wait(future)
            except Exception:  # a failed commit is reported by `_raise_failure`, once
                pass
        self._raise_failure()

    def _background_ok(self) -> bool:
        """Async durability needs an asyncio loop (for its deadline timer); elsewhere it commits each step."""
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                return False
        return True

    def _take(self, *, final: bool = False) -> tuple:
        """Encode what changed since the last commit, as the arguments of the store's `_commit_step`."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        state = self._state
        text, paths, rows, maps = self._encoder.encode(state)  # on the loop, between steps: `state` is live
        events, self._events, self._unsent = self._events, [], False
        self.commits += 1
        first, self.next_seq = self.next_seq, self.next_seq + len(events)
        if final:
            self._encoder.detach()  # the run is over: its paths are plain PathStates again
        self._sent_at = time.monotonic()
        return (self.run_id, self.commits, text, events, paths, rows, maps, _FINAL.get(state.status), first,
                state.steps)

    def _queue(self, args: tuple) -> None:
        run_id, step, text, events, paths, rows, maps, status, first, steps = args
        future = self.store.commit_step_nowait(run_id, step, text, events, paths=paths, history=rows, maps=maps,
                                               status=status, first_seq=first, steps=steps)
        future.add_done_callback(self._note_failure)
        self._inflight = future

    def _note_failure(self, future: Future) -> None:
        if not future.cancelled() and future.exception() is not None and self._failure is None:
            self._failure = future.exception()

    def _send_queued(self) -> None:
        """The commit deadline passed with no step to trigger it (the run is waiting): commit now."""
        self._timer = None
        if self._unsent and not self._closed and self._failure is None:
            self._queue(self._take())

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    # ------------------------------------------------------------ tool calls

    async def tool_started(self, call: ToolInvocation) -> Optional[ToolOutcome]:
        await self.flush()  # the steps that led to the call are committed before it runs
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
        self.journal.send()  # the steps up to here are committed while the model thinks
        reply = await self.agent.respond(request)
        store.put_llm_exchange_nowait(LLMExchange(run_id, key, JSONText(asked), JSONText(reply_text(reply)),
                                                  time.time()))
        return reply

    async def aclose(self) -> None:
        await self.agent.aclose()

    def __getattr__(self, name: str) -> Any:  # anything else the runtime asks of the agent
        return getattr(self.agent, name)


__all__ = ["JournaledAgent", "RunNotFound", "SQLiteJournal", "StateEncoder", "TrackedDict", "TrackedList",
           "decode_state", "load_state", "DURABILITY"]
