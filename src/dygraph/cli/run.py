"""`dygraph run FILE`: execute a machine, with live progress, a summary, `--json` and `--events`.

Runs are durable by default (kept in the run store, resumable with `dygraph runs resume`); `--ephemeral`
runs in memory only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, Optional

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Ctrl-C, and the stop request of systemd, docker stop and CI cancellation: both stop a run cleanly.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def parse_assignments(values: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`--set Ctx.attr=value` (value parsed as JSON, else kept as a string) → {Ctx: {attr: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in values:
        target, sep, raw = item.partition("=")
        ctx, dot, attr = target.strip().rpartition(".")
        if not sep or not dot or not ctx or not attr:
            raise click.BadParameter(f"{item!r}: expected CONTEXT.ATTRIBUTE=VALUE", param_hint="--set")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(ctx, {})[attr] = value
    return out


def load_tools(path: str) -> list:
    """Every `Tool` defined at module level in a Python file (see `dygraph.runtime.tool`)."""
    from dygraph.runtime.tools import Tool

    spec = importlib.util.spec_from_file_location(f"dygraph_user_tools_{Path(path).stem}", path)
    if spec is None or spec.loader is None:
        raise click.BadParameter(f"{path}: not a Python file", param_hint="--tools")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report, don't crash
        raise click.BadParameter(f"{path}: {type(exc).__name__}: {exc}", param_hint="--tools") from None
    return [v for v in vars(module).values() if isinstance(v, Tool)]


class Progress:
    """Live view of a run (rich, on stderr, only on a terminal): each path's node, steps, elapsed."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.paths: dict[str, tuple[str, str]] = {}
        self.steps = 0
        self.started = time.perf_counter()
        self.live = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(get_renderable=self.render, console=Console(stderr=True), refresh_per_second=8,
                             transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def on_event(self, event: dict) -> None:
        if not self.enabled:
            return
        kind = event["type"]
        self.steps = event.get("step", self.steps)
        path = event.get("path")
        if kind == "node_entered":
            self.paths[path] = (event["node"], "active")
        elif kind == "path_spawned":
            self.paths[event["child"]] = (event["node"], "active")
        elif kind in ("path_completed", "path_failed", "path_cancelled", "barrier_waiting"):
            status = {"path_completed": "completed", "path_failed": "failed", "path_cancelled": "cancelled",
                      "barrier_waiting": "waiting"}[kind]
            node = self.paths.get(path, (event.get("node", "?"), ""))[0]
            self.paths[path] = (node, status)
        elif kind == "agent_turn":
            self.paths[path] = (event["node"], f"agent turn {event['visit']}.{event['round']}")

    def render(self):
        from rich.table import Table

        table = Table(title=f"steps {self.steps} · {time.perf_counter() - self.started:.1f}s", title_justify="left",
                      show_edge=False)
        table.add_column("path")
        table.add_column("node")
        table.add_column("status")
        live = [(pid, n, s) for pid, (n, s) in self.paths.items() if s not in ("completed", "failed", "cancelled")]
        done = len(self.paths) - len(live)
        for pid, node, status in live[:20]:
            table.add_row(pid, node, status)
        if len(live) > 20:
            table.add_row("…", f"{len(live) - 20} more", "")
        if done:
            table.add_row("", f"{done} finished", "", style="dim")
        return table


class EventWriter:
    def __init__(self, path: Optional[str]):
        self.file = open(path, "w", encoding="utf-8", buffering=1) if path else None  # line-buffered: tail -f works

    def on_event(self, event: dict) -> None:
        if self.file is not None:
            if "t" in event:
                event = {**event, "t": round(event["t"], 4)}
            self.file.write(json.dumps(event, default=str) + "\n")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def print_summary(result: Any, run_id: Optional[str], elapsed: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    colour = {"completed": "green", "failed": "red", "cancelled": "yellow"}.get(result.status, "white")
    label = f"run {run_id} " if run_id else "run "
    console.print(f"[bold {colour}]{label}{result.status}[/] · {result.steps} steps · {elapsed:.2f}s")
    table = Table(show_edge=False)
    for column in ("path", "status", "history"):
        table.add_column(column)
    paths = result.paths
    for p in paths[:50]:
        history = " → ".join(p.history if len(p.history) <= 8 else p.history[:3] + ["…"] + p.history[-4:])
        table.add_row(p.id, p.status, history + (f"  [red]{p.error}[/]" if p.error else ""))
    if len(paths) > 50:
        table.add_row("…", "", f"{len(paths) - 50} more paths")
    console.print(table)
    if result.context:
        console.print("context: " + json.dumps(result.context, default=str))
    if result.error:
        console.print(f"[red]error:[/] {result.error}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--agent", "agent_spec", metavar="openai|offline|interactive|script:FILE",
              help="Who decides at prompted nodes. Default: openai with OPENAI_API_KEY set, interactive on a "
                   "terminal, else offline.")
@click.option("--model", help="Model for the openai agent (a node's own model/modelId wins).")
@click.option("--base-url", help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Step limit for the run (default 1000).")
@click.option("--max-visits", type=click.IntRange(min=1), help="Visits of one node by one path (default 100).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds for the whole run.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--events", "events_file", type=click.Path(dir_okay=False, writable=True),
              help="Write every event as a JSON line to this file.")
@click.option("--set", "assignments", multiple=True, metavar="CTX.ATTR=VALUE",
              help="Override a context value (JSON, else a string). Repeatable.")
@click.option("--tools", "tool_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Python file whose module-level tools (@dygraph.runtime.tool) agents may call.")
@click.option("--ephemeral", is_flag=True, help="Run in memory only: nothing is kept in the run store.")
@click.option("--id", "run_id", help="Name the run (durable runs).")
@click.option("--force", is_flag=True, help="Replace an existing run with the same --id.")
@click.option("--detach", is_flag=True, help="Start the run in a background process and print its id.")
@click.option("--record", "record_dir", type=click.Path(file_okay=False), help="Record every LLM exchange here.")
@click.option("--replay", "replay_dir", type=click.Path(file_okay=False, exists=True),
              help="Answer agent requests from a recording; fail on divergence.")
@click.option("--durability", type=click.Choice(["async", "sync"]), default="async", show_default=True,
              help="When a durable run's steps are committed. async: at most every 5 ms, and always before a "
                   "tool runs, a model is asked and the run ends (a crash loses only steps that are computed "
                   "again on resume). sync: every step, before the next one.")
@click.option("--allow-code", is_flag=True,
              help="Run the Python code of @code nodes. It is not sandboxed: it runs with your privileges.")
@click.option("-q", "--quiet", is_flag=True, help="No live progress and no summary (errors still go to stderr).")
def run(file: str, agent_spec: Optional[str], model: Optional[str], base_url: Optional[str],
        max_steps: Optional[int], max_visits: Optional[int], timeout: Optional[float], as_json: bool,
        events_file: Optional[str], assignments: tuple[str, ...], tool_files: tuple[str, ...], ephemeral: bool,
        run_id: Optional[str], force: bool, detach: bool, record_dir: Optional[str], replay_dir: Optional[str],
        durability: str, allow_code: bool, quiet: bool) -> None:
    """Run the machine in FILE.

    Exit status: 0 the run completed; 1 it failed or was cancelled (or FILE has errors); 2 usage error;
    130 interrupted (a durable run can be resumed with `dygraph runs resume ID`).
    """
    from dygraph.cli.paths import not_a_file, overwrites_source

    if not os.path.isfile(file):
        _usage(f"{file}: {not_a_file(file)}")
    if run_id is not None and not RUN_ID.fullmatch(run_id):
        _usage(f"--id {run_id!r}: use letters, digits, '.', '_' and '-' (starting with a letter or digit, "
               f"at most 100 characters)")
    if detach and ephemeral:
        _usage("a detached run must be durable; drop --ephemeral")
    machine, source = _compile(file, as_json=as_json)
    if overwrites_source(events_file, machine.source_files or [file]):
        _usage(f"--events {events_file}: that is the machine's own source; choose another file")
    context = parse_assignments(assignments)
    tools = [t for path in tool_files for t in load_tools(path)]
    limits = {"max_steps": max_steps, "max_visits": max_visits, "timeout": timeout, "allow_code": allow_code or None}
    limits = {k: v for k, v in limits.items() if v is not None}

    from dygraph.agents import AgentError, create_agent, default_agent_spec

    spec = agent_spec or default_agent_spec()
    if spec.startswith("script:"):  # stored with the run: `runs resume` may start in another directory
        spec = "script:" + os.path.abspath(spec[len("script:"):])
    try:
        agent = create_agent(spec, model=model, base_url=base_url)
    except (AgentError, ValueError, ImportError, OSError) as exc:
        _usage(f"--agent {spec}: {exc}")
    options = {"agent": spec, "tools": [os.path.abspath(f) for f in tool_files]}
    if detach:
        _detach(file, source, machine, run_id, force, options)
        return
    if spec == "offline" and not quiet and not as_json:
        click.echo("dygraph: decisions come from the offline policy (not an LLM): it takes the first eligible "
                   "exit.", err=True)

    from dygraph.runtime import Runtime

    try:
        Runtime(machine, context=context)  # validates --set targets before anything is stored
    except ValueError as exc:
        _usage(f"--set: {exc}")

    try:
        writer = EventWriter(events_file)
    except OSError as exc:
        click.echo(f"dygraph: --events {events_file}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_USAGE)
    # the interactive agent asks on the terminal; a live view redrawing there would overwrite its questions
    progress = Progress(enabled=not quiet and sys.stderr.isatty() and spec != "interactive")

    def on_event(event: dict) -> None:
        writer.on_event(event)
        progress.on_event(event)

    import asyncio  # here, not at import: `dygraph run --help` should not pay for it

    started = time.perf_counter()
    try:
        with progress:
            result, final_id = asyncio.run(_execute(
                machine, agent=agent, limits=limits, tools=tools, model=model, context=context, on_event=on_event,
                ephemeral=ephemeral, run_id=run_id, force=force, source=source, file=file,
                record_dir=record_dir, replay_dir=replay_dir, options=options, durability=durability))
    except (KeyboardInterrupt, asyncio.CancelledError):
        hint = f"; resume with `dygraph runs resume {_interrupted[-1]}`" if _interrupted else ""
        click.echo(f"dygraph: interrupted{hint}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except _UsageError as exc:
        click.echo(f"dygraph: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    finally:
        writer.close()
    elapsed = time.perf_counter() - started
    if as_json:
        payload = result.to_dict()
        if final_id:
            payload = {"run_id": final_id, **payload}
        click.echo(json.dumps(payload, indent=2, default=str))
    elif not quiet:
        print_summary(result, final_id, elapsed)
    elif result.error:
        click.echo(f"dygraph: {result.error}", err=True)
    sys.exit(EXIT_OK if result.status == "completed" else EXIT_FAILED)


class _UsageError(Exception):
    pass


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _usage(message: str) -> NoReturn:
    click.echo(f"dygraph: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _compile(file: str, *, as_json: bool = False):
    """The machine in FILE, refused (exit 1) when `dygraph check` finds errors in it or it has no nodes."""
    from dygraph import _analyze
    from dygraph.diagnostics import sort_key
    from dygraph.syntax import compile_file

    machine, diagnostics = compile_file(file)
    if machine is not None and not any(d.is_error for d in diagnostics):
        diagnostics = diagnostics + _analyze(machine)
    errors = sorted((d for d in diagnostics if d.is_error), key=sort_key)
    if machine is None or errors:
        from dygraph.cli import report

        report.emit("text", [(file, errors or sorted(diagnostics, key=sort_key))], quiet=True, stream=sys.stderr)
        if as_json:
            click.echo(json.dumps({"status": "invalid", "diagnostics": [d.to_dict() for d in errors]}, indent=2))
        sys.exit(EXIT_FAILED)
    if not machine.nodes:
        if as_json:
            click.echo(json.dumps({"status": "invalid", "diagnostics": [], "error": "the machine has no nodes"}))
        click.echo(f"dygraph: {file}: the machine has no nodes; nothing to run", err=True)
        sys.exit(EXIT_FAILED)
    return machine, Path(file).read_text(encoding="utf-8")


async def _execute(machine, *, agent, limits, tools, model, context, on_event, ephemeral, run_id, force, source,
                   file, record_dir, replay_dir, options, durability="async"):
    import asyncio
    import sqlite3

    if ephemeral:
        from dygraph.runtime import Runtime

        runtime = Runtime(machine, agent=agent, limits=limits, tools=tools, model=model, context=context,
                          on_event=on_event, keep_events=False)
        loop = asyncio.get_running_loop()
        try:
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, runtime.cancel)
        except (NotImplementedError, RuntimeError):  # not on the main thread / platform without signals
            pass
        try:
            return await runtime.run(), None
        finally:
            await agent.aclose()
    from dygraph.store import StoreError, open_store
    from dygraph.store.base import new_run_id
    from dygraph.store.durable import machine_label, run_durably

    run_id = run_id or new_run_id(machine_label(machine, file))
    # Ctrl-C interrupts the run where it stands: tools are cancelled, the last checkpoint stays resumable.
    task = asyncio.current_task()
    try:
        for signum in STOP_SIGNALS:
            asyncio.get_running_loop().add_signal_handler(signum, _interrupt, task, run_id)
    except (NotImplementedError, RuntimeError):
        pass
    try:
        store = open_store()
    except (StoreError, OSError, sqlite3.Error) as exc:
        raise _UsageError(f"cannot open the run store: {exc} (set DYGRAPH_HOME, or run with --ephemeral)") from None
    try:
        outcome = await run_durably(machine, store=store, agent=agent, limits=limits, tools=tools, model=model,
                                    context=context, run_id=run_id, force=force, source=source, file=file,
                                    options=options, record_dir=record_dir, replay_dir=replay_dir,
                                    on_event=on_event, durability=durability)
    except StoreError as exc:
        raise _UsageError(str(exc)) from None
    finally:
        store.close()
    return outcome.result, outcome.run_id


_interrupted: list[str] = []


def _interrupt(task, run_id: str) -> None:
    _interrupted.append(run_id)
    task.cancel()


def _detach(file: str, source: str, machine, run_id: Optional[str], force: bool, options: dict) -> None:
    import sqlite3

    from dygraph.store import StoreError, open_store
    from dygraph.store.durable import detach, machine_label

    argv = [a for a in sys.argv[2:] if a != "--detach"]
    cleaned: list[str] = []
    skip = False
    for a in argv:  # drop --id NAME / --id=NAME; detach passes its own
        if skip:
            skip = False
            continue
        if a == "--id":
            skip = True
            continue
        if a.startswith("--id="):
            continue
        cleaned.append(a)
    try:
        store = open_store()
    except (StoreError, OSError, sqlite3.Error) as exc:
        click.echo(f"dygraph: cannot open the run store: {exc} (set DYGRAPH_HOME)", err=True)
        sys.exit(EXIT_USAGE)
    try:
        new_id = detach(store, cleaned, machine_name=machine_label(machine, file), source=source, file=file,
                        run_id=run_id, force=force, options=options)
    except StoreError as exc:
        click.echo(f"dygraph: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    finally:
        store.close()
    click.echo(new_id)
