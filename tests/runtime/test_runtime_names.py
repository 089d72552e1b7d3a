"""What conditions and templates see (the names `dygraph check` accepts), `@priority`, `@timeout` forms,
attribute-port edges as data."""

from __future__ import annotations

import anyio
import pytest

import dygraph
from dygraph.analysis import analyze
from dygraph.ir.duration import parse_duration, parse_duration_text
from dygraph.ir.priority import priority_rank
from dygraph.runtime.graph import Program

from conftest import SlowAgent, of_type, run_source, scripted

NAME_CODES = {"DG311", "DG313"}


def unknown_names(source: str) -> list[str]:
    return [d.message for d in analyze(dygraph.loads(source)) if d.code in NAME_CODES]


async def run_checked(source: str, script: dict | None = None, **options):
    """Run a machine `check` finds no unknown names in; the run must not report any either."""
    assert unknown_names(source) == []
    r = await run_source(source, script, **options)
    assert of_type(r, "diagnostic") == []
    return r


async def test_template_reads_another_task_attribute():
    src = '''
    machine "m" { customer: "ACME"; }
    task extract { result: "42 invoices"; }
    task summarise { prompt: "Summarise {{ extract.result }} for {{ machine.customer }}"; }
    start -> extract; extract -> summarise; summarise -> done;
    '''
    agent = scripted({"summarise": [[{"name": "transition_to_done", "arguments": {}}]]})
    r = await run_checked(src, agent=agent)
    assert r.status == "completed"
    assert "Summarise 42 invoices for ACME" in agent.at("summarise")[0].system


async def test_condition_reads_a_plain_node_and_machine_attributes():
    src = '''
    machine "m" { threshold: 3; }
    Config config { limit: 5; }
    start -> check;
    check -when: "config.limit > machine.threshold";-> high;
    check -unless: "config.limit > machine.threshold";-> low;
    '''
    r = await run_checked(src)
    assert r.path("p0").history == ["start", "check", "high"]


async def test_nested_nodes_by_full_path_and_by_simple_name():
    src = '''
    state Outer {
        state Inner { level: 7; }
    }
    start -> check;
    check -when: "Outer.Inner.level == 7 && Inner.level == 7";-> yes;
    check -unless: "Outer.Inner.level == 7";-> no;
    '''
    r = await run_checked(src)
    assert r.path("p0").history == ["start", "check", "yes"]


async def test_nested_context_overlays_runtime_values_on_both_names():
    src = '''
    state Flow {
        context Memo { note<string>: "empty"; }
    }
    task write { prompt: "Write the memo"; }
    start -> write;
    write -writes-> Flow.Memo;
    write -> check;
    check -when: 'Flow.Memo.note == "done" && Memo.note == "done"';-> yes;
    check -unless: 'Memo.note == "done"';-> no;
    '''
    agent = scripted({"write": [[{"name": "write_Memo", "arguments": {"note": "done"}},
                                 {"name": "transition_to_check", "arguments": {}}]]})
    r = await run_checked(src, agent=agent)
    assert r.path("p0").history[-1] == "yes"
    assert r.context["Flow.Memo"]["note"] == "done"


async def test_current_node_attributes_by_its_name_and_bare():
    src = '''
    task check { tries: 2; }
    start -> check;
    check -when: "check.tries == 2 && tries == 2";-> yes;
    check -unless: "tries == 2";-> no;
    '''
    r = await run_checked(src)
    assert r.path("p0").history[-1] == "yes"


async def test_unknown_name_is_a_diagnostic_in_check_and_at_run_time():
    src = 'start -> a; a -when: "nothing.x == 1";-> b; a -> c;'
    assert unknown_names(src)
    r = await run_source(src)
    assert r.path("p0").history == ["start", "a", "c"]
    assert "nothing" in of_type(r, "diagnostic")[0]["message"]


async def test_item_and_index_on_map_paths_next_to_node_names():
    src = '''
    context Job { items: ["a", "b"]; }
    task label { suffix: "!"; }
    start -@map(Job.items)-> each;
    each -when: 'item + label.suffix == "b!" && index == 1';-> second;
    each -> other;
    '''
    r = await run_checked(src)
    ends = sorted(p.history[-1] for p in r.paths if p.parent)
    assert ends == ["other", "second"]


@pytest.mark.parametrize("first, second", [('"1"', '"2"'), ("1", '"2"'), ("high", "low"), ("medium", "low")])
async def test_priority_quoted_numbers_and_words_order_exits(first, second):
    src = f'''
    state s;
    start -> s;
    s -@priority({second})-> late;
    s -@priority({first})-> early;
    '''
    r = await run_source(src)
    assert r.path("p0").history == ["start", "s", "early"]


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("500ms", 0.5), ("5m", 300), ("5min", 300), ("2h", 7200), ("1.5 s", 1.5), ("PT30S", 30),
    ("PT1M30S", 90), ("P1DT2H", 93600), ("5000", 5), (5000, 5),
])
def test_duration_forms(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "30 sec", "s", "-5s", "5000"])
def test_duration_text_needs_a_unit(text):
    assert parse_duration_text(text) is None


@pytest.mark.parametrize("annotation, seconds", [
    ('@timeout("5min")', 300), ('@timeout("PT30S")', 30), ("@timeout(seconds: 30)", 30),
    ('@timeout(seconds: "2m")', 120), ("@timeout(5000)", 5), ('@timeout(after: "2h")', 7200),
])
def test_timeout_forms_on_nodes_and_edges(annotation, seconds):
    m = dygraph.loads(f'task t {annotation} {{ prompt: "p"; }} start -{annotation}-> t; t -> end1;')
    assert [d.message for d in analyze(m) if d.code == "DG508"] == []
    program = Program(m)
    assert program.nodes["t"].timeout == pytest.approx(seconds)
    assert program.nodes["start"].exits[0].timeout == pytest.approx(seconds)


async def test_timeout_in_seconds_counts_seconds():
    src = 'start -> t; task t @timeout(seconds: 0.05) { prompt: "p"; } t -> ok; t -error-> late;'
    with anyio.fail_after(3):
        r = await run_source(src, agent=SlowAgent())
    assert r.path("p0").history[-1] == "late"
    assert "timed out after 0.05s" in of_type(r, "step_failed")[0]["error"]


async def test_attribute_port_edges_are_data_not_control():
    src = '''
    task produce { result: "x"; }
    task consume;
    start -> produce;
    produce.result -> consume;
    '''
    program = Program(dygraph.loads(src))
    assert program.nodes["produce"].exits == []
    assert program.starts == ["start"]
    r = await run_source(src)
    assert r.status == "completed"
    assert [p.history for p in r.paths] == [["start", "produce"]]


@pytest.mark.parametrize("value, rank", [
    (1, 1.0), ("1", 1.0), (" 2.5 ", 2.5), ("high", 1.0), ("Medium", 2.0), ("low", 3.0),
    ("urgent", None), (True, None), (None, None), ("1e3", None),
])
def test_priority_rank_is_read_one_way(value, rank):
    assert priority_rank(value) == rank


def test_check_accepts_quoted_priorities_and_orders_them_like_the_runtime():
    m = dygraph.loads('state s; start -> s; s -@priority("2")-> a; s -@priority("1")-> b;')
    assert [d.code for d in analyze(m) if d.code in ("DG408", "DG508")] == []
    assert [ex.target for ex in Program(m).nodes["s"].exits] == ["b", "a"]
