"""`dygraph run --agent openai` end to end against a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))
from openai_server import ScriptedOpenAIServer, tool_call, tool_names  # noqa: E402

from dygraph.cli import main  # noqa: E402

MACHINE = """
machine "Orders" { model: "test-model" }
context Order { qty<number>: 3; status<'new' | 'paid'>: "new" }
start -> review;
task review { prompt: "Review {{ Order.qty }} items"; }
review -writes-> Order;
review -> approve;
review -> reject;
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DYGRAPH_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with ScriptedOpenAIServer() as s:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield s


def test_run_with_the_openai_agent_over_http(server, tmp_path):
    (tmp_path / "m.dygram").write_text(MACHINE)
    server.reply_tool_calls(tool_call("write_Order", {"status": "paid"}))
    server.reply_error(500, "overloaded")  # retried by the client
    server.reply_tool_calls(tool_call("transition_to_approve", {"reason": "paid"}))
    r = CliRunner().invoke(main, ["run", str(tmp_path / "m.dygram"), "--agent", "openai", "--base-url",
                                  server.base_url, "--json", "--ephemeral"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["paths"][0]["history"] == ["start", "review", "approve"]
    assert data["context"]["Order"] == {"qty": 3, "status": "paid"}
    first, *_, last = server.chat_requests
    assert first["model"] == "test-model"
    assert tool_names(first) == ["transition_to_approve", "transition_to_reject", "read_Order", "write_Order"]
    assert any("Review 3 items" in str(m.get("content")) for m in first["messages"])
    # the tool result went back as a tool message answering the call
    tool_messages = [m for m in last["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 1 and json.loads(tool_messages[0]["content"]) == {"written": ["status"]}
