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


def time_run(machine, steps: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    runtime = Runtime(machine, limits=Limits(max_steps=steps, max_visits=10), keep_events=False)
    t, c = time.perf_counter(), time.process_time()
    result = anyio.run(runtime.run)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    assert result.status == "completed" and result.steps == steps, (result.status, result.steps, result.error)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    machines = {steps: dygraph.loads(chain_source(steps)) for steps in (1000, 10000)}
    runs: dict[int, list[tuple[float, float]]] = {1000: [], 10000: []}
    for steps, machine in machines.items():
        time_run(machine, steps)  # warm-up: imports, anyio start-up
    for _ in range(args.repeat):  # interleaved, so load from other processes affects both alike
        for steps, machine in machines.items():
            runs[steps].append(time_run(machine, steps))
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    best = {k: min(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    ratio_wall, ratio_cpu = wall[10000] / wall[1000], cpu[10000] / cpu[1000]
    print(f"1,000 steps: wall median {wall[1000]:.3f} s (best {best[1000]:.3f} s), CPU {cpu[1000]:.3f} s; "
          f"10,000 steps: wall median {wall[10000]:.3f} s (best {best[10000]:.3f} s), CPU {cpu[10000]:.3f} s; "
          f"ratio wall {ratio_wall:.1f}×, CPU {ratio_cpu:.1f}×")
    ok = wall[1000] <= 0.3 and min(ratio_wall, ratio_cpu) <= 11
    print("targets (≤ 0.3 s, ≤ 11×):", "met" if ok else "NOT met")
    if not args.no_report:
        from _report import update_section

        update_section("runtime_chain", "\n".join([
            "## Runtime: prompt-less chain",
            "",
            f"`python benchmarks/runtime_chain.py` — a chain of N prompt-less nodes run to its end in memory "
            f"(`Runtime.run()`, compile excluded); {args.repeat} interleaved runs after a warm-up. Wall time "
            "is the median (best in brackets); CPU time (this process) is shown too because the machine is "
            "shared and wall time moves with other processes' load.",
            "",
            "| steps | wall | CPU | per step (CPU) | target |",
            "|---|---|---|---|---|",
            f"| 1,000 | {wall[1000]:.3f} s ({best[1000]:.3f} s) | {cpu[1000]:.3f} s | "
            f"{cpu[1000] / 1000 * 1e6:.0f} µs | ≤ 0.3 s (reference: {REFERENCE_1000:.1f} s) |",
            f"| 10,000 | {wall[10000]:.3f} s ({best[10000]:.3f} s) | {cpu[10000]:.3f} s | "
            f"{cpu[10000] / 10000 * 1e6:.0f} µs | ≤ 11× the 1,000-step time: {ratio_wall:.1f}× wall, "
            f"{ratio_cpu:.1f}× CPU |",
        ]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
