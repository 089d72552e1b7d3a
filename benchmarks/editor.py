"""Editor tooling speed: `dygraph fmt` and the language server's per-keystroke analysis.

    python benchmarks/editor.py

Over every accepted conformance program: formatting time (with and without the meaning check),
the time to re-analyse a document after a change (what `didChange` costs: compile, validate, index),
and semantic-token encoding. Writes the `editor` section of docs/performance.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_line, update_section  # noqa: E402

CASES = Path("/work/shared/conformance/cases")


def ok_programs() -> list[Path]:
    return [p.with_suffix(".dygram") for p in sorted(CASES.glob("*.status")) if p.read_text().strip() == "ok"]


def timed(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    from dygraph.fmt import format_source
    from dygraph.lsp.index import analyze_document
    from dygraph.lsp.server import semantic_tokens

    programs = ok_programs()
    if not programs:
        print(f"no corpus at {CASES}")
        return
    texts = [(str(p), p.read_text()) for p in programs]
    for file, text in texts:  # warm caches (grammar tables, imports)
        format_source(text, file)

    fmt_checked = [timed(format_source, text, file) for file, text in texts]
    fmt_plain = [timed(lambda t, f: format_source(t, f, verify=False), text, file) for file, text in texts]
    analysis = [timed(analyze_document, text, file) for file, text in texts]
    indexes = [analyze_document(text, file) for file, text in texts]
    tokens = [timed(semantic_tokens, ix) for ix in indexes]
    sizes = [len(text) for _, text in texts]
    largest = max(range(len(texts)), key=lambda i: sizes[i])

    ms = 1000.0
    rows = [
        ("`dygraph fmt` (with meaning check)", fmt_checked),
        ("`dygraph fmt` (printer only)", fmt_plain),
        ("LSP re-analysis after a change", analysis),
        ("LSP semantic tokens", tokens),
    ]
    lines = [
        f"{len(texts)} accepted corpus programs ({sum(sizes) / 1024:.0f} KiB; largest "
        f"{sizes[largest] / 1024:.1f} KiB). Best of 3 per file. {machine_line()}.",
        "",
        "| operation | median | p95 | max | largest file | total |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in rows:
        lines.append(f"| {name} | {statistics.median(values) * ms:.2f} ms | {percentile(values, 0.95) * ms:.2f} ms"
                     f" | {max(values) * ms:.2f} ms | {values[largest] * ms:.2f} ms | {sum(values):.2f} s |")
    markdown = "\n".join(lines)
    print(markdown)
    update_section("editor", "## Editor tooling\n\n" + markdown + "\n")


if __name__ == "__main__":
    main()
