"""Annotation checks and runtime readiness: DG410, DG501–DG508."""

from __future__ import annotations

import pytest

from dygraph.diagnostics import Severity


def test_dg501_async_on_non_task(check):
    r = check("""
        init start;
        State waiting @Async;
        start -> waiting;
    """)
    d = r.assert_at("DG501", "@Async")
    assert "'waiting'" in d.message and "-@async->" in d.hint


def test_dg502_singleton_on_state(check):
    r = check("""
        init start;
        State session @Singleton;
        start -> session;
    """)
    r.assert_at("DG502", "@Singleton")


def test_dg503_abstract_on_init(check):
    r = check("""
        init start @Abstract;
        start -> work;
    """)
    d = r.assert_at("DG503", "@Abstract")
    assert d.severity is Severity.ERROR


def test_dg504_context_without_access_edge(check):
    r = check("""
        Context config { apiUrl: "https://x"; }
        Task call {
            prompt: "Call {{ config.apiUrl }}";
        }
        init start;
        start -> call;
        call -> done;
        call -> failed;
    """)
    d = r.assert_at("DG504", "prompt:")
    assert "'call'" in d.message and "'config'" in d.message
    assert "call -reads-> config;" in d.hint


def test_dg504_satisfied_by_an_edge_from_the_context_or_a_parent(check):
    r = check("""
        Context config { apiUrl: "https://x"; }
        Process api {
            Task call { prompt: "Call {{ config.apiUrl }}"; }
        }
        config -> api;
    """)
    assert "DG504" not in r.codes()


def test_dg505_prompt_only_task(check):
    r = check("""
        init start;
        Task think { prompt: "Think hard"; }
        start -> think;
        think -> done;
    """)
    d = r.assert_at("DG505", "Task think")
    assert "'think'" in d.message


def test_dg506_typo_of_runtime_annotation(check):
    r = check("""
        init start;
        start -@asyn-> work;
        start -@Critical-> other;
    """)
    d = r.assert_at("DG506", "@asyn")
    assert "did you mean @async" in d.message


def test_dg507_map_without_source(check):
    r = check("""
        Context Queue { items: ["a", "b"]; }
        init start;
        start -@map-> work;
    """)
    d = r.assert_at("DG507", "@map")
    assert d.severity is Severity.ERROR and "Queue.items" not in d.message


@pytest.mark.parametrize("source, fragment", [
    ("Queue.name", "not an array"),
    ("Nowhere.items", "names no node"),
    ("Queue.total", "declared number"),
    ('"Queue.items +"', "not a valid expression"),
])
def test_dg410_map_source_not_an_array(check, source, fragment):
    r = check(f"""
        Context Queue {{
            items: ["a", "b"];
            name: "q";
            total<number?>;
        }}
        init start;
        start -@map({source})-> work;
        start -@each(Queue.items)-> other;
        start -@foreach("Queue.items.filter(i, i != 'a')")-> third;
        start -@map("[1, 2, 3]")-> fourth;
    """)
    d = r.assert_at("DG410", f"@map({source})")
    assert fragment in d.message and source.strip('"') in d.message


@pytest.mark.parametrize("annotation, fragment", [
    ('@retry("x")', "number of attempts"),
    ("@retry(-1)", "number of attempts"),
    ("@retry(count: 3)", "number of attempts"),
    ('@timeout("abc")', "duration"),
    ('@timeout(0)', "duration"),
    ('@timeout("30 fortnights")', "duration"),
    ("@priority(urgent)", "high/medium/low"),
])
def test_dg508_invalid_annotation_argument(check, annotation, fragment):
    r = check(f"""
        init start;
        Task call {annotation} {{ prompt: "x"; }}
        start -> call;
        call -writes-> log;
    """)
    d = r.assert_at("DG508", annotation)
    assert fragment in d.message and d.severity is Severity.ERROR


def test_dg508_valid_arguments_pass(check):
    r = check("""
        init start @retry(3) @timeout("30s") @priority(high);
        start -@retry("3") @timeout(5000) @priority("1")-> a;
        a -@timeout("2m") @async @retry(max: 2)-> b;
    """)
    assert "DG508" not in r.codes()
