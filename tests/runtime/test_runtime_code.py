"""`@code` nodes (decision 29): inline Python run when allowed, as a journalled tool call."""

from __future__ import annotations

import time

import anyio
import pytest
from click.testing import CliRunner
from conftest import of_type, run_source, scripted

from dygraph.cli import main

ALLOW = {"allow_code": True}

TOTAL = '''
context Order { prices<Array<number>>: [1, 2, 3.5]; total<number>: 0; }
start -> totals;
Task totals @code {
    code: "
        def run(ctx):
            prices = ctx['context']['Order']['prices']
            return {'Order': {'total': sum(prices)}, 'count': len(prices)}
    ";
}
totals -writes-> Order;
totals -when: "Order.total > 6";-> big;
totals -unless: "Order.total > 6";-> small;
'''


async def test_code_reads_contexts_writes_its_result_and_conditions_see_it():
    r = await run_source(TOTAL, limits=ALLOW)
    assert r.status == "completed" and r.path("p0").history == ["start", "totals", "big"]
    assert r.context["Order"]["total"] == 6.5
    finished = of_type(r, "code_finished")[0]
    assert finished["result"] == {"Order": {"total": 6.5}, "count": 3}
    assert of_type(r, "context_written")[0]["values"] == {"total": 6.5}


async def test_code_does_not_run_unless_allowed():
    r = await run_source(TOTAL)
    assert r.status == "failed" and "--allow-code" in r.error
    assert of_type(r, "code_started") == [] and r.context["Order"]["total"] == 0


async def test_async_run_with_item_and_index_on_map_paths():
    src = '''
    context Job { names: ["a", "b"]; }
    start -@map(Job.names)-> shout;
    Task shout @code {
        code: "
            import anyio
            async def run(ctx):
                await anyio.sleep(0)
                return ctx['item'].upper() + str(ctx['index']) + ctx['attributes']['suffix']
        ";
        suffix: "!";
    }
    '''
    r = await run_source(src, limits=ALLOW)
    assert sorted(p.output for p in r.paths if p.parent) == ["A0!", "B1!"]


@pytest.mark.parametrize("code, message", [
    ("def run(ctx):\\n    x = 1\\n    return x / 0", "@code failed: ZeroDivisionError: division by zero (line 3)"),
    ("def run(ctx) return 1", "does not compile: line 1"),
    ("x = 1", "defines no run(ctx) function"),
    ("raise ValueError('no config')", "failed while loading: ValueError: no config (line 1)"),
])
async def test_code_errors_fail_the_step_and_take_the_catch_edge(code, message):
    src = f'start -> t; Task t @code {{ code: "{code}"; }} t -> ok; t -catch-> oops;'
    r = await run_source(src, limits=ALLOW)
    assert r.path("p0").history == ["start", "t", "oops"]
    assert message in of_type(r, "step_failed")[0]["error"]


async def test_code_is_retried_per_retry():
    src = '''
    start -> t;
    Task t @code @retry(2) {
        code: "
            calls = []
            def run(ctx):
                calls.append(1)
                if len(calls) < 3:
                    raise RuntimeError('flaky')
                return len(calls)
        ";
    }
    t -> ok;
    '''
    r = await run_source(src, limits=ALLOW)
    assert r.status == "completed" and r.path("p0").output == "3"
    assert len(of_type(r, "retry")) == 2


async def test_timeout_abandons_blocking_code():
    src = '''
    start -> t;
    Task t @code @timeout("50ms") { code: "
        import time
        def run(ctx):
            time.sleep(3)
    "; }
    t -> ok; t -error-> late;
    '''
    started = time.perf_counter()
    with anyio.fail_after(2):
        r = await run_source(src, limits=ALLOW)
    assert time.perf_counter() - started < 1.5
    assert r.path("p0").history[-1] == "late"
    assert "@code timed out after 0.05s" in of_type(r, "step_failed")[0]["error"]


async def test_a_result_that_does_not_fit_the_context_fails_the_step():
    src = TOTAL.replace("sum(prices)", "'lots'")
    r = await run_source(src, limits=ALLOW)
    assert r.status == "failed" and "@code result for Order" in r.error and "'total' must be number" in r.error


async def test_code_without_inline_source_runs_as_a_task():
    src = 'start -> t; Task t @code { prompt: "Parse it"; code: #parseTask; } t -> done;'
    agent = scripted({"t": [[{"name": "transition_to_done", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert r.status == "completed" and len(agent.at("t")) == 1
    assert of_type(r, "code_started") == []


def test_allow_code_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    (tmp_path / "m.dygram").write_text(TOTAL)
    runner = CliRunner()
    denied = runner.invoke(main, ["run", str(tmp_path / "m.dygram"), "--agent", "offline", "-q"])
    assert denied.exit_code == 1 and "--allow-code" in denied.stderr
    allowed = runner.invoke(main, ["run", str(tmp_path / "m.dygram"), "--agent", "offline", "--json",
                                   "--allow-code"])
    assert allowed.exit_code == 0, allowed.output
    assert '"total": 6.5' in allowed.stdout
