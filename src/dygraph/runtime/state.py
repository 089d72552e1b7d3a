"""The run state: one pydantic model that round-trips through JSON.

Everything a run needs to continue lives here — paths, context values, counters, barriers, background
tool tasks. Ids are derived from counters in this state (never uuid/time), so a resumed run produces
the same path ids and tool-call ids as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

STATE_VERSION = 1

PathStatus = Literal["active", "waiting", "completed", "failed", "cancelled"]
RunStatus = Literal["running", "completed", "failed", "cancelled"]


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


class Limits(_State):
    max_steps: int = Field(1000, description="Steps per run (one step = one path processing one node)")
    max_visits: int = Field(100, description="Visits of one node by one path")
    max_tool_rounds: int = Field(20, description="Tool rounds in one agent turn")
    timeout: Optional[float] = Field(None, description="Seconds for the whole run")
    retry_backoff: float = Field(0.5, description="First retry delay in seconds; doubles per attempt")
    allow_code: bool = Field(False, description="Run the Python code of @code nodes (it runs with the user's "
                                                "privileges; `dygraph run --allow-code`)")


class PathState(_State):
    id: str
    node: str = Field(description="Path of the node the path is at")
    status: PathStatus = "active"
    history: list[str] = Field(default_factory=list, description="Node paths entered, in order")
    steps: int = Field(0, description="Steps this path has committed")
    visits: dict[str, int] = Field(default_factory=dict, description="Committed visits per node")
    turns: dict[str, int] = Field(default_factory=dict, description="Agent turns per node")
    spawned: int = Field(0, description="Paths spawned by this path (child ids derive from it)")
    stay: int = Field(0, description="Steps at the current node without moving (0 on arrival); forks and "
                                     "spawns of a node happen on arrival only, not when its agent is re-asked")
    parent: Optional[str] = None
    via: Optional[int] = Field(None, description="Index of the edge the path arrived by (edge @retry/@timeout)")
    item: Any = None
    index: Optional[int] = None
    map_source: Optional[str] = None
    barrier: Optional[str] = Field(None, description="Barrier id the path waits at")
    barrier_target: Optional[int] = Field(None, description="Index of the barrier edge to take on release")
    inbox: list[dict] = Field(default_factory=list, description="Messages for the path's next agent turn")
    conversation: list[dict] = Field(default_factory=list,
                                     description="The agent conversation at the current node, kept while the "
                                                 "path stays there (turn without transition)")
    output: Optional[str] = Field(None, description="Text of the last agent turn")
    first_result: Optional[dict] = Field(None, description="Result of the path's first node")
    error: Optional[str] = None


class BarrierState(_State):
    id: str
    merge: bool = False
    waiting: list[str] = Field(default_factory=list, description="Path ids in arrival order")
    releases: int = 0


class AsyncToolState(_State):
    task_id: str
    path_id: str
    node: str
    name: str
    arguments: dict = Field(default_factory=dict)
    status: Literal["running", "finished", "failed"] = "running"
    result: Any = None
    error: Optional[str] = None


class RunState(_State):
    version: int = STATE_VERSION
    run_id: str
    status: RunStatus = "running"
    steps: int = 0
    error_count: int = 0
    event_seq: int = 0
    paths: dict[str, PathState] = Field(default_factory=dict, description="By id, in creation order")
    context: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Context node path -> values")
    barriers: dict[str, BarrierState] = Field(default_factory=dict)
    async_tools: dict[str, AsyncToolState] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    elapsed: float = Field(0.0, description="Seconds of run time before the current process")
    error: Optional[str] = None

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> "RunState":
        return cls.model_validate_json(text)
