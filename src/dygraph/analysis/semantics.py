"""Names, annotations and runtime readiness: DG205, DG212, DG410, DG501–DG508."""

from __future__ import annotations

import re
from typing import Iterator, Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.duration import parse_duration
from dygraph.ir.model import Annotation, Edge, Node
from dygraph.ir.priority import priority_rank

from .context import Context, close_matches
from .types import describe
from .expressions import BUILTIN_NAMES, analyse, placeholders

RESERVED_NAMES = ("errorCount", "errors", "activeState")

# Edge annotations the runtime acts on (reference §9.5 plus decision 15).
RUNTIME_EDGE_ANNOTATIONS = ("auto", "async", "spawn", "fork", "parallel", "barrier", "wait", "sync", "join",
                            "merge", "map", "foreach", "each", "priority", "style", "hideLabel",
                            "hideAnnotation", "showAnnotation", "retry", "timeout", "checkpoint")
_KNOWN_LOWER = {n.lower(): n for n in RUNTIME_EDGE_ANNOTATIONS}
MAP_NAMES = ("map", "foreach", "each")
_INTEGER_TEXT = re.compile(r"\d+\Z")
_SIMPLE_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")


def check_reserved_names(ctx: Context) -> Iterator[Diagnostic]:
    """DG205: nodes named like the CEL built-ins are shadowed by them."""
    for node in ctx.nodes:
        if node.name in RESERVED_NAMES:
            yield ctx.diag("DG205", f"Node name '{node.name}' is reserved for a built-in condition variable; "
                                    f"in conditions '{node.name}' means the built-in, not this node",
                           ctx.node_span(node), hint=f"Rename the node, e.g. '{node.name}Node'")


def check_same_level_names(ctx: Context) -> Iterator[Diagnostic]:
    """DG212: the same simple name under different parents at one nesting level."""
    by_level: dict[tuple[int, str], list[Node]] = {}
    for node in ctx.nodes:
        by_level.setdefault((node.path.count("."), node.name), []).append(node)
    for (_, name), nodes in by_level.items():
        if len(nodes) < 2:
            continue
        paths = ", ".join(n.path for n in nodes)
        for node in nodes[1:]:
            yield ctx.diag("DG212", f"Several nodes at this level are named '{name}' ({paths}); a bare "
                                    f"'{name}' cannot tell them apart", ctx.node_span(node),
                           hint=f"Refer to them by full path, e.g. `{nodes[0].path}`, or rename one")


def check_node_annotations(ctx: Context) -> Iterator[Diagnostic]:
    """DG501–DG503: annotations that make no sense on the node's type."""
    for node in ctx.nodes:
        for ann in node.annotations:
            low = ann.name.lower()
            span = ann.span or ctx.node_span(node)
            if low == "async" and ctx.etype(node) != "task":
                yield ctx.diag("DG501", f"@{ann.name} on '{node.name}', which is a "
                                        f"{ctx.etype(node) or 'untyped node'}, not a task", span,
                               hint=f"To run a step in parallel, put @async on the edge: `x -@async-> {node.name};`")
            elif low == "singleton" and ctx.etype(node) == "state":
                yield ctx.diag("DG502", f"@{ann.name} on state node '{node.name}' has no meaning", span,
                               hint="@Singleton suits task or context nodes")
            elif low == "abstract" and node.type_lower == "init":
                yield ctx.diag("DG503", f"@{ann.name} on init node '{node.name}': an entry point is always "
                                        "concrete", span, hint="Remove @Abstract or change the node type")


def _has_edge_between(ctx: Context, task: Node, other: Node) -> bool:
    ends = {task.path, *(a.path for a in ctx.ancestors(task))}
    m = ctx.machine
    for e in m.outgoing(other.path):
        if e.target in ends:
            return True
    for e in m.incoming(other.path):
        if e.source in ends:
            return True
    return False


def check_context_access(ctx: Context) -> Iterator[Diagnostic]:
    """DG504: a task's template reads a context node it has no edge to."""
    m = ctx.machine
    for node in ctx.nodes:
        if ctx.etype(node) != "task" and node.attribute("prompt") is None:
            continue
        reported: set[str] = set()
        for a in node.attributes:
            if not isinstance(a.value, str) or "{{" not in a.value:
                continue
            for body in placeholders(a.value):
                for root in analyse(body).names:
                    found = m.find(root)
                    if len(found) != 1 or root in reported:
                        continue
                    target = found[0]
                    if target.path == node.path or not ctx.is_context(target):
                        continue
                    if _has_edge_between(ctx, node, target):
                        continue
                    reported.add(root)
                    yield ctx.diag("DG504", f"Task '{node.name}' uses context '{target.name}' "
                                            f"(`{{{{ {body} }}}}`) but has no edge to it", a.span or node.span,
                                   hint=f"Add `{node.name} -reads-> {target.name};` (or `-writes->` to "
                                        "store into it) so the task is given access")


def check_prompt_only(ctx: Context) -> Iterator[Diagnostic]:
    """DG505: a prompted task that can neither choose, write, use tools nor act on its own.

    Unlike the reference, `@auto`, `-writes->`/`-stores->` edges and `@meta` exempt it (decision 11).
    """
    m = ctx.machine
    machine_meta = m.annotation("meta") is not None
    first_context = next((n for n in m.nodes if ctx.is_context(n)), None)
    for node in ctx.nodes:
        t = ctx.etype(node)
        if t not in ("task", "start") or node.attribute("prompt") is None:
            continue
        if machine_meta or node.has_annotation("meta") or node.has_annotation("auto") or node.has_annotation("code"):
            continue
        out = m.outgoing(node.path)
        if any(e.relation == "writes" or e.has_annotation("auto") for e in out):
            continue
        targets = {e.target for e in out}
        if len(targets) > 1 or any(ctx.etype(m.node(p)) == "tool" for p in targets if m.get(p)):
            continue
        if m.children(node.path):
            continue
        users = ctx.expression_roots.get(node.name, set()) | ctx.expression_roots.get(node.path, set())
        if users - {node.path}:  # another node's template or a condition reads its answer
            continue
        yield ctx.diag("DG505", f"Task '{node.name}' has a prompt but nothing to do with the answer: it has "
                                f"{'one exit' if targets else 'no exits'}, writes nothing and has no tools",
                       ctx.node_span(node),
                       hint=f"Store the answer ({_store_suggestion(ctx, node, first_context)}), give it exits to choose "
                            "between, or mark its exit `@auto`")


def _store_suggestion(ctx: Context, node: Node, first_context: Optional[Node]) -> str:
    """A `-writes->` edge into a context the task already reads, else the first context, else a new one."""
    m = ctx.machine
    read = [n for n in (m.get(e.target) for e in m.outgoing(node.path) if e.relation == "reads") if n is not None]
    store = read[0] if read else first_context
    if store is not None:
        return f"`{node.name} -writes-> {store.path};`"
    return f"declare `context Results {{ answer<string?>; }}` and write `{node.name} -writes-> Results;`"


def _map_source(ann: Annotation) -> Optional[str]:
    if ann.params:
        src = ann.params.get("items", ann.params.get("source"))
        return None if src is None or src is True else str(src)
    if ann.has_value and isinstance(ann.value, str) and ann.value:
        return ann.value
    return None


def _resolve_path(ctx: Context, ref: str) -> tuple[Optional[Node], list[str]]:
    parts = ref.split(".")
    for cut in range(len(parts), 0, -1):
        found = ctx.machine.find(".".join(parts[:cut]))
        if found:
            return found[0], parts[cut:]
    return None, parts


def _map_diagnostic(ctx: Context, edge: Edge, ann: Annotation) -> Optional[Diagnostic]:
    src = _map_source(ann)
    if src is None:
        return ctx.diag("DG507", f"@{ann.name} needs the collection to fan out over", ann.span or edge.span,
                        hint=f"Name a context array, e.g. `-@{ann.name}(Queue.items)->`")
    span = ann.span or edge.span
    info = analyse(src)  # the runtime evaluates the source as a CEL expression
    if info.error is not None:
        return ctx.diag("DG410", f"@{ann.name} source '{src}' is not a valid expression: {info.error}", span,
                        hint="Write `Node.attribute`, where the attribute holds an array")
    source_node = ctx.machine.get(edge.source)
    own = {a.name for a in source_node.attributes} if source_node is not None else set()
    unknown = [n for n in info.names if n not in ctx.known_names and n not in BUILTIN_NAMES and n not in own]
    if unknown:
        return ctx.diag("DG410", f"@{ann.name} source '{src}' names no node ('{unknown[0]}')", span,
                        hint="Write `Node.attribute`, where the attribute holds an array")
    if not _SIMPLE_PATH.match(src):
        return None  # a computed collection; only known at run time
    node, rest = _resolve_path(ctx, src)
    if node is None or not rest:
        return None  # the whole node; its content is only known at run time
    attr = node.attribute(rest[0])
    if attr is None or not attr.has_value:
        t = attr.type if attr is not None else None
        if t is not None and t.literals is None and t.name.lower() not in ("array", "list", "any"):
            return ctx.diag("DG410", f"@{ann.name} source '{src}' is declared {t}, not an array", span,
                            hint=f"Declare it as an array: `{rest[0]}<Array<…>>`")
        return None  # filled in at run time
    value = attr.value
    for key in rest[1:]:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, list) or isinstance(value, str) and (value.lstrip().startswith("[") or "{{" in value):
        return None
    return ctx.diag("DG410", f"@{ann.name} source '{src}' is not an array (it holds {describe(value)})", span,
                    hint=f"Make '{src}' an array, e.g. `{rest[-1]}: [\"a\", \"b\"];`")


# Argument keys the runtime reads for each annotation's `(k: v)` form.
_ARGUMENT_KEYS = {"retry": ("max", "attempts", "n"), "timeout": ("after", "seconds"), "priority": ("value", "level")}


def _argument(ann: Annotation, keys: tuple[str, ...]) -> tuple[bool, object]:
    """(given, value) as the runtime reads it: a named parameter first, else the single argument."""
    if ann.params:
        for k in keys:
            if k in ann.params:
                return True, ann.params[k]
        return True, None
    return ann.has_value, ann.value


def _argument_problem(ann: Annotation) -> Optional[str]:
    low = ann.name.lower()
    if low in _ARGUMENT_KEYS:
        given, v = _argument(ann, _ARGUMENT_KEYS[low])
        if not given:
            return None
        if low == "retry":
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 and float(v).is_integer()
                  or isinstance(v, str) and _INTEGER_TEXT.match(v.strip()))
            return None if ok else "expects a whole number of attempts, e.g. @retry(3) or @retry(max: 3)"
        if low == "timeout":
            seconds = parse_duration(v)
            return None if seconds is not None and seconds > 0 else (
                'expects a duration such as "30s", "500ms", "5min", "2h" or "PT30S", or milliseconds such as 5000')
        rank = priority_rank(v)
        return None if rank is not None and rank >= 0 else "expects a number (lower runs first) or high/medium/low, e.g. @priority(1)"
    if low in ("async", "spawn", "fork", "parallel", "auto", "checkpoint") and ann.has_value and not ann.params:
        v = ann.value
        if not (isinstance(v, bool) or isinstance(v, str) and v.lower() in ("true", "false")):
            return "takes no argument, or true/false"
    return None


def _show(ann: Annotation) -> str:
    if ann.params:
        return "; ".join(k if v is True else f"{k}: {_show_value(v)}" for k, v in ann.params.items())
    return _show_value(ann.value) if ann.has_value else ""


def _show_value(v) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def check_annotation_arguments(ctx: Context) -> Iterator[Diagnostic]:
    """DG508 on nodes and edges."""
    items: list[tuple[Annotation, object]] = []
    for node in ctx.nodes:
        items.extend((a, node.span) for a in node.annotations)
    for e in ctx.machine.edges:
        items.extend((a, e.span) for a in e.annotations)
    for ann, span in items:
        why = _argument_problem(ann)
        if why:
            yield ctx.diag("DG508", f"@{ann.name}({_show(ann)}): @{ann.name} {why}", ann.span or span)


def check_edge_annotations(ctx: Context) -> Iterator[Diagnostic]:
    """DG506 typos of runtime annotations; DG507/DG410 `@map` sources."""
    for e in ctx.machine.edges:
        for ann in e.annotations:
            low = ann.name.lower()
            if low in MAP_NAMES:
                d = _map_diagnostic(ctx, e, ann)
                if d:
                    yield d
                continue
            if low in _KNOWN_LOWER:
                continue
            close = [c for c in close_matches(low, list(_KNOWN_LOWER), n=1, cutoff=0.75)
                     if abs(len(c) - len(low)) <= 2]
            if close:
                right = _KNOWN_LOWER[close[0]]
                yield ctx.diag("DG506", f"Unknown edge annotation @{ann.name}; did you mean @{right}?",
                               ann.span or e.span,
                               hint=f"@{ann.name} is shown in the diagram but does nothing at run time; "
                                    f"@{right} does")


CHECKS = (check_reserved_names, check_same_level_names, check_node_annotations, check_context_access,
          check_prompt_only, check_annotation_arguments, check_edge_annotations)
