"""The shipped examples are what users copy first: none has an error, and the fan-out example none of
the warnings it used to show (context use without an edge, prompts whose answer goes nowhere)."""

from __future__ import annotations

from pathlib import Path

import dygraph

from _cli import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_every_example_checks_without_errors():
    result = run_cli("check", "--quiet", EXAMPLES)
    assert result.exit_code == 0, result.output


def test_research_fanout_example_is_warning_free_and_joins_before_writing():
    machine = dygraph.load(EXAMPLES / "render-research-fanout.dygram", analyze=True)
    assert run_cli("check", "--strict-warnings", EXAMPLES / "render-research-fanout.dygram").exit_code == 0
    (into_write,) = [e for e in machine.incoming("Write") if e.relation is None]
    assert into_write.has_annotation("join")


def test_every_example_path_named_in_the_readme_and_docs_exists():
    import re

    root = EXAMPLES.parent
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md")), EXAMPLES / "runtime" / "README.md"]
    named = {m for t in texts if t.exists() for m in re.findall(r"examples/[\w./-]+\.dygram", t.read_text())}
    assert named and not sorted(p for p in named if not (root / p).is_file())


def test_review_example_runs_offline(tmp_path):
    result = run_cli("run", EXAMPLES / "review.dygram", "--agent", "offline", "--ephemeral", "--json")
    assert result.exit_code == 0 and '"status": "completed"' in result.stdout


def test_every_example_is_warning_free_and_in_canonical_layout():
    checked = run_cli("check", "--warnings-as-errors", EXAMPLES)
    assert checked.exit_code == 0, checked.output
    formatted = run_cli("fmt", "--check", EXAMPLES)
    assert formatted.exit_code == 0, formatted.output


def test_readme_tour_is_the_quickstart_example():
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert (EXAMPLES / "quickstart.dygram").read_text() in readme
