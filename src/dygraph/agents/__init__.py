"""Agents that make decisions at prompted nodes, and `create_agent(spec)` to pick one by name."""

from __future__ import annotations

import os
import sys
from typing import Any

from dygraph.agents.base import Agent, AgentError, AgentReply, AgentRequest, ToolCall, ToolSpec

AGENT_NAMES = ("openai", "offline", "interactive", "script:FILE")


def default_agent_spec() -> str:
    """`openai` when a key or a server (`OPENAI_BASE_URL`, e.g. Ollama) is configured, `interactive` on a
    terminal, otherwise `offline`."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "openai"
    if sys.stdin.isatty():
        return "interactive"
    return "offline"


def create_agent(spec: str | None = None, **options: Any) -> Agent:
    """Build an agent from `openai` | `offline` | `interactive` | `script:FILE`.

    Options not understood by the chosen agent (e.g. `base_url` for `offline`) are ignored, so the
    CLI can pass every flag it has."""
    spec = spec or default_agent_spec()
    if spec == "openai":
        from dygraph.agents.openai import OpenAIAgent

        keys = ("model", "base_url", "api_key")
        return OpenAIAgent(**{k: options[k] for k in keys if options.get(k) is not None})
    if spec == "offline":
        from dygraph.agents.offline import OfflineAgent

        return OfflineAgent()
    if spec == "interactive":
        from dygraph.agents.interactive import InteractiveAgent

        return InteractiveAgent(**{k: options[k] for k in ("console",) if k in options})
    if spec.startswith("script:"):
        from dygraph.agents.script import ScriptAgent

        return ScriptAgent.from_file(spec[len("script:"):])
    raise ValueError(f"unknown agent {spec!r}; expected one of: {', '.join(AGENT_NAMES)}")


__all__ = [
    "AGENT_NAMES", "Agent", "AgentError", "AgentReply", "AgentRequest", "ToolCall", "ToolSpec",
    "create_agent", "default_agent_spec",
]
