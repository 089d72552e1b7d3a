"""How long validation takes over the conformance corpus (`python benchmarks/analysis.py`).

Compiles every `ok` case, then times `dygraph.analysis.analyze` on them: the first pass in a fresh
process (it loads the CEL grammar and, when a machine has a loop with no way out, networkx), then
warm passes on freshly compiled machines. Writes the figures to docs/performance.md.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import update_section  # noqa: E402

CASES = Path("/work/shared/conformance/cases")
PASSES = 5


def _ok_sources() -> list[tuple[str, str]]:
    out = []
    for status in sorted(CASES.glob("*.status")):
        if status.read_text().strip() == "ok":
            path = status.with_suffix(".dygram")
            out.append((path.name, path.read_text(encoding="utf-8")))
    return out


def _compile_all(sources):
    from dygraph.syntax import compile_source

    machines = []
    for name, text in sources:
        machine, diagnostics = compile_source(text, name)
        if machine is not None and not any(d.is_error for d in diagnostics):
            machines.append(machine)
    return machines


def _import_seconds(statement: str, setup: str = "pass") -> float:
    code = f"{setup}; import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def main() -> None:
    sources = _ok_sources()
    import dygraph.ir  # noqa: F401  (the IR is loaded by whoever compiled the machine)

    t0 = time.perf_counter()
    import dygraph.analysis as analysis

    import_s = time.perf_counter() - t0
    machines = _compile_all(sources)
    t0 = time.perf_counter()
    for m in machines:
        analysis.analyze(m)
    cold_s = time.perf_counter() - t0
    loaded_networkx = "networkx" in sys.modules

    per_file: list[float] = []
    totals: list[float] = []
    for _ in range(PASSES):
        fresh = _compile_all(sources)
        total = 0.0
        for m in fresh:
            t = time.perf_counter()
            analysis.analyze(m)
            dt = time.perf_counter() - t
            per_file.append(dt)
            total += dt
        totals.append(total)
    per_file.sort()
    warm_s = statistics.median(totals)
    mean_ms = 1000 * statistics.mean(per_file)
    p95_ms = 1000 * per_file[int(0.95 * (len(per_file) - 1))]
    max_ms = 1000 * per_file[-1]
    cel_s = _import_seconds("cel_parser()", "import lark; from dygraph.analysis.expressions import cel_parser")
    nx_s = _import_seconds("import networkx")

    rows = [
        ("files analysed", f"{len(machines)}"),
        ("import `dygraph.analysis`", f"{1000 * import_s:.1f} ms"),
        ("first pass over all files (fresh process)", f"{1000 * cold_s:.1f} ms"
                                                      + (" (includes importing networkx)" if loaded_networkx else "")),
        (f"warm pass over all files (median of {PASSES})", f"{1000 * warm_s:.1f} ms"),
        ("per file: mean / p95 / max", f"{mean_ms:.3f} / {p95_ms:.3f} / {max_ms:.3f} ms"),
        ("one-time: CEL grammar load (Lark cache warm)", f"{1000 * cel_s:.1f} ms"),
        ("one-time: `import networkx` (only if some loop has no way out)", f"{1000 * nx_s:.1f} ms"),
    ]
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    markdown = ("## Validation (`dygraph.analysis.analyze`)\n\n"
                "All `ok` conformance programs, compiled first (compilation not included).\n\n" + table)
    print(markdown)
    update_section("analysis", markdown)


if __name__ == "__main__":
    main()
