"""Stepping paths through a machine.

A run is a `RunState` plus this engine. Each path is driven by its own task; one *step* is one path
processing the node it stands at (limits, forks, automatic exits or an agent turn, then a move). After
every step the journal's `on_step(state, events)` is called — the commit point for durable runs.

Replay safety: counters that ids derive from (`steps`, `spawned`, `turns`) are committed at the end of
a step, so a step interrupted half-way is re-run with the same child path ids and tool-call ids; effects
a step makes before it ends (spawned paths, context writes, background tools) are keyed by those ids
and are not duplicated when the step runs again.
"""

from __future__ import annotations

import json
import math
import os
import time
import traceback
from collections import ChainMap
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional

import anyio
import anyio.lowlevel
from celpy import celtypes

from dygraph.agents.base import Agent, AgentError, AgentRequest, ToolCall, ToolSpec
from dygraph.ir.model import Machine
from dygraph.runtime.code import CODE_TOOL, code_tool
from dygraph.runtime.expressions import condition_holds, evaluate, render_template, to_cel
from dygraph.runtime.graph import Exit, NodeInfo, Program, json_schema_for, tool_safe
from dygraph.runtime.journal import Journal, MemoryJournal, ToolInvocation, ToolOutcome
from dygraph.runtime.state import AsyncToolState, BarrierState, Limits, PathState, RunState
from dygraph.runtime.tools import Tool, check_arguments

DEFAULT_MODEL = "gpt-4o-mini"
NUDGE = "You have not chosen how to continue. When you are done, call exactly one transition_to_* tool."
AGAIN = "Your previous turn at this node ended without a transition. Continue from where you left off."
EventListener = Callable[[dict], None]
TERMINAL = ("completed", "failed", "cancelled")
# pydantic's __setattr__ costs ~2 µs; the hot counters are plain values assigned without validation
# anyway, so the stepping loop writes them directly.
_set = object.__setattr__
LIMIT_ATTRIBUTES = {"maxSteps": "max_steps", "maxVisits": "max_visits", "maxNodeInvocations": "max_visits",
                    "maxToolRounds": "max_tool_rounds"}


class ToolFailure(Exception):
    """A user tool still failed after its retries: the agent turn fails (then catch edge or path failure)."""


@dataclass(repr=False)
class RunResult:
    status: str
    steps: int
    state: RunState
    events: list[dict]
    error: Optional[str] = None

    def __repr__(self) -> str:  # short: event loops repr a finished task's result
        return f"RunResult(status={self.status!r}, steps={self.steps}, paths={len(self.state.paths)})"

    @property
    def paths(self) -> list[PathState]:
        return list(self.state.paths.values())

    @property
    def context(self) -> dict[str, dict[str, Any]]:
        return self.state.context

    def path(self, path_id: str) -> PathState:
        return self.state.paths[path_id]

    def to_dict(self) -> dict:
        """The `dygraph run --json` shape."""
        return {
            "status": self.status,
            "steps": self.steps,
            "paths": [{"id": p.id, "status": p.status, "history": list(p.history)} for p in self.paths],
            "context": self.state.context,
            "error": self.error,
        }


@dataclass(slots=True)
class _Step:
    """What one step has done so far; folded into the path when the step ends."""

    path: PathState
    info: NodeInfo
    step_no: int
    visits: int
    visit_base: int
    spawn_base: int
    spawned: int = 0
    turns_used: int = 0
    inbox_used: int = 0
    output: Optional[str] = None
    conversation: Optional[list[dict]] = None
    arrivals: int = 0  # length of the path's history when the step began: it moved if it grew


@dataclass
class _Turn:
    move: Optional[Exit] = None
    reason: str = ""
    content: Optional[str] = None
    error: Optional[str] = None


@dataclass
class _Handler:
    kind: str  # transition | spawn | read | write | user
    schema: dict
    exit: Optional[Exit] = None
    context: Optional[str] = None
    tool: Optional[Tool] = None


@dataclass
class _Offer:
    specs: list[ToolSpec]
    handlers: dict[str, _Handler] = field(default_factory=dict)

    @property
    def has_transition(self) -> bool:
        return any(h.kind == "transition" for h in self.handlers.values())


class Runtime:
    """Runs a compiled machine: `await Runtime(machine, agent=...).run()`."""

    def __init__(
        self,
        machine: Machine,
        agent: Optional[Agent] = None,
        journal: Optional[Journal] = None,
        limits: Optional[Limits | Mapping[str, Any]] = None,
        *,
        tools: Iterable[Tool] = (),
        model: Optional[str] = None,
        run_id: str = "run",
        context: Optional[Mapping[str, Mapping[str, Any]]] = None,
        on_event: Optional[EventListener] = None,
        keep_events: bool = True,
    ):
        self.machine = machine
        self.program = Program.of(machine)
        if agent is None:
            from dygraph.agents.offline import OfflineAgent

            agent = OfflineAgent()
        self.base_agent = agent
        self.journal: Journal = journal or MemoryJournal()
        self.agent: Agent = self.journal.wrap_agent(agent)
        self.limits = self._limits(limits)
        self.tools = {t.name: t for t in tools}
        self.model = model
        self.run_id = run_id
        self.context_overrides = self._resolve_context_overrides(context or {})
        self.listeners: list[EventListener] = [on_event] if on_event else []
        self.keep_events = keep_events
        self.events: list[dict] = []
        self.state: Optional[RunState] = None
        self._exits = {ex.index: ex for t in (self.program.own_exits, self.program.own_catches)
                       for exits in t.values() for ex in exits}
        self._offers: dict[tuple, _Offer] = {}
        self._overlay: Optional[tuple[dict, dict]] = None  # context values as CEL names; None: stale
        self._code_tools: dict[str, Tool] = {}
        self._waiters: dict[str, anyio.Event] = {}
        self._driving: set[str] = set()
        self._running_tools: dict[str, int] = {}
        self._awaiting: dict[str, str] = {}  # parent path -> child it awaits to completion
        self._tg: Any = None
        self._cancel_scope: Optional[anyio.CancelScope] = None
        self._cancel_requested = False
        self._t0 = 0.0

    # ------------------------------------------------------------------ setup

    def _limits(self, limits: Optional[Limits | Mapping[str, Any]]) -> Limits:
        values: dict[str, Any] = {}
        for attr, key in LIMIT_ATTRIBUTES.items():
            v = self.program.machine_attributes.get(attr)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                values[key] = int(v)
        if isinstance(limits, Limits):
            values.update({k: getattr(limits, k) for k in limits.model_fields_set})
        elif limits:
            values.update({k: v for k, v in limits.items() if v is not None})
        return Limits(**values)

    def _resolve_context_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for ref, values in overrides.items():
            hits = [p for p in self.program.contexts if p == ref or self.machine.node(p).name == ref]
            if len(hits) != 1:
                known = ", ".join(self.program.display(p) for p in self.program.contexts) or "none"
                raise ValueError(f"no context node {ref!r} (context nodes: {known})"
                                 if not hits else f"context reference {ref!r} is ambiguous")
            out.setdefault(hits[0], {}).update(self._checked_override(hits[0], values))
        return out

    def _checked_override(self, ctx: str, values: Mapping[str, Any]) -> dict:
        """Values for a context's declared attributes, of their declared types (a number or boolean given
        for a string attribute is taken as its text, as `--set Ctx.code=42` means it)."""
        node = self.machine.node(ctx)
        declared = {a.name: a for a in node.attributes}
        out = {}
        for name, value in values.items():
            attr = declared.get(name)
            if attr is None:
                if declared:
                    raise ValueError(f"{node.name} has no attribute {name!r} (attributes: {', '.join(declared)})")
            elif attr.type is not None:
                schema = json_schema_for(attr.type)
                if schema.get("type") == "string" and isinstance(value, (int, float, bool)):
                    value = json.dumps(value)
                problem = check_arguments({"properties": {name: schema}}, {name: value})
                if problem is not None:
                    raise ValueError(problem.replace(f"argument {name!r}", f"{node.name}.{name}", 1))
            out[name] = value
        return out

    def initial_state(self) -> RunState:
        state = RunState(run_id=self.run_id, limits=self.limits)
        for path in self.program.contexts:
            values = {a.name: a.value for a in self.machine.node(path).attributes}
            values.update(self.context_overrides.get(path, {}))
            state.context[path] = values
        for i, start in enumerate(self.program.starts):
            leaf = self.program.entry(start)
            state.paths[f"p{i}"] = PathState(id=f"p{i}", node=leaf, history=[leaf])
        return state

    # ------------------------------------------------------------------ public API

    async def run(self) -> RunResult:
        return await self._execute(self.initial_state(), fresh=True)

    async def resume(self, state: RunState) -> RunResult:
        """Continue a run from a checkpointed state (e.g. `RunState.from_json(...)`)."""
        return await self._execute(state, fresh=False)

    def cancel(self) -> None:
        """Stop the run: tools and agent calls in flight are cancelled, paths end `cancelled`.
        A request made before the run started takes effect as soon as it starts."""
        self._cancel_requested = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    def add_listener(self, listener: EventListener) -> None:
        self.listeners.append(listener)

    # ------------------------------------------------------------------ the run

    async def _execute(self, state: RunState, *, fresh: bool) -> RunResult:
        self.state = state
        self._overlay = None
        self._t0 = time.perf_counter()
        timeout = state.limits.timeout
        deadline = math.inf if timeout is None else max(0.0, timeout - state.elapsed)
        with anyio.CancelScope() as scope:
            self._cancel_scope = scope
            if self._cancel_requested:
                scope.cancel()
            with anyio.move_on_after(deadline) as timer:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    events: list[dict] = []
                    if fresh:
                        self._emit(events, "run_started", run_id=state.run_id, machine=self.machine.title,
                                   starts=[p.node for p in state.paths.values()])
                        for p in state.paths.values():
                            self._emit(events, "node_entered", path=p.id, node=p.node)
                    else:
                        self._emit(events, "run_resumed", run_id=state.run_id, steps=state.steps)
                    for t in state.async_tools.values():
                        if t.status == "running":
                            self._start_background(t.task_id)
                    if state.barriers:
                        self._check_barriers(events)
                    await self._commit(events)
                    for p in list(state.paths.values()):
                        if p.status == "active":
                            self._start_driver(p.id)
        return await self._finish_run(cancelled=scope.cancel_called, timed_out=timer.cancel_called)

    async def _finish_run(self, *, cancelled: bool, timed_out: bool) -> RunResult:
        state = self.state
        assert state is not None
        events: list[dict] = []
        for p in state.paths.values():
            if p.status in TERMINAL:
                continue
            if cancelled:
                p.status = "cancelled"
                self._emit(events, "path_cancelled", path=p.id, node=p.node)
            elif timed_out:
                self._fail_path(p, f"run timeout of {state.limits.timeout:g}s exceeded", events)
            else:
                self._fail_path(p, f"deadlock: waiting at barrier {p.barrier!r}, which no path can release",
                                events)
        state.elapsed += time.perf_counter() - self._t0
        failed = [p for p in state.paths.values() if p.status == "failed"]
        if cancelled:
            state.status = "cancelled"
            state.error = "run cancelled"
            self._emit(events, "run_cancelled", steps=state.steps)
        elif failed:
            state.status = "failed"
            first = failed[0]
            state.error = f"{first.id} at {self.program.display(first.node)}: {first.error}"
            self._emit(events, "run_failed", steps=state.steps, error=state.error)
        else:
            state.status = "completed"
            self._emit(events, "run_completed", steps=state.steps)
        with anyio.CancelScope(shield=True):
            await self._commit(events)
        return RunResult(status=state.status, steps=state.steps, state=state, events=self.events,
                         error=state.error)

    def _start_driver(self, path_id: str) -> None:
        if path_id not in self._driving:
            self._driving.add(path_id)
            self._tg.start_soon(self._drive, path_id)

    async def _drive(self, path_id: str) -> None:
        state = self.state
        path = state.paths[path_id]
        since_yield = 0
        try:
            while path.status == "active":
                events: list[dict] = []
                try:
                    await self._step(path, events)
                except Exception as exc:  # a bug must not take the other paths down with it
                    self._fail_path(path, f"internal error: {exc!r}", events,
                                    detail=traceback.format_exc(limit=5))
                if state.barriers:
                    self._check_barriers(events)
                await self._commit(events)
                self._wake(path_id)
                since_yield += 1
                if since_yield >= 8:  # let other paths run; every step would cost a loop iteration
                    since_yield = 0
                    await anyio.lowlevel.checkpoint()
        finally:
            self._driving.discard(path_id)
            self._wake(path_id)

    async def _commit(self, events: list[dict]) -> None:
        await self.journal.on_step(self.state, events)

    def _emit(self, events: list[dict], event_type: str, **fields: Any) -> dict:
        state = self.state
        event = {"seq": state.event_seq, "type": event_type, "step": state.steps,
                 "t": state.elapsed + time.perf_counter() - self._t0, **fields}
        _set(state, "event_seq", state.event_seq + 1)
        events.append(event)
        if self.keep_events:
            self.events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    # path-change notifications, for spawn await_result and background tool results
    def _wake(self, path_id: str) -> None:
        ev = self._waiters.pop(path_id, None)
        if ev is not None:
            ev.set()

    async def _wait_for(self, path_id: str, done: Callable[[], bool]) -> None:
        while not done():
            ev = self._waiters.get(path_id)
            if ev is None:
                ev = self._waiters[path_id] = anyio.Event()
            await ev.wait()

    # ------------------------------------------------------------------ one step

    async def _step(self, path: PathState, events: list[dict]) -> None:
        state = self.state
        info = self.program.nodes.get(path.node)
        if info is None:
            self._fail_path(path, f"node {path.node!r} does not exist in the machine", events)
            return
        limits = state.limits
        if state.steps >= limits.max_steps:
            self._fail_path(path, f"step limit reached ({limits.max_steps} steps per run; "
                                  f"raise it with --max-steps)", events)
            return
        visits = path.visits.get(info.path, 0)
        step = _Step(path=path, info=info, step_no=path.steps, visits=visits,
                     visit_base=path.turns.get(info.path, 0), spawn_base=path.spawned, arrivals=len(path.history))
        if visits >= limits.max_visits:
            self._fail(step, f"visit limit reached: {path.id} entered {self.program.display(info.path)} "
                             f"{visits} times (max {limits.max_visits})", events)
            self._end_step(step, events)
            return

        arrival = path.stay == 0
        if arrival and (not self._forks(step, events)
                        or info.code is not None and not await self._run_code(step, events)):
            self._end_step(step, events)
            return
        if info.prompt is None:
            move = self._automatic(step, events, spawn=arrival)
            for ex in info.spawns if arrival else ():
                if self._holds(ex, step, events):
                    self._spawn(step, ex, events, reason="async")
            reason = "automatic"
            if move is None:
                move, reason, ask = self._choose(step, events)
                if ask:
                    turn = await self._agent_turn(step, ask, [], self._render(step, info.question, events), events)
                    if turn.error is not None:
                        self._fail(step, turn.error, events)
                        self._end_step(step, events)
                        return
                    move, reason = turn.move, turn.reason
                    if move is None:  # the agent did not decide: ask again next step
                        self._end_step(step, events)
                        return
            if move is not None:
                self._move(path, move, reason, events)
            elif not info.plain and not info.auto:
                self._complete(path, events)
            else:
                self._fail(step, f"no exit of {self.program.display(info.path)} can be taken: "
                                 f"every exit condition is false", events)
        else:
            await self._await_background_results(step)
            transitions = [ex for ex in info.plain if self._holds(ex, step, events)]
            spawns = [ex for ex in info.spawns if self._holds(ex, step, events)]
            objective = self._render(step, info.prompt, events)
            turn = await self._agent_turn(step, transitions, spawns, objective, events)
            if turn.error is not None:
                self._fail(step, turn.error, events)
            else:
                automatic = self._automatic(step, events, spawn=arrival)
                move = turn.move or automatic
                if move is not None:
                    self._move(path, move, turn.reason if turn.move else "automatic after agent turn", events)
                elif not info.plain and not any(not ex.spawn for ex in info.auto):
                    self._complete(path, events)
                # else: no transition this turn; the next step asks the agent again (bounded by limits)
        self._end_step(step, events)

    def _render(self, step: _Step, text: str, events: list[dict]) -> str:
        if "{{" not in text:
            return text
        rendered, errors = render_template(text, self._scope(step, text))
        for err in errors:
            self._emit(events, "diagnostic", path=step.path.id, node=step.info.path, message=f"template {err}")
        return rendered

    def _end_step(self, step: _Step, events: list[dict]) -> None:
        state, path, node = self.state, step.path, step.info.path
        if step.info.checkpoint:
            self._emit(events, "checkpoint", path=path.id, node=node)
        _set(state, "steps", state.steps + 1)
        _set(path, "steps", path.steps + 1)
        path.visits[node] = step.visits + 1
        if step.turns_used:
            path.turns[node] = step.visit_base + step.turns_used
        if step.spawned:
            _set(path, "spawned", step.spawn_base + step.spawned)
        if step.inbox_used:
            del path.inbox[: step.inbox_used]
        if step.output is not None:
            path.output = step.output
        stayed = len(path.history) == step.arrivals and path.status == "active"
        if stayed or path.stay:
            _set(path, "stay", path.stay + 1 if stayed else 0)
        if stayed and step.conversation is not None:
            path.conversation = step.conversation  # asked again next step: it remembers this turn
        elif path.conversation:
            path.conversation = []
        if path.first_result is None:
            path.first_result = {"node": node, "output": step.output, "status": path.status,
                                 "next": path.node if path.node != node else None}

    # ---- automatic behaviour

    def _forks(self, step: _Step, events: list[dict]) -> bool:
        """Fork `@parallel` / `@map` paths; False when a `@map` source is not an array (the step failed)."""
        for ex in step.info.forks:
            if not self._holds(ex, step, events):
                continue
            if ex.map_source is None:
                self._spawn(step, ex, events, reason="parallel")
                continue
            items, problem = self._map_items(ex, step)
            if problem is not None:
                self._fail(step, problem, events)
                return False
            for i, item in enumerate(items):
                self._spawn(step, ex, events, reason="map", item=item, index=i)
        return True

    def _map_items(self, ex: Exit, step: _Step) -> tuple[list, Optional[str]]:
        source = ex.map_source
        if not source:
            return [], f"@map on the edge to {self.program.display(ex.target)} has no source"
        value, error = evaluate(source, self._scope(step, source))
        if error:
            return [], f"@map source {source} cannot be evaluated: {error}"
        if not isinstance(value, list):
            return [], f"@map source {source} is not an array (it holds {json.dumps(value)})"
        return value, None

    def _automatic(self, step: _Step, events: list[dict], *, spawn: bool = True) -> Optional[Exit]:
        """`@auto` exits whose condition holds: `@async` ones spawn, the first other one is the move."""
        move = None
        for ex in step.info.auto:
            if ex.spawn and not spawn:
                continue
            if not self._holds(ex, step, events):
                continue
            if ex.spawn:
                self._spawn(step, ex, events, reason="auto-async")
            elif move is None:
                move = ex
        return move

    def _choose(self, step: _Step, events: list[dict]) -> tuple[Optional[Exit], str, list[Exit]]:
        """A prompt-less node's own move: a true condition first (by priority, then order); else its
        single unconditioned exit; several unconditioned exits: a state takes the first, any other
        node asks the agent (decision 23)."""
        unconditioned = []
        for ex in step.info.plain:
            if ex.condition is None:
                unconditioned.append(ex)
            elif self._holds(ex, step, events):
                return ex, f"condition {ex.condition}", []
        if len(unconditioned) == 1 or (unconditioned and step.info.is_state):
            return unconditioned[0], "automatic", []
        return None, "", unconditioned

    def _holds(self, ex: Exit, step: _Step, events: list[dict]) -> bool:
        if ex.condition is None:
            return True
        ok, error = condition_holds(ex.condition, self._scope(step, ex.condition))
        if error:
            self._emit(events, "diagnostic", path=step.path.id, node=step.info.path,
                       edge=f"{self.program.display(ex.edge.source)} -> {self.program.display(ex.target)}",
                       expression=ex.condition, message=f"condition is false: {error}")
        return ok

    # ---- scope for CEL

    def _scope(self, step: _Step, expression: str) -> ChainMap:
        """Names a condition or template sees: this step's built-ins and the current node under its own
        name, then context nodes with their runtime values, then every node's static attributes and
        `machine` (shared by all steps), then the current node's attributes by bare name."""
        overlay = self._overlay
        if overlay is None:
            overlay = self._overlay = self.program.overlay(self.state.context)
        info, path = step.info, step.path
        errors = celtypes.IntType(self.state.error_count)
        own = {"errorCount": errors, "errors": errors}
        own[info.node.name] = overlay[1].get(info.path) or self.program.node_value(info.path)
        if "activeState" in expression:
            active = next((n for n in reversed(path.history) if self.program.kinds.get(n) == "state"), "")
            own["activeState"] = celtypes.StringType(active)
        if path.index is not None:
            own["item"] = to_cel(path.item)
            own["index"] = celtypes.IntType(path.index)
        return ChainMap(own, overlay[0], self.program.names(), self.program.bare_attributes(info.path))

    # ---- moving, spawning, ending

    def _move(self, path: PathState, ex: Exit, reason: str, events: list[dict]) -> None:
        if ex.barrier is not None:
            barrier = self.state.barriers.get(ex.barrier)
            if barrier is None:
                barrier = self.state.barriers[ex.barrier] = BarrierState(id=ex.barrier, merge=ex.merge)
            path.status = "waiting"
            path.barrier = ex.barrier
            path.barrier_target = ex.index
            if path.id not in barrier.waiting:
                barrier.waiting.append(path.id)
            self._emit(events, "barrier_waiting", path=path.id, node=path.node, barrier=ex.barrier,
                       waiting=len(barrier.waiting))
            return
        self._enter(path, ex, reason, events)

    def _enter(self, path: PathState, ex: Exit, reason: str, events: list[dict]) -> None:
        leaf = self.program.entry(ex.target)
        source = path.node
        _set(path, "node", leaf)
        path.history.append(leaf)
        _set(path, "via", ex.index)
        self._emit(events, "transition", path=path.id, **{"from": source}, to=leaf, reason=reason)
        self._emit(events, "node_entered", path=path.id, node=leaf)

    def _spawn(self, step: _Step, ex: Exit, events: list[dict], *, reason: str, item: Any = None,
               index: Optional[int] = None) -> PathState:
        parent = step.path
        child_id = f"{parent.id}.{step.spawn_base + step.spawned}"
        step.spawned += 1
        existing = self.state.paths.get(child_id)
        if existing is not None:  # the step is being replayed after a resume
            return existing
        leaf = self.program.entry(ex.target)
        mapped = index is not None
        child = PathState(id=child_id, node=leaf, history=[leaf], parent=parent.id, via=ex.index,
                          item=item if mapped else parent.item, index=index if mapped else parent.index,
                          map_source=ex.map_source if mapped else parent.map_source)
        self.state.paths[child_id] = child
        fields = {"index": index} if mapped else {}
        self._emit(events, "path_spawned", path=parent.id, child=child_id, node=leaf, kind=reason, **fields)
        self._emit(events, "node_entered", path=child_id, node=leaf)
        self._start_driver(child_id)
        return child

    def _complete(self, path: PathState, events: list[dict]) -> None:
        path.status = "completed"
        self._emit(events, "path_completed", path=path.id, node=path.node)

    def _fail(self, step: _Step, message: str, events: list[dict]) -> None:
        """A failure at a node: take a `catch`/`error` exit if one holds, else fail the path."""
        self.state.error_count += 1
        for ex in step.info.catches:
            if self._holds(ex, step, events):
                self._emit(events, "step_failed", path=step.path.id, node=step.info.path, error=message,
                           caught=ex.target)
                self._move(step.path, ex, f"error: {message}", events)
                return
        self._fail_path(step.path, message, events, counted=True)

    def _fail_path(self, path: PathState, message: str, events: list[dict], *, counted: bool = False,
                   detail: Optional[str] = None) -> None:
        if not counted:
            self.state.error_count += 1
        path.status = "failed"
        path.error = message
        extra = {"detail": detail} if detail else {}
        self._emit(events, "path_failed", path=path.id, node=path.node, error=message, **extra)

    # ---- barriers

    def _check_barriers(self, events: list[dict]) -> None:
        """Release each barrier no other live path can still reach (decision 26)."""
        paths = self.state.paths
        for bid, barrier in self.state.barriers.items():
            if not barrier.waiting:
                continue
            reach = self.program.barrier_reach.get(bid, frozenset())
            arrived = set(barrier.waiting)
            if any(p.status in ("active", "waiting") and p.id not in arrived and p.node in reach
                   and not self._awaits_arrived_child(p.id, arrived) for p in paths.values()):
                continue
            ids = list(barrier.waiting)
            barrier.waiting.clear()
            barrier.releases += 1
            keep = ids[-1:] if barrier.merge else ids
            for pid in ids:
                p = paths[pid]
                ex = self._exits[p.barrier_target]
                p.barrier = p.barrier_target = None
                if pid in keep:
                    p.status = "active"
                    self._enter(p, ex, f"barrier {bid} released", events)
                    self._start_driver(pid)
                else:
                    p.status = "completed"
                    self._emit(events, "path_completed", path=pid, node=p.node, merged_into=keep[0])
                self._wake(pid)
            self._emit(events, "barrier_released", barrier=bid, paths=ids, merge=barrier.merge,
                       continuing=keep)

    def _awaits_arrived_child(self, path_id: str, arrived: set[str]) -> bool:
        """A parent blocked on `await_result: completion` of a child waiting at this barrier cannot
        arrive before the barrier releases; counting it would deadlock."""
        child = self._awaiting.get(path_id)
        return child is not None and child in arrived

    # ------------------------------------------------------------------ agent turns

    def _model(self, info: NodeInfo) -> str:
        return (info.model or self.model or self.program.config_model or os.environ.get("DYGRAPH_MODEL")
                or DEFAULT_MODEL)

    def _policy(self, step: _Step) -> tuple[int, Optional[float]]:
        via = self._exits.get(step.path.via) if step.path.via is not None else None
        retry = step.info.retry if step.info.retry is not None else (via.retry if via else None)
        timeout = step.info.timeout if step.info.timeout is not None else (via.timeout if via else None)
        return max(0, retry or 0), timeout

    async def _agent_turn(self, step: _Step, transitions: list[Exit], spawns: list[Exit], objective: str,
                          events: list[dict]) -> _Turn:
        """Run the agent's turn, retried per `@retry` with backoff; `@timeout` bounds each attempt."""
        retries, timeout = self._policy(step)
        attempt = 0
        while True:
            try:
                with anyio.fail_after(timeout) if timeout else nullcontext():
                    return await self._turn_once(step, transitions, spawns, objective, attempt, events)
            except ToolFailure as exc:
                return _Turn(error=str(exc))
            except TimeoutError:
                error = f"timed out after {timeout:g}s"
            except AgentError as exc:
                error = f"agent failed: {exc}" if str(exc) else "agent failed"
                if getattr(exc, "permanent", False):  # asking again cannot help
                    return _Turn(error=error)
            if attempt >= retries:
                return _Turn(error=error if not retries else f"{error} (after {retries} retries)")
            attempt += 1
            self._emit(events, "retry", path=step.path.id, node=step.info.path, attempt=attempt, error=error)
            await anyio.sleep(self.state.limits.retry_backoff * 2 ** (attempt - 1))

    async def _turn_once(self, step: _Step, transitions: list[Exit], spawns: list[Exit], objective: str,
                         attempt: int, events: list[dict]) -> _Turn:
        path, info = step.path, step.info
        visit = step.visit_base + attempt + 1
        step.turns_used = attempt + 1
        offer = self._offer(info, transitions, spawns)
        if path.conversation and attempt == 0:
            messages = list(path.conversation)
            messages.append({"role": "user", "content": AGAIN})
        else:
            messages = [{"role": "user", "content": objective}]
        step.inbox_used = len(path.inbox)
        messages.extend({"role": "user", "content": m["content"]} for m in path.inbox)
        system = self._system_prompt(step, objective, offer)
        model = self._model(info)
        turn = _Turn()
        nudged = False
        for round_no in range(1, self.state.limits.max_tool_rounds + 1):
            request = AgentRequest(run_id=self.state.run_id, path_id=path.id, node=info.path, visit=visit,
                                   round=round_no, model=model, system=system, messages=list(messages),
                                   tools=offer.specs)
            try:
                reply = await self.agent.respond(request)
            except AgentError:
                raise
            except Exception as exc:  # an agent implementation's own failure is a failed turn, not a crash
                raise AgentError(f"{type(exc).__name__}: {exc}") from exc
            if reply.content:
                turn.content = step.output = reply.content
            self._emit(events, "agent_turn", path=path.id, node=info.path, visit=visit, round=round_no,
                       agent=getattr(self.agent, "name", "agent"), content=reply.content,
                       tool_calls=[c.name for c in reply.tool_calls], **({"usage": reply.usage} if reply.usage else {}))
            assistant: dict = {"role": "assistant", "content": reply.content}
            if reply.tool_calls:
                assistant["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": json.dumps(c.arguments, default=str)}}
                    for c in reply.tool_calls]
            messages.append(assistant)
            if not reply.tool_calls:
                if offer.has_transition and not nudged and round_no < self.state.limits.max_tool_rounds:
                    nudged = True  # models often answer in prose first; one reminder, then the turn ends
                    messages.append({"role": "user", "content": NUDGE})
                    continue
                break
            for i, call in enumerate(reply.tool_calls):
                call_id = f"{path.id}:{step.step_no}:{visit}:{round_no}:{i}"
                result = await self._call_tool(step, offer, turn, call, call_id, events)
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": json.dumps(result, default=str)})
            if turn.move is not None:
                break
        else:
            self._emit(events, "diagnostic", path=path.id, node=info.path,
                       message=f"tool round budget ({self.state.limits.max_tool_rounds}) used up without a "
                               f"transition")
        step.conversation = messages
        return turn

    def _offer(self, info: NodeInfo, transitions: list[Exit], spawns: list[Exit]) -> _Offer:
        key = (info.path, tuple(ex.index for ex in transitions), tuple(ex.index for ex in spawns))
        offer = self._offers.get(key)
        if offer is not None:
            return offer
        offer = _Offer(specs=[])

        def add(name: str, description: str, schema: dict, handler: _Handler) -> None:
            base, n = name[:64], 2
            while name in offer.handlers:
                name = f"{base[:60]}_{n}"
                n += 1
            handler.schema = schema
            offer.handlers[name] = handler
            offer.specs.append(ToolSpec(name=name, description=description, parameters=schema))

        reason = {"type": "string", "description": "Why this was chosen"}
        for ex in transitions:
            text = f"Move to {self.program.display(ex.target)}"
            if ex.description:
                text += f": {ex.description}"
            if ex.condition:
                text += f" (condition {ex.condition} holds)"
            add(f"transition_to_{ex.tool}", text,
                {"type": "object", "properties": {"reason": reason}, "additionalProperties": False},
                _Handler("transition", {}, exit=ex))
        for ex in spawns:
            text = f"Start a separate path at {self.program.display(ex.target)}"
            if ex.description:
                text += f": {ex.description}"
            add(f"spawn_async_to_{ex.tool}", text + ". await_result: none (fire and forget), first (wait for "
                "its first node's result) or completion (wait until the spawned path ends).",
                {"type": "object", "properties": {
                    "reason": reason,
                    "await_result": {"type": "string", "enum": ["none", "first", "completion"], "default": "none"},
                }, "additionalProperties": False},
                _Handler("spawn", {}, exit=ex))
        for ctx in info.reads:
            node = self.machine.node(ctx)
            fields = [a.name for a in node.attributes]
            add(f"read_{tool_safe(node.name)}", f"Read the current values of the {node.name} context",
                {"type": "object", "properties": {
                    "fields": {"type": "array", "items": {"type": "string", **({"enum": fields} if fields else {})},
                               "description": "Attributes to read (default: all)"}},
                 "additionalProperties": False},
                _Handler("read", {}, context=ctx))
        for ctx in info.writes:
            node = self.machine.node(ctx)
            add(f"write_{tool_safe(node.name)}", f"Set attributes of the {node.name} context",
                self._write_schema(ctx), _Handler("write", {}, context=ctx))
        allowed = info.attributes.get("tools")
        for t in self.tools.values():
            if isinstance(allowed, list) and t.name not in allowed:
                continue
            add(t.name, t.description, t.parameters, _Handler("user", {}, tool=t))
        self._offers[key] = offer
        return offer

    def _write_schema(self, ctx: str) -> dict:
        props = {a.name: json_schema_for(a.type, a.value) for a in self.machine.node(ctx).attributes}
        schema: dict = {"type": "object", "properties": props}
        if props:
            schema["additionalProperties"] = False
        return schema

    def _system_prompt(self, step: _Step, objective: str, offer: _Offer) -> str:
        info, path = step.info, step.path
        title = self.machine.title or "machine"
        lines = [f'You are the decision-maker at one node of the DyGram state machine "{title}".',
                 f"Node: {self.program.display(info.path)} (type {info.kind or 'untyped'}); path {path.id}."]
        if path.index is not None:
            lines.append(f"This path handles item {path.index}: {json.dumps(path.item, default=str)}.")
        lines.append(f"Objective: {objective}")
        if info.reads:
            lines.append("Context (current values):")
            for ctx in info.reads:
                lines.append(f"- {self.machine.node(ctx).name}: {json.dumps(self.state.context.get(ctx, {}), default=str)}")
        if offer.has_transition:
            lines.append("When the objective is done, call exactly one transition_to_* tool; that ends your turn.")
        else:
            lines.append("This node has no exit for you to choose; when you are done, reply without a tool call.")
        if any(h.kind == "spawn" for h in offer.handlers.values()):
            lines.append("spawn_async_to_* tools start separate paths that run concurrently with this one.")
        lines.append('Any tool call may add "_executeAsync": true to run in the background; its result '
                     "arrives as a message on a later turn.")
        return "\n".join(lines)

    async def _await_background_results(self, step: _Step) -> None:
        """A re-invoked agent with background tools still running and nothing new to read waits for them,
        rather than being asked the same question again at once."""
        path = step.path
        if path.inbox or not step.visit_base or not self._running_tools.get(path.id):
            return
        await self._wait_for(path.id, lambda: bool(path.inbox) or not self._running_tools.get(path.id))

    # ------------------------------------------------------------------ @code nodes

    async def _run_code(self, step: _Step, events: list[dict]) -> bool:
        """Run a `@code` node's `run(ctx)` as a journalled tool call; its result is the node's output and
        its keys naming contexts the node writes are written. False when the step failed."""
        info, path = step.info, step.path
        name = self.program.display(info.path)
        if not self.state.limits.allow_code:
            self._fail(step, f"{name} is a @code node: its Python code runs with your privileges, so it runs "
                             f"only when allowed (`dygraph run --allow-code`)", events)
            return False
        tool = self._code_tools.get(info.path)
        if tool is None:
            tool = self._code_tools[info.path] = code_tool(name, info.code)
        ctx = {"node": name, "attributes": _jsonable(info.attributes),
               "context": {self.machine.node(c).name: dict(self.state.context.get(c, {})) for c in info.reads},
               "item": path.item, "index": path.index}
        retries, timeout = self._policy(step)
        self._emit(events, "code_started", path=path.id, node=info.path)
        try:
            with anyio.fail_after(timeout) if timeout else nullcontext():
                result = await self._run_tool(path.id, info.path, _Handler("user", {}, tool=tool), CODE_TOOL,
                                              {"ctx": ctx}, f"{path.id}:{step.step_no}:code", events,
                                              retries=retries)
        except ToolFailure as exc:
            self._fail(step, str(exc).replace(f"tool {CODE_TOOL} failed: ", "@code failed: ", 1), events)
            return False
        except TimeoutError:
            self._fail(step, f"@code timed out after {timeout:g}s", events)
            return False
        self._emit(events, "code_finished", path=path.id, node=info.path, result=result)
        step.output = result if isinstance(result, str) else json.dumps(result, default=str)
        if isinstance(result, dict):
            for ctx_path in info.writes:
                values = result.get(self.machine.node(ctx_path).name)
                if values is None:
                    continue
                problem = (check_arguments(self._write_schema(ctx_path), values) if isinstance(values, dict)
                           else "not an object of attribute values")
                if problem is not None:
                    self._fail(step, f"@code result for {self.machine.node(ctx_path).name}: {problem}", events)
                    return False
                self._write_context(path.id, info.path, ctx_path, values, events)
        return True

    # ------------------------------------------------------------------ tools

    async def _call_tool(self, step: _Step, offer: _Offer, turn: _Turn, call: ToolCall, call_id: str,
                         events: list[dict]) -> Any:
        path, info = step.path, step.info
        args = dict(call.arguments) if isinstance(call.arguments, dict) else {"__malformed__": str(call.arguments)}
        self._emit(events, "tool_called", path=path.id, node=info.path, call_id=call_id, name=call.name,
                   arguments=dict(args))
        handler = offer.handlers.get(call.name)
        background = bool(args.pop("_executeAsync", False))
        args.pop("_estimatedMinutes", None)
        if "__malformed__" in args:
            result: Any = {"error": f"the arguments are not valid JSON: {str(args['__malformed__'])[:200]}"}
        elif handler is None:
            offered = ", ".join(offer.handlers) or "none"
            result = {"error": f"tool {call.name!r} is not offered at {self.program.display(info.path)}; "
                               f"offered: {offered}"}
        elif (problem := check_arguments(handler.schema, self._write_args(handler, args))) is not None:
            result = {"error": problem}
        elif handler.kind == "transition":
            result = self._transition_tool(turn, handler.exit, args)
        elif handler.kind == "spawn":
            result = await self._spawn_tool(step, handler.exit, args, events)
        elif background:
            result = self._background_tool(step, handler, call.name, args, call_id, events)
        else:
            result = await self._run_tool(path.id, info.path, handler, call.name, args, call_id, events,
                                          retries=self._policy(step)[0])
        ok = not (isinstance(result, dict) and set(result) == {"error"})
        self._emit(events, "tool_result", path=path.id, node=info.path, call_id=call_id, name=call.name,
                   ok=ok, result=result)
        return result

    @staticmethod
    def _write_args(handler: _Handler, args: dict) -> dict:
        """Accept the reference's forms: `write_X({"data": {...}})`, boolean `await_result`."""
        if handler.kind == "spawn" and isinstance(args.get("await_result"), bool):
            args["await_result"] = "first" if args["await_result"] else "none"
        if handler.kind == "write" and set(args) == {"data"} and isinstance(args["data"], dict) \
                and "data" not in handler.schema.get("properties", {}):
            data = args.pop("data")
            args.update(data)
        return args

    def _transition_tool(self, turn: _Turn, ex: Exit, args: dict) -> dict:
        target = self.program.display(ex.target)
        if turn.move is not None:
            return {"error": f"already moving to {self.program.display(turn.move.target)}; one transition per turn"}
        turn.move = ex
        turn.reason = str(args.get("reason") or "agent decision")
        return {"status": "transitioning", "target": target}

    async def _spawn_tool(self, step: _Step, ex: Exit, args: dict, events: list[dict]) -> dict:
        mode = args.get("await_result") or "none"
        spawn_events: list[dict] = []
        child = self._spawn(step, ex, spawn_events, reason="agent")
        await self._commit(spawn_events)  # the child runs now; its existence is durable before it steps
        result: dict = {"status": "spawned", "path_id": child.id, "target": self.program.display(ex.target)}
        if mode == "first":
            await self._wait_for(child.id, lambda: child.first_result is not None or child.status in TERMINAL)
            result.update(path_status=child.status, result=child.first_result)
        elif mode == "completion":
            self._awaiting[step.path.id] = child.id
            if self.state.barriers:
                release: list[dict] = []
                self._check_barriers(release)
                if release:
                    await self._commit(release)
            try:
                await self._wait_for(child.id, lambda: child.status in TERMINAL)
            finally:
                self._awaiting.pop(step.path.id, None)
            result.update(path_status=child.status, history=list(child.history), output=child.output,
                          error=child.error)
        return result

    async def _run_tool(self, path_id: str, node: str, handler: _Handler, name: str, args: dict, call_id: str,
                        events: list[dict], *, retries: int = 0, background: bool = False) -> Any:
        if handler.kind == "read":
            values = self.state.context.get(handler.context, {})
            fields = args.get("fields")
            if fields:
                values = {k: v for k, v in values.items() if k in fields}
            return {"context": self.machine.node(handler.context).name, "values": dict(values)}
        if handler.kind == "write":
            self._write_context(path_id, node, handler.context, args, events)
            return {"written": sorted(args)}
        call = ToolInvocation(run_id=self.state.run_id, path_id=path_id, node=node, call_id=call_id, name=name,
                              arguments=args, background=background)
        outcome = await self.journal.tool_started(call)
        if outcome is None:
            attempt = 0
            while True:
                try:
                    value = await handler.tool(args)
                    outcome = ToolOutcome(ok=True, value=_jsonable(value))
                    break
                except Exception as exc:
                    error = str(exc) or type(exc).__name__
                    if attempt >= retries:
                        outcome = ToolOutcome(ok=False, error=error)
                        break
                    attempt += 1
                    self._emit(events, "retry", path=path_id, node=node, call_id=call_id, attempt=attempt,
                               error=error)
                    await anyio.sleep(self.state.limits.retry_backoff * 2 ** (attempt - 1))
            await self.journal.tool_finished(call, outcome)
        if not outcome.ok:
            if background:
                return {"error": outcome.error}
            raise ToolFailure(f"tool {name} failed: {outcome.error}")
        return outcome.value

    def _write_context(self, path_id: str, node: str, ctx: str, values: dict, events: list[dict]) -> None:
        self.state.context.setdefault(ctx, {}).update(values)
        self._overlay = None
        self._emit(events, "context_written", path=path_id, node=node, context=ctx, values=dict(values))

    def _background_tool(self, step: _Step, handler: _Handler, name: str, args: dict, call_id: str,
                         events: list[dict]) -> dict:
        task_id = call_id
        if task_id not in self.state.async_tools:
            self.state.async_tools[task_id] = AsyncToolState(task_id=task_id, path_id=step.path.id,
                                                             node=step.info.path, name=name, arguments=args)
            self._emit(events, "async_tool_started", path=step.path.id, node=step.info.path, task_id=task_id,
                       name=name)
            self._start_background(task_id, handler)
        return {"status": "started", "task_id": task_id}

    def _start_background(self, task_id: str, handler: Optional[_Handler] = None) -> None:
        task = self.state.async_tools[task_id]
        if handler is None:  # resumed run: find the tool again by name
            handler = self._handler_by_name(task.node, task.name)
        self._running_tools[task.path_id] = self._running_tools.get(task.path_id, 0) + 1
        self._tg.start_soon(self._background, task_id, handler)

    def _handler_by_name(self, node: str, name: str) -> Optional[_Handler]:
        info = self.program.nodes[node]
        return self._offer(info, [], []).handlers.get(name)

    async def _background(self, task_id: str, handler: Optional[_Handler]) -> None:
        task = self.state.async_tools[task_id]
        events: list[dict] = []
        try:
            if handler is None:
                result: Any = {"error": f"tool {task.name!r} is no longer available"}
            else:
                result = await self._run_tool(task.path_id, task.node, handler, task.name, dict(task.arguments),
                                              task_id, events, background=True)
        finally:
            self._running_tools[task.path_id] -= 1
        ok = not (isinstance(result, dict) and set(result) == {"error"})
        task.status = "finished" if ok else "failed"
        task.result, task.error = (result, None) if ok else (None, result["error"])
        path = self.state.paths[task.path_id]
        text = json.dumps(result if ok else {"error": task.error}, default=str)
        path.inbox.append({"task_id": task_id,
                           "content": f"Background task {task_id} ({task.name}) "
                                      f"{'finished' if ok else 'failed'}: {text}"})
        self._emit(events, "async_tool_finished", path=task.path_id, node=task.node, task_id=task_id,
                   name=task.name, ok=ok, result=task.result, error=task.error)
        await self._commit(events)
        self._wake(task.path_id)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))
