"""Recording agent exchanges to a directory and replaying them; journaled agents never pay twice."""

import json

import pytest

from dygraph.agents.base import AgentReply, AgentRequest, ToolCall, ToolSpec
from dygraph.store import SQLiteStore
from dygraph.store.journal import SQLiteJournal
from dygraph.store.recording import RecordingAgent, ReplayAgent, ReplayDivergence, first_difference


class CountingAgent:
    """A deterministic agent: transitions to the first offered tool, counting its calls."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    async def respond(self, request: AgentRequest) -> AgentReply:
        self.calls += 1
        tool = request.tools[0].name
        return AgentReply(content=f"call {self.calls}", tool_calls=[ToolCall(f"c{self.calls}", tool, {"reason": "go"})])

    async def aclose(self) -> None:
        pass


def request(node="Review", visit=1, round=1, path="p1", run_id="run-a", message="Review the order") -> AgentRequest:
    return AgentRequest(run_id=run_id, path_id=path, node=node, visit=visit, round=round, model="m",
                        system="You run a machine", messages=[{"role": "user", "content": message}],
                        tools=[ToolSpec("transition_to_Ship", "go", {"type": "object", "properties": {}})])


async def test_record_then_replay_answers_identically(tmp_path):
    inner = CountingAgent()
    recorder = RecordingAgent(inner, tmp_path / "rec")
    first = await recorder.respond(request())
    second = await recorder.respond(request(node="Ship", path="p2"))
    files = sorted(p.name for p in (tmp_path / "rec").iterdir())
    assert files == ["00001-Review-v1-r1.json", "00002-Ship-v1-r1.json"]
    assert json.loads((tmp_path / "rec" / files[0]).read_text())["key"] == "p1|Review|1|1"

    replay = ReplayAgent(tmp_path / "rec")
    # another run id, and the paths asking in the other order: still matched by position in the run
    assert await replay.respond(request(node="Ship", path="p2", run_id="run-b")) == second
    assert await replay.respond(request(run_id="run-b")) == first
    assert replay.unused() == [] and inner.calls == 2


async def test_replay_names_where_and_what_diverged(tmp_path):
    await RecordingAgent(CountingAgent(), tmp_path).respond(request())
    replay = ReplayAgent(tmp_path)
    with pytest.raises(ReplayDivergence) as changed:
        await replay.respond(request(message="Review the order twice"))
    text = str(changed.value)
    assert "path p1 at node Review (visit 1, round 1)" in text
    assert "request.messages[0].content" in text
    assert '"Review the order"' in text and '"Review the order twice"' in text
    with pytest.raises(ReplayDivergence, match=r"visit 2, round 1\).*no such exchange.*p1\|Review\|1\|1"):
        await replay.respond(request(visit=2))


def test_replay_needs_a_recording(tmp_path):
    with pytest.raises(FileNotFoundError, match="recording directory not found"):
        ReplayAgent(tmp_path / "missing")
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a dygraph exchange recording"):
        ReplayAgent(tmp_path)


def test_first_difference():
    assert first_difference({"a": [1, 2]}, {"a": [1, 2]}) is None
    assert first_difference({"a": [1, 2]}, {"a": [1, 3]}) == ("request.a[1]", 2, 3)
    assert first_difference({"a": [1]}, {"a": [1, 2]}) == ("request.a (length)", 1, 2)
    assert first_difference({"a": 1}, {"b": 1}) == ("request.a", 1, "<missing>")


async def test_a_resumed_turn_does_not_pay_twice(tmp_path):
    with SQLiteStore(tmp_path / "runs.db") as store:
        store.create_run(machine="m", run_id="run-a")
        inner = CountingAgent()
        agent = SQLiteJournal(store, "run-a").wrap_agent(inner)
        reply = await agent.respond(request())
        # the process dies; the resumed run asks the same question again
        resumed = SQLiteJournal(store, "run-a")
        resumed.resumed = True
        again = await resumed.wrap_agent(inner).respond(request())
        assert again == reply and inner.calls == 1 and resumed.reused_exchanges == 1
        # a different question at the same place is asked for real
        await resumed.wrap_agent(inner).respond(request(message="changed"))
        assert inner.calls == 2
        assert len(store.llm_exchanges("run-a")) == 1
