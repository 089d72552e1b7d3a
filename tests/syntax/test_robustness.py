"""No input crashes the compiler: mutated corpus programs give diagnostics or a machine, never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dygraph
from dygraph.diagnostics import Diagnostic
from tests.conftest import corpus_cases

PROGRAMS = [p.read_text(encoding="utf-8") for p in corpus_cases("ok")[::7]] or ["a -> b;"]
FRAGMENTS = ["->", "-->", "=>", "<-->", "{", "}", ";", ":", ",", "@", "@auto", '"', "'", "#", "-", "<", ">",
             "[", "]", "(", ")", ".", "machine", "import", "note", "-when: 'x > 1';->", "\n", "/*", "*/", "//",
             "{{", "}}", "1e9", "-3", "?", "|", "o-->", "<|--", "*-->", "style", "@StrictMode", "null"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(PROGRAMS))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)))
        if action == "insert":
            text = text[:pos] + piece + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        else:
            text = text[:pos] + piece + text[pos + len(piece):]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_check_never_raises(source):
    diagnostics = dygraph.check(source, "fuzz.dygram")
    assert all(isinstance(d, Diagnostic) and d.line >= 1 and d.column >= 1 for d in diagnostics)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(source):
    try:
        dygraph.loads(source)
    except dygraph.DygraphError as err:
        assert err.diagnostics
