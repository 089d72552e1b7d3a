"""Shared test helpers: the conformance corpus beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DYGRAPH_CORPUS", REPO.parent / "shared" / "conformance" / "cases"))


def corpus_cases(*statuses: str) -> list[Path]:
    """The corpus programs whose reference verdict is one of `statuses` (all when none given)."""
    if not CORPUS.is_dir():
        return []
    out = []
    for status_file in sorted(CORPUS.glob("*.status")):
        status = status_file.read_text().strip()
        if not statuses or status in statuses:
            out.append(status_file.with_suffix(".dygram"))
    return out


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"conformance corpus not found at {CORPUS}")
    return CORPUS
