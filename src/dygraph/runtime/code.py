"""`@code` nodes: inline Python that runs when a path arrives, before anything else at the node (decision 29).

The node's `code` attribute (dedented, so it may be indented like the rest of the file) defines
`def run(ctx)` or `async def run(ctx)`; `ctx` is a JSON object (the
node, its attributes, the contexts it reads, `item` / `index`) and the return value is the node's result.
The code is run like a user tool (journalled, retried per `@retry`, bounded by `@timeout`). It is NOT
sandboxed: it runs in this process with the user's privileges, which is why a run must allow it
explicitly (`dygraph run --allow-code`).
"""

from __future__ import annotations

import builtins
import inspect
import re
import textwrap
from typing import Any, Callable, Optional

import anyio

from dygraph.runtime.tools import Tool

CODE_TOOL = "@code"


class CodeError(Exception):
    """The code of a `@code` node does not load, or its `run` raised."""


def code_tool(node: str, source: str) -> Tool:
    """A tool whose single argument `ctx` is passed to the code's `run`; the module loads on first call."""
    filename = f"<@code {node}>"
    loaded: list[Callable[[Any], Any]] = []

    async def call(ctx: dict) -> Any:
        if not loaded:
            loaded.append(_load(node, source, filename))
        run = loaded[0]
        try:
            if inspect.iscoroutinefunction(run):
                result = await run(ctx)
            else:  # in a worker thread, abandoned (not waited for) when a @timeout expires
                result = await anyio.to_thread.run_sync(run, ctx, abandon_on_cancel=True)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:
            raise CodeError(_describe(exc, filename)) from None
        return result

    return Tool(name=CODE_TOOL, fn=call, description=f"the Python code of {node}")


def _load(node: str, source: str, filename: str) -> Callable[[Any], Any]:
    try:
        compiled = compile(textwrap.dedent(source).strip("\n") + "\n", filename, "exec")
    except SyntaxError as exc:
        raise CodeError(f"the code of {node} does not compile: line {exc.lineno}: {exc.msg}") from None
    namespace: dict[str, Any] = {"__name__": "dygraph_code_" + re.sub(r"\W", "_", node), "__builtins__": builtins}
    try:
        exec(compiled, namespace)
    except Exception as exc:
        raise CodeError(f"the code of {node} failed while loading: {_describe(exc, filename)}") from None
    run = namespace.get("run")
    if not callable(run):
        raise CodeError(f"the code of {node} defines no run(ctx) function")
    return run


def _describe(exc: BaseException, filename: str) -> str:
    """`ZeroDivisionError: division by zero (line 3)`: the line is the innermost one in the node's code."""
    line: Optional[int] = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if line is None else f"{text} (line {line})"
