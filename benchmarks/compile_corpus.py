"""Compiler speed: check every `ok` corpus program in one process, and a cold `dygraph check` of one file.

    python benchmarks/compile_corpus.py [--repeat 5]

"Check" is the whole front end as `dygraph check` runs it: read, parse, link, analyze. The reference
implementation's figures (same 462 files, same machine kind) are in the table for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import update_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DYGRAPH_CORPUS", REPO.parent / "shared" / "conformance" / "cases"))
REFERENCE_CORPUS_S = 8.45
REFERENCE_COLD_S = 0.65
COLD_FILE = "basic__comprehensive-demo.dygram"


def ok_files() -> list[Path]:
    return [p.with_suffix(".dygram") for p in sorted(CORPUS.glob("*.status")) if p.read_text().strip() == "ok"]


def check_all(files: list[Path]) -> int:
    from dygraph.analysis import analyze
    from dygraph.syntax import compile_file

    problems = 0
    for path in files:
        machine, diagnostics = compile_file(str(path))
        if machine is not None:
            diagnostics += analyze(machine)
        problems += len(diagnostics)
    return problems


def timed(cmd: list[str], runs: int) -> list[float]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's machine caches bytecode
    subprocess.run(cmd, env=env, capture_output=True)  # warm the OS file cache and the LALR table cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cold-runs", type=int, default=10)
    args = ap.parse_args()
    files = ok_files()
    if not files:
        sys.exit(f"corpus not found at {CORPUS}")
    # Cold runs first, while this process is small (forking a large parent costs the child time too).
    exe = Path(sys.executable).with_name("dygraph")
    cold = timed([str(exe), "check", "--quiet", str(CORPUS / COLD_FILE)], args.cold_runs)
    cold_median = statistics.median(cold)
    # What any click + lark + pydantic program pays before doing anything: the floor under a cold check.
    floor = statistics.median(timed([sys.executable, "-c", "import click, lark; from pydantic import BaseModel"],
                                    args.cold_runs))
    t0 = time.perf_counter()
    check_all(files[:1])  # imports and parser construction, reported separately
    startup = time.perf_counter() - t0
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        check_all(files)
        runs.append(time.perf_counter() - t0)
    best, median = min(runs), statistics.median(runs)
    per_file_ms = 1000 * median / len(files)
    print(f"{len(files)} files: best {best:.3f} s, median {median:.3f} s ({per_file_ms:.2f} ms/file); "
          f"first-file startup {startup:.3f} s")
    print(f"cold `dygraph check {COLD_FILE}`: median {cold_median:.3f} s over {len(cold)} runs "
          f"(importing click, lark and pydantic alone: {floor:.3f} s)")
    update_section("compile", f"""
## Compiler (`benchmarks/compile_corpus.py`)

Checking (read, parse, link, analyze) all {len(files)} `ok` corpus programs in one process, and a cold
`dygraph check` of one file (new process, bytecode cached).

| measure | dygraph | reference | ratio |
|---|---|---|---|
| {len(files)} files, one process (median of {args.repeat}) | {median:.3f} s ({per_file_ms:.2f} ms/file) | {REFERENCE_CORPUS_S:.2f} s | {REFERENCE_CORPUS_S / median:.1f}× faster |
| cold `dygraph check {COLD_FILE}` (median of {len(cold)}) | {cold_median:.3f} s | {REFERENCE_COLD_S:.2f} s | {REFERENCE_COLD_S / cold_median:.1f}× faster |

A new Python process that only imports the three libraries every check needs (click, lark, pydantic)
takes {floor:.3f} s here, so dygraph's own share of a cold check is {cold_median - floor:.3f} s.
Best corpus run: {best:.3f} s. Import and parser start-up in the benchmark process: {startup:.3f} s (not
included above; the LALR table is cached on disk by Lark after the first run).
""")


if __name__ == "__main__":
    main()
