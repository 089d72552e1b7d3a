"""1,000 paths spawned by `@async`, each awaiting a 50 ms async tool — in memory and durable.

The runtime's fan-out benchmark (`runtime_async_fanout.py`) with every commit point checkpointed:
about 6,000 commits, 1,000 tool calls recorded before and after they run, 3,000 agent exchanges
stored. Shows what durability costs when many paths run at once (commits of concurrent paths share
transactions on the store thread; each still returns only once its own step is committed)."""

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
    memory, durable = [], []
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "runs.db") as store:
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = asyncio.run(Runtime(machine, agent=FanOutAgent(args.paths), tools=[fetch], limits=limits,
                                         keep_events=False).run())
            memory.append(time.perf_counter() - t)
            assert result.status == "completed", result.error
            t = time.perf_counter()
            outcome = asyncio.run(run_durably(machine, store=store, agent=FanOutAgent(args.paths), tools=[fetch],
                                              limits=limits))
            durable.append(time.perf_counter() - t)
            assert outcome.result.status == "completed", outcome.result.error
        run = store.require_run(outcome.run_id)
        commits, calls, exchanges = run.step, len(store.tool_calls(run.id)), len(store.llm_exchanges(run.id))
    mem, dur = statistics.median(memory), statistics.median(durable)
    print(f"{args.paths} @async paths: in memory {mem:.2f} s, durable {dur:.2f} s ({dur / mem:.1f}x); "
          f"{commits} commits, {calls} tool calls, {exchanges} agent exchanges stored")
    if not args.no_report and args.paths == 1000:
        from _report import update_section

        update_section("durable_fanout", "\n".join([
            "## Durable runs: 1,000 concurrent `@async` paths",
            "",
            "`python benchmarks/durable_fanout.py` — the runtime's fan-out (1,000 paths spawned by `@async`, "
            f"each awaiting a 50 ms tool), median of {args.repeat}, in memory and durable.",
            "",
            "| mode | time | stored |",
            "|---|---|---|",
            f"| in memory | {mem:.2f} s | — |",
            f"| durable (SQLite) | {dur:.2f} s ({dur / mem:.1f}×) | {commits} commits, {calls} tool calls, "
            f"{exchanges} agent exchanges |",
            "",
            "A commit writes only the paths that changed (each path is its own row), so its cost does not "
            "grow with the number of paths in the run.",
        ]))


if __name__ == "__main__":
    main()
