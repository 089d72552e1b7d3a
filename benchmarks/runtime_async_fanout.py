"""1,000 paths spawned by `@async`, each awaiting a 50 ms async tool: all must finish in < 2 s wall.

A dispatcher node's agent spawns 1,000 worker paths in one turn; each worker's agent calls `fetch`
(an async tool sleeping 50 ms) and then moves on. Sequential execution would take ≥ 50 s."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dygraph  # noqa: E402
from dygraph.agents.base import AgentReply, ToolCall  # noqa: E402
from dygraph.runtime import Limits, Runtime, tool  # noqa: E402

SOURCE = """
machine "Fan-out"
start -> dispatch;
task dispatch { prompt: "Start one worker per item"; }
dispatch -@async-> worker;
task worker { prompt: "Fetch your item"; }
worker -> done;
"""


class FanOutAgent:
    """Deterministic: the dispatcher spawns N workers; each worker fetches once, then transitions."""

    name = "bench"

    def __init__(self, paths: int):
        self.paths = paths

    async def respond(self, request):
        if request.round > 1 and request.node == "dispatch":
            return AgentReply(content=None, tool_calls=[])
        if request.node == "dispatch":
            return AgentReply(content=None, tool_calls=[
                ToolCall(id=f"s{i}", name="spawn_async_to_worker", arguments={}) for i in range(self.paths)])
        if request.round == 1:
            return AgentReply(content=None, tool_calls=[ToolCall(id="f", name="fetch", arguments={"key": request.path_id})])
        return AgentReply(content=None, tool_calls=[ToolCall(id="t", name="transition_to_done", arguments={})])

    async def aclose(self):
        return None


@tool
async def fetch(key: str) -> dict:
    """Simulated I/O: 50 ms."""
    await anyio.sleep(0.05)
    return {"key": key}


def time_run(paths: int) -> float:
    machine = dygraph.loads(SOURCE)
    runtime = Runtime(machine, agent=FanOutAgent(paths), tools=[fetch],
                      limits=Limits(max_steps=10 * paths + 10), keep_events=False)
    t = time.perf_counter()
    result = anyio.run(runtime.run)
    elapsed = time.perf_counter() - t
    workers = [p for p in result.paths if p.parent]
    assert result.status == "completed", result.error
    assert len(workers) == paths and all(p.history == ["worker", "done"] for p in workers)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    time_run(10)  # warm-up
    wall = statistics.median(time_run(args.paths) for _ in range(args.repeat))
    print(f"{args.paths} @async paths × 50 ms tool: {wall:.3f} s wall (sequential would be "
          f"{args.paths * 0.05:.0f} s)")
    ok = wall < 2.0
    print("target (< 2 s):", "met" if ok else "NOT met")
    if not args.no_report and args.paths == 1000:
        from _report import update_section

        update_section("runtime_async_fanout", "\n".join([
            "## Runtime: 1,000 `@async` paths awaiting a 50 ms tool",
            "",
            "`python benchmarks/runtime_async_fanout.py` — one agent turn spawns 1,000 paths through an "
            "`@async` edge; each path's agent awaits an async tool that sleeps 50 ms, then transitions. "
            f"Median wall time of {args.repeat} runs, in memory.",
            "",
            "| paths | wall | target |",
            "|---|---|---|",
            f"| 1,000 | {wall:.3f} s | < 2 s (sequential: {args.paths * 0.05:.0f} s) |",
        ]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
