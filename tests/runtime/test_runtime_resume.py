"""Durability hooks: the state round-trips through JSON at every commit point, and resuming from any
checkpoint reproduces the uninterrupted run (same path ids, same histories, no completed tool re-run)."""

from __future__ import annotations

import json

from conftest import scripted

import dygraph
from dygraph.runtime import Limits, RunState, Runtime, ToolOutcome, tool

SOURCE = """
context Acc { total<number>: 0 }
start -> plan;
task plan { prompt: "plan"; }
plan -@async-> worker;
plan -> collect;
plan -writes-> Acc;
task worker { prompt: "work"; }
worker -> finish;
state collect;
collect -@barrier("all")-> report;
finish -@barrier("all")-> report;
task report { prompt: "report"; }
"""

SCRIPT = {
    "plan": [{"rounds": [
        [{"name": "double", "arguments": {"n": 1}}, {"name": "write_Acc", "arguments": {"total": 2}}],
        [{"name": "spawn_async_to_worker", "arguments": {}}, {"name": "spawn_async_to_worker", "arguments": {}}],
        [{"name": "transition_to_collect", "arguments": {}}],
    ]}],
    "worker": [{"rounds": [[{"name": "double", "arguments": {"n": 5}}],
                           [{"name": "transition_to_finish", "arguments": {}}]]}],
    "report": [{"rounds": [], "content": "done"}],
}


class CapturingJournal:
    """Keeps a JSON checkpoint per commit and tool outcomes by call id (what a durable store does)."""

    def __init__(self, stored: dict | None = None):
        self.checkpoints: list[tuple[str, int]] = []  # (state JSON, tool outcomes finished so far)
        self.outcomes: dict[str, dict] = dict(stored or {})
        self.finished: list[str] = []

    async def on_step(self, state, events):
        self.checkpoints.append((state.to_json(), len(self.finished)))

    async def tool_started(self, call):
        hit = self.outcomes.get(call.call_id)
        return ToolOutcome.from_json(hit) if hit else None

    async def tool_finished(self, call, outcome):
        self.outcomes[call.call_id] = outcome.to_json()
        self.finished.append(call.call_id)

    def wrap_agent(self, agent):
        return agent


def make_runtime(journal, executed):
    @tool
    def double(n: int) -> int:
        executed.append(n)
        return 2 * n

    return Runtime(dygraph.loads(SOURCE), agent=scripted(SCRIPT), journal=journal, tools=[double],
                   limits=Limits(max_steps=200))


async def test_resume_from_every_checkpoint_reproduces_the_run():
    journal, executed = CapturingJournal(), []
    full = await make_runtime(journal, executed).run()
    assert full.status == "completed"
    expected = {p.id: p.history for p in full.paths}
    assert sorted(expected) == ["p0", "p0.0", "p0.1"]
    assert len(executed) == 3
    assert len(journal.checkpoints) > 8

    for text, finished_count in journal.checkpoints[:-1]:
        state = RunState.from_json(text)
        assert RunState.from_json(state.to_json()) == state
        done_before = journal.finished[:finished_count]
        stored = {cid: journal.outcomes[cid] for cid in done_before}
        rerun: list[int] = []
        resumed = await make_runtime(CapturingJournal(stored), rerun).resume(state)
        assert resumed.status == "completed", resumed.error
        assert {p.id: p.history for p in resumed.paths} == expected
        assert resumed.context == full.context
        # every tool call ran exactly once across the crash
        assert len(rerun) + len(done_before) == 3


async def test_state_is_plain_json_with_deterministic_ids():
    journal, executed = CapturingJournal(), []
    result = await make_runtime(journal, executed).run()
    data = json.loads(result.state.to_json())
    assert data["status"] == "completed" and data["run_id"] == "run"
    assert set(data["paths"]) == {"p0", "p0.0", "p0.1"}
    calls = [e["call_id"] for e in result.events if e["type"] == "tool_called"]
    again = await make_runtime(CapturingJournal(), []).run()
    assert sorted(calls) == sorted(e["call_id"] for e in again.events if e["type"] == "tool_called")
