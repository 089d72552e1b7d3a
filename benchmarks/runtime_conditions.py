"""Conditions and names: a 1,000-step chain where every step evaluates two CEL conditions that read a
context, the current node and another node, in a machine of ~1,000 nodes and in one with 10,000 more.

Target: the cost of a step does not grow with the size of the machine (≤ 1.2×): the static names are
built once per machine and an evaluation binds only the names its expression reads."""

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

STEPS = 1000


def source(extra: int) -> str:
    lines = ['machine "Conditions"', "context Ctx { n: 1; }", "Task Settings { limit: 5; }", "init start;",
             "start -> N0;"]
    for i in range(STEPS):
        lines.append(f"Task N{i} {{ k: {i}; }}")
        lines.append(f'N{i} -when: "Ctx.n == 1 && N{i}.k == {i} && Settings.limit > 2";-> N{i + 1};')
        lines.append(f'N{i} -unless: "Ctx.n == 1";-> stop;')
    lines += [f"Task X{j} {{ v: {j}; }}" for j in range(extra)]
    return "\n".join(lines) + "\n"


def time_run(machine) -> float:
    runtime = Runtime(machine, limits=Limits(max_steps=STEPS * 2), keep_events=False)
    c = time.process_time()
    result = anyio.run(runtime.run)
    cpu = time.process_time() - c
    assert result.status == "completed" and result.steps == STEPS + 2, (result.status, result.steps, result.error)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    machines = {extra: dygraph.loads(source(extra)) for extra in (0, 10000)}
    nodes = {extra: len(m.nodes) for extra, m in machines.items()}
    for machine in machines.values():
        time_run(machine)  # warm-up: imports, CEL compilation, the machine's static names
    runs: dict[int, list[float]] = {extra: [] for extra in machines}
    for _ in range(args.repeat):
        for extra, machine in machines.items():
            runs[extra].append(time_run(machine))
    cpu = {k: statistics.median(v) for k, v in runs.items()}
    ratio = cpu[10000] / cpu[0]
    per_step = {k: v / STEPS * 1e6 for k, v in cpu.items()}
    print(f"{nodes[0]:,} nodes: {cpu[0]:.3f} s CPU ({per_step[0]:.0f} µs a step); {nodes[10000]:,} nodes: "
          f"{cpu[10000]:.3f} s CPU ({per_step[10000]:.0f} µs a step); ratio {ratio:.2f}×")
    ok = ratio <= 1.2
    print("target (≤ 1.2×):", "met" if ok else "NOT met")
    if not args.no_report:
        from _report import update_section

        update_section("runtime_conditions", "\n".join([
            "## Runtime: conditions in small and large machines",
            "",
            f"`python benchmarks/runtime_conditions.py` — {STEPS:,} steps, each choosing its exit by two CEL "
            "conditions that read a context, the current node and another node (compiled once, evaluated every "
            f"step); median CPU time of {args.repeat} interleaved runs after a warm-up.",
            "",
            "| machine | CPU | per step | target |",
            "|---|---|---|---|",
            f"| {nodes[0]:,} nodes | {cpu[0]:.3f} s | {per_step[0]:.0f} µs | |",
            f"| {nodes[10000]:,} nodes | {cpu[10000]:.3f} s | {per_step[10000]:.0f} µs | ≤ 1.2× the small "
            f"machine: {ratio:.2f}× |",
        ]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
