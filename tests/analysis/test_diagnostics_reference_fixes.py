"""The reference validator's false positives that decision 11 fixes stay fixed."""

from __future__ import annotations


def test_writes_and_stores_edges_into_context_are_not_flagged(check):
    r = check("""
        Context results { total: 0; }
        init start;
        Task count { prompt: "Count"; }
        Task save { prompt: "Save"; }
        start -> count -> save;
        count -writes-> results;
        save -stores-> results;
        results -reads-> save;
    """)
    assert "DG406" not in r.codes()
    assert "DG505" not in r.codes()  # both tasks write their answer


def test_auto_exit_exempts_a_prompted_task(check):
    r = check("""
        init start;
        Task draft { prompt: "Draft it"; }
        start -> draft;
        draft -@auto-> review;
    """)
    assert "DG505" not in r.codes()


def test_auto_and_meta_annotations_exempt_a_prompted_task(check):
    r = check("""
        init start;
        Task plan @meta { prompt: "Plan"; }
        Task go @auto { prompt: "Go"; }
        start -> plan -> go -> done;
    """)
    assert "DG505" not in r.codes()


def test_a_task_whose_answer_is_read_later_is_not_prompt_only(check):
    r = check("""
        init start;
        Task extract { prompt: "Extract"; }
        Task report { prompt: "Report on {{ extract.result }}"; }
        start -> extract -> report;
        report -writes-> out;
    """)
    assert "DG505" not in r.codes()


def test_cycle_with_a_conditional_exit_is_not_reported(check):
    r = check("""
        Context Counter { value: 0; }
        init start;
        start -> increment;
        increment -> check;
        check -when: 'Counter.value < 10';-> increment;
        check -when: 'Counter.value >= 10';-> done;
    """)
    assert "DG403" not in r.codes()


def test_cycle_with_a_guarded_edge_is_not_reported(check):
    r = check("""
        init start;
        start -> work;
        work -> retry;
        retry -if: 'errorCount < 3';-> work;
    """)
    assert "DG403" not in r.codes()


def test_cycle_with_an_unconditional_exit_is_not_reported(check):
    r = check("""
        init start;
        Task review { prompt: "Approve or revise?"; }
        start -> review;
        review -> revise -> review;
        review -> publish;
    """)
    assert "DG403" not in r.codes()


def test_data_edges_do_not_count_as_control(check):
    r = check("""
        Context store { items: []; }
        init start;
        start -> a;
        a -writes-> store;
        store -reads-> a;
        a -> done;
    """)
    assert not {"DG401", "DG403", "DG404", "DG406"} & set(r.codes()), r.diagnostics


def test_the_runtime_documentation_pattern_is_clean(check):
    r = check("""
        machine "Pipeline"
        Context config { retries<number>: 3; }
        init start "Begin";
        Task fetch {
            prompt: "Fetch data using {{ config.retries }} retries";
        }
        State decide;
        start -> fetch;
        config -reads-> fetch;
        fetch -writes-> config;
        fetch -> decide;
        decide -when: 'config.retries > 2';-> slow;
        decide -unless: 'config.retries > 2';-> fast;
        slow -> done;
        fast -> done;
    """)
    assert r.diagnostics == []
