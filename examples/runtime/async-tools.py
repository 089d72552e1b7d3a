"""Tools for async-tools.dygram: `dygraph run async-tools.dygram --tools async-tools.py`."""

import anyio

from dygraph.runtime import tool


@tool
async def slow_lookup(topic: str) -> dict:
    """Look a topic up (takes a while)."""
    await anyio.sleep(0.2)
    return {"topic": topic, "facts": 3}
