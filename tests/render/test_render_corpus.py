"""Every `ok` program of the conformance corpus renders: DOT that `dot` lays out without a single
warning, and SVG that parses as XML."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import dygraph
from dygraph.render import to_dot

CASES = Path("/work/shared/conformance/cases")
ROOT = Path(__file__).resolve().parents[2]


def ok_cases() -> list[Path]:
    return sorted(p for p in CASES.glob("*.dygram") if p.with_suffix(".status").read_text().strip() == "ok")


def layout(item: tuple[str, str]) -> tuple[str, int, str, bytes]:
    name, source = item
    proc = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True, timeout=120)
    return name, proc.returncode, proc.stderr.decode(errors="replace"), proc.stdout


def render_all(paths: list[Path]) -> list[str]:
    """DOT for each file, laid out in parallel; returns one line per problem."""
    sources = {p.name: to_dot(dygraph.load(p)) for p in paths}
    problems = []
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2)) as pool:
        for name, code, stderr, svg in pool.map(layout, sources.items()):
            if code != 0 or stderr.strip():
                problems.append(f"{name}: exit {code}: {stderr.strip()[:300]}")
                continue
            try:
                if not ET.fromstring(svg).tag.endswith("svg"):
                    problems.append(f"{name}: output is not SVG")
            except ET.ParseError as exc:
                problems.append(f"{name}: SVG does not parse: {exc}")
    return problems


@pytest.mark.skipif(not CASES.is_dir(), reason="conformance corpus not present")
def test_every_ok_case_renders_without_warnings():
    paths = ok_cases()
    assert len(paths) > 400
    assert render_all(paths) == []


def test_examples_render_without_warnings():
    paths = sorted((ROOT / "examples").glob("*.dygram"))
    assert paths
    assert render_all(paths) == []
