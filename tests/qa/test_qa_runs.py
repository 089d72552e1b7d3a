"""`dygraph runs` user errors: one `dygraph:` line, exit 2, no traceback; ids never cut short."""

from __future__ import annotations

import pytest

from _cli import run_cli


@pytest.fixture()
def one_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    src = tmp_path / "m.dygram"
    src.write_text("init s;\ns -> done;\n")
    run_id = "a-rather-long-run-identifier-that-must-survive-a-narrow-pipe"
    assert run_cli("run", src, "--agent", "offline", "--id", run_id, "-q").exit_code == 0
    return run_id


def test_export_to_an_unwritable_path_is_a_usage_error(one_run, tmp_path):
    result = run_cli("runs", "export", one_run, "-o", tmp_path / "missing" / "x.json")
    assert result.exit_code == 2 and "dygraph: cannot write" in result.stderr


def test_unknown_run_is_a_usage_error_with_the_common_prefix(one_run):
    result = run_cli("runs", "show", "nope")
    assert result.exit_code == 2 and result.stderr.startswith("dygraph: ") and "nope" in result.stderr


def test_list_never_truncates_ids(one_run):
    result = run_cli("runs", "list")
    assert result.exit_code == 0 and one_run in result.output


def test_negative_limit_is_refused(one_run):
    assert run_cli("runs", "list", "--limit", "-5").exit_code == 2
