"""1,000 paths spawned by `@async`, each awaiting a 50 ms async tool — in memory and durable.

The runtime's fan-out benchmark (`runtime_async_fanout.py`) made durable, with each durability:
1,000 tool calls recorded before and after they run, 2,000 agent exchanges stored, and every step
checkpointed (`sync`: each in its own commit; `async`: grouped, and always before a tool runs).
Shows what durability costs when many paths run at once."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dygraph  # noqa: E402
from dygraph.runtime import Limits, Runtime  # noqa: E402
from dygraph.store import SQLiteStore  # noqa: E402
from dygraph.store.durable import run_durably  # noqa: E402
from runtime_async_fanout import SOURCE, FanOutAgent, fetch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    machine = dygraph.loads(SOURCE)
    limits = Limits(max_steps=100 * args.paths)
    memory: list[float] = []
    durable: dict[str, list[float]] = {"async": [], "sync": []}
    stored: dict[str, tuple[int, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "runs.db") as store:
        for _ in range(args.repeat):  # the three modes interleaved
            t = time.perf_counter()
            result = asyncio.run(Runtime(machine, agent=FanOutAgent(args.paths), tools=[fetch], limits=limits,
                                         keep_events=False).run())
            memory.append(time.perf_counter() - t)
            assert result.status == "completed", result.error
            for durability, times in durable.items():
                t = time.perf_counter()
                outcome = asyncio.run(run_durably(machine, store=store, agent=FanOutAgent(args.paths),
                                                  tools=[fetch], limits=limits, durability=durability))
                times.append(time.perf_counter() - t)
                assert outcome.result.status == "completed", outcome.result.error
                run = store.require_run(outcome.run_id)
                stored[durability] = (run.step, len(store.tool_calls(run.id)), len(store.llm_exchanges(run.id)))
    mem = statistics.median(memory)
    dur = {durability: statistics.median(times) for durability, times in durable.items()}
    for durability in dur:
        commits, calls, exchanges = stored[durability]
        print(f"{args.paths} @async paths: in memory {mem:.2f} s, durable {durability} {dur[durability]:.2f} s "
              f"({dur[durability] / mem:.1f}x); {commits} commits, {calls} tool calls, {exchanges} agent exchanges")
    if not args.no_report and args.paths == 1000:
        from _report import update_section

        rows = [f"| durable, `--durability {d}`{' (default)' if d == 'async' else ''} | {dur[d]:.2f} s "
                f"({dur[d] / mem:.1f}×) | {stored[d][0]} commits, {stored[d][1]} tool calls, "
                f"{stored[d][2]} agent exchanges |" for d in dur]
        update_section("durable_fanout", "\n".join([
            "## Durable runs: 1,000 concurrent `@async` paths",
            "",
            "`python benchmarks/durable_fanout.py` — the runtime's fan-out (1,000 paths spawned by `@async`, "
            f"each awaiting a 50 ms tool), median of {args.repeat}, in memory and durable, interleaved.",
            "",
            "| mode | time | stored |",
            "|---|---|---|",
            f"| in memory | {mem:.2f} s | — |",
            *rows,
            "",
            "Every tool call is recorded before it runs and after, and every agent exchange is stored, in "
            "both modes. A commit writes only the paths that changed (each path is its own row), so its cost "
            "does not grow with the number of paths in the run.",
        ]))


if __name__ == "__main__":
    main()
