"""`dygraph runs …`: list, inspect, follow, cancel, remove, export and resume durable runs."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Any, NoReturn

import click

from dygraph.store import RunStatus, SQLiteStore, StoreError

_STATUS_STYLE = {"running": "cyan", "pending": "cyan", "completed": "green", "failed": "red",
                 "cancelled": "yellow", "interrupted": "magenta"}


def _fail(message: str, code: int = 2) -> NoReturn:
    """A user error: one line on stderr, like every other dygraph command (2: bad id or argument)."""
    click.echo(f"dygraph: {message}", err=True)
    sys.exit(code)


def _open() -> SQLiteStore:
    try:
        return SQLiteStore()
    except Exception as exc:  # unreadable or newer database: say so, no traceback
        _fail(f"cannot open the run store: {exc}", 1)


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _ago(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    seconds = max(0.0, time.time() - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "-"


def _styled(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _event_line(event) -> str:
    details = " ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, default=str)}"
                       for k, v in event.payload.items() if k not in ("seq", "run_id", "step", "t"))
    stamp = datetime.fromtimestamp(event.at).strftime("%H:%M:%S.%f")[:-3]
    step = event.payload.get("step", "")
    return f"{stamp} #{event.seq:<4} step {step!s:<4} {event.type:<18} {details}".rstrip()


def _run_options(function):
    return click.argument("run_id", metavar="ID")(function)


@click.group()
def runs() -> None:
    """Durable runs kept in $DYGRAPH_HOME/runs.db (default ~/.dygraph/runs.db)."""


@runs.command("list")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice([s.value for s in RunStatus]), help="Only runs with this status (repeatable).")
@click.option("--machine", help="Only runs of this machine (name or file).")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="At most this many runs (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON array.")
def list_(statuses: tuple[str, ...], machine: str | None, limit: int, as_json: bool) -> None:
    """List runs, newest first."""
    with _open() as store:
        found = store.list_runs(statuses=statuses or None, machine=machine, limit=limit or None)
    if as_json:
        click.echo(json.dumps([r.summary() for r in found], indent=2))
        return
    if not found:
        click.echo("No runs found.")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "MACHINE", "STATUS", "STEPS", "STARTED", "UPDATED"):
        # Ids are never cut short (they are what every other `runs` command takes); other columns wrap.
        table.add_column(column, justify="right" if column == "STEPS" else "left", no_wrap=column == "ID",
                         min_width=max(len(r.id) for r in found) if column == "ID" else None)
    for run in found:
        table.add_row(run.id, run.machine, _styled(run.effective_status().value), str(run.steps),
                      _ago(run.created_at), _ago(max(run.updated_at, run.heartbeat_at or 0)))
    _console().print(table)


@runs.command()
@_run_options
@click.option("--events", "last_events", type=int, default=10, show_default=True, help="How many recent events.")
@click.option("--paths", "max_paths", type=int, default=30, show_default=True, help="How many paths to list.")
def show(run_id: str, last_events: int, max_paths: int) -> None:
    """A run's status, paths (current nodes), context and last events."""
    from dygraph.store.journal import load_state

    with _open() as store:
        try:
            run = store.require_run(run_id)
            loaded = load_state(store, run_id)
            events = store.events(run_id, last=last_events)
            calls = store.tool_calls(run_id)
        except StoreError as exc:
            _fail(str(exc))
    console = _console()
    status = run.effective_status().value
    console.print(f"[bold]{run.id}[/]  {_styled(status)}")
    console.print(f"machine  {run.machine}" + (f"  ({run.machine_file})" if run.machine_file else ""))
    console.print(f"started  {_when(run.created_at)}   updated {_ago(max(run.updated_at, run.heartbeat_at or 0))}")
    durability = run.options.get("durability")  # runs stored before durabilities existed committed every step
    console.print(f"steps    {run.steps}   (checkpoint {run.step}" + (f", {durability} durability)" if durability else ")")
                  + (f"   parent {run.parent_id}" if run.parent_id else ""))
    if run.owner_pid and status in ("running", "interrupted"):
        console.print(f"process  {run.owner_pid} on {run.owner_host}")
    if run.error:
        console.print(f"[red]error[/]    {run.error}")
    if loaded is not None:
        _, state = loaded
        from rich.table import Table

        table = Table(title="paths", box=None, title_justify="left", header_style="bold")
        for column in ("PATH", "STATUS", "NODE", "STEPS", "HISTORY"):
            table.add_column(column)
        # unfinished paths first; a run with thousands of paths shows a page of them
        paths = sorted(state.paths.values(), key=lambda p: p.status not in ("active", "waiting"))
        for path in paths[:max_paths]:
            tail = " → ".join(path.history[-4:])
            table.add_row(path.id, path.status, path.node, str(path.steps),
                          ("… → " if len(path.history) > 4 else "") + tail)
        console.print(table)
        if len(paths) > max_paths:
            counts: dict[str, int] = {}
            for path in paths:
                counts[path.status] = counts.get(path.status, 0) + 1
            console.print(f"  … {len(paths) - max_paths} more paths ("
                          + ", ".join(f"{n} {status}" for status, n in counts.items()) + " in all; --paths N)")
        if state.context:
            console.print("[bold]context[/]")
            for name, values in state.context.items():
                console.print(f"  {name}: {json.dumps(values, default=str)}")
    if calls:
        console.print(f"[bold]tool calls[/] {len(calls)} "
                      f"({sum(c.status.value == 'completed' for c in calls)} completed, "
                      f"{sum(c.status.value == 'started' for c in calls)} unfinished)")
    if events:
        console.print("[bold]last events[/]")
        for event in events:
            console.print("  " + _event_line(event), markup=False)


@runs.command()
@_run_options
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the run ends.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--interval", type=float, default=0.25, hidden=True)
def logs(run_id: str, follow: bool, as_json: bool, interval: float) -> None:
    """A run's events, oldest first."""
    with _open() as store:
        try:
            store.require_run(run_id)
        except StoreError as exc:
            _fail(str(exc))
        seen = 0
        while True:
            # The status is read before the events: a final status is committed with the last
            # events, so nothing is missed when the loop stops.
            run = store.get_run(run_id)
            for event in store.events(run_id, after_seq=seen):
                seen = event.seq
                click.echo(json.dumps(event.to_dict(), default=str) if as_json else _event_line(event))
            if not follow or run is None or \
                    run.effective_status() not in (RunStatus.RUNNING, RunStatus.PENDING):
                return
            time.sleep(interval)


@runs.command()
@_run_options
def cancel(run_id: str) -> None:
    """Cancel a run: its process stops it at its next heartbeat; a run nobody runs is cancelled now."""
    with _open() as store:
        try:
            before = store.require_run(run_id).status
            record = store.request_cancel(run_id)
        except StoreError as exc:
            _fail(str(exc))
    if before.is_final:
        click.echo(f"{run_id} already {before.value}; nothing to cancel")
    elif record.status is RunStatus.CANCELLED:
        click.echo(f"cancelled {run_id}")
    else:
        click.echo(f"cancellation requested for {run_id} (process {record.owner_pid} stops it shortly)")


@runs.command()
@click.argument("run_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Also remove a run that is still running.")
def rm(run_ids: tuple[str, ...], force: bool) -> None:
    """Remove runs and everything stored for them."""
    failed = False
    with _open() as store:
        for run_id in run_ids:
            run = store.get_run(run_id)
            if run is None:
                click.echo(f"dygraph: no run with id '{run_id}'", err=True)
                failed = True
            elif run.effective_status() is RunStatus.RUNNING and not force:
                click.echo(f"dygraph: run '{run_id}' is still running (cancel it first, or use --force)", err=True)
                failed = True
            else:
                store.delete_run(run_id)
                click.echo(f"removed {run_id}")
    if failed:
        sys.exit(1)


def export_run(store: SQLiteStore, run_id: str) -> dict[str, Any]:
    """Everything stored for a run, as one JSON-able object."""
    from dygraph.store.journal import load_state

    run = store.require_run(run_id)
    loaded = load_state(store, run_id)
    data: dict[str, Any] = run.summary()
    data.update(source=run.source, source_hash=run.source_hash, options=run.options, result=run.result,
                ir=json.loads(run.ir) if run.ir else None,
                checkpoint=loaded[0] if loaded else None,
                state=json.loads(loaded[1].to_json()) if loaded else None,
                events=[e.to_dict() for e in store.events(run_id)],
                tool_calls=[{"call_id": c.call_id, "path": c.path_id, "name": c.name, "arguments": c.arguments,
                             "status": c.status.value, "idempotent": c.idempotent, "result": c.result,
                             "error": c.error, "attempts": c.attempts} for c in store.tool_calls(run_id)],
                llm_exchanges=[{"key": x.key, "request": x.request, "reply": x.reply}
                               for x in store.llm_exchanges(run_id)])
    return data


@runs.command()
@_run_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to a file.")
def export(run_id: str, output: str | None) -> None:
    """A run as JSON: its record, source, state, events, tool calls and LLM exchanges."""
    with _open() as store:
        try:
            text = json.dumps(export_run(store, run_id), indent=2, default=str)
        except StoreError as exc:
            _fail(str(exc))
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
    else:
        click.echo(text)


@runs.command()
@_run_options
@click.option("--use-current-source", is_flag=True,
              help="Continue with the machine file as it is now (every active path's node must still exist).")
@click.option("--agent", "agent_spec", help="openai | offline | interactive | script:FILE (default: as started).")
@click.option("--model", help="Model for the openai agent.")
@click.option("--tools", "tool_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file defining the run's user tools (default: the files the run was started with).")
@click.option("--force", is_flag=True, help="Resume even if the run looks alive or has finished.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def resume(run_id: str, use_current_source: bool, agent_spec: str | None, model: str | None,
           tool_files: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Continue a run from its last checkpoint (completed tool calls are not repeated)."""
    from dygraph.cli.run import load_tools
    from dygraph.store.durable import ResumeError, resume_run

    with _open() as store:
        try:
            record = store.require_run(run_id)
            files = tool_files or tuple(record.options.get("tools") or ())
            tools = [t for path in files for t in load_tools(path)]
            outcome = resume_run(store, run_id, use_current_source=use_current_source, agent_spec=agent_spec,
                                 model=model, force=force, tools=tools)
        except (StoreError, ResumeError, click.BadParameter) as exc:
            _fail(str(exc), 1)  # the run exists but cannot go on
    outcome.print(as_json=as_json)
    sys.exit(outcome.exit_code)
