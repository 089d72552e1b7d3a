"""The 1,000-step prompt-less chain, in memory and with every step checkpointed to SQLite.

Targets: durable ≤ 2× the in-memory time and ≤ 0.6 s. Every step is its own committed transaction
(the run waits for it) — nothing is batched across steps of one run."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
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


def commit_floor(directory: Path, tables: int, commits: int = 1000) -> float:
    """Seconds per transaction that inserts one small row into each of `tables` tables (WAL,
    `synchronous=NORMAL`, as the store): SQLite's own cost, before any of ours."""
    conn = sqlite3.connect(directory / f"floor{tables}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for k in range(tables):
        conn.execute(f"CREATE TABLE t{k} (id INTEGER PRIMARY KEY, value TEXT)")
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(commits):
            conn.execute("BEGIN IMMEDIATE")
            for k in range(tables):
                conn.execute(f"INSERT INTO t{k} (value) VALUES (?)", ("x" * 100,))
            conn.execute("COMMIT")
        runs.append((time.perf_counter() - t) / commits)
    conn.close()
    return statistics.median(runs)


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
        floor1, floor5 = commit_floor(Path(tmp), 1), commit_floor(Path(tmp), 5)
    mem, dur = statistics.median(memory), statistics.median(disk)
    ratio = dur / mem
    print(f"{args.steps}-step chain: in memory {mem:.3f} s, durable {dur:.3f} s ({ratio:.2f}x), "
          f"{run.step} commits, {events} events stored")
    print(f"SQLite floor: one-row commit {floor1 * 1e6:.0f} µs, one row in each of 5 tables {floor5 * 1e6:.0f} µs")
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
            f"{'met' if ratio <= 2 else 'not met'}.",
            "",
            f"SQLite's own floor on this machine (same pragmas): a transaction inserting one row costs "
            f"{floor1 * 1e6:.0f} µs; one row in each of 5 tables {floor5 * 1e6:.0f} µs (each B-tree page a "
            f"commit touches is one more WAL frame written). The in-memory runtime takes "
            f"{mem / args.steps * 1e6:.0f} µs a step, so even a bare one-row commit per step would make the "
            f"chain {(mem + floor1 * args.steps) / mem:.1f}× the in-memory time: 2× is out of reach while "
            "every step is committed before the run continues. A step's commit here writes its events, the "
            "changed path row, its new history entry, its visit counter and the checkpoint (five B-trees).",
        ]))


if __name__ == "__main__":
    main()
