"""Helpers for runtime tests: compile DyGram source and run it with a scripted agent."""

from __future__ import annotations

from typing import Any, Optional

import anyio
import pytest

import dygraph
from dygraph.agents.base import AgentReply
from dygraph.agents.script import ScriptAgent
from dygraph.runtime import Limits, RunResult, Runtime


async def run_source(source: str, script: Optional[dict] = None, *, agent: Any = None, backoff: float = 0.001,
                     limits: Optional[dict] = None, **options: Any) -> RunResult:
    machine = dygraph.loads(source)
    if script is not None:
        agent = ScriptAgent(script)
    merged = {"retry_backoff": backoff, **(limits or {})}
    return await Runtime(machine, agent=agent, limits=Limits(**merged), **options).run()


def of_type(result: RunResult, kind: str) -> list[dict]:
    return [e for e in result.events if e["type"] == kind]


def histories(result: RunResult) -> dict[str, list[str]]:
    return {p.id: p.history for p in result.paths}


@pytest.fixture
def run():
    return run_source


class Recorder:
    """Wraps an agent and keeps every request it was asked (what the runtime offered)."""

    def __init__(self, agent: Any):
        self.agent = agent
        self.name = "recorder"
        self.requests: list = []

    async def respond(self, request):
        self.requests.append(request)
        return await self.agent.respond(request)

    async def aclose(self) -> None:
        return None

    def tools_at(self, node: str, visit: int = 1, round: int = 1) -> list[str]:
        for r in self.requests:
            if r.node == node and r.visit == visit and r.round == round:
                return [t.name for t in r.tools]
        raise AssertionError(f"no request for {node} visit {visit} round {round}")

    def at(self, node: str) -> list:
        return [r for r in self.requests if r.node == node]


class SlowAgent:
    """Answers after 5 s: for timeouts."""

    name = "slow"

    async def respond(self, request):
        await anyio.sleep(5)
        return AgentReply(content=None, tool_calls=[])

    async def aclose(self):
        return None


def scripted(script: dict) -> Recorder:
    return Recorder(ScriptAgent(script))
