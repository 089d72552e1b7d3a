"""Context tools, user tools, universal async tools, refused calls, errors, retries, timeouts, limits."""

from __future__ import annotations

import anyio
import pytest
from conftest import Recorder, SlowAgent, of_type, run_source, scripted

import dygraph
from dygraph.agents.base import AgentError, AgentReply, ToolCall
from dygraph.runtime import Limits, Runtime, tool

CTX = """
context Order { qty<number>: 1; status<"new" | "paid">: "new"; note<string?>: "x" }
start -> t;
task t { prompt: "work"; }
t -writes-> Order;
t -> done;
"""


async def test_context_tools_have_json_schemas_from_typed_attributes():
    agent = scripted({"t": [[{"name": "transition_to_done", "arguments": {}}]]})
    await run_source(CTX, agent=agent)
    tools = {t.name: t for t in agent.at("t")[0].tools}
    assert sorted(tools) == ["read_Order", "transition_to_done", "write_Order"]
    write = tools["write_Order"].parameters
    assert write["properties"]["qty"] == {"type": "number"}
    assert write["properties"]["status"] == {"type": "string", "enum": ["new", "paid"]}
    assert write["additionalProperties"] is False
    assert tools["read_Order"].parameters["properties"]["fields"]["items"]["enum"] == ["qty", "status", "note"]


async def test_write_is_visible_to_a_later_read_in_the_same_turn_and_to_conditions():
    # decisions 17/29: the reference reads stale values within one turn
    src = CTX + 't -@auto, when: "Order.status == \'paid\'";-> paid;'
    agent = scripted({"t": [{"rounds": [
        [{"name": "write_Order", "arguments": {"qty": 5, "status": "paid"}},
         {"name": "read_Order", "arguments": {"fields": ["qty"]}}],
    ]}]})
    r = await run_source(src, agent=agent)
    reads = [e["result"] for e in of_type(r, "tool_result") if e["name"] == "read_Order"]
    assert reads == [{"context": "Order", "values": {"qty": 5}}]
    assert r.context["Order"] == {"qty": 5, "status": "paid", "note": "x"}
    assert r.path("p0").history[-1] == "paid"
    assert of_type(r, "context_written")[0]["values"] == {"qty": 5, "status": "paid"}


async def test_bad_arguments_unknown_tools_and_malformed_json_are_error_results():
    agent = scripted({"t": [{"rounds": [
        [{"name": "write_Order", "arguments": {"qty": "many"}},
         {"name": "write_Order", "arguments": {"colour": "red"}},
         {"name": "write_Order", "arguments": {"status": "lost"}},
         {"name": "transition_to_nowhere", "arguments": {}},
         {"name": "read_Order", "arguments": {"__malformed__": "{oops"}}],
        [{"name": "transition_to_done", "arguments": {}}],
    ]}]})
    r = await run_source(CTX, agent=agent)
    errors = [e["result"]["error"] for e in of_type(r, "tool_result") if not e["ok"]]
    assert len(errors) == 5
    assert "'qty' must be number" in errors[0]
    assert "unknown argument(s) 'colour'" in errors[1]
    assert "one of 'new', 'paid'" in errors[2]
    assert "not offered at t; offered: transition_to_done, read_Order, write_Order" in errors[3]
    assert "not valid JSON" in errors[4]
    assert r.context["Order"]["qty"] == 1
    assert r.status == "completed"  # the agent saw the errors and recovered
    second = agent.at("t")[1]
    assert [m["role"] for m in second.messages] == ["user", "assistant"] + ["tool"] * 5


async def test_second_transition_in_a_turn_is_refused():
    src = 'start -> t; task t { prompt: "p"; } t -> a; t -> b;'
    agent = scripted({"t": [[{"name": "transition_to_a", "arguments": {}},
                             {"name": "transition_to_b", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert r.path("p0").history[-1] == "a"
    assert "one transition per turn" in of_type(r, "tool_result")[1]["result"]["error"]


async def test_user_tools_are_offered_called_and_fed_back():
    calls = []

    @tool
    async def lookup(city: str, days: int = 1) -> dict:
        """Weather forecast."""
        calls.append((city, days))
        return {"city": city, "temp": 21}

    agent = scripted({"t": [{"rounds": [[{"name": "lookup", "arguments": {"city": "Oslo"}}],
                                        [{"name": "transition_to_b", "arguments": {}}]]}]})
    machine = dygraph.loads('start -> t; task t { prompt: "p"; } t -> b;')
    r = await Runtime(machine, agent=agent, tools=[lookup]).run()
    assert calls == [("Oslo", 1)]
    spec = next(t for t in agent.at("t")[0].tools if t.name == "lookup")
    assert spec.description == "Weather forecast."
    assert spec.parameters["required"] == ["city"]
    tool_msg = agent.at("t")[1].messages[-1]
    assert tool_msg["role"] == "tool" and '"temp": 21' in tool_msg["content"]
    assert r.status == "completed"


async def test_tools_attribute_restricts_user_tools():
    @tool
    def a() -> int:
        return 1

    @tool
    def b() -> int:
        return 2

    agent = scripted({"t": [[]]})
    machine = dygraph.loads('start -> t; task t { prompt: "p"; tools: ["b"]; }')
    await Runtime(machine, agent=agent, tools=[a, b]).run()
    assert agent.tools_at("t") == ["b"]


async def test_execute_async_runs_in_background_and_delivers_the_result_next_turn():
    started = anyio.Event()

    @tool
    async def crunch(n: int) -> int:
        started.set()
        await anyio.sleep(0.05)
        return n * 2

    agent = scripted({"t": [
        [{"name": "crunch", "arguments": {"n": 21, "_executeAsync": True, "_estimatedMinutes": 1}}],
        [{"name": "transition_to_b", "arguments": {}}],
    ]})
    machine = dygraph.loads('start -> t; task t { prompt: "p"; } t -> b;')
    r = await Runtime(machine, agent=agent, tools=[crunch]).run()
    first_result = [e for e in of_type(r, "tool_result") if e["name"] == "crunch"][0]["result"]
    assert first_result == {"status": "started", "task_id": "p0:1:1:1:0"}
    assert of_type(r, "tool_called")[0]["arguments"] == {"n": 21, "_executeAsync": True, "_estimatedMinutes": 1}
    second_turn = [q for q in agent.at("t") if q.visit == 2][0]
    delivered = second_turn.messages[-1]["content"]
    assert "Background task p0:1:1:1:0 (crunch) finished: 42" == delivered
    finished = of_type(r, "async_tool_finished")[0]
    assert finished["ok"] and finished["result"] == 42
    assert r.state.async_tools["p0:1:1:1:0"].status == "finished"
    assert r.path("p0").inbox == []


async def test_failing_tool_is_retried_then_the_catch_edge_is_taken():
    attempts = []

    @tool
    def flaky() -> str:
        attempts.append(1)
        raise RuntimeError("service down")

    src = 'start -> t; task t @retry(2) { prompt: "p"; } t -> ok; t -catch-> recover;'
    agent = scripted({"t": [[{"name": "flaky", "arguments": {}}]]})
    r = await Runtime(dygraph.loads(src), agent=agent, tools=[flaky], limits=Limits(retry_backoff=0.001)).run()
    assert len(attempts) == 3
    assert r.path("p0").history == ["start", "t", "recover"]
    failed = of_type(r, "step_failed")[0]
    assert "tool flaky failed: service down" in failed["error"] and failed["caught"] == "recover"
    assert r.state.error_count == 1
    assert r.status == "completed"


class FailingAgent:
    name = "failing"

    def __init__(self, failures: int, then: dict):
        self.failures, self.then, self.calls = failures, then, 0

    async def respond(self, request):
        self.calls += 1
        if self.calls <= self.failures:
            raise AgentError("model overloaded")
        return AgentReply(content=None, tool_calls=[ToolCall(id="c", name=self.then[request.node], arguments={})])

    async def aclose(self):
        return None


async def test_failing_agent_turn_is_retried_per_retry_annotation():
    src = 'start -> t; task t @retry(2) { prompt: "p"; } t -> ok;'
    agent = Recorder(FailingAgent(2, {"t": "transition_to_ok"}))
    r = await run_source(src, agent=agent)
    assert r.path("p0").history[-1] == "ok"
    assert [q.visit for q in agent.requests] == [1, 2, 3]  # each attempt is a new turn
    assert [e["attempt"] for e in of_type(r, "retry")] == [1, 2]


async def test_without_catch_edge_a_failing_turn_fails_the_path_and_the_run():
    r = await run_source('start -> t; task t { prompt: "p"; } t -> ok;',
                         agent=FailingAgent(5, {"t": "transition_to_ok"}))
    assert r.status == "failed"
    assert r.path("p0").status == "failed"
    assert r.error == "p0 at t: agent failed: model overloaded"
    assert of_type(r, "run_failed")[0]["error"] == r.error


async def test_edge_retry_applies_at_the_target():
    src = 'start -@retry(1)-> t; task t { prompt: "p"; } t -> ok;'
    r = await run_source(src, agent=FailingAgent(1, {"t": "transition_to_ok"}))
    assert r.status == "completed"


async def test_timeout_on_a_node_fails_the_turn_and_takes_the_error_edge():
    src = 'start -> t; task t @timeout("50ms") { prompt: "p"; } t -> ok; t -error-> late;'
    with anyio.fail_after(3):
        r = await run_source(src, agent=SlowAgent())
    assert r.path("p0").history[-1] == "late"
    assert "timed out after 0.05s" in of_type(r, "step_failed")[0]["error"]


async def test_step_limit_fails_the_run_with_a_clear_error():
    r = await run_source("start -> a; a -> b; b -> a;", limits={"max_steps": 7})
    assert r.status == "failed" and r.steps == 7
    assert "step limit reached (7 steps per run" in r.error


async def test_visit_limit_stops_a_legitimate_loop_only_at_the_limit():
    src = 'state a; state b; start -> a; a -> b; b -> a;'
    r = await run_source(src, limits={"max_visits": 4})
    assert r.status == "failed"
    assert r.path("p0").history.count("a") == 5
    assert "entered a 4 times (max 4)" in r.error


async def test_machine_attributes_set_limits():
    r = await run_source('machine "M" { maxSteps: 5 } start -> a; a -> b; b -> a;')
    assert r.steps == 5 and r.state.limits.max_steps == 5


async def test_tool_round_budget_bounds_a_turn():
    src = 'context C { n: 1 } start -> t; task t { prompt: "p"; } C -> t; t -> done;'
    agent = scripted({"t": [{"rounds": [[{"name": "read_C", "arguments": {}}]] * 10},
                            [{"name": "transition_to_done", "arguments": {}}]]})
    r = await run_source(src, agent=agent, limits={"max_tool_rounds": 3})
    assert len([q for q in agent.requests if q.visit == 1]) == 3
    assert any("tool round budget (3)" in d["message"] for d in of_type(r, "diagnostic"))
    assert r.path("p0").history[-1] == "done"


async def test_cancel_stops_tools_and_marks_paths_cancelled():
    cancelled = []
    started = anyio.Event()

    @tool
    async def forever() -> None:
        started.set()
        try:
            await anyio.sleep(30)
        finally:
            cancelled.append(True)

    agent = scripted({"t": [[{"name": "forever", "arguments": {}}]]})
    runtime = Runtime(dygraph.loads('start -> t; task t { prompt: "p"; } t -> b;'), agent=agent, tools=[forever])

    async def cancel_soon():
        await started.wait()
        runtime.cancel()

    with anyio.fail_after(3):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_soon)
            r = await runtime.run()
    assert r.status == "cancelled" and cancelled == [True]
    assert r.path("p0").status == "cancelled"
    assert of_type(r, "run_cancelled")


async def test_run_timeout_fails_remaining_paths():
    agent = SlowAgent()
    r = await run_source('start -> t; task t { prompt: "p"; }', agent=agent, limits={"timeout": 0.05})
    assert r.status == "failed" and "run timeout" in r.error


async def test_offline_agent_takes_first_transition_and_spawns_only_when_nothing_else():
    src = """
    start -> t;
    task t { prompt: "p"; }
    t -> a; t -> b; t -@async-> side;
    a -> d;
    task d { prompt: "delegate"; }
    d -@async-> w1; d -@async-> w2;
    """
    r = await run_source(src)
    assert r.path("p0").history == ["start", "t", "a", "d"]
    assert sorted(p.history[0] for p in r.paths if p.parent) == ["w1", "w2"]
    turn = of_type(r, "agent_turn")[0]
    assert turn["agent"] == "offline" and "not an LLM" in turn["content"]


async def test_context_overrides_and_unknown_context():
    machine = dygraph.loads('context C { n: 1 } start -when: "C.n == 2";-> two; start -> one;')
    r = await Runtime(machine, context={"C": {"n": 2}}).run()
    assert r.path("p0").history[-1] == "two"
    with pytest.raises(ValueError, match="no context node 'D'"):
        Runtime(machine, context={"D": {"n": 2}})


async def test_edge_timeout_applies_at_the_target():
    src = 'start -@timeout("50ms")-> t; task t { prompt: "p"; } t -> ok; t -catch-> late;'
    with anyio.fail_after(3):
        r = await run_source(src, agent=SlowAgent())
    assert r.path("p0").history[-1] == "late"
