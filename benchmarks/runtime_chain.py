"""The prompt-less chain: 1,000 and 10,000 steps through the in-memory runtime.

Targets: 1,000 steps ≤ 0.3 s (the reference takes 18.0 s on this machine), and 10,000 steps ≤ 11× the
1,000-step time (no per-step cost that grows with the run)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dygraph  # noqa: E402
from dygraph.runtime import Limits, Runtime  # noqa: E402

REFERENCE_1000 = 18.0


def chain_source(steps: int) -> str:
    return 'machine "Chain"\n' + "\n".join(f"N{i} -> N{i + 1};" for i in range(steps - 1)) + "\n"


def time_run(machine, steps: int) -> float:
    runtime = Runtime(machine, limits=Limits(max_steps=steps, max_visits=10), keep_events=False)
    t = time.perf_counter()
    result = anyio.run(runtime.run)
    elapsed = time.perf_counter() - t
    assert result.status == "completed" and result.steps == steps, (result.status, result.steps, result.error)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    machines = {steps: dygraph.loads(chain_source(steps)) for steps in (1000, 10000)}
    runs: dict[int, list[float]] = {1000: [], 10000: []}
    for steps, machine in machines.items():
        time_run(machine, steps)  # warm-up: imports, anyio start-up
    for _ in range(args.repeat):  # interleaved, so load from other processes affects both alike
        for steps, machine in machines.items():
            runs[steps].append(time_run(machine, steps))
    best = {k: min(v) for k, v in runs.items()}
    median = {k: statistics.median(v) for k, v in runs.items()}
    small, big = best[1000], best[10000]
    ratio = big / small
    print(f"1,000 steps: best {small:.3f} s ({small / 1000 * 1e6:.0f} µs/step), median {median[1000]:.3f} s; "
          f"10,000 steps: best {big:.3f} s, median {median[10000]:.3f} s ({ratio:.1f}× the 1,000-step time)")
    ok = small <= 0.3 and ratio <= 11
    print("targets (≤ 0.3 s, ≤ 11×):", "met" if ok else "NOT met")
    if not args.no_report:
        from _report import update_section

        update_section("runtime_chain", "\n".join([
            "## Runtime: prompt-less chain",
            "",
            f"`python benchmarks/runtime_chain.py` — a chain of N prompt-less nodes run to its end in memory "
            f"(`Runtime.run()`, compile excluded); {args.repeat} interleaved runs after a warm-up, best and "
            "median (the best is the least disturbed by other processes on a shared machine).",
            "",
            "| steps | best | median | per step (best) | target |",
            "|---|---|---|---|---|",
            f"| 1,000 | {small:.3f} s | {median[1000]:.3f} s | {small / 1000 * 1e6:.0f} µs | ≤ 0.3 s "
            f"(reference: {REFERENCE_1000:.1f} s) |",
            f"| 10,000 | {big:.3f} s | {median[10000]:.3f} s | {big / 10000 * 1e6:.0f} µs | ≤ 11× the 1,000-step "
            f"time: {ratio:.1f}× |",
        ]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
