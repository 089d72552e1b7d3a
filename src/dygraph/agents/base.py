"""The agent protocol: what the runtime asks at a decision node and what an agent answers.

Every agent (OpenAI-compatible model, deterministic script, offline policy, the terminal) implements
`Agent.respond`. One request is one tool round of one agent turn; the runtime executes the returned
tool calls, appends their results to `messages`, and asks again until the turn ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class ToolSpec:
    """One tool offered to the agent."""

    name: str
    description: str
    parameters: dict  # JSON Schema object


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict  # already JSON-decoded; malformed JSON -> {"__malformed__": raw_text}


@dataclass
class AgentRequest:
    run_id: str
    path_id: str
    node: str  # node path
    visit: int  # 1-based agent turn number at this node for this path
    round: int  # 1-based tool round within the turn
    model: str | None  # resolved model (node > CLI > machine config node > env DYGRAPH_MODEL > default)
    system: str  # system prompt
    messages: list[dict]  # OpenAI Chat Completions messages for this turn so far
    tools: list[ToolSpec]


@dataclass
class AgentReply:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict | None = None


class AgentError(Exception):
    """An agent turn failed (transport, model, script exhausted…): retried per @retry, then catch/error edge.
    `permanent` errors (no configuration, a rejected key, an unknown model, no tool calling) cannot be
    cured by asking again: they are not retried."""

    def __init__(self, *args: object, permanent: bool = False):
        super().__init__(*args)
        self.permanent = permanent


class AgentConfigurationError(AgentError, ValueError):
    """The agent cannot be built as configured (e.g. no server for openai): a usage error wherever agents are
    made from settings, and permanent."""

    def __init__(self, *args: object):
        super().__init__(*args, permanent=True)


@runtime_checkable
class Agent(Protocol):
    name: str

    async def respond(self, request: AgentRequest) -> AgentReply: ...

    async def aclose(self) -> None: ...
