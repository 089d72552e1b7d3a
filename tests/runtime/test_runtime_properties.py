"""Property: on random machines the runtime terminates, never errors internally, and every move it
records follows an edge of the machine."""

from __future__ import annotations

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dygraph
from dygraph.runtime import Limits, Runtime

CONDITIONS = [None, None, "C.n > 2", "C.n <= 2", "C.flag", "!C.flag", "errorCount == 0", "C.missing > 1"]


@st.composite
def machines(draw):
    size = draw(st.integers(2, 9))
    lines = [f"context C {{ n<number>: {draw(st.integers(0, 5))}; flag<boolean>: {str(draw(st.booleans())).lower()} }}"]
    lines += [f"state s{i};" for i in range(size)]
    edges = []
    for i in range(size):
        for _ in range(draw(st.integers(0, 2))):
            j = draw(st.integers(0, size - 1))
            cond = draw(st.sampled_from(CONDITIONS))
            spawn = draw(st.integers(0, 5)) == 0
            parts = (["@async"] if spawn else []) + ([f'when: "{cond}"'] if cond else [])
            label = f"-{', '.join(parts)};->" if cond else ("-@async->" if spawn else "->")
            edges.append((f"s{i}", f"s{j}", spawn))
            lines.append(f"s{i} {label} s{j};")
            lines.append(f"C -> s{i};")
    lines.append("start -> s0;")
    return "\n".join(lines), edges


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines())
def test_random_machines_terminate_and_follow_edges(case):
    source, edges = case
    machine = dygraph.loads(source)
    moves = {(a, b) for a, b, _ in edges} | {("start", "s0")}
    spawn_targets = {b for _, b, spawn in edges if spawn}

    async def go():
        with anyio.fail_after(20):
            return await Runtime(machine, limits=Limits(max_steps=200, max_visits=20)).run()

    result = anyio.run(go)
    assert result.status in ("completed", "failed")
    assert result.steps <= 200
    for p in result.paths:
        assert p.status in ("completed", "failed")
        assert not (p.error or "").startswith("internal error"), p.error
        for a, b in zip(p.history, p.history[1:]):
            assert (a, b) in moves, (p.id, a, b)
        if p.parent:
            assert p.history[0] in spawn_targets
    if result.status == "failed":
        assert result.error
