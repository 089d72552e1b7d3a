"""The analyzer never raises, whatever machine it is given (including ones no parser would build)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dygraph.analysis import analyze
from dygraph.diagnostics import CODES
from dygraph.ir.model import Annotation, Attribute, Edge, Machine, Node, SourceSpan, TypeRef

NAMES = st.sampled_from(["a", "b", "c", "start", "Config", "errorCount", "Queue", "x.y"])
TYPES = st.sampled_from([None, "task", "State", "init", "context", "Input", "Type", "tool", "style", "weird"])
SPAN = st.builds(SourceSpan, line=st.integers(1, 50), column=st.integers(1, 80), end_line=st.integers(1, 50),
                 end_column=st.integers(1, 80))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["{{ a.b }}", "{{ {{ x }}", "PT30S", "[1]", "Queue.items"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                         max_size=3), max_leaves=6)
TYPEREFS = st.recursive(
    st.builds(TypeRef, name=st.sampled_from(["string", "number", "Integer", "Date", "Array", "Map", "Config",
                                             "Nope", "a"]),
              optional=st.booleans()),
    lambda inner: st.builds(TypeRef, name=st.sampled_from(["Array", "Map", "Promise"]),
                            args=st.lists(inner, min_size=1, max_size=2)),
    max_leaves=3,
) | st.builds(TypeRef, name=st.just(""), literals=st.lists(st.text(max_size=3), min_size=2, max_size=3))
KINDS = st.sampled_from(["string", "number", "boolean", "null", "identifier", "external", "array", "object", "none"])
ATTRS = st.builds(Attribute, name=st.sampled_from(["prompt", "items", "when", "x", "desc"]),
                  type=st.none() | TYPEREFS, value=VALUES, kind=KINDS, span=st.none() | SPAN)
ANNOTATIONS = st.builds(Annotation, name=st.sampled_from(["async", "asyn", "map", "barrier", "retry", "timeout",
                                                          "Abstract", "Singleton", "auto", "meta", "priority"]),
                        value=SCALARS, kind=KINDS,
                        params=st.none() | st.dictionaries(st.sampled_from(["id", "items", "source"]), SCALARS,
                                                           max_size=2))
CONDITIONS = st.dictionaries(st.sampled_from(["when", "unless", "if"]),
                             st.one_of(st.text(max_size=20), st.booleans(), st.integers(),
                                       st.sampled_from(["a.b > 1", "x ==", "Queue.items.all(i, i > 0)"])),
                             max_size=2)


@st.composite
def machines(draw):
    paths = draw(st.lists(NAMES, min_size=0, max_size=6, unique=True))
    nodes = []
    for p in paths:
        parent = p.rsplit(".", 1)[0] if "." in p else None
        nodes.append(Node(path=p, name=p.rsplit(".", 1)[-1], type=draw(TYPES), parent=parent,
                          attributes=draw(st.lists(ATTRS, max_size=3)),
                          annotations=draw(st.lists(ANNOTATIONS, max_size=2)), span=draw(st.none() | SPAN)))
    endpoints = st.sampled_from(paths + ["ghost"]) if paths else st.just("ghost")
    edges = draw(st.lists(st.builds(
        Edge, source=endpoints, target=endpoints,
        arrow=st.sampled_from(["->", "-->", "=>", "<-->", "<|--", "*-->", "o-->", None]),
        label=st.none() | st.sampled_from(["writes", "reads", "catch", "go"]),
        inline=CONDITIONS, annotations=st.lists(ANNOTATIONS, max_size=2),
        source_multiplicity=st.none() | st.text(max_size=5), inferred=st.booleans(),
        source_attribute=st.none() | st.just("x"), span=st.none() | SPAN), max_size=8))
    return Machine(nodes=nodes, edges=edges, attributes=draw(st.lists(ATTRS, max_size=2)),
                   annotations=draw(st.lists(ANNOTATIONS, max_size=2)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines())
def test_analyze_never_raises(machine):
    for d in analyze(machine):
        assert d.code in CODES and d.line >= 1 and d.column >= 1 and d.message
