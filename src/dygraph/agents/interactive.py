"""The interactive agent: the person at the terminal makes each decision."""

from __future__ import annotations

import json
from typing import Optional, TextIO

import anyio
from rich.console import Console
from rich.prompt import Prompt
from rich.table import Table

from dygraph.agents.base import AgentError, AgentReply, AgentRequest, ToolCall


class InteractiveAgent:
    name = "interactive"

    def __init__(self, console: Optional[Console] = None, stream: Optional[TextIO] = None):
        self.console = console or Console(stderr=True)
        self.stream = stream  # answers come from here instead of the terminal (tests, piping)
        self._lock = anyio.Lock()  # one question at a time, even with concurrent paths
        self._count = 0

    async def respond(self, request: AgentRequest) -> AgentReply:
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(self._ask, request)
            except (EOFError, KeyboardInterrupt):
                raise AgentError("no answer from the terminal") from None

    def _ask(self, request: AgentRequest) -> AgentReply:
        c = self.console
        c.rule(f"[bold]{request.node}[/] · path {request.path_id} · turn {request.visit} round {request.round}")
        c.print(request.messages[0]["content"] if request.messages else "")
        for m in request.messages[1:]:
            if m["role"] == "tool":
                c.print(f"[dim]tool result:[/] {m['content']}")
        table = Table(show_header=True, header_style="bold")
        table.add_column("#")
        table.add_column("tool")
        table.add_column("description")
        for i, t in enumerate(request.tools, 1):
            table.add_row(str(i), t.name, t.description)
        c.print(table)
        try:
            answer = self._read("Tool number or name (empty: end the turn)", "")
        except (EOFError, KeyboardInterrupt):
            raise AgentError("no answer from the terminal") from None

        answer = answer.strip()
        if not answer:
            return AgentReply(content=None, tool_calls=[])
        tool = next((t for i, t in enumerate(request.tools, 1) if answer in (str(i), t.name)), None)
        if tool is None:
            c.print(f"[red]unknown tool {answer!r}[/]")
            return self._ask(request)
        arguments: dict = {}
        if tool.parameters.get("properties"):
            raw = self._read("Arguments as JSON", "{}")
            try:
                arguments = json.loads(raw)
            except json.JSONDecodeError:
                arguments = {"__malformed__": raw}
        self._count += 1
        return AgentReply(content=None, tool_calls=[ToolCall(id=f"tty_{self._count}", name=tool.name,
                                                             arguments=arguments)])

    def _read(self, question: str, default: str) -> str:
        if self.stream is None:
            return Prompt.ask(question, console=self.console, default=default)
        self.console.print(f"{question}: ", end="")
        line = self.stream.readline()
        if not line:
            raise EOFError
        return line.strip() or default

    async def aclose(self) -> None:
        return None
