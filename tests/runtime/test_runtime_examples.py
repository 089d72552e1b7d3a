"""Every example machine runs with the offline agent (and the scripted ones complete with their script)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dygraph
from dygraph.agents.script import ScriptAgent
from dygraph.cli.run import load_tools
from dygraph.runtime import Runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUNTIME_EXAMPLES = sorted((EXAMPLES / "runtime").glob("*.dygram"))
# The offline policy never writes context, so the counter loop ends at its step limit, by design.
ENDS_AT_LIMIT = {"loop-limits.dygram"}
RUNS_CODE = {"code.dygram"}  # runs with --allow-code


@pytest.mark.parametrize("path", RUNTIME_EXAMPLES + [EXAMPLES / "quickstart.dygram"], ids=lambda p: p.name)
async def test_example_runs_offline(path):
    result = await Runtime(dygraph.load(str(path)), limits={"allow_code": path.name in RUNS_CODE}).run()
    if path.name in ENDS_AT_LIMIT:
        assert result.status == "failed" and "step limit reached" in result.error
    else:
        assert result.status == "completed", result.error
    assert result.steps > 1


@pytest.mark.parametrize("name", ["loop-limits", "async-tools"])
async def test_scripted_example_completes(name):
    base = EXAMPLES / "runtime"
    tools = load_tools(str(base / f"{name}.py")) if (base / f"{name}.py").exists() else []
    agent = ScriptAgent.from_file(base / f"{name}.script.json")
    result = await Runtime(dygraph.load(str(base / f"{name}.dygram")), agent=agent, tools=tools).run()
    assert result.status == "completed", result.error
    if name == "async-tools":
        assert [e["type"] for e in result.events if e["type"].startswith("async_tool")] == [
            "async_tool_started", "async_tool_finished"]
    else:
        assert result.context["Counter"]["n"] == 3


def test_map_example_binds_items():
    machine = dygraph.load(str(EXAMPLES / "runtime" / "map.dygram"))
    import anyio

    result = anyio.run(Runtime(machine).run)
    assert sorted((p.index, p.item) for p in result.paths if p.parent) == [(0, "a.csv"), (1, "b.csv"), (2, "c.csv")]
