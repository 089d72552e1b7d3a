"""The SQLite run store: schema and migrations, runs, steps, liveness, cancellation, tool calls."""

import asyncio
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from dygraph.runtime.journal import ToolInvocation, ToolOutcome
from dygraph.runtime.state import PathState, RunState
from dygraph.store import (RunBusy, RunExists, RunNotFound, RunStatus, RunTakenOver, SQLiteStore, StoreError,
                           ToolCallStatus)
from dygraph.store import base
from dygraph.store.journal import SQLiteJournal, TrackedDict, TrackedList, load_state
from dygraph.store.sqlite import SCHEMA_VERSION


@pytest.fixture
def store(tmp_path):
    with SQLiteStore(tmp_path / "runs.db") as s:
        yield s


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_default_location_follows_dygraph_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    with SQLiteStore() as s:
        assert s.path == tmp_path / "home" / "runs.db"
    assert (tmp_path / "home" / "runs.db").exists()


def test_schema_is_versioned_in_wal_mode(tmp_path):
    db = tmp_path / "runs.db"
    SQLiteStore(db).close()
    with SQLiteStore(db) as s:  # reopening applies nothing twice
        assert s.schema_version() == SCHEMA_VERSION
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "run_machines", "checkpoints", "event_batches", "tool_calls", "llm_exchanges",
            "history_chunks", "path_map_changes", "path_states"} <= tables
    views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='view'")}
    assert {"events", "history"} <= views
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"runs_by_status", "runs_by_machine", "tool_calls_by_status"} <= indexes
    conn.execute("INSERT INTO schema_migrations VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="upgrade dygraph"):
        SQLiteStore(db)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="garbage.db"):
        SQLiteStore(garbage)


def test_an_older_database_is_migrated_in_place(tmp_path):
    from dygraph.store.sqlite import MIGRATIONS

    db = tmp_path / "runs.db"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0])  # a store written by schema version 1
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)")
    conn.execute("INSERT INTO schema_migrations VALUES (1, 0)")
    conn.execute("INSERT INTO runs (id, machine, status, created_at, updated_at, source, ir) "
                 "VALUES ('old', 'm', 'completed', 1, 1, 'machine \"M\"', '{}')")
    conn.execute("INSERT INTO checkpoints VALUES ('old', 3, '{}', 1)")
    conn.execute("""INSERT INTO events VALUES ('old', 1, 1, 'node_entered', '{"node":"A"}', 1.5),
                                              ('old', 2, 2, 'transition', '{"to":"B"}', 2.5)""")
    conn.execute("INSERT INTO history VALUES ('old', 'p0', 0, 'A'), ('old', 'p0', 1, 'B')")
    conn.executescript(MIGRATIONS[1] + MIGRATIONS[2])  # versions 2 and 3 (3 added the per-path maps)
    conn.execute("INSERT INTO path_maps VALUES ('old', 'p0', 'visits', 'A', '1'), ('old', 'p0', 'visits', 'B', '2')")
    conn.execute("INSERT INTO schema_migrations VALUES (2, 0), (3, 0)")
    conn.commit()
    conn.close()
    with SQLiteStore(db) as s:
        assert s.schema_version() == SCHEMA_VERSION >= 6
        old = s.require_run("old")
        assert (old.status, old.step, old.steps) == (RunStatus.COMPLETED, 3, 0)
        assert (old.source, old.ir) == ('machine "M"', "{}")
        assert [(e.seq, e.step, e.type, e.payload, e.at) for e in s.events("old")] == [
            (1, 1, "node_entered", {"node": "A"}, 1.5), (2, 2, "transition", {"to": "B"}, 2.5)]
        assert s.history("old") == {"p0": ["A", "B"]}
        assert s.path_maps("old") == {"p0": {"visits": {"A": 1, "B": 2}}}
        s.commit_step("old", 4, "{}", [("c", {})], history=[("p0", 2, "C")], maps=[("p0", "visits", False, {"A": None, "C": 1})],
                      steps=9)
        assert s.require_run("old").steps == 9
        assert s.history("old") == {"p0": ["A", "B", "C"]}
        assert s.path_maps("old") == {"p0": {"visits": {"B": 2, "C": 1}}}
        assert [e.seq for e in s.events("old")] == [1, 2, 3]
    conn = sqlite3.connect(db)  # the views still answer item by item
    assert conn.execute("SELECT seq, type, payload FROM events WHERE run_id = 'old' ORDER BY seq").fetchall() == [
        (1, "node_entered", '{"node":"A"}'), (2, "transition", '{"to":"B"}'), (3, "c", "{}")]
    assert conn.execute("SELECT idx, node FROM history ORDER BY idx").fetchall() == [(0, "A"), (1, "B"), (2, "C")]
    conn.close()


def test_runs_are_created_listed_filtered_and_removed(store):
    a = store.create_run(machine="order", source="machine 'x'", machine_file="/m/order.dygram", run_id="a")
    store.create_run(machine="billing", run_id="b", parent_id="a")
    assert a.source_hash == base.source_hash("machine 'x'")
    with pytest.raises(RunExists):
        store.create_run(machine="order", run_id="a")
    assert [r.id for r in store.list_runs()] == ["b", "a"]  # newest first
    assert [r.id for r in store.list_runs(machine="order")] == ["a"]
    assert [r.id for r in store.list_runs(machine="order.dygram")] == ["a"]
    store.update_run("b", status=RunStatus.COMPLETED, result={"ok": 1}, release=True)
    assert [r.id for r in store.list_runs(statuses=["completed"])] == ["b"]
    assert store.get_run("b").result == {"ok": 1}
    assert store.get_run("a").source == "machine 'x'"
    store.commit_step("a", 1, "{}", [("node_entered", {"node": "A"})])
    assert store.delete_run("a") is True
    assert store.get_run("a") is None and store.events("a") == [] and store.latest_checkpoint("a") is None
    assert store.delete_run("a") is False
    with pytest.raises(RunNotFound):
        store.require_run("a")


def test_force_replaces_a_finished_run(store):
    store.create_run(machine="m", run_id="x")
    store.commit_step("x", 1, "{}", [("e", {})])
    store.update_run("x", status=RunStatus.FAILED, release=True)
    store.create_run(machine="m", run_id="x", force=True)
    assert store.events("x") == [] and store.get_run("x").status is RunStatus.RUNNING


def test_step_commits_state_events_and_history_together(store):
    store.create_run(machine="m", run_id="r")
    last = store.commit_step("r", 1, "s1", [("a", {"n": 1}), ("b", {"n": 2})], history=[("p1", 0, "A")])
    assert last == 2
    assert store.commit_step("r", 2, "s2", [("c", {})], history=[("p1", 1, "B")]) == 3
    assert store.latest_checkpoint("r") == (2, "s2")
    assert [(e.seq, e.step, e.type) for e in store.events("r")] == [(1, 1, "a"), (2, 1, "b"), (3, 2, "c")]
    assert [e.seq for e in store.events("r", after_seq=1, limit=1)] == [2]
    assert [e.seq for e in store.events("r", last=2)] == [2, 3]
    assert store.history("r") == {"p1": ["A", "B"]}
    assert store.get_run("r").step == 2
    # a step that fails part-way leaves nothing behind
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_step("r", 3, "s3", [("d", {}), ("dup", {})], first_seq=3)
    assert store.latest_checkpoint("r") == (2, "s2") and len(store.events("r")) == 3


def test_one_checkpoint_per_run_updated_in_place(store):
    store.create_run(machine="m", run_id="r")
    for i in range(1, 4):
        store.commit_step("r", i, f"s{i}", [])
    assert store._call(lambda c: c.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]) == 1
    assert store.latest_checkpoint("r") == (3, "s3")


async def test_a_step_commit_waits_for_another_writer(store):
    """The inline commit gives way at once to another writer; the queued commit waits its turn."""

    store.create_run(machine="m", run_id="r")
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # e.g. another process writing
    asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
    started = time.perf_counter()
    assert await store.acommit_step("r", 1, "s1", [("e", {})]) == 1
    assert time.perf_counter() - started >= 0.15
    assert store.latest_checkpoint("r") == (1, "s1")
    other.close()


async def test_a_cancelled_waiter_does_not_break_the_store(store):
    """A run cancelled while its commit is queued: the commit still happens, the store keeps working."""

    store.create_run(machine="m", run_id="r")
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # forces the commit onto the store thread, where it waits
    waiter = asyncio.create_task(store.acommit_step("r", 1, "s1", [("e", {})]))
    await asyncio.sleep(0.05)
    waiter.cancel()
    other.execute("COMMIT")
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await store.acommit_step("r", 2, "s2", [("f", {})]) == 2
    assert store.latest_checkpoint("r") == (2, "s2") and len(store.events("r")) == 2
    other.close()


async def test_each_commit_writes_only_what_changed_and_loads_back_exactly(store):
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", durability="sync")
    state = RunState(run_id="r", steps=1, context={"Ctx": {"n": 1}})
    for i in range(3):
        state.paths[f"p{i}"] = PathState(id=f"p{i}", node="A", history=["A"], visits={"A": 1})
    written: list[tuple] = []
    original = store._commit_step

    def spy(conn, run_id, step, text, events, paths, history, maps, *rest):
        written.append((sorted(p for p, _ in paths), history, sorted(maps, key=str)))
        return original(conn, run_id, step, text, events, paths, history, maps, *rest)

    store._commit_step = spy

    async def commit_and_compare():
        await journal.on_step(state, [])
        loaded = load_state(store, "r")[1]
        assert loaded.model_dump() == state.model_dump()
        assert list(loaded.paths) == list(state.paths)  # creation order kept

    await commit_and_compare()
    assert written[-1][0] == ["p0", "p1", "p2"]
    # one path steps: only its row, its new history entry and its changed counter are written
    state.paths["p1"].history.append("B")
    state.paths["p1"].node = "B"
    state.paths["p1"].visits["B"] = 1
    state.steps = 2
    await commit_and_compare()
    assert written[-1] == (["p1"], [("p1", 1, ["B"])], [("p1", "visits", False, {"B": 1})])
    # changes made from outside a path's own step are tracked too
    state.paths["p2"].status = "waiting"                     # attribute (e.g. a barrier)
    state.paths["p0"].inbox.append({"content": "done"})      # list mutation (a background tool)
    state.paths["p0.0"] = PathState(id="p0.0", node="X", history=["X"], parent="p0")  # a spawn
    await commit_and_compare()
    assert written[-1][0] == ["p0", "p0.0", "p2"]
    del state.paths["p0"].inbox[:1]
    state.paths["p1"].visits = {"Z": 3}                      # a map replaced whole
    state.paths["p2"].turns.update(A=2)
    await commit_and_compare()
    assert written[-1][0] == ["p0", "p1", "p2"]
    del state.paths["p0.0"]
    await commit_and_compare()
    assert written[-1][0] == ["p0.0"]
    # a resumed journal starts from the stored state and writes nothing it does not have to
    step, loaded = load_state(store, "r")
    resumed = SQLiteJournal(store, "r", durability="sync")
    resumed.prepare_resume(step, loaded)
    loaded.paths["p2"].history.append("C")
    await resumed.on_step(loaded, [])
    assert written[-1][0] == ["p2"] and written[-1][1] == [("p2", 1, ["C"])]
    # when the run ends its paths are plain PathStates again
    loaded.status = "completed"
    await resumed.on_step(loaded, [])
    assert {type(p) for p in loaded.paths.values()} == {PathState}
    assert load_state(store, "r")[1] == loaded


def test_tracked_containers_track_every_kind_of_change():
    values = TrackedDict({"a": 1})
    values["b"] = 2
    values.update(c=3)
    values |= {"d": 4}
    values.setdefault("e", 5)
    values.pop("a")
    assert values.dirty == {"a", "b", "c", "d", "e"} and values == {"b": 2, "c": 3, "d": 4, "e": 5}
    values.dirty.clear()
    values.clear()
    assert values.dirty == {"b", "c", "d", "e"}
    import copy
    assert type(copy.deepcopy(TrackedDict(x=1))) is dict
    dirty: set = set()
    owner = PathState(id="p", node="A")
    from dygraph.store import journal as journal_module

    journal_module._SINKS[id(owner)] = (dirty, "p")
    try:
        items = TrackedList([1, 2, 3], owner=owner)
        for change in (lambda: items.append(4), lambda: items.extend([5]), lambda: items.insert(0, 0),
                       lambda: items.pop(), lambda: items.remove(0), lambda: items.__setitem__(0, 9),
                       lambda: items.__delitem__(0), lambda: items.sort(), lambda: items.reverse(),
                       lambda: items.__iadd__([7]), lambda: items.clear()):
            dirty.clear()
            change()
            assert dirty == {"p"}
    finally:
        del journal_module._SINKS[id(owner)]


def test_a_run_whose_process_died_is_interrupted(store, monkeypatch):
    store.create_run(machine="m", run_id="alive")
    assert store.get_run("alive").effective_status() is RunStatus.RUNNING
    pid = dead_pid()
    store.create_run(machine="m", run_id="dead")
    store._call(lambda c: c.execute("UPDATE runs SET owner_pid = ? WHERE id = 'dead'", (pid,)), write=True)
    assert store.get_run("dead").effective_status() is RunStatus.INTERRUPTED
    assert [r.id for r in store.list_runs(statuses=["interrupted"])] == ["dead"]
    # another host's run is judged by its heartbeat alone
    store._call(lambda c: c.execute("UPDATE runs SET owner_host = 'elsewhere', heartbeat_at = ? "
                                    "WHERE id = 'dead'", (time.time(),)), write=True)
    assert store.get_run("dead").effective_status() is RunStatus.RUNNING
    monkeypatch.setattr(base, "STALE_AFTER", 0.0)
    assert store.get_run("dead").effective_status() is RunStatus.INTERRUPTED


def test_claiming_a_live_run_is_refused(store, monkeypatch):
    store.create_run(machine="m", run_id="r")
    store._call(lambda c: c.execute("UPDATE runs SET owner_pid = 1 WHERE id = 'r'"), write=True)
    with pytest.raises(RunBusy):  # pid 1 is alive and its heartbeat is fresh
        store.claim_run("r")
    claimed = store.claim_run("r", force=True)
    assert claimed.owner_pid == os.getpid() and claimed.status is RunStatus.RUNNING


@pytest.mark.parametrize("durability", ["sync", "async"])
async def test_a_process_that_lost_its_run_cannot_write_over_the_new_owner(store, durability):
    """E.g. a process paused past the stale limit, whose run another process resumed meanwhile."""
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", durability=durability)
    state = RunState(run_id="r")
    state.paths["p0"] = PathState(id="p0", node="A", history=["A"])
    await journal.on_step(state, [{"type": "run_started"}])
    await journal.flush()
    store._call(lambda c: c.execute("UPDATE runs SET owner_pid = 1 WHERE id = 'r'"), write=True)  # taken over
    state.paths["p0"].history.append("B")
    with pytest.raises(RunTakenOver, match="taken over by process 1"):
        await journal.on_step(state, [{"type": "node_entered"}])
        await journal.flush()  # async: the commit fails in the background and stops the run here
    await journal.flush()  # the failure is reported once; nothing is left to write
    with pytest.raises(RunTakenOver):
        store.update_run("r", status=RunStatus.FAILED, release=True)
    assert store.latest_checkpoint("r")[0] == 1 and len(store.events("r")) == 1
    assert store.require_run("r").owner_pid == 1


def test_cancel_reaches_the_owner_through_its_heartbeat(tmp_path, monkeypatch):
    monkeypatch.setattr("dygraph.store.sqlite.HEARTBEAT_EVERY", 0.05)
    with SQLiteStore(tmp_path / "runs.db") as owner, SQLiteStore(tmp_path / "runs.db") as other:
        owner.create_run(machine="m", run_id="r")
        cancelled = []
        owner.own("r", lambda: cancelled.append("r"))
        assert other.request_cancel("r").cancel_requested
        deadline = time.time() + 5
        while not cancelled and time.time() < deadline:
            time.sleep(0.02)
        assert cancelled == ["r"]
        owner.disown("r")


def test_cancelling_a_run_nobody_runs_cancels_it_at_once(store):
    store.create_run(machine="m", run_id="r")
    store._call(lambda c: c.execute("UPDATE runs SET owner_pid = ? WHERE id = 'r'", (dead_pid(),)), write=True)
    assert store.request_cancel("r").status is RunStatus.CANCELLED
    assert store.get_run("r").effective_status() is RunStatus.CANCELLED
    store.update_run("r", status=RunStatus.COMPLETED)
    assert store.request_cancel("r").status is RunStatus.COMPLETED  # finished runs stay as they are


def call(n: int, name: str = "charge", **extra) -> ToolInvocation:
    invocation = ToolInvocation(run_id="r", path_id="p1", node="Pay", call_id=f"p1:1:1:1:{n}",
                                name=name, arguments={"amount": n})
    for key, value in extra.items():
        setattr(invocation, key, value)
    return invocation


async def test_completed_tool_calls_are_reused_not_repeated(store):
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r")
    assert await journal.tool_started(call(1)) is None  # new: run it
    assert store.tool_call("r", "p1:1:1:1:1").status is ToolCallStatus.STARTED
    await journal.tool_finished(call(1), ToolOutcome(ok=True, value={"receipt": 7}))
    again = await SQLiteJournal(store, "r").tool_started(call(1))  # e.g. after a resume
    assert again == ToolOutcome(ok=True, value={"receipt": 7})
    await journal.tool_started(call(2))
    await journal.tool_finished(call(2), ToolOutcome(ok=False, error="card declined"))
    assert await journal.tool_started(call(2)) == ToolOutcome(ok=False, error="card declined")
    assert store.tool_call("r", "p1:1:1:1:2").status is ToolCallStatus.FAILED


async def test_an_interrupted_call_is_retried_only_when_idempotent(store):
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r")
    await journal.tool_started(call(1))  # ... and the process dies here
    await journal.tool_started(call(2, idempotent=False))
    resumed = SQLiteJournal(store, "r")
    assert await resumed.tool_started(call(1)) is None
    assert store.tool_call("r", "p1:1:1:1:1").attempts == 2
    outcome = await resumed.tool_started(call(2, idempotent=False))
    assert outcome.ok is False and "not idempotent" in outcome.error and "charge" in outcome.error
    assert resumed.surfaced and store.tool_call("r", "p1:1:1:1:2").status is ToolCallStatus.FAILED


async def test_journal_checkpoints_and_resumes_numbering(store):
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", durability="sync")
    state = RunState(run_id="r")
    state.paths["p1"] = PathState(id="p1", node="A", history=["A"])
    await journal.on_step(state, [{"type": "run_started"}, {"type": "node_entered", "node": "A"}])
    state.paths["p1"].history.append("B")
    state.status = "completed"
    await journal.on_step(state, [{"type": "run_completed"}])
    step, loaded = load_state(store, "r")
    assert step == 2 and loaded == state
    assert store.get_run("r").status is RunStatus.COMPLETED
    assert [e.type for e in store.events("r")] == ["run_started", "node_entered", "run_completed"]
    assert store.events("r")[1].payload == {"node": "A"}
    fresh = SQLiteJournal(store, "r")
    fresh.prepare_resume(step, loaded)
    assert (fresh.commits, fresh.next_seq) == (2, 4)


def _stepping_state(run_id: str) -> RunState:
    state = RunState(run_id=run_id)
    state.paths["p1"] = PathState(id="p1", node="N0", history=["N0"])
    return state


async def _step(journal: SQLiteJournal, state: RunState, i: int) -> None:
    path = state.paths["p1"]
    path.node = f"N{i}"
    path.history.append(path.node)
    path.visits[path.node] = 1
    state.steps = i
    await journal.on_step(state, [{"type": "node_entered", "path": "p1", "node": path.node}])


async def test_async_durability_groups_steps_and_commits_them_by_the_deadline(store):
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", commit_interval=0.2)
    state = _stepping_state("r")
    await journal.on_step(state, [{"type": "run_started"}])
    for i in range(1, 6):  # well inside the interval: nothing is committed yet
        await _step(journal, state, i)
    assert store.latest_checkpoint("r") is None and store.events("r") == []
    await asyncio.sleep(0.35)  # the run went quiet: its steps are committed by the deadline, in one commit
    step, loaded = load_state(store, "r")
    assert step == 1 and loaded.paths["p1"].history == [f"N{i}" for i in range(6)]
    assert loaded.paths["p1"].visits == {f"N{i}": 1 for i in range(1, 6)}
    assert [e.seq for e in store.events("r")] == list(range(1, 7))
    # once the interval has passed, the next step commits at once, with the steps queued before it
    journal.commit_interval = 0.0
    await _step(journal, state, 6)
    assert load_state(store, "r")[1].paths["p1"].history[-1] == "N6"
    # the end of the run is committed before `on_step` returns, whatever the interval
    journal.commit_interval = 60
    await _step(journal, state, 7)
    state.status = "completed"
    await journal.on_step(state, [{"type": "run_completed"}])
    step, loaded = load_state(store, "r")
    assert loaded == state and store.get_run("r").status is RunStatus.COMPLETED
    assert [e.seq for e in store.events("r")] == list(range(1, 10))


async def test_async_durability_commits_every_step_before_a_tool_runs(store):
    """Nothing leaves the run before the steps that led to it are committed: a crash can only lose
    steps that a resume computes again."""
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", commit_interval=60)
    state = _stepping_state("r")
    await journal.on_step(state, [{"type": "run_started"}])
    for i in range(1, 4):
        await _step(journal, state, i)
    assert store.latest_checkpoint("r") is None
    assert await journal.tool_started(call(1)) is None
    assert load_state(store, "r")[1].paths["p1"].history == ["N0", "N1", "N2", "N3"]
    assert store.tool_call("r", "p1:1:1:1:1").status is ToolCallStatus.STARTED


async def test_async_durability_commits_before_a_model_is_asked(store):
    from dygraph.agents.base import AgentReply, AgentRequest

    class Agent:
        name = "probe"
        seen_history = None

        async def respond(self, request):
            Agent.seen_history = load_state(store, "r")[1].paths["p1"].history
            return AgentReply(content="ok")

        async def aclose(self):
            pass

    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", commit_interval=60)
    state = _stepping_state("r")
    await journal.on_step(state, [{"type": "run_started"}])
    await _step(journal, state, 1)
    agent = journal.wrap_agent(Agent())
    await agent.respond(AgentRequest(run_id="r", path_id="p1", node="N1", visit=1, round=1, model=None,
                                     system="", messages=[{"role": "user", "content": "go"}], tools=[]))
    assert Agent.seen_history == ["N0", "N1"]


def test_durability_must_be_known(store):
    with pytest.raises(ValueError, match="async, sync"):
        SQLiteJournal(store, "r", durability="eventually")


async def test_async_durability_commits_a_checkpoint_node_before_going_on(store):
    store.create_run(machine="m", run_id="r")
    journal = SQLiteJournal(store, "r", commit_interval=60)
    state = _stepping_state("r")
    await journal.on_step(state, [{"type": "run_started"}])
    await _step(journal, state, 1)
    assert store.latest_checkpoint("r") is None
    state.paths["p1"].history.append("Audit")
    await journal.on_step(state, [{"type": "checkpoint", "path": "p1", "node": "Audit"}])
    assert load_state(store, "r")[1].paths["p1"].history == ["N0", "N1", "Audit"]
