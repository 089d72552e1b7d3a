"""The `openai` agent against a real Chat Completions server on loopback (tests/agents/openai_server.py)."""

from __future__ import annotations

import json
import socket

import anyio
import openai as sdk
import pytest

from dygraph.agents import create_agent
from dygraph.agents.base import AgentError, AgentReply, AgentRequest, ToolSpec
from dygraph.agents.openai import DEFAULT_MODEL, LOCAL_PLACEHOLDER_KEY, OpenAIAgent
from openai_server import ScriptedReply, completion, error_reply, text_reply, tool_call

TRANSITION = ToolSpec(
    name="transition_to_Review",
    description="Transition to Review: when the draft is complete",
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why this transition"}},
    },
)
WRITE = ToolSpec(
    name="write_Draft",
    description="Write data to Draft context",
    parameters={
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "words": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object", "properties": {"final": {"type": "boolean"}}, "required": ["final"]},
        },
        "required": ["title"],
        "additionalProperties": False,
    },
)


def request(*, model: str | None = "test-model", messages=None, tools=(TRANSITION, WRITE), round=1) -> AgentRequest:
    return AgentRequest(
        run_id="run-1",
        path_id="path-0",
        node="Write",
        visit=1,
        round=round,
        model=model,
        system="You are at node Write.",
        messages=list(messages or [{"role": "user", "content": "Write the draft."}]),
        tools=list(tools),
    )


@pytest.fixture
async def agent(openai_server, clean_openai_env):
    agent = OpenAIAgent(base_url=openai_server.base_url, api_key="test-key", max_retries=2)
    yield agent
    await agent.aclose()


# -- what is sent --------------------------------------------------------------------------


async def test_tool_schemas_and_prompt_are_sent_exactly(agent, openai_server):
    openai_server.reply_text("thinking")
    await agent.respond(request())

    (body,) = openai_server.chat_requests
    assert body["model"] == "test-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are at node Write."},
        {"role": "user", "content": "Write the draft."},
    ]
    assert body["tools"] == [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in (TRANSITION, WRITE)
    ]
    assert openai_server.received[0].path == "/v1/chat/completions"
    assert openai_server.received[0].headers["authorization"] == "Bearer test-key"


async def test_a_tool_without_parameters_gets_the_empty_object_schema(agent, openai_server):
    openai_server.reply_text("ok")
    await agent.respond(request(tools=[ToolSpec("transition_to_End", "Transition to End", {})]))
    (tool,) = openai_server.chat_requests[0]["tools"]
    assert tool["function"]["parameters"] == {"type": "object", "properties": {}}


async def test_no_tools_key_when_nothing_is_offered(agent, openai_server):
    openai_server.reply_text("done")
    reply = await agent.respond(request(tools=()))
    assert reply == AgentReply(content="done", tool_calls=[], usage=reply.usage)
    assert "tools" not in openai_server.chat_requests[0]


async def test_tool_results_go_back_as_tool_messages_with_matching_ids(agent, openai_server):
    openai_server.reply_tool_calls(
        tool_call("write_Draft", {"title": "Plan", "words": 3}, id="call_w"),
        tool_call("transition_to_Review", {"reason": "written"}, id="call_t"),
        content="Writing, then moving on.",
    )
    openai_server.reply_text("ok")

    first = await agent.respond(request())
    assert first.content == "Writing, then moving on."
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_w", "write_Draft", {"title": "Plan", "words": 3}),
        ("call_t", "transition_to_Review", {"reason": "written"}),
    ]

    # The conversation the runtime builds for round 2: the assistant turn, then one tool message per call.
    assistant = {
        "role": "assistant",
        "content": first.content,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in first.tool_calls
        ],
    }
    results = [
        {"role": "tool", "tool_call_id": c.id, "content": json.dumps({"ok": True, "tool": c.name})}
        for c in first.tool_calls
    ]
    history = [{"role": "user", "content": "Write the draft."}, assistant, *results]
    await agent.respond(request(messages=history, round=2))

    second = openai_server.chat_requests[1]["messages"]
    assert second[1:] == history
    sent_ids = [c["id"] for c in second[2]["tool_calls"]]
    assert [m["tool_call_id"] for m in second[3:]] == sent_ids == ["call_w", "call_t"]


async def test_concurrent_turns_share_one_client(agent, openai_server):
    openai_server.fallback = lambda body: text_reply("echo " + body["messages"][-1]["content"])
    replies: dict[int, str | None] = {}

    async def ask(n: int) -> None:
        replies[n] = (await agent.respond(request(messages=[{"role": "user", "content": str(n)}]))).content

    async with anyio.create_task_group() as tg:
        for n in range(8):
            tg.start_soon(ask, n)
    assert replies == {n: f"echo {n}" for n in range(8)}


# -- what is parsed ------------------------------------------------------------------------


async def test_usage_is_mapped(agent, openai_server):
    openai_server.reply(text_reply("x", usage={"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}))
    reply = await agent.respond(request())
    assert reply.usage == {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}


async def test_missing_usage_is_none(agent, openai_server):
    body = completion({"role": "assistant", "content": "x"})
    del body["usage"]
    openai_server.reply(ScriptedReply(body=body))
    assert (await agent.respond(request())).usage is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('{"title": "Pl', {"__malformed__": '{"title": "Pl'}),  # truncated JSON
        ("not json at all", {"__malformed__": "not json at all"}),
        ('["a", "b"]', {"__malformed__": '["a", "b"]'}),  # valid JSON, but not an object
        ("", {}),  # some servers send "" for a call without arguments
    ],
)
async def test_malformed_tool_arguments_do_not_crash(agent, openai_server, raw, expected):
    openai_server.reply_tool_calls(
        tool_call("write_Draft", raw, id="call_bad"),
        tool_call("transition_to_Review", {"reason": "r"}, id="call_ok"),
    )
    reply = await agent.respond(request())
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("call_bad", "write_Draft", expected),
        ("call_ok", "transition_to_Review", {"reason": "r"}),
    ]


async def test_tool_calls_without_ids_get_distinct_ids(agent, openai_server):
    calls = [tool_call("write_Draft", {"title": "a"}), tool_call("transition_to_Review", {})]
    for call in calls:
        del call["id"]
    openai_server.reply(ScriptedReply(body=completion({"role": "assistant", "content": None, "tool_calls": calls})))
    reply = await agent.respond(request())
    ids = [c.id for c in reply.tool_calls]
    assert all(ids) and len(set(ids)) == 2
    assert [c.name for c in reply.tool_calls] == ["write_Draft", "transition_to_Review"]


async def test_answer_without_choices_is_an_agent_error(agent, openai_server):
    body = completion({"role": "assistant", "content": "x"})
    body["choices"] = []
    openai_server.reply(ScriptedReply(body=body))
    with pytest.raises(AgentError, match="without any choice"):
        await agent.respond(request())


# -- retries -------------------------------------------------------------------------------


async def test_server_errors_are_retried_then_succeed(agent, openai_server):
    openai_server.reply_error(500, "overloaded").reply_error(503, "unavailable")
    openai_server.reply_tool_calls(tool_call("transition_to_Review", {"reason": "third time"}))
    reply = await agent.respond(request())
    assert reply.tool_calls[0].arguments == {"reason": "third time"}
    bodies = openai_server.chat_requests
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]  # the same request, resent


async def test_rate_limit_waits_for_retry_after(agent, openai_server):
    openai_server.reply_error(429, "slow down", type="rate_limit_error", retry_after=1)
    openai_server.reply_text("after the wait")
    reply = await agent.respond(request())
    assert reply.content == "after the wait"
    first, second = openai_server.received
    assert second.at - first.at >= 0.95  # Retry-After: 1 was honoured, not the 0.5 s default backoff


async def test_dropped_connection_is_retried(agent, openai_server):
    openai_server.reply_disconnect().reply_text("reconnected")
    assert (await agent.respond(request())).content == "reconnected"
    assert len(openai_server.chat_requests) == 2


async def test_retries_are_bounded_and_the_error_says_why(openai_server, clean_openai_env):
    agent = OpenAIAgent(base_url=openai_server.base_url, max_retries=1)
    openai_server.reply_error(500, "the GPU caught fire", retry_after_ms=10)
    openai_server.reply_error(500, "the GPU caught fire", retry_after_ms=10)
    openai_server.reply_text("never reached")
    with pytest.raises(AgentError) as caught:
        await agent.respond(request())
    message = str(caught.value)
    assert "HTTP 500" in message and "after 2 attempts" in message and "the GPU caught fire" in message
    assert "test-model" in message
    assert len(openai_server.chat_requests) == 2 and openai_server.pending == 1
    await agent.aclose()


async def test_rate_limit_exhaustion_is_an_agent_error(openai_server, clean_openai_env):
    agent = OpenAIAgent(base_url=openai_server.base_url, max_retries=0)
    openai_server.reply_error(429, "quota exceeded", type="insufficient_quota", retry_after_ms=10)
    with pytest.raises(AgentError, match=r"rate limited \(HTTP 429\) after 1 attempts: quota exceeded"):
        await agent.respond(request())
    await agent.aclose()


async def test_unreachable_server_is_an_agent_error(clean_openai_env):
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = OpenAIAgent(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(AgentError, match=rf"cannot reach http://127.0.0.1:{port}/v1"):
        await agent.respond(request())
    await agent.aclose()


# -- clear errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, message",
    [
        (400, "registry.ollama.ai/library/gemma:2b does not support tools"),  # Ollama
        (400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'),  # vLLM
        (404, "No endpoints found that support tool use. Try disabling \"tools\"."),  # OpenRouter
        (400, "Unsupported parameter: 'tools' is not supported with this model."),  # OpenAI
    ],
)
async def test_model_without_tool_support_is_a_clear_error(agent, openai_server, status, message):
    openai_server.reply_error(status, message, type="invalid_request_error")
    with pytest.raises(AgentError) as caught:
        await agent.respond(request(model="tiny-model"))
    text = str(caught.value)
    assert "'tiny-model'" in text and "does not support tool calling" in text
    assert message in text and "--model" in text  # says what the server said and what to do
    assert len(openai_server.chat_requests) == 1  # a 4xx is not retried


async def test_fixture_tools_unsupported_reply(agent, openai_server):
    openai_server.reply_tools_unsupported()
    with pytest.raises(AgentError, match="'test-model' at .* does not support tool calling"):
        await agent.respond(request())


async def test_other_bad_requests_are_not_blamed_on_tool_support(agent, openai_server):
    openai_server.reply_error(400, "Invalid schema for function 'write_Draft': 'minimum' is not supported here")
    with pytest.raises(AgentError) as caught:
        await agent.respond(request())
    assert "does not support tool calling" not in str(caught.value)
    assert "rejected the request (HTTP 400)" in str(caught.value)


async def test_rejected_key_names_the_variable(agent, openai_server):
    openai_server.reply_error(401, "Incorrect API key provided", type="invalid_request_error")
    with pytest.raises(AgentError, match=r"rejected the API key \(HTTP 401: Incorrect API key provided\); check OPENAI_API_KEY"):
        await agent.respond(request())


async def test_unknown_model_is_a_clear_error(agent, openai_server):
    openai_server.reply_error(404, "The model `gpt-9` does not exist", type="invalid_request_error")
    with pytest.raises(AgentError, match=r"model 'gpt-9' at .*: not found \(HTTP 404: The model `gpt-9` does not exist\)"):
        await agent.respond(request(model="gpt-9"))


def test_no_key_and_no_server_is_a_clear_error(clean_openai_env):
    with pytest.raises(AgentError) as caught:
        OpenAIAgent()
    text = str(caught.value)
    assert "OPENAI_API_KEY" in text and "--base-url" in text and "OPENAI_BASE_URL" in text


# -- configuration from the environment ------------------------------------------------------


async def test_base_url_key_and_model_from_environment(openai_server, clean_openai_env):
    clean_openai_env.setenv("OPENAI_BASE_URL", openai_server.base_url)
    clean_openai_env.setenv("OPENAI_API_KEY", "env-key")
    clean_openai_env.setenv("DYGRAPH_MODEL", "env-model")
    agent = OpenAIAgent()
    openai_server.reply_text("a").reply_text("b")
    await agent.respond(request(model=None))
    await agent.respond(request(model="node-model"))  # the runtime's resolved model wins
    await agent.aclose()
    assert [b["model"] for b in openai_server.chat_requests] == ["env-model", "node-model"]
    assert {r.headers["authorization"] for r in openai_server.received} == {"Bearer env-key"}


async def test_model_fallbacks(openai_server, clean_openai_env):
    openai_server.fallback = text_reply("ok")
    clean_openai_env.setenv("DYGRAPH_MODEL", "env-model")
    explicit = OpenAIAgent(model="cli-model", base_url=openai_server.base_url)
    await explicit.respond(request(model=None))
    clean_openai_env.delenv("DYGRAPH_MODEL")
    default = OpenAIAgent(base_url=openai_server.base_url)
    await default.respond(request(model=None))
    for agent in (explicit, default):
        await agent.aclose()
    assert [b["model"] for b in openai_server.chat_requests] == ["cli-model", DEFAULT_MODEL]


async def test_local_server_needs_no_key(openai_server, clean_openai_env):
    clean_openai_env.setenv("OPENAI_BASE_URL", openai_server.base_url)
    agent = create_agent("openai", model="test-model")
    openai_server.reply_text("no key needed")
    assert (await agent.respond(request(model=None))).content == "no key needed"
    await agent.aclose()
    assert openai_server.received[0].headers["authorization"] == f"Bearer {LOCAL_PLACEHOLDER_KEY}"
    assert openai_server.chat_requests[0]["model"] == "test-model"


async def test_arguments_beat_environment(openai_server, clean_openai_env):
    clean_openai_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # would fail if used
    clean_openai_env.setenv("OPENAI_API_KEY", "env-key")
    agent = OpenAIAgent(base_url=openai_server.base_url, api_key="arg-key")
    openai_server.reply_text("ok")
    await agent.respond(request())
    await agent.aclose()
    assert openai_server.received[0].headers["authorization"] == "Bearer arg-key"


# -- the fixture itself ----------------------------------------------------------------------


async def test_fixture_lists_models_and_refuses_unscripted_requests(openai_server):
    client = sdk.AsyncOpenAI(base_url=openai_server.base_url, api_key="k", max_retries=0)
    models = [m.id async for m in client.models.list()]
    assert models == ["test-model"]
    assert (await client.models.retrieve("test-model")).id == "test-model"
    with pytest.raises(sdk.BadRequestError, match="no reply left"):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(sdk.BadRequestError, match="streaming is not supported"):
        await client.chat.completions.create(model="m", messages=[], stream=True)
    await client.close()
    assert [(r.method, r.path) for r in openai_server.received][:2] == [
        ("GET", "/v1/models"),
        ("GET", "/v1/models/test-model"),
    ]


def test_error_reply_shape():
    reply = error_reply(429, "slow", retry_after=2, retry_after_ms=1500)
    assert reply.status == 429 and reply.headers == {"Retry-After": "2", "retry-after-ms": "1500"}
    assert reply.body["error"]["message"] == "slow"
