"""Record every agent exchange to a directory, and replay a run from such a recording.

`RecordingAgent` (`dygraph run --record DIR`) writes one JSON file per exchange; `ReplayAgent`
(`--replay DIR`) answers from those files without calling any model, and stops the run with a
`ReplayDivergence` that says where (path, node, visit, round) and what (expected vs got) differed.
Exchanges are matched by position in the run — path id, node, visit, round — never by wall-clock
order, so concurrent paths replay correctly.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pydantic_core

from dygraph.agents.base import Agent, AgentError, AgentReply, AgentRequest, ToolCall

FORMAT = "dygraph-exchange/1"


def request_text(request: AgentRequest) -> str:
    """The parts of a request that identify and determine the exchange (the run id does not), as JSON."""
    return pydantic_core.to_json(request, exclude={"run_id"}, fallback=str).decode()


def reply_text(reply: AgentReply) -> str:
    return pydantic_core.to_json(reply, fallback=str).decode()


def request_to_json(request: AgentRequest) -> dict[str, Any]:
    return json.loads(request_text(request))


def reply_to_json(reply: AgentReply) -> dict[str, Any]:
    return json.loads(reply_text(reply))


def reply_from_json(data: dict[str, Any]) -> AgentReply:
    calls = [ToolCall(id=c["id"], name=c["name"], arguments=c.get("arguments") or {})
             for c in data.get("tool_calls") or []]
    return AgentReply(content=data.get("content"), tool_calls=calls, usage=data.get("usage"))


def exchange_key(request: AgentRequest) -> str:
    return f"{request.path_id}|{request.node}|{request.visit}|{request.round}"


def _where(request: AgentRequest) -> str:
    return (f"path {request.path_id} at node {request.node} (visit {request.visit}, "
            f"round {request.round})")


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def first_difference(expected: Any, got: Any, where: str = "request") -> tuple[str, Any, Any] | None:
    """The first place two JSON values differ, as (location, expected, got)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in list(expected) + [k for k in got if k not in expected]:
            if key not in got or key not in expected or expected[key] != got[key]:
                if key in got and key in expected:
                    return first_difference(expected[key], got[key], f"{where}.{key}")
                return f"{where}.{key}", expected.get(key, "<missing>"), got.get(key, "<missing>")
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for i, (a, b) in enumerate(zip(expected, got)):
            if a != b:
                return first_difference(a, b, f"{where}[{i}]")
        if len(expected) != len(got):
            return f"{where} (length)", len(expected), len(got)
        return None
    return None if expected == got else (where, expected, got)


class ReplayDivergence(AgentError):
    """The run asked something the recording does not contain: the replay cannot continue."""


class RecordingAgent:
    """Wraps an agent and writes every exchange to `directory` as it happens."""

    def __init__(self, agent: Agent, directory: str | Path):
        self.agent = agent
        self.name = getattr(agent, "name", "agent")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._count = len(list(self.directory.glob("*.json")))

    async def respond(self, request: AgentRequest) -> AgentReply:
        reply = await self.agent.respond(request)
        with self._lock:
            self._count += 1
            number = self._count
        node = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node)
        path = self.directory / f"{number:05d}-{node}-v{request.visit}-r{request.round}.json"
        record = {"format": FORMAT, "key": exchange_key(request), "agent": self.name,
                  "request": request_to_json(request), "reply": reply_to_json(reply)}
        path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        return reply

    async def aclose(self) -> None:
        await self.agent.aclose()


class ReplayAgent:
    """Answers from a recording made with `RecordingAgent`; any divergence stops the run."""

    name = "replay"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"recording directory not found: {self.directory}")
        self.recorded: dict[str, dict] = {}
        for file in sorted(self.directory.glob("*.json")):
            try:
                record = json.loads(file.read_text())
                self.recorded[record["key"]] = record
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{file}: not a dygraph exchange recording ({exc})") from None
        self.used: set[str] = set()

    async def respond(self, request: AgentRequest) -> AgentReply:
        key = exchange_key(request)
        record = self.recorded.get(key)
        if record is None:
            recorded_here = sorted(k for k in self.recorded if k.startswith(f"{request.path_id}|"))
            hint = (f"; recorded for this path: {', '.join(recorded_here[:5])}" if recorded_here
                    else "; nothing was recorded for this path")
            raise ReplayDivergence(f"replay diverged: {_where(request)} asked the agent, but the "
                                   f"recording has no such exchange{hint}")
        difference = first_difference(record["request"], request_to_json(request))
        if difference is not None:
            place, expected, got = difference
            if isinstance(expected, str) and isinstance(got, str):  # show where the texts part
                at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
                start = max(0, at - 40)
                place += f" (from character {at})"
                expected, got = expected[start:at + 80], got[start:at + 80]
            raise ReplayDivergence(f"replay diverged: {_where(request)}: {place} differs\n"
                                   f"  expected: {_short(expected)}\n  got:      {_short(got)}")
        self.used.add(key)
        return reply_from_json(record["reply"])

    def unused(self) -> list[str]:
        """Recorded exchanges the replay never asked for."""
        return sorted(set(self.recorded) - self.used)

    async def aclose(self) -> None:
        return None
