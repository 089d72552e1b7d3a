"""Graph checks DG401–DG409."""

from __future__ import annotations

from dygraph.diagnostics import Severity


def test_dg401_unreachable_node(check):
    r = check("""
        init start;
        start -> done;
        retry -> again;
        again -> retry;
    """)
    found = r.all("DG401")
    assert [(d.line, d.column) for d in found] == [r.position("retry ->"), r.position("again;")]
    assert "'retry'" in found[0].message


def test_dg402_orphaned_node(check):
    r = check("""
        init start;
        start -> done;
        Task forgotten "Never used";
    """)
    d = r.assert_at("DG402", "Task forgotten")
    assert "'forgotten'" in d.message and d.severity is Severity.WARNING


def test_dg402_not_reported_without_any_flow_or_for_children(check):
    assert "DG402" not in check("Task a; Task b;").codes()
    r = check("""
        Process workflow {
            Task first;
            Task second;
            first -> second;
        }
        init start;
        start -> workflow;
        Type Order { id<string>; }
    """)
    assert "DG402" not in r.codes()


def test_dg403_cycle_without_way_out(check):
    r = check("""
        init start;
        start -> ping;
        ping -> pong;
        pong -> ping;
    """)
    d = r.assert_at("DG403", "->", occurrence=2)
    assert d.message.startswith("Cycle ping → pong → ping has no way out")
    assert d.hint


def test_dg403_reports_the_trapped_loop_not_the_one_that_leads_into_it(check):
    r = check("""
        init start;
        start -> a;
        a -> b;
        b -> a;
        b -> spin;
        spin -> spin;
    """)
    d = r.only("DG403")
    assert "spin → spin" in d.message


def test_dg404_no_entry_point(check):
    r = check("""
        State red;
        State green;
        red -> green;
        green -when: 'false';-> red;
    """)
    d = r.assert_at("DG404", "State red")
    assert "No entry point" in d.message


def test_dg405_init_without_exits(check):
    r = check("""
        init start;
        init other;
        other -> done;
    """)
    d = r.assert_at("DG405", "init start")
    assert "'start'" in d.message


def test_dg406_transition_into_context(check):
    r = check("""
        Context results { total: 0; }
        init start;
        start -> results;
    """)
    d = r.assert_at("DG406", "->")
    assert "'results'" in d.message and "-writes->" in d.hint


def test_dg407_inheritance_between_types(check):
    r = check("""
        Task Animal { prompt: "x"; }
        State Dog;
        Animal <|-- Dog;
    """)
    d = r.assert_at("DG407", "<|--")
    assert "(task)" in d.message and "(state)" in d.message


def test_dg408_ambiguous_exits_on_a_prompt_less_state(check):
    r = check("""
        init start;
        State choose;
        start -> choose;
        choose -> left;
        choose -> right;
    """)
    d = r.assert_at("DG408", "State choose")
    assert "'left'" in d.message and "left, right" in d.message


def test_dg408_not_reported_when_exits_are_distinguished(check):
    r = check("""
        init start;
        State choose;
        State prompted { prompt: "pick"; }
        start -> choose;
        choose -when: 'errorCount > 0';-> left;
        choose -> right;
        choose -@async-> audit;
        start -> prompted;
        prompted -> left;
        prompted -> right;
        State ranked;
        start -> ranked;
        ranked -@priority(1)-> left;
        ranked -@priority(2)-> right;
    """)
    assert "DG408" not in r.codes()


def test_dg409_barrier_no_path_can_reach(check):
    r = check("""
        init start;
        start -> done;
        waitA -@barrier("sync")-> joined;
        joined -> waitA;
    """)
    d = r.assert_at("DG409", "-@barrier")
    assert "'sync'" in d.message


def test_dg409_not_reported_for_reachable_barriers(check):
    r = check("""
        init start;
        start -@async-> a, b;
        a -@barrier("sync")-> joined;
        b -@barrier("sync")-> joined;
    """)
    assert "DG409" not in r.codes()
