"""The offline agent: a deterministic policy, not a language model.

It takes the first offered transition. It spawns only when no transition is offered (every exit is
`@async`): then it starts every offered spawn, fire-and-forget. It calls no other tool.
"""

from __future__ import annotations

from dygraph.agents.base import AgentReply, AgentRequest, ToolCall

NOTICE = "offline policy (not an LLM)"


class OfflineAgent:
    name = "offline"

    async def respond(self, request: AgentRequest) -> AgentReply:
        if request.round > 1:  # one decision per turn; the second round ends the turn
            return AgentReply(content=None, tool_calls=[])
        names = [t.name for t in request.tools]
        transitions = [n for n in names if n.startswith("transition_to_")]
        if transitions:
            call = ToolCall(id="offline_0", name=transitions[0], arguments={"reason": f"{NOTICE}: first exit"})
            return AgentReply(content=f"{NOTICE}: taking {transitions[0]}", tool_calls=[call])
        spawns = [n for n in names if n.startswith("spawn_async_to_")]
        if spawns:
            calls = [ToolCall(id=f"offline_{i}", name=n, arguments={"reason": f"{NOTICE}: delegating"})
                     for i, n in enumerate(spawns)]
            return AgentReply(content=f"{NOTICE}: spawning {', '.join(spawns)}", tool_calls=calls)
        return AgentReply(content=f"{NOTICE}: nothing to decide at {request.node}", tool_calls=[])

    async def aclose(self) -> None:
        return None
