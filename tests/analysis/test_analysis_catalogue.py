"""The check catalogue and docs/diagnostics.md stay true: every code is documented, and every
documented example really produces its code where the page says."""

from __future__ import annotations

import re
from pathlib import Path

import dygraph
from dygraph.analysis import CHECKS
from dygraph.diagnostics import CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"
SECTION = re.compile(r"^### (DG\d{3})\n(.*?)(?=^### |^## |\Z)", re.M | re.S)
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
VALIDATOR_CODES = {c.code for c in CHECKS}
LOCATION = re.compile(r"^example\.dygram:(\d+):(\d+): (error|warning|info) (DG\d{3}):", re.M)


def _sections() -> dict[str, str]:
    return {code: body for code, body in SECTION.findall(DOC.read_text(encoding="utf-8"))}


def test_checks_catalogue_matches_codes():
    codes = [c.code for c in CHECKS]
    assert len(codes) == len(set(codes))
    for check in CHECKS:
        assert check.code in CODES and check.severity is CODES[check.code].severity
        assert check.description and check.title == CODES[check.code].title


def test_every_code_has_a_section():
    missing = set(CODES) - set(_sections())
    assert not missing, f"add a section to docs/diagnostics.md for {sorted(missing)}"


def test_every_validator_check_has_a_checked_example():
    sections = _sections()
    for check in CHECKS:
        kinds = [kind for kind, _ in BLOCK.findall(sections[check.code])]
        assert "dygram" in kinds, check.code


def test_documented_examples_produce_their_code_where_shown():
    checked = 0
    for code, body in _sections().items():
        blocks = BLOCK.findall(body)
        for i, (kind, source) in enumerate(blocks):
            if kind != "dygram":
                continue
            expected = [(int(line), int(col), sev, c) for line, col, sev, c in LOCATION.findall(blocks[i + 1][1])]
            assert expected and all(c == code for *_, c in expected), code
            found = [(d.line, d.column, d.severity.value, d.code) for d in dygraph.check(source, "example.dygram")
                     if d.code == code]
            if code in VALIDATOR_CODES:
                assert found == expected, (code, found, expected)
            else:  # the compiler's own codes: documented here, placed by its tests
                assert [f[2:] for f in found] == [e[2:] for e in expected], (code, found, expected)
            checked += 1
    assert checked >= 40
