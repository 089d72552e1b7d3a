"""`dygraph run` refuses bad requests up front (exit 2, or 1 for a machine `check` rejects), stores what
`runs resume` needs, and explains script mistakes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dygraph.cli import main
from dygraph.store import open_store

QUICK = """
context Ticket { text<string>: "hi"; priority<'low' | 'high'>: "low"; }
init start;
Task classify { prompt: "Classify {{ Ticket.text }}"; }
start -> classify;
classify -writes-> Ticket;
classify -> done;
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.dygram").write_text(QUICK)
    return tmp_path


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def stored_runs() -> list[str]:
    store = open_store()
    try:
        return [r.id for r in store.list_runs()]
    finally:
        store.close()


def test_openai_agent_without_a_server_is_a_usage_error(home):
    for extra in (["--ephemeral"], []):
        r = cli("run", "m.dygram", "--agent", "openai", *extra)
        assert r.exit_code == 2 and "set OPENAI_API_KEY" in r.stderr
        assert "Traceback" not in r.output
    assert stored_runs() == []


@pytest.mark.parametrize("run_id", ["x/y", "-x", "a b", "x" * 101])
def test_run_ids_that_cannot_name_a_file_are_refused(home, run_id):
    for extra in ([], ["--detach"]):
        r = cli("run", "m.dygram", "--agent", "offline", "--id", run_id, *extra)
        assert r.exit_code == 2 and "--id" in r.stderr
    assert stored_runs() == []


def test_detached_ephemeral_run_is_a_usage_error(home):
    r = cli("run", "m.dygram", "--agent", "offline", "--detach", "--ephemeral")
    assert r.exit_code == 2 and "must be durable" in r.stderr
    assert stored_runs() == []


def test_zero_run_timeout_is_refused(home):
    assert cli("run", "m.dygram", "--agent", "offline", "--ephemeral", "--timeout", "0").exit_code == 2


def test_a_machine_check_rejects_is_not_run(home):
    (home / "bad.dygram").write_text('context C { n: 1; }\ninit s;\nTask t { prompt: "x"; }\ns -@map(C.n)-> t;\n'
                                     't -> done;\n')
    r = cli("run", "bad.dygram", "--agent", "offline", "--ephemeral", "--json")
    assert r.exit_code == 1 and "DG410" in r.stderr
    data = json.loads(r.stdout)
    assert data["status"] == "invalid" and [d["code"] for d in data["diagnostics"]] == ["DG410"]


def test_a_machine_without_nodes_is_not_run(home):
    (home / "empty.dygram").write_text("// nothing yet\n")
    r = cli("run", "empty.dygram", "--agent", "offline", "--ephemeral")
    assert r.exit_code == 1 and "no nodes" in r.stderr


@pytest.mark.parametrize("assignment, message", [
    ("Ticket.nope=1", "Ticket has no attribute 'nope' (attributes: text, priority)"),
    ("Ticket.priority=urgent", "Ticket.priority must be one of 'low', 'high'"),
    ("Ticket.text=[1,2]", "Ticket.text must be string"),
])
def test_set_checks_attributes_and_declared_types(home, assignment, message):
    r = cli("run", "m.dygram", "--agent", "offline", "--ephemeral", "--set", assignment)
    assert r.exit_code == 2 and message in r.stderr


def test_set_takes_a_number_for_a_string_attribute_as_its_text(home):
    r = cli("run", "m.dygram", "--agent", "offline", "--ephemeral", "--json", "--set", "Ticket.text=42")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["context"]["Ticket"]["text"] == "42"


def test_durable_run_stores_absolute_script_and_tools_paths(home):
    (home / "s.json").write_text(json.dumps({"classify": [[{"name": "transition_to_done", "arguments": {}}]]}))
    (home / "tools.py").write_text("from dygraph.runtime import tool\n\n@tool\nasync def noop() -> str:\n"
                                   "    '''Nothing.'''\n    return 'ok'\n")
    r = cli("run", "m.dygram", "--agent", "script:s.json", "--tools", "tools.py", "--id", "r1", "-q")
    assert r.exit_code == 0, r.output
    store = open_store()
    try:
        options = store.get_run("r1").options
    finally:
        store.close()
    assert options["agent"] == f"script:{home / 's.json'}"
    assert options["tools"] == [str(home / "tools.py")]


def test_script_agent_names_the_refused_call_when_its_turns_run_out(home):
    (home / "s.json").write_text(json.dumps({"classify": [[{"name": "transition_to_nowhere", "arguments": {}}]]}))
    r = cli("run", "m.dygram", "--agent", "script:s.json", "--ephemeral", "-q")
    assert r.exit_code == 1
    assert "call to 'transition_to_nowhere' was refused" in r.stderr
    assert "offered: transition_to_done" in r.stderr


def test_events_file_over_the_source_is_refused(home):
    source = (home / "m.dygram").read_text()
    r = cli("run", "m.dygram", "--agent", "offline", "--ephemeral", "--events", "m.dygram")
    assert r.exit_code == 2 and "own source" in r.stderr
    assert (home / "m.dygram").read_text() == source


def test_a_path_that_is_not_a_regular_file_says_so(home):
    r = cli("run", "/dev/null", "--agent", "offline", "--ephemeral")
    assert r.exit_code == 2 and "not a regular file" in r.stderr


def test_a_base_url_alone_selects_the_openai_agent(monkeypatch):
    from dygraph.agents import default_agent_spec

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert default_agent_spec() == "openai"
