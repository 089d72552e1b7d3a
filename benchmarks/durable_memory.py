"""1,000 durable runs one after another in one process: resident memory must stay flat (< 10 MB growth).

Each run is a small machine with an agent decision, a user tool and an `@async` fan-out, checkpointed
to SQLite; nothing a run creates (tasks, listeners, journals, caches) may outlive it."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dygraph  # noqa: E402
from dygraph.agents.script import ScriptAgent  # noqa: E402
from dygraph.runtime import Limits, tool  # noqa: E402
from dygraph.store import SQLiteStore  # noqa: E402
from dygraph.store.durable import run_durably  # noqa: E402

SOURCE = """
machine "Memory"
context Tally { count<number>: 0 }
start -> decide;
task decide { prompt: "decide"; }
decide -@async-> side;
decide -> check -> done;
decide -writes-> Tally;
side -> side_done;
"""
SCRIPT = {"decide": [{"rounds": [[{"name": "lookup", "arguments": {"key": "a"}},
                                  {"name": "write_Tally", "arguments": {"count": 1}}],
                                 [{"name": "spawn_async_to_side", "arguments": {}}],
                                 [{"name": "transition_to_check", "arguments": {}}]]}]}


@tool
async def lookup(key: str) -> str:
    return key.upper()


async def run_many(store: SQLiteStore, machine, count: int, rss: list[float], process) -> None:
    for i in range(count):
        outcome = await run_durably(machine, store=store, agent=ScriptAgent(SCRIPT), tools=[lookup],
                                    limits=Limits(max_steps=100), source=SOURCE)
        assert outcome.result.status == "completed", outcome.result.error
        if (i + 1) % 100 == 0:
            gc.collect()
            rss.append(process.memory_info().rss / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    machine = dygraph.loads(SOURCE)
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "runs.db") as store:
        warmup: list[float] = []
        asyncio.run(run_many(store, machine, 50, warmup, process))  # imports, caches, SQLite page cache
        gc.collect()
        start = process.memory_info().rss / 2**20
        samples: list[float] = []
        t = time.perf_counter()
        asyncio.run(run_many(store, machine, args.runs, samples, process))
        elapsed = time.perf_counter() - t
        stored = len(store.list_runs(limit=0))
    growth = samples[-1] - start
    print(f"{args.runs} sequential durable runs in {elapsed:.2f} s ({elapsed / args.runs * 1000:.1f} ms each); "
          f"RSS {start:.1f} MB -> {samples[-1]:.1f} MB (growth {growth:+.1f} MB); {stored} runs stored")
    print("RSS every 100 runs:", " ".join(f"{x:.1f}" for x in samples))
    ok = growth < 10
    print("target (< 10 MB):", "met" if ok else "NOT met")
    if not args.no_report and args.runs == 1000:
        from _report import update_section

        update_section("durable_memory", "\n".join([
            "## Durable runs: memory over 1,000 sequential runs",
            "",
            "`python benchmarks/durable_memory.py` — 1,000 durable runs one after another in one process "
            "(agent turn with a user tool, a context write and an `@async` spawn; default `async` durability), "
            "after 50 warm-up runs.",
            "",
            "| runs | time per run | RSS before | RSS after | growth |",
            "|---|---|---|---|---|",
            f"| {args.runs} | {elapsed / args.runs * 1000:.1f} ms | {start:.1f} MB | {samples[-1]:.1f} MB | "
            f"{growth:+.1f} MB |",
            "",
            f"RSS every 100 runs (MB): {' '.join(f'{x:.1f}' for x in samples)}. Target: growth < 10 MB — "
            f"{'met' if ok else 'not met'}.",
        ]))


if __name__ == "__main__":
    main()
