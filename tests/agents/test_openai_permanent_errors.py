"""Errors asking again cannot cure (rejected key, unknown model, no tool calling) are not retried per
`@retry`; passing ones are. The model is the scripted loopback server."""

from __future__ import annotations

import pytest

import dygraph
from dygraph.agents.base import AgentError
from dygraph.agents.openai import OpenAIAgent
from dygraph.runtime import Limits, Runtime

MACHINE = 'start -> t; task t @retry(3) { prompt: "Decide"; } t -> done; t -error-> failed;'


async def run_against(server) -> tuple:
    agent = OpenAIAgent(base_url=server.base_url, model="test-model", max_retries=0)
    try:
        result = await Runtime(dygraph.loads(MACHINE), agent=agent, limits=Limits(retry_backoff=0.001)).run()
    finally:
        await agent.aclose()
    return result, len(server.chat_requests)


@pytest.mark.parametrize("status, message", [
    (401, "Incorrect API key provided"),
    (403, "Project does not have access"),
    (404, "The model `test-model` does not exist"),
])
async def test_permanent_errors_fail_the_turn_at_once_and_take_the_error_edge(openai_server, status, message):
    openai_server.reply_error(status, message)
    result, requests = await run_against(openai_server)
    assert requests == 1
    assert result.path("p0").history == ["start", "t", "failed"]
    assert not [e for e in result.events if e["type"] == "retry"]


async def test_tools_unsupported_is_permanent(openai_server):
    openai_server.reply_tools_unsupported()
    result, requests = await run_against(openai_server)
    assert requests == 1 and result.path("p0").history[-1] == "failed"
    assert "does not support tool calling" in [e for e in result.events if e["type"] == "step_failed"][0]["error"]


async def test_server_errors_are_retried_per_retry(openai_server):
    openai_server.reply_error(500, "boom")
    openai_server.reply_error(503, "busy")
    openai_server.reply_tool_calls({"id": "c1", "type": "function",
                                    "function": {"name": "transition_to_done", "arguments": "{}"}})
    result, requests = await run_against(openai_server)
    assert requests == 3 and result.path("p0").history == ["start", "t", "done"]


def test_missing_configuration_is_permanent(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(AgentError) as caught:
        OpenAIAgent()
    assert caught.value.permanent
    assert isinstance(caught.value, ValueError)  # a usage error where agents are built from settings
