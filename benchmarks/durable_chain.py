"""The 1,000-step prompt-less chain, in memory and with every step checkpointed to SQLite.

Targets: durable ≤ 2× the in-memory time and ≤ 0.6 s. Every step is its own committed transaction
(the run waits for it) — nothing is batched across steps of one run."""

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
from dygraph.runtime.engine import Runtime  # noqa: E402
from dygraph.store import SQLiteStore  # noqa: E402
from dygraph.store.durable import run_durably  # noqa: E402

LIMITS = {"max_steps": 1_000_000, "max_visits": 1_000_000}


def chain_source(steps: int) -> str:
    return 'machine "Chain"\n' + " -> ".join(f"N{i}" for i in range(steps + 1)) + ";\n"


async def in_memory(machine) -> float:
    t = time.perf_counter()
    result = await Runtime(machine, limits=LIMITS, keep_events=False).run()
    elapsed = time.perf_counter() - t
    assert result.status == "completed", result.error
    return elapsed


async def durable(machine, store: SQLiteStore, steps: int) -> float:
    t = time.perf_counter()
    outcome = await run_durably(machine, store=store, limits=LIMITS)
    elapsed = time.perf_counter() - t
    assert outcome.result.status == "completed" and outcome.result.steps == steps, outcome.result.error
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    machine = dygraph.loads(chain_source(args.steps))
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "runs.db") as store:
        memory, disk = [], []
        for _ in range(args.repeat):  # interleaved, so drift affects both alike
            memory.append(asyncio.run(in_memory(machine)))
            disk.append(asyncio.run(durable(machine, store, args.steps + 1)))
        run = store.list_runs(limit=1)[0]
        events = len(store.events(run.id))
    mem, dur = statistics.median(memory), statistics.median(disk)
    ratio = dur / mem
    print(f"{args.steps}-step chain: in memory {mem:.3f} s, durable {dur:.3f} s ({ratio:.2f}x), "
          f"{run.step} commits, {events} events stored")
    ok = ratio <= 2.0 and dur <= 0.6
    print("targets (≤ 2x, ≤ 0.6 s):", "met" if ok else "NOT met")
    if not args.no_report and args.steps == 1000:
        from _report import update_section

        update_section("durable_chain", "\n".join([
            "## Durable runs: 1,000-step chain with a checkpoint per step",
            "",
            "`python benchmarks/durable_chain.py` — a prompt-less chain of 1,000 transitions, median of "
            f"{args.repeat}. Durable: every step's state, events and history rows committed in its own "
            "SQLite transaction (WAL, `synchronous=NORMAL`) before the run continues.",
            "",
            "| mode | time | per step | vs in-memory |",
            "|---|---|---|---|",
            f"| in memory | {mem:.3f} s | {mem / args.steps * 1e6:.0f} µs | 1.00× |",
            f"| durable (SQLite) | {dur:.3f} s | {dur / args.steps * 1e6:.0f} µs | {ratio:.2f}× |",
            "",
            f"Targets: ≤ 0.6 s — {'met' if dur <= 0.6 else 'not met'}; ≤ 2× the in-memory time — "
            f"{'met' if ratio <= 2 else 'not met'}. The in-memory runtime takes about "
            f"{mem / args.steps * 1e6:.0f} µs a step, less than one SQLite commit costs on this machine "
            "(a one-row transaction in WAL mode is 40–80 µs here), so a commit per step cannot stay within "
            "2× without giving up the per-step guarantee; the durable cost per step is the state encoding "
            "(growing parts excluded) plus one transaction of about five small row writes.",
        ]))


if __name__ == "__main__":
    main()
