"""The script agent: deterministic replies from a JSON file, for tests and demos.

Format: `{"Node": [turn1, turn2, …]}` keyed by node path or simple name. For the Nth agent turn of a
path at that node, turn N is used: a list of tool calls (`{"name": …, "arguments": {…}}`) answered in
the turn's first round, or `{"rounds": [[calls…], [calls…]], "content": "…"}` for several rounds.
A round after the last scripted one ends the turn (no tool calls). A turn that is not scripted is an
`AgentError`, like a failing model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dygraph.agents.base import AgentError, AgentReply, AgentRequest, ToolCall


class ScriptAgent:
    name = "script"

    def __init__(self, script: dict[str, list[Any]]):
        if not isinstance(script, dict) or not all(isinstance(v, list) for v in script.values()):
            raise ValueError('a script is a JSON object {"Node": [[tool calls of turn 1], …]}')
        self.script = script

    @classmethod
    def from_file(cls, path: str | Path) -> "ScriptAgent":
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise ValueError(f"cannot read script {path}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"script {path} is not valid JSON: {exc}") from None
        return cls(data)

    def _turns(self, node: str) -> list[Any] | None:
        if node in self.script:
            return self.script[node]
        return self.script.get(node.rsplit(".", 1)[-1])

    async def respond(self, request: AgentRequest) -> AgentReply:
        turns = self._turns(request.node)
        if turns is None:
            raise AgentError(f"the script has no entry for node {request.node}")
        if request.visit > len(turns):
            raise AgentError(f"the script has {len(turns)} turn(s) for {request.node}; turn {request.visit} "
                             f"was requested" + _refused(request))
        turn = turns[request.visit - 1]
        content = None
        rounds = [turn]
        if isinstance(turn, dict):
            rounds = turn.get("rounds", [turn.get("calls", [])])
            content = turn.get("content")
        if request.round > len(rounds):
            return AgentReply(content=content if request.round == 1 else None, tool_calls=[])
        calls = [
            ToolCall(id=f"call_{request.visit}_{request.round}_{i}", name=str(c["name"]),
                     arguments=dict(c.get("arguments") or {}))
            for i, c in enumerate(rounds[request.round - 1])
        ]
        return AgentReply(content=content if request.round == 1 else None, tool_calls=calls)

    async def aclose(self) -> None:
        return None


def _refused(request: AgentRequest) -> str:
    """Why the scripted turns ran out, when a call the script made was refused (e.g. a misspelt tool)."""
    names = {}
    for m in request.messages:
        for call in m.get("tool_calls") or ():
            names[call.get("id")] = (call.get("function") or {}).get("name")
    for m in reversed(request.messages):
        if m.get("role") != "tool":
            continue
        try:
            error = json.loads(m.get("content") or "").get("error")
        except (ValueError, AttributeError):
            continue
        if error:
            name = names.get(m.get("tool_call_id"), "a tool")
            return f" (an earlier scripted call to {name!r} was refused: {error})"
    return ""
