"""Agent registry, default choice, script-file errors and the interactive agent reading answers."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import dygraph
from dygraph.agents import create_agent, default_agent_spec
from dygraph.agents.interactive import InteractiveAgent
from dygraph.agents.offline import OfflineAgent
from dygraph.agents.script import ScriptAgent
from dygraph.runtime import Runtime


def test_default_agent_follows_key_and_terminal(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert default_agent_spec() == "offline"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert default_agent_spec() == "openai"


def test_registry_builds_each_agent(tmp_path):
    assert isinstance(create_agent("offline"), OfflineAgent)
    (tmp_path / "s.json").write_text(json.dumps({"a": [[]]}))
    assert isinstance(create_agent(f"script:{tmp_path / 's.json'}"), ScriptAgent)
    assert create_agent("openai", model="m", base_url="http://127.0.0.1:9/v1", api_key="k").name == "openai"
    with pytest.raises(ValueError, match="unknown agent"):
        create_agent("gpt")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        create_agent(f"script:{tmp_path / 'bad.json'}")
    (tmp_path / "shape.json").write_text("[1]")
    with pytest.raises(ValueError, match="JSON object"):
        create_agent(f"script:{tmp_path / 'shape.json'}")


async def test_script_agent_errors_on_unscripted_turns():
    machine = dygraph.loads('start -> t; task t { prompt: "p"; } t -> b;')
    result = await Runtime(machine, agent=ScriptAgent({"other": [[]]})).run()
    assert result.status == "failed"
    assert "the script has no entry for node t" in result.error


async def test_interactive_agent_reads_choices_and_arguments():
    answers = io.StringIO("write_C\n{\"n\": 7}\ntransition_to_b\n\n")
    out = io.StringIO()
    agent = InteractiveAgent(console=Console(file=out, width=120), stream=answers)
    machine = dygraph.loads('context C { n<number>: 0 } start -> t; task t { prompt: "Set n"; } '
                            't -writes-> C; t -> b;')
    result = await Runtime(machine, agent=agent).run()
    assert result.status == "completed"
    assert result.context["C"]["n"] == 7
    assert result.path("p0").history == ["start", "t", "b"]
    shown = out.getvalue()
    assert "Set n" in shown and "transition_to_b" in shown and "write_C" in shown


async def test_interactive_agent_without_answers_fails_the_turn():
    agent = InteractiveAgent(console=Console(file=io.StringIO()), stream=io.StringIO(""))
    result = await Runtime(dygraph.loads('start -> t; task t { prompt: "p"; } t -> b;'), agent=agent).run()
    assert result.status == "failed" and "no answer from the terminal" in result.error


def test_runtime_does_not_import_the_parser():
    import subprocess
    import sys

    code = ("import sys, dygraph.runtime, dygraph.agents, dygraph.agents.offline, dygraph.agents.script;"
            "print(sorted(m for m in sys.modules if m.startswith('dygraph.syntax')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
