"""The machine as the runtime sees it: per-node exit tables precomputed once from the IR.

Stepping a path must be cheap, so everything that depends only on the machine — which edges are
control exits, which are `@auto` / `@async` / `@parallel` / `@map` / barrier / catch, priorities,
retry and timeout policies, context access, module entry, tool names, barrier reachability — is
computed here once, not per step.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Optional

from dygraph.ir.duration import parse_duration
from dygraph.ir.model import Annotation, Edge, Machine, Node, TypeRef
from dygraph.ir.priority import priority_rank

ASYNC_NAMES = ("async", "spawn", "fork")
BARRIER_NAMES = ("barrier", "wait", "sync")
MERGE_NAMES = ("join", "merge")
MAP_NAMES = ("map", "foreach", "each")
CONFIG_NODE_NAMES = ("config", "llmconfig", "modelconfig")
NON_CONTROL_TYPES = ("context", "style", "note")


@dataclass(slots=True)
class Exit:
    """One control exit of a node (its own edge, or one inherited from a module parent)."""

    index: int  # position in the machine's edge list: a stable key for the state
    edge: Edge
    target: str
    tool: str  # suffix for transition_to_/spawn_async_to_
    condition: Optional[str]
    auto: bool
    spawn: bool  # @async / @spawn / @fork
    parallel: bool
    map_source: Optional[str]
    barrier: Optional[str]
    merge: bool
    catch: bool
    priority: float
    order: int
    retry: Optional[int]
    timeout: Optional[float]
    description: str


@dataclass(slots=True)
class NodeInfo:
    path: str
    node: Node
    kind: Optional[str]  # effective type
    prompt: Optional[str]
    question: str
    exits: list[Exit]  # control exits, catch excluded, by (priority, order)
    catches: list[Exit]
    reads: list[str]  # context paths readable here
    writes: list[str]
    retry: Optional[int]
    timeout: Optional[float]
    model: Optional[str]
    attributes: dict[str, Any]
    checkpoint: bool = False  # @checkpoint: the commit after a step here must be durable at once
    code: Optional[str] = None  # @code with inline Python source in its `code` attribute
    auto: list[Exit] = field(default_factory=list)
    forks: list[Exit] = field(default_factory=list)  # @parallel and @map
    spawns: list[Exit] = field(default_factory=list)  # @async (not @auto)
    plain: list[Exit] = field(default_factory=list)  # everything a path can move along itself

    @property
    def is_state(self) -> bool:
        return self.kind == "state"


def _timeout(a: Optional[Annotation]) -> Optional[float]:
    """Seconds of `@timeout("30s")` / `@timeout(5000)` (milliseconds) / `@timeout(after: "2m")`;
    `@timeout(seconds: 30)` counts a bare number in seconds."""
    if a is not None and a.params and "seconds" in a.params and "after" not in a.params:
        return parse_duration(a.params["seconds"], number_unit=1.0)
    return parse_duration(_annotation_arg(a, "after", "seconds"))


def _inline_code(n: Node) -> Optional[str]:
    """The Python source a `@code` node runs: its `code` attribute, unless absent or a `#reference` to an
    external file (such nodes run as ordinary tasks, as the reference falls back to the agent)."""
    if not n.has_annotation("code"):
        return None
    attr = n.attribute("code")
    if attr is None or attr.kind == "external" or not isinstance(attr.value, str) or not attr.value.strip():
        return None
    return attr.value


def _annotation_arg(a: Optional[Annotation], *keys: str) -> Any:
    if a is None:
        return None
    if a.params:
        for k in keys:
            if k in a.params:
                return a.params[k]
    return a.value if a.has_value else None


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _priority(value: Any) -> float:
    """Lower first (see `priority_rank`); exits without a priority come last."""
    rank = priority_rank(value)
    return float("inf") if rank is None else rank


def _flags(edge: Edge) -> dict[str, Annotation | bool]:
    """An edge's annotations and inline flags (`-async;->`) by lower-cased name; disabled ones dropped."""
    out: dict[str, Annotation | bool] = {}
    for k, v in edge.inline.items():
        if v is not False and v is not None:
            out.setdefault(k.lower(), True)
    for a in edge.annotations:
        name = a.name.lower()
        if a.value is False:
            out.pop(name, None)
        elif name not in out or out[name] is True:
            out[name] = a
    return out


def _flag(flags: dict[str, Annotation | bool], names: tuple[str, ...]) -> Optional[Annotation | bool]:
    for n in names:
        hit = flags.get(n)
        if hit is not None:
            return hit
    return None


def tool_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:48]


def json_schema_for(type_ref: Optional[TypeRef], value: Any = None) -> dict:
    """JSON Schema of an attribute from its declared type (or its value when untyped)."""
    if type_ref is None:
        return _schema_from_value(value)
    if type_ref.literals is not None:
        schema: dict = {"type": "string", "enum": list(type_ref.literals)}
    else:
        name = type_ref.name.lower()
        if name in ("string", "str", "text"):
            schema = {"type": "string"}
        elif name in ("number", "float", "double", "decimal"):
            schema = {"type": "number"}
        elif name in ("integer", "int"):
            schema = {"type": "integer"}
        elif name in ("boolean", "bool"):
            schema = {"type": "boolean"}
        elif name in ("array", "list", "set"):
            schema = {"type": "array"}
            if type_ref.args:
                schema["items"] = json_schema_for(type_ref.args[0])
        elif name in ("map", "object", "json", "record", "dict"):
            schema = {"type": "object"}
        else:
            schema = {}
    if type_ref.optional and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def _schema_from_value(value: Any) -> dict:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "number"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        return {"type": "object"}
    return {}


class Program:
    """Everything about a machine the runtime needs, computed once."""

    @classmethod
    def of(cls, machine: Machine) -> "Program":
        """The program of `machine`, built on first use and kept with it (the IR is immutable once built,
        as its own cached lookups assume), so many runs of one machine share it and it dies with it."""
        program = machine.__dict__.get("_runtime_program")
        if program is None or program.machine is not machine:  # absent, or inherited by a model_copy
            program = machine.__dict__["_runtime_program"] = cls(machine)
        return program

    def __init__(self, machine: Machine):
        self.machine = machine
        self.kinds: dict[str, Optional[str]] = {n.path: machine.effective_type(n) for n in machine.nodes}
        self.contexts: list[str] = [n.path for n in machine.nodes if self.kinds[n.path] == "context"]
        self.context_set = frozenset(self.contexts)
        self.machine_attributes = {a.name: a.value for a in machine.attributes}
        names: dict[str, int] = {}
        for n in machine.nodes:
            names[n.name] = names.get(n.name, 0) + 1
        self._unique_names = {k for k, v in names.items() if v == 1}
        self.config_model = self._config_model()
        self.own_exits: dict[str, list[Exit]] = {}
        self.own_catches: dict[str, list[Exit]] = {}
        self._classify_edges()
        self.nodes: dict[str, NodeInfo] = {n.path: self._node_info(n) for n in machine.nodes}
        self._entry: dict[str, str] = {}
        self.starts = self._start_nodes()
        self.barrier_reach = self._barrier_reach()
        self._names: Optional[dict[str, Any]] = None
        self._simple: dict[str, str] = {}  # simple name -> the path it denotes in expressions
        self._node_values: dict[str, Any] = {}
        self._bare: dict[str, Any] = {}

    # ---- naming ----

    def display(self, path: str) -> str:
        name = path.rsplit(".", 1)[-1]
        return name if name in self._unique_names else path

    def tool_suffix(self, path: str) -> str:
        return tool_safe(self.display(path).replace(".", "_"))

    # ---- names in conditions and templates

    def names(self) -> dict[str, Any]:
        """The static part of every CEL scope, built on first use: each node's simple name (and each root's
        path, so nested nodes are reachable as `Outer.Inner.attr`) bound to its attributes as a CEL map,
        its children under their names; then `machine`. A simple name several nodes share denotes the
        top-level one, else the first declared."""
        if self._names is None:
            from dygraph.runtime.expressions import to_cel

            names: dict[str, Any] = {}
            for n in self.machine.nodes:
                if names.get(n.name) is None or n.parent is None:
                    names[n.name] = n.path
            self._simple = dict(names)
            for name, path in names.items():
                names[name] = self.node_value(path)
            names["machine"] = to_cel(self.machine_attributes)
            self._names = names
        return self._names

    def node_value(self, path: str) -> Any:
        """A node as a CEL map: its attributes, and its children by name (a child wins over an attribute)."""
        hit = self._node_values.get(path)
        if hit is None:
            from celpy import celtypes

            hit = celtypes.MapType(self.bare_attributes(path))
            for child in self.machine.children(path):
                hit[celtypes.StringType(child.name)] = self.node_value(child.path)
            self._node_values[path] = hit
        return hit

    def bare_attributes(self, path: str) -> Any:
        """A node's own attributes as a CEL map (its conditions may also name them bare, as `check` allows)."""
        hit = self._bare.get(path)
        if hit is None:
            from dygraph.runtime.expressions import to_cel

            hit = self._bare[path] = to_cel({a.name: a.value for a in self.machine.node(path).attributes})
        return hit

    def overlay(self, context: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(names, node values by path) that change when context nodes hold runtime values: each context,
        and every ancestor on the way to its root, rebuilt; everything else stays shared."""
        from celpy import celtypes

        from dygraph.runtime.expressions import to_cel

        names = self.names()
        by_path: dict[str, Any] = {}
        for ctx in self.contexts:
            values = context.get(ctx)
            if values is None:
                continue
            value = celtypes.MapType(by_path[ctx] if ctx in by_path else self.node_value(ctx))
            value.update(to_cel(values))
            by_path[ctx] = value
            node = self.machine.node(ctx)
            while node.parent is not None:
                parent = node.parent
                outer = celtypes.MapType(by_path[parent] if parent in by_path else self.node_value(parent))
                outer[celtypes.StringType(node.name)] = by_path[node.path]
                by_path[parent] = outer
                node = self.machine.node(parent)
        changed = {}
        for path, value in by_path.items():
            name = self.machine.node(path).name
            if self._simple.get(name) == path and name in names:
                changed[name] = value
        return changed, by_path

    # ---- edges ----

    def is_control(self, e: Edge) -> bool:
        # inferred and attribute-port edges (`a.attr -> b`) carry data, never control (decision 27)
        if e.inferred or e.relation in ("reads", "writes") or e.source_attribute or e.target_attribute:
            return False
        src, dst = self.machine.get(e.source), self.machine.get(e.target)
        if src is None or dst is None:
            return False
        return self.kinds[e.source] not in NON_CONTROL_TYPES and self.kinds[e.target] not in NON_CONTROL_TYPES

    def _classify_edges(self) -> None:
        for index, e in enumerate(self.machine.edges):
            if not self.is_control(e):
                continue
            flags = _flags(e) if e.annotations or e.inline else {}
            barrier = _flag(flags, BARRIER_NAMES)
            merge = _flag(flags, MERGE_NAMES)
            sync = barrier or merge
            barrier_id = None
            if sync is not None:
                raw = _annotation_arg(sync, "id", "group", "name") if isinstance(sync, Annotation) else None
                barrier_id = str(raw).replace(".", "_") if raw is not None and raw is not True else "default"
                if isinstance(sync, Annotation) and sync.params and "merge" in sync.params:
                    merge = sync if sync.params["merge"] not in (False, "false") else None
            mapping = _flag(flags, MAP_NAMES)
            map_source = None
            if mapping is not None:
                raw = _annotation_arg(mapping, "items", "source") if isinstance(mapping, Annotation) else None
                map_source = str(raw) if raw is not None and raw is not True else ""
            attrs = e.attributes
            retry_flag, timeout_flag = flags.get("retry"), flags.get("timeout")
            retry = _int_or_none(_annotation_arg(retry_flag if isinstance(retry_flag, Annotation) else None,
                                                 "max", "attempts", "n"))
            timeout = _timeout(timeout_flag if isinstance(timeout_flag, Annotation) else None)
            priority = flags.get("priority")
            condition = e.condition_expression
            description = str(attrs.get("text") or attrs.get("desc") or attrs.get("description") or "")
            ex = Exit(
                index=index, edge=e, target=e.target, tool=self.tool_suffix(e.target), condition=condition,
                auto="auto" in flags, spawn=_flag(flags, ASYNC_NAMES) is not None,
                parallel="parallel" in flags, map_source=map_source, barrier=barrier_id,
                merge=merge is not None, catch=e.relation == "catch",
                priority=_priority(_annotation_arg(priority if isinstance(priority, Annotation) else None,
                                                   "value", "level")),
                order=index, retry=retry, timeout=timeout, description=description,
            )
            bucket = self.own_catches if ex.catch else self.own_exits
            bucket.setdefault(e.source, []).append(ex)
        for table in (self.own_exits, self.own_catches):
            for exits in table.values():
                exits.sort(key=lambda x: (x.priority, x.order))

    def _inherited(self, table: dict[str, list[Exit]], path: Optional[str]) -> list[Exit]:
        while path is not None:
            exits = table.get(path)
            if exits:
                return exits
            path = self.machine.node(path).parent
        return []

    # ---- nodes ----

    def _node_info(self, n: Node) -> NodeInfo:
        exits = self._inherited(self.own_exits, n.path)
        catches = self._inherited(self.own_catches, n.path)
        reads, writes = self._access(n)
        prompt = n.attr_value("prompt")
        model = n.attr_value("model") or n.attr_value("modelId")
        info = NodeInfo(
            path=n.path, node=n, kind=self.kinds[n.path],
            prompt=None if prompt is None else str(prompt),
            question=str(n.attr_value("desc") or n.attr_value("description") or n.title
                         or f"Choose how to continue from {self.display(n.path)}."),
            exits=exits, catches=catches, reads=reads, writes=writes,
            retry=_int_or_none(_annotation_arg(n.annotation("retry"), "max", "attempts", "n")),
            timeout=_timeout(n.annotation("timeout")),
            model=None if model is None else str(model),
            attributes={a.name: a.value for a in n.attributes},
            checkpoint=n.has_annotation("checkpoint"),
            code=_inline_code(n),
        )
        for ex in exits:
            if ex.parallel or ex.map_source is not None:
                info.forks.append(ex)
            elif ex.auto:
                info.auto.append(ex)
            elif ex.spawn:
                info.spawns.append(ex)
            else:
                info.plain.append(ex)
        return info

    def _access(self, n: Node) -> tuple[list[str], list[str]]:
        """Contexts readable/writable at a node: `-reads->`, `-writes->`/`-stores->`, `Ctx -> node`,
        a plain `node -> Ctx`; ancestors' contexts are readable by their children."""
        reads: list[str] = []
        writes: list[str] = []
        chain, p = [], n.path
        while p is not None:
            chain.append(p)
            p = self.machine.node(p).parent
        for depth, p in enumerate(chain):
            for e in self.machine.outgoing(p):
                if e.target in self.context_set:
                    if e.target not in reads:
                        reads.append(e.target)
                    if depth == 0 and e.relation == "writes" and e.target not in writes:
                        writes.append(e.target)
            for e in self.machine.incoming(p):
                if e.source in self.context_set and e.source not in reads:
                    reads.append(e.source)
        return reads, writes

    def _config_model(self) -> Optional[str]:
        for n in self.machine.nodes:
            if n.name.lower() in CONFIG_NODE_NAMES:
                m = n.attr_value("model") or n.attr_value("modelId")
                if m:
                    return str(m)
        m = self.machine_attributes.get("model") or self.machine_attributes.get("modelId")
        return str(m) if m else None

    def entry(self, path: str) -> str:
        """Entering a `state` with children enters its first child (task, then state, then other)."""
        hit = self._entry.get(path)
        if hit is None:
            hit = path
            seen = set()
            while hit not in seen and self.kinds.get(hit) == "state":
                seen.add(hit)
                children = [c for c in self.machine.children(hit) if self.kinds[c.path] not in NON_CONTROL_TYPES]
                if not children:
                    break
                by_kind = ([c for c in children if self.kinds[c.path] == "task"]
                           or [c for c in children if self.kinds[c.path] == "state"] or children)
                hit = by_kind[0].path
            self._entry[path] = hit
        return hit

    def _start_nodes(self) -> list[str]:
        m = self.machine
        control = [n for n in m.nodes if self.kinds[n.path] not in NON_CONTROL_TYPES + ("tool",)]
        marked = [n.path for n in control
                  if n.type_lower == "init" or n.has_annotation("start") or n.name.lower() == "start"]
        if marked:
            return marked
        has_incoming = {e.target for e in m.edges if self.is_control(e)}
        fallback = [n.path for n in control if n.path not in has_incoming and n.parent is None]
        if not fallback:
            fallback = [n.path for n in control if n.path not in has_incoming]
        if not fallback and control:
            fallback = [control[0].path]
        return fallback

    # ---- barriers ----

    def successors(self, path: str) -> set[str]:
        info = self.nodes[path]
        return {self.entry(x.target) for x in info.exits + info.catches}

    def _barrier_reach(self) -> dict[str, frozenset[str]]:
        """For each barrier id: nodes from which some edge of the barrier can still be reached."""
        sources: dict[str, set[str]] = {}
        for path, info in self.nodes.items():
            for ex in info.exits:
                if ex.barrier is not None:
                    sources.setdefault(ex.barrier, set()).add(path)
        if not sources:
            return {}
        reverse: dict[str, set[str]] = {}
        for path in self.nodes:
            for nxt in self.successors(path):
                reverse.setdefault(nxt, set()).add(path)
        out = {}
        for bid, srcs in sources.items():
            seen, queue = set(srcs), deque(srcs)
            while queue:
                for prev in reverse.get(queue.popleft(), ()):
                    if prev not in seen:
                        seen.add(prev)
                        queue.append(prev)
            out[bid] = frozenset(seen)
        return out
