"""Running a machine durably: create (or adopt) the run in the store, drive the runtime with the
store's journal, honour cancellation requests from other processes, and resume from a checkpoint.

`run_durably` / `resume_durably` are the Python API (and what `dygraph run` / `dygraph runs resume`
call); `detach` starts `dygraph run` in a background process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from dygraph.store.base import RunStatus, StoreError, default_home, new_run_id
from dygraph.store.journal import DURABILITY, SQLiteJournal, load_state
from dygraph.store.recording import RecordingAgent, ReplayAgent

if TYPE_CHECKING:
    from dygraph.agents.base import Agent
    from dygraph.ir.model import Machine
    from dygraph.runtime.engine import RunResult
    from dygraph.runtime.tools import Tool
    from dygraph.store.sqlite import SQLiteStore


class ResumeError(Exception):
    """A run cannot be resumed as asked (finished, no longer matches its machine, …)."""


@dataclass
class DurableOutcome:
    run_id: str
    result: "RunResult"
    resumed: bool = False
    surfaced: list[str] = field(default_factory=list)  # interrupted non-idempotent tool calls
    reused_tool_calls: int = 0
    reused_exchanges: int = 0

    @property
    def exit_code(self) -> int:
        return 0 if self.result.status == "completed" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **self.result.to_dict()}

    def print(self, *, as_json: bool = False) -> None:
        if as_json:
            print(json.dumps(self.to_dict(), indent=2, default=str))
            return
        result = self.result
        verb = "resumed and " if self.resumed else ""
        print(f"run {self.run_id} {verb}{result.status} after {result.steps} steps")
        for path in result.paths:
            print(f"  {path.id:<8} {path.status:<10} {' -> '.join(path.history[-8:])}")
        for message in self.surfaced:
            print(f"  warning: {message}")
        if result.error:
            print(f"  error: {result.error}")


def machine_ir(machine: "Machine") -> str:
    """The machine's IR JSON, kept on the machine: a process running one machine many times dumps it
    once (the IR is immutable once built, as its cached lookups already assume)."""
    cached = machine.__dict__.get("_dygraph_ir_json")
    if cached is None:
        cached = machine.__dict__["_dygraph_ir_json"] = machine.model_dump_json()
    return cached


def machine_label(machine: "Machine", file: str | None) -> str:
    return machine.title or (Path(file).stem if file else "machine")


def wrap_for_recording(agent: "Agent", record_dir: str | None, replay_dir: str | None) -> "Agent":
    if replay_dir:
        return ReplayAgent(replay_dir)
    if record_dir:
        return RecordingAgent(agent, record_dir)
    return agent


async def run_durably(machine: "Machine", *, store: "SQLiteStore", agent: "Agent | None" = None,
                      limits: Any = None, tools: Iterable["Tool"] = (), model: str | None = None,
                      context: Mapping[str, Mapping[str, Any]] | None = None, run_id: str | None = None,
                      force: bool = False, source: str = "", file: str | None = None,
                      options: dict | None = None, record_dir: str | None = None,
                      replay_dir: str | None = None, parent_id: str | None = None,
                      on_event=None, durability: str = "async") -> DurableOutcome:
    """Run `machine` as a new durable run (or adopt the pending run `run_id` made by `detach`)."""
    ir = machine_ir(machine)
    label = machine_label(machine, file)
    file = os.path.abspath(file) if file else None  # `--use-current-source` may run from elsewhere
    if durability not in DURABILITY:
        raise ValueError(f"durability must be one of {', '.join(DURABILITY)}, not {durability!r}")
    options = dict(options or {}, record=record_dir, replay=replay_dir, model=model, durability=durability)
    existing = store.get_run(run_id) if run_id else None
    if existing is not None and existing.status is RunStatus.PENDING \
            and existing.owner_pid in (None, os.getpid()):  # made for this process by `detach`
        store.claim_run(existing.id, force=True)
        store.update_run(existing.id, source=source, ir=ir)
        record = existing
    else:
        record = store.create_run(machine=label, source=source, ir=ir, machine_file=file, run_id=run_id,
                                  parent_id=parent_id, options=options, force=force)
    agent = wrap_for_recording(agent or _default_agent(), record_dir, replay_dir)
    return await _drive(store, record.id, machine, agent, None, limits=limits, tools=tools, model=model,
                        context=context, on_event=on_event, durability=durability)


async def resume_durably(store: "SQLiteStore", run_id: str, *, agent: "Agent | None" = None,
                         tools: Iterable["Tool"] = (), machine: "Machine | None" = None,
                         model: str | None = None, force: bool = False, on_event=None,
                         durability: str | None = None) -> DurableOutcome:
    """Continue `run_id` from its last checkpoint, with the machine stored with it (or `machine`,
    which must still contain every node an unfinished path stands at)."""
    from dygraph.ir.model import Machine

    record = store.require_run(run_id)
    status = record.effective_status()
    if status.is_final and not force:
        raise ResumeError(f"run '{run_id}' is {status.value}; nothing to resume (use --force to run it again "
                          f"from its last checkpoint)")
    loaded = load_state(store, run_id)
    if machine is None:
        if not record.ir:
            raise ResumeError(f"run '{run_id}' has no stored machine")
        machine = Machine.model_validate_json(record.ir)
    elif loaded is not None:
        check_paths_exist(machine, loaded[1], run_id)
    store.claim_run(run_id, force=force)
    if machine is not None and record.ir and machine_ir(machine) != record.ir:
        store.update_run(run_id, ir=machine_ir(machine))
    options = record.options
    agent = wrap_for_recording(agent or _default_agent(), options.get("record"), options.get("replay"))
    return await _drive(store, run_id, machine, agent, loaded, tools=tools,
                        model=model or options.get("model"), on_event=on_event,
                        durability=durability or options.get("durability") or "async")


def check_paths_exist(machine: "Machine", state: Any, run_id: str) -> None:
    missing = [f"{p.id} at {p.node}" for p in state.paths.values()
               if p.status in ("active", "waiting") and machine.get(p.node) is None]
    if missing:
        raise ResumeError(f"cannot resume '{run_id}' with the current source: these paths stand at nodes "
                          f"that no longer exist: {', '.join(missing)}")


def _default_agent() -> "Agent":
    from dygraph.agents import create_agent

    return create_agent("offline")


async def _drive(store: "SQLiteStore", run_id: str, machine: "Machine", agent: "Agent", loaded,
                 *, limits: Any = None, tools: Iterable["Tool"] = (), model: str | None = None,
                 context=None, on_event=None, durability: str = "async") -> DurableOutcome:
    from dygraph.runtime.engine import Runtime

    tools = list(tools)
    journal = SQLiteJournal(store, run_id, tools=tools, durability=durability)
    runtime = Runtime(machine, agent=agent, journal=journal, limits=limits, tools=tools, model=model,
                      run_id=run_id, context=context, on_event=on_event, keep_events=False)
    loop = asyncio.get_running_loop()
    store.own(run_id, lambda: loop.call_soon_threadsafe(runtime.cancel))
    try:
        if loaded is not None:
            step, state = loaded
            journal.prepare_resume(step, state)
            result = await runtime.resume(state)
        else:
            result = await runtime.run()
    except BaseException:  # interrupted (Ctrl-C, task cancelled): resumable at once, from any process
        try:
            store.update_run(run_id, release=True)
        except StoreError:  # taken over meanwhile: it is not ours to release
            pass
        raise
    finally:
        journal.close()
        store.disown(run_id)
        await agent.aclose()
    store.update_run(run_id, status=RunStatus(result.status), error=result.error, result=result.to_dict(),
                     release=True)
    return DurableOutcome(run_id, result, resumed=loaded is not None, surfaced=journal.surfaced,
                          reused_tool_calls=journal.reused_tool_calls, reused_exchanges=journal.reused_exchanges)


def resume_run(store: "SQLiteStore", run_id: str, *, use_current_source: bool = False,
               agent_spec: str | None = None, model: str | None = None, force: bool = False,
               tools: Iterable["Tool"] = ()) -> DurableOutcome:
    """`dygraph runs resume`: resume with the stored machine, or the file as it is now."""
    from dygraph.agents import create_agent

    record = store.require_run(run_id)
    machine = None
    if not record.ir and record.source:  # a detached run whose process died before it started
        import dygraph

        machine = dygraph.loads(record.source, file=record.machine_file or "<stored source>")
    if use_current_source:
        if not record.machine_file or not Path(record.machine_file).exists():
            raise ResumeError(f"run '{run_id}' has no machine file to read "
                              f"({record.machine_file or 'it was started from source text'})")
        import dygraph
        from dygraph.diagnostics import DygraphError

        try:
            machine = dygraph.load(record.machine_file)
        except DygraphError as exc:
            raise ResumeError(f"{record.machine_file} does not compile: {exc}") from None
    spec = agent_spec or record.options.get("agent") or "offline"
    try:
        agent = create_agent(spec, model=model or record.options.get("model"))
    except (ValueError, OSError) as exc:
        raise ResumeError(str(exc)) from None
    outcome = asyncio.run(resume_durably(store, run_id, agent=agent, machine=machine, model=model, force=force,
                                         tools=tools))
    if use_current_source and machine is not None:
        store.update_run(run_id, source=Path(record.machine_file).read_text(encoding="utf-8"))
    return outcome


def detach(store: "SQLiteStore", argv: list[str], *, machine_name: str, source: str, file: str | None,
           run_id: str | None = None, force: bool = False, options: dict | None = None) -> str:
    """Create the run as `pending` and start `dygraph run … --id ID` in its own session; returns the id.

    `argv` are the `dygraph run` arguments without `--detach` and `--id`."""
    run_id = run_id or new_run_id(machine_name)
    store.create_run(machine=machine_name, source=source, machine_file=os.path.abspath(file) if file else None, run_id=run_id, force=force,
                     options=options, status=RunStatus.PENDING, owned=False)
    logs = default_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{run_id}.log", "ab") as log:
        child = subprocess.Popen([sys.executable, "-m", "dygraph", "run", *argv, "--id", run_id],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, env={**os.environ, "DYGRAPH_DETACHED": "1"})
    # The child owns the run from now on: if it dies before starting, the run shows as interrupted.
    store.set_owner(run_id, child.pid)
    return run_id


__all__ = ["DurableOutcome", "ResumeError", "StoreError", "detach", "resume_durably", "resume_run",
           "run_durably"]
