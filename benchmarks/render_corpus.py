"""Render time for the whole conformance corpus: DOT generation (ours) apart from `dot` layout (Graphviz).

    python benchmarks/render_corpus.py [--repeat 5] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import dygraph  # noqa: E402
from dygraph.render import to_dot  # noqa: E402

from _report import update_section  # noqa: E402

CASES = Path(os.environ.get("DYGRAPH_CORPUS", "/work/shared/conformance/cases"))


def ok_cases() -> list[Path]:
    return sorted(p for p in CASES.glob("*.dygram") if p.with_suffix(".status").read_text().strip() == "ok")


def layout_seconds(source: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    if proc.stderr:
        raise SystemExit(f"dot warned: {proc.stderr.decode()[:300]}")
    return elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of DOT generation (best is reported)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = ap.parse_args()

    paths = ok_cases()
    machines = [(p.name, dygraph.load(p)) for p in paths]
    nodes = sum(len(m.nodes) for _, m in machines)
    edges = sum(len(m.edges) for _, m in machines)

    runs = []
    per_machine: dict[str, float] = {}
    for _ in range(args.repeat):
        start = time.perf_counter()
        for name, m in machines:
            t0 = time.perf_counter()
            to_dot(m)
            per_machine[name] = min(per_machine.get(name, 1e9), time.perf_counter() - t0)
        runs.append(time.perf_counter() - start)
    sources = [to_dot(m) for _, m in machines]
    dot_kb = sum(len(s) for s in sources) / 1024
    slowest_gen = max(per_machine, key=per_machine.get)

    serial = [layout_seconds(s) for s in sources]
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(layout_seconds, sources))
    parallel_wall = time.perf_counter() - start
    slowest_layout = max(range(len(serial)), key=serial.__getitem__)

    ms = 1000.0
    table = f"""Whole corpus: {len(machines)} `ok` programs of the conformance corpus ({nodes} nodes, {edges} edges),
{dot_kb:,.0f} KiB of DOT. Loading (parsing) is not counted.

| Stage | Total | Per machine (mean) | Median | p95 | Slowest |
|---|---|---|---|---|---|
| DOT generation (`to_dot`, best of {args.repeat}) | {min(runs) * ms:,.0f} ms | {min(runs) / len(machines) * ms:.2f} ms | {statistics.median(per_machine.values()) * ms:.2f} ms | {pct(list(per_machine.values()), 0.95) * ms:.2f} ms | {per_machine[slowest_gen] * ms:.1f} ms (`{slowest_gen}`) |
| Graphviz layout (`dot -Tsvg`, one process per machine, serial) | {sum(serial):,.1f} s | {statistics.mean(serial) * ms:.0f} ms | {statistics.median(serial) * ms:.0f} ms | {pct(serial, 0.95) * ms:.0f} ms | {serial[slowest_layout] * ms:.0f} ms (`{machines[slowest_layout][0]}`) |
| Graphviz layout, {workers} in parallel (wall clock) | {parallel_wall:,.1f} s | | | | |

DOT generation is a small share of render time; the `dot` process (start-up and layout) dominates."""
    print(table)
    if not args.no_write:
        update_section("render_corpus", "## Rendering the corpus (`benchmarks/render_corpus.py`)\n\n" + table)


if __name__ == "__main__":
    main()
