"""CEL conditions on edges (DG310/DG311) and `{{ … }}` templates in strings (DG312/DG313)."""

from __future__ import annotations

from typing import Iterable, Iterator, Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.model import Edge, Node, SourceSpan, Value, string_leaves

from .context import Context, close_matches
from .expressions import BUILTIN_NAMES, CEL_NAMES, analyse, placeholders, preprocess_condition, syntax_hint

_CONDITION_KEYS = ("when", "unless", "if")


def _unknown_hint(ctx: Context, name: str, known: Iterable[str]) -> str:
    if ctx.machine.attribute(name) is not None:
        return f"'{name}' is a machine attribute; expressions see it as `machine.{name}`"
    close = close_matches(name, list(known), n=1, cutoff=0.75)
    if close:
        return f"Did you mean '{close[0]}'?"
    return ("Expressions can use node names (`Config.limit`), the source node's attributes, errorCount, "
            "errors, activeState, item, index and machine")


def _raw_condition(edge: Edge) -> Optional[tuple[str, Value]]:
    attrs = edge.attributes
    for key in _CONDITION_KEYS:
        if key in attrs and attrs[key] is not None and attrs[key] is not True:
            return key, attrs[key]
    return None


def check_conditions(ctx: Context) -> Iterator[Diagnostic]:
    """Compile every edge guard; report syntax errors and names nothing provides."""
    base = ctx.known_names | BUILTIN_NAMES | CEL_NAMES
    for edge in ctx.machine.edges:
        raw = _raw_condition(edge)
        if raw is None or isinstance(raw[1], (bool, int, float)):
            continue
        key, value = raw
        source = str(value)
        text = preprocess_condition(source)
        info = analyse(text)
        if info.error is not None:
            yield ctx.diag("DG310", f"Condition `{key}: {source}` does not compile: {info.error}"
                                    + (f" (at character {info.column})" if info.column else ""),
                           edge.span, hint=syntax_hint(text) or "Conditions are CEL expressions, e.g. "
                                                                 "`-when: 'Config.retries < 3'->`")
            continue
        if not info.names:
            continue
        src = ctx.machine.get(edge.source)
        own = {a.name for a in src.attributes} if src is not None else set()
        for name in info.names:
            if name in base or name in own:
                continue
            yield ctx.diag("DG311", f"Condition `{key}: {source}` uses '{name}', which names no node, attribute "
                                    "or built-in", edge.span, hint=_unknown_hint(ctx, name, base | own))


def _template_diagnostics(ctx: Context, text: str, where: str, span: Optional[SourceSpan],
                          known: frozenset[str] | set[str]) -> Iterator[Diagnostic]:
    for body in placeholders(text):
        info = analyse(body)
        if info.error is not None:
            yield ctx.diag("DG312", f"Template `{{{{ {body} }}}}` in {where} does not compile: {info.error}",
                           span, hint=syntax_hint(body) or "A placeholder holds one CEL expression, e.g. "
                                                            "`{{ config.apiUrl }}`")
            continue
        for name in info.names:
            if name not in known:
                yield ctx.diag("DG313", f"Template `{{{{ {body} }}}}` in {where} uses '{name}', which names no "
                                        "node, attribute or built-in; it will be left as written",
                               span, hint=_unknown_hint(ctx, name, known))


def _node_templates(ctx: Context, node: Node, base: frozenset[str]) -> Iterator[Diagnostic]:
    known = base | {a.name for a in node.attributes}
    if node.title and "{{" in node.title:
        yield from _template_diagnostics(ctx, node.title, f"the title of '{node.name}'", ctx.node_span(node), known)
    for a in node.attributes:
        for text in string_leaves(a.value):
            if "{{" in text:
                yield from _template_diagnostics(ctx, text, f"'{node.name}.{a.name}'", a.span or node.span, known)


def check_templates(ctx: Context) -> Iterator[Diagnostic]:
    base = ctx.known_names | BUILTIN_NAMES | CEL_NAMES
    m = ctx.machine
    machine_known = base | {a.name for a in m.attributes}
    for a in m.attributes:
        for text in string_leaves(a.value):
            if "{{" in text:
                yield from _template_diagnostics(ctx, text, f"machine attribute '{a.name}'", a.span, machine_known)
    for node in ctx.nodes:
        yield from _node_templates(ctx, node, base)


CHECKS = (check_conditions, check_templates)
