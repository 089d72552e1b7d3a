"""Attribute types (DG301–DG304), multiplicities (DG305/DG306), names (DG205/DG212)."""

from __future__ import annotations

import pytest

from dygraph.diagnostics import Severity


def test_dg301_typed_attribute_without_value(check):
    r = check("""
        Task fetch {
            timeout<number>;
            retries<number?>;
        }
    """)
    d = r.assert_at("DG301", "timeout<number>")
    assert d.severity is Severity.ERROR and "'timeout'" in d.message and "number" in d.message
    assert "timeout<number?>" in d.hint


def test_dg301_not_reported_inside_type_nodes(check):
    r = check("""
        Type User {
            id<string>;
            email<string>;
        }
    """)
    assert "DG301" not in r.codes()


def test_dg302_null_for_non_optional_type(check):
    r = check("""
        Context session {
            user<string>: null;
            token<string?>: null;
        }
    """)
    d = r.assert_at("DG302", "user<string>")
    assert "null" in d.message


def test_dg303_value_outside_union_literals(check):
    r = check("""
        Task job {
            status<'idle' | 'running'>: "done";
            phase<'a' | 'b'>: "a";
        }
    """)
    d = r.assert_at("DG303", "status<")
    assert "'idle'" in d.message and "'running'" in d.message and '"done"' in d.message


@pytest.mark.parametrize("decl, fragment", [
    ('count<number>: "42";', 'got a string "42"'),
    ("ok<boolean>: 1;", "expected a boolean"),
    ("n<Integer>: 1.5;", "not an integer"),
    ('when<Date>: "yesterday";', "ISO timestamp"),
    ('uid<UUID>: "abc";', "not a UUID"),
    ('home<URL>: "not a url";', "not a URL"),
    ('wait<Duration>: "soon";', "duration"),
    ('tags<Array<string>>: ["a", 2];', "element 1"),
    ('limits<Map<string, number>>: { a: "x"; };', "key 'a'"),
    ('owner<User>: { name: "Ann"; };', "missing field 'id'"),
    ('mail<Email>: "a@b.c";', "unknown type 'Email'"),
])
def test_dg304_type_mismatch(check, decl, fragment):
    r = check(f"""
        Type User {{
            id<string>;
            name<string>;
        }}
        Task t {{
            {decl}
        }}
    """)
    d = r.assert_at("DG304", decl.split("<")[0] + "<")
    assert fragment in d.message


def test_values_that_fit_their_types_pass(check):
    r = check("""
        Type User {
            id<string>;
            nick<string?>;
        }
        Task t {
            a<number>: -273.15;
            b<Integer>: 3;
            c<Float>: 0.5;
            d<Date>: "2025-01-31T12:00:00Z";
            e<UUID>: "550e8400-e29b-41d4-a716-446655440000";
            f<URL>: "https://example.com/x";
            g<Duration>: "PT30S";
            h<Duration>: "30s";
            i<Array<Integer>>: [1, 2, 3];
            j<Map<string, number>>: { a: 1; b: 2; };
            k<User>: { id: "u1"; };
            l<Promise<Result>>: #later;
            m<string>: #envKey;
            n<URL>: "{{ config.url }}";
            o<boolean>: true;
            p<User>: alice;
            q<string>: "{{ config.url }}";
        }
        Context config { url: "https://api.example.com"; }
        Task alice;
    """)
    assert not [d for d in r.diagnostics if d.code.startswith("DG30")], r.diagnostics


def test_dg305_invalid_multiplicity(check):
    r = check("""
        User "one" --> "*" Post;
    """)
    d = r.assert_at("DG305", "-->")
    assert '"one"' in d.message and d.severity is Severity.ERROR


def test_dg306_multiplicity_bounds_reversed(check):
    r = check("""
        Order "1" --> "5..2" LineItem;
    """)
    d = r.assert_at("DG306", "-->")
    assert '"5..2"' in d.message and d.severity is Severity.WARNING


def test_dg205_reserved_node_name(check):
    r = check("""
        init start;
        State errorCount;
        start -> errorCount;
    """)
    d = r.assert_at("DG205", "State errorCount")
    assert "errorCount" in d.message


def test_dg212_same_simple_name_at_one_level(check):
    r = check("""
        Group1 {
            Task Step;
        }
        Group2 {
            Task Step;
        }
        Group1.Step -> Group2.Step;
    """)
    d = r.assert_at("DG212", "Task Step", occurrence=2)
    assert "Group1.Step" in d.message and "Group2.Step" in d.message
