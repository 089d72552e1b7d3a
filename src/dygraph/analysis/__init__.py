"""Validation of a linked machine: `analyze(machine) -> list[Diagnostic]`.

Runs every check of the reference validator (with its false positives fixed, decision 11) and
dygraph's own (decision 12). Pure and fast: heavy libraries load only when a machine needs them.
`CHECKS` lists what is checked, for documentation and tooling.
"""

from __future__ import annotations

from dataclasses import dataclass

from dygraph.diagnostics import CODES, Diagnostic, Severity, sort_key
from dygraph.ir.model import Machine

from . import conditions, graph, semantics, types
from .context import Context

__all__ = ["analyze", "CHECKS", "Check"]

_RUNNERS = (*semantics.CHECKS, *types.CHECKS, *conditions.CHECKS, *graph.CHECKS)


def analyze(machine: Machine) -> list[Diagnostic]:
    """Every problem the validator finds in `machine`, sorted by position."""
    ctx = Context(machine)
    out: list[Diagnostic] = []
    for run in _RUNNERS:
        out.extend(run(ctx))
    out.sort(key=sort_key)
    return out


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    severity: Severity
    title: str
    description: str


def _check(code: str, description: str) -> Check:
    c = CODES[code]
    return Check(code, c.severity, c.title, description)


CHECKS: tuple[Check, ...] = (
    _check("DG205", "A node is named `errorCount`, `errors` or `activeState`; in conditions and templates the "
                    "built-in variable of that name wins."),
    _check("DG212", "Two nodes at the same nesting level, under different parents, share a simple name; a bare "
                    "reference to that name is ambiguous."),
    _check("DG301", "A typed attribute has no value, and its type is not optional and it is not in a `Type` node."),
    _check("DG302", "An attribute is `null` but its declared type is not optional (`T?`)."),
    _check("DG303", "An attribute's value is not one of the literals of its union type."),
    _check("DG304", "An attribute's value does not match its declared type (string, number, boolean, Integer, "
                    "Float, Date, UUID, URL, Duration, Array<T>, Map<K, V>, or a node used as a type), or the "
                    "type is unknown."),
    _check("DG305", "An edge multiplicity is not a count or range such as `1`, `*`, `0..1`, `1..*`."),
    _check("DG306", "An edge multiplicity range has a lower bound greater than its upper bound."),
    _check("DG310", "An edge condition (`when`/`unless`/`if`) is not a valid CEL expression."),
    _check("DG311", "An edge condition reads a name that is not a node, an attribute of the source node or a "
                    "built-in variable."),
    _check("DG312", "A `{{ … }}` placeholder in a string is not a valid CEL expression."),
    _check("DG313", "A `{{ … }}` placeholder reads a name nothing provides; it is left as written."),
    _check("DG401", "A node cannot be reached from any entry point (only loops lead into it)."),
    _check("DG402", "A node has no edges at all in a machine that has a control flow."),
    _check("DG403", "A loop has no way out: no edge leaves it and none of its edges has a condition."),
    _check("DG404", "No entry point: every node of the control flow has an incoming edge."),
    _check("DG405", "An `init` node has no outgoing edges."),
    _check("DG406", "A plain transition (`->`, `=>`) leads into a context node; use `-writes->`/`-reads->`."),
    _check("DG407", "An inheritance edge (`<|--`) joins nodes of different types."),
    _check("DG408", "A prompt-less `state` has several exits without conditions; only the first is taken."),
    _check("DG409", "A `@barrier` group's edges cannot be reached without crossing the barrier, so it never "
                    "releases."),
    _check("DG410", "A `@map` source is not an array: a non-array value or type, no such node, or not a valid "
                    "expression."),
    _check("DG501", "`@Async` on a node that is not a task (async is an edge annotation)."),
    _check("DG502", "`@Singleton` on a state node."),
    _check("DG503", "`@Abstract` on an init node."),
    _check("DG504", "A task's template reads a context node it has no edge to."),
    _check("DG505", "A task has a prompt but nothing to do with the answer: at most one exit, no writes, no "
                    "tools, no `@auto`, no `@meta`."),
    _check("DG506", "An edge annotation is unknown but close to one the runtime acts on (`@asyn` → `@async`)."),
    _check("DG507", "A `@map` edge does not say which collection to fan out over."),
    _check("DG508", "An annotation argument has the wrong shape, e.g. `@retry(\"x\")`, `@timeout(\"abc\")`."),
)
