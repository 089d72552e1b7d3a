"""Write a benchmark's figures into its own section of docs/performance.md.

Each benchmark owns the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, so several
benchmarks can update the one document without touching each other's figures.
"""

from __future__ import annotations

import platform
import re
import subprocess
from datetime import date
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
HEADER = "# Performance\n\nFigures are written by the scripts in `benchmarks/`; rerun one to refresh its section.\n"


def machine_line() -> str:
    try:
        cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        cpu = ""
    return f"{date.today().isoformat()}, Python {platform.python_version()}, {cpu or platform.machine()}"


def update_section(name: str, markdown: str) -> None:
    text = DOC.read_text() if DOC.exists() else HEADER
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n\n_Measured {machine_line()}._\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
