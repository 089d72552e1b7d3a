"""CEL conditions (DG310/DG311) and `{{ … }}` templates (DG312/DG313)."""

from __future__ import annotations

from dygraph.analysis.expressions import analyse, preprocess_condition
from dygraph.diagnostics import Severity


def test_dg310_condition_syntax_error(check):
    r = check("""
        Context Config { limit: 3; }
        init start;
        start -when: 'Config.limit >';-> done;
    """)
    d = r.assert_at("DG310", "-when")
    assert d.severity is Severity.ERROR
    assert "Config.limit >" in d.message and "ends too early" in d.message


def test_dg310_hint_for_single_equals(check):
    r = check("""
        init start;
        start -when: 'status = "ok"';-> done;
    """)
    d = r.only("DG310")
    assert "==" in d.hint


def test_dg311_unknown_name_in_condition(check):
    r = check("""
        Context Config { limit: 3; }
        init start;
        start -when: 'Confg.limit > 2';-> done;
    """)
    d = r.assert_at("DG311", "-when")
    assert "'Confg'" in d.message
    assert "Did you mean 'Config'?" in d.hint


def test_dg311_machine_attribute_hint(check):
    r = check("""
        machine "M" { status: "valid"; }
        init start;
        start -when: 'status == "valid"';-> done;
    """)
    assert "machine.status" in r.only("DG311").hint


def test_known_condition_names_pass(check):
    r = check("""
        Context Data { items: [1, 2]; }
        init start { tries: 0; }
        start -when: 'Data.items.exists(i, i > 1) && errorCount < 3 && tries < 2';-> a;
        start -unless: '{{ Data.items }} === []';-> b;
        a -if: 'activeState != "x" && machine.title != "" && size(errors) == 0';-> b;
        b -when: 'item > 0 || index == 0 || start.tries > 1';-> c;
    """)
    assert not r.all("DG310") and not r.all("DG311"), r.diagnostics


def test_dg312_template_syntax_error(check):
    r = check("""
        Context config { url: "https://x"; }
        Task fetch {
            prompt: "Fetch {{ config.url + }}";
        }
        config -reads-> fetch;
    """)
    d = r.assert_at("DG312", "prompt:")
    assert d.severity is Severity.ERROR and "config.url +" in d.message


def test_dg313_template_unknown_name(check):
    r = check("""
        Context config { url: "https://x"; }
        Task fetch "Fetch {{ conf.url }}" {
            prompt: "Go";
        }
    """)
    d = r.assert_at("DG313", "Task fetch")
    assert d.severity is Severity.WARNING and "'conf'" in d.message
    assert "Did you mean 'config'?" in d.hint


def test_preprocessing_matches_the_reference():
    assert preprocess_condition("{{ a.b }} === 1 && c !== 2") == "a.b == 1 && c != 2"


def test_expression_analysis_reports_roots_and_binds_macro_variables():
    info = analyse("Data.items.all(x, x > limit) && has(cfg.flag) && [1, 2].size() > 0")
    assert info.error is None
    assert info.names == ("Data", "limit", "cfg")
    bad = analyse("a &&")
    assert bad.error and bad.column == 5
