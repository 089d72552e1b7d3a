"""Fixtures for the editor tooling tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from editor_corpus import CASES_DIR, corpus_programs


@pytest.fixture(scope="session")
def ok_programs() -> list[Path]:
    programs = corpus_programs("ok")
    if not programs:
        pytest.skip(f"conformance corpus not found at {CASES_DIR}")
    return programs
