"""Graph checks over the control graph (DG401–DG409).

Data edges (context endpoints, attribute ports, inferred edges, reads/writes) are not control
(reference §12); notes and style nodes are not graph nodes. A node's children are reached with it,
and a child without exits leaves through its parent's exits, as the runtime's state modules do.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.model import CONTEXT_ALIASES, Edge
from dygraph.ir.priority import priority_rank

from .context import Context, is_conditional

BARRIER_NAMES = ("barrier", "wait", "sync", "join", "merge")
FAN_OUT_NAMES = ("async", "spawn", "fork", "parallel", "map", "foreach", "each")


def entry_points(ctx: Context) -> list[str]:
    """Init nodes, `@start` nodes and nodes no control edge leads into (reference §12)."""
    return [p for p, n in ctx.graph_nodes.items()
            if p not in ctx.control_in or ctx.etype(n) == "init" or n.has_annotation("start")]


def reachable(ctx: Context, starts: Iterable[str], *, skip: Optional[set[int]] = None) -> set[str]:
    """Nodes reachable from `starts` over control edges (minus the edges whose id() is in `skip`)."""
    children = ctx.graph_children
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        exits = ctx.control_out.get(path, ())
        for e in exits:
            if skip is None or id(e) not in skip:
                stack.append(e.target)
        stack.extend(children.get(path, ()))
        if not exits:  # leaves through the parent's exits
            for anc in ctx.ancestors(ctx.graph_nodes[path]):
                if anc.path in ctx.control_out:
                    stack.extend(e.target for e in ctx.control_out[anc.path]
                                 if skip is None or id(e) not in skip)
                    break
    return seen


def check_reachability(ctx: Context) -> Iterator[Diagnostic]:
    """DG401 unreachable, DG404 no entry point."""
    if not ctx.control_edges:
        return
    entries = entry_points(ctx)
    if not entries:
        first = next(iter(ctx.graph_nodes.values()))
        yield ctx.diag("DG404", "No entry point: every node has an incoming edge, so no path can start",
                       ctx.node_span(first),
                       hint="Add an `init` node (e.g. `init start; start -> "
                            f"{first.name};`) or a node with no incoming edges")
        return
    seen = reachable(ctx, entries)
    for path, node in ctx.graph_nodes.items():
        if path not in seen:
            yield ctx.diag("DG401", f"Node '{ctx.label(path)}' cannot be reached from any entry point",
                           ctx.node_span(node),
                           hint="Every way into it starts in a loop that nothing enters; add an edge from an "
                                "entry point (an init node or a node with no incoming edges), or remove it")


def check_orphans(ctx: Context) -> Iterator[Diagnostic]:
    """DG402: a node with no edges at all, in a machine that has a control flow to join."""
    if not ctx.control_edges:
        return
    m = ctx.machine
    touched: set[str] = set()
    for e in m.edges:
        touched.add(e.source)
        touched.add(e.target)
    related: set[str] = set()  # nodes whose ancestor or descendant has edges
    for path in touched:
        node = m.get(path)
        if node is None:
            continue
        for anc in ctx.ancestors(node):
            related.add(anc.path)
    reported: set[str] = set()
    for path, node in ctx.graph_nodes.items():
        if path in touched or path in related or ctx.etype(node) == "init":
            continue
        if any(a.path in touched or a.path in reported for a in ctx.ancestors(node)):
            continue  # reached with its parent, or reported with it
        reported.add(path)
        yield ctx.diag("DG402", f"Node '{ctx.label(path)}' is not connected to anything: it has no edges",
                       ctx.node_span(node),
                       hint=f"Connect it (e.g. `{node.name} -> next;`) or remove it")


def _trapped_candidates(ctx: Context) -> set[str]:
    """Nodes that can never leave the loops they are in.

    A node escapes if it has no exit, a conditional exit (the path can stop there), or an exit to a
    node that escapes. What is left is closed under successors, so it holds a loop with no way out
    exactly when it is not empty. Linear time; networkx is only needed when something is left.
    """
    nodes = ctx.graph_nodes
    preds: dict[str, list[str]] = {}
    for e in ctx.control_edges:
        preds.setdefault(e.target, []).append(e.source)
    stack = [p for p in nodes
             if not ctx.control_out.get(p) or any(is_conditional(e) for e in ctx.control_out[p])]
    escapes: set[str] = set()
    while stack:
        p = stack.pop()
        if p in escapes:
            continue
        escapes.add(p)
        stack.extend(q for q in preds.get(p, ()) if q not in escapes)
    return {p for p in nodes if p not in escapes}


def check_cycles(ctx: Context) -> Iterator[Diagnostic]:
    """DG403: loops with no way out. A loop with any exit or any conditional edge is fine (decision 11)."""
    trapped = _trapped_candidates(ctx)
    if not trapped:
        return
    import networkx as nx

    graph = nx.DiGraph()
    edge_of: dict[tuple[str, str], Edge] = {}
    for e in ctx.control_edges:
        if e.source in trapped and e.target in trapped:
            graph.add_edge(e.source, e.target)
            edge_of.setdefault((e.source, e.target), e)
    condensed = nx.condensation(graph)
    order = {p: i for i, p in enumerate(ctx.graph_nodes)}
    sinks = [condensed.nodes[c]["members"] for c in condensed if condensed.out_degree(c) == 0]
    for members in sorted(sinks, key=lambda ms: min(order[p] for p in ms)):
        start = min(members, key=order.__getitem__)
        cycle = nx.find_cycle(graph.subgraph(members), source=start)
        loop = [u for u, _ in cycle] + [cycle[-1][1]]
        text = " → ".join(ctx.label(p) for p in loop)
        others = [ctx.label(p) for p in sorted(members, key=order.__getitem__) if p not in loop]
        also = f" (and through {', '.join(others)})" if others else ""
        first = edge_of[cycle[0]]
        yield ctx.diag("DG403", f"Cycle {text}{also} has no way out; every path through it loops until a limit",
                       first.span,
                       hint="Give the loop an exit with a condition, e.g. "
                            f"`{ctx.label(loop[-2])} -when: '<condition>'-> next;`, or guard one of its edges")


def check_init_exits(ctx: Context) -> Iterator[Diagnostic]:
    """DG405: an `init` node must lead somewhere."""
    for node in ctx.nodes:
        if node.type_lower == "init" and not ctx.machine.outgoing(node.path):
            yield ctx.diag("DG405", f"Init node '{node.name}' has no outgoing edges, so nothing runs after it",
                           ctx.node_span(node), hint=f"Add a transition, e.g. `{node.name} -> firstStep;`")


def check_context_targets(ctx: Context) -> Iterator[Diagnostic]:
    """DG406: a transition into a context node (writes/stores/reads edges are fine, decision 11)."""
    m = ctx.machine
    for node in ctx.nodes:
        if node.type_lower not in CONTEXT_ALIASES:
            continue
        for e in m.incoming(node.path):
            if e.arrow not in ("->", "=>") or e.relation is not None or e.source_attribute or e.target_attribute:
                continue
            src = m.get(e.source)
            if src is None or ctx.is_context(src):
                continue
            yield ctx.diag("DG406", f"Transition into context node '{node.name}': context holds data and is "
                                    "never a step of the flow", e.span,
                           hint=f"To store results write `{src.name} -writes-> {node.name};`; to read it, "
                                f"`{src.name} -reads-> {node.name};`")


def check_inheritance(ctx: Context) -> Iterator[Diagnostic]:
    """DG407: `Parent <|-- Child` between nodes of different (declared or inferred) types."""
    m = ctx.machine
    for e in m.edges:
        if e.arrow != "<|--":
            continue
        a, b = m.get(e.source), m.get(e.target)
        if a is None or b is None:
            continue
        ta, tb = ctx.etype(a), ctx.etype(b)
        if ta and tb and ta != tb:
            yield ctx.diag("DG407", f"Inheritance from '{a.name}' ({ta}) to '{b.name}' ({tb}) joins nodes of "
                                    "different types", e.span,
                           hint="Inheritance usually relates nodes of the same type; check the arrow direction "
                                "(`Parent <|-- Child`) or the node types")


def _priority(edge: Edge) -> Optional[float]:
    """The edge's `@priority` as the runtime orders by it (lower first), or None."""
    ann = edge.annotation("priority")
    if ann is None:
        return None
    value = ann.value
    if ann.params:
        value = next((ann.params[k] for k in ("value", "level") if k in ann.params), None)
    return priority_rank(value)


def check_ambiguous_exits(ctx: Context) -> Iterator[Diagnostic]:
    """DG408: a prompt-less `state` with several unguarded exits takes the first (decision 23)."""
    for path, node in ctx.graph_nodes.items():
        if ctx.etype(node) != "state" or node.attribute("prompt") is not None:
            continue
        plain = [e for e in ctx.control_out.get(path, ())
                 if not is_conditional(e) and not e.has_annotation(*FAN_OUT_NAMES)]
        if len({e.target for e in plain}) < 2:
            continue
        priorities = [_priority(e) for e in plain]
        if None not in priorities and len(set(priorities)) == len(priorities):
            continue
        targets = list(dict.fromkeys(ctx.label(e.target) for e in plain))
        yield ctx.diag("DG408", f"State '{node.name}' has {len(targets)} exits without conditions "
                                f"({', '.join(targets)}); "
                                f"only the first, '{ctx.label(plain[0].target)}', will ever be taken",
                       ctx.node_span(node),
                       hint="Add conditions (`-when: '…'->`) or `@priority(n)` to say which exit to take, or "
                            "`@async` to take them all")


def _barrier_id(edge: Edge) -> Optional[str]:
    ann = edge.annotation(*BARRIER_NAMES)
    if ann is None:
        return None
    if ann.params:
        gid = next((ann.params[k] for k in ("id", "group", "name") if k in ann.params), None)
        return "default" if gid is None or gid is True else str(gid).replace(".", "_")
    if ann.has_value and ann.value not in (None, True):
        return str(ann.value).replace(".", "_")
    return "default"


def check_barriers(ctx: Context) -> Iterator[Diagnostic]:
    """DG409: a barrier group whose edges no path can reach without crossing the barrier itself."""
    groups: dict[str, list[Edge]] = {}
    for e in ctx.machine.edges:
        gid = _barrier_id(e)
        if gid is not None:
            groups.setdefault(gid, []).append(e)
    if not groups:
        return
    entries = entry_points(ctx)
    for gid, edges in groups.items():
        seen = reachable(ctx, entries, skip={id(e) for e in edges})
        if any(e.source in seen for e in edges):
            continue
        sources = ", ".join(dict.fromkeys(ctx.label(e.source) for e in edges))
        yield ctx.diag("DG409", f"Barrier '{gid}' can never be released: no path reaches its edges (from "
                                f"{sources}) without first passing the barrier", edges[0].span,
                       hint="Make sure the nodes the barrier edges leave from are reachable from an entry "
                            "point, e.g. fork to them with `-@async->`")


CHECKS = (check_reachability, check_orphans, check_cycles, check_init_exits, check_context_targets,
          check_inheritance, check_ambiguous_exits, check_barriers)
