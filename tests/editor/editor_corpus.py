"""Paths shared by the editor tooling tests (formatter, language server, VS Code extension)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path("/work/shared/conformance/cases")
EXTENSION_DIR = REPO_ROOT / "vscode-extension"


def corpus_programs(*statuses: str) -> list[Path]:
    """Corpus programs whose `.status` is one of `statuses` (all programs when none is given)."""
    if not CASES_DIR.is_dir():
        return []
    out = []
    for status_file in sorted(CASES_DIR.glob("*.status")):
        if not statuses or status_file.read_text().strip() in statuses:
            out.append(status_file.with_suffix(".dygram"))
    return out


