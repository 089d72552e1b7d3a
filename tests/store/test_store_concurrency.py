"""Many runs writing at once — in one process and from two processes — leave a consistent store."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from dygraph.store import RunStatus, SQLiteStore
from dygraph.store.journal import load_state
from dygraph.store.sqlite import SCHEMA_VERSION

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _concurrent_writer import main as write_runs  # noqa: E402

STEPS = 40


def assert_consistent(db: Path, prefixes: list[str], runs: int, durability: str) -> None:
    with SQLiteStore(db) as store:
        assert store.integrity_check() == "ok"
        listed = {r.id for r in store.list_runs()}
        for prefix in prefixes:
            for n in range(runs):
                run_id = f"{prefix}-{n}"
                assert run_id in listed
                run = store.require_run(run_id)
                assert run.status is RunStatus.COMPLETED
                events = store.events(run_id)
                # every step's two events, then run_completed; numbered without gaps or repeats
                assert [e.seq for e in events] == list(range(1, 2 * STEPS + 2))
                assert [e.payload.get("node") or e.payload["to"] for e in events[:-1]] == [f"N{i}" for i in range(1, STEPS + 1) for _ in (0, 1)]
                assert events[-1].type == "run_completed"
                commits = [e.step for e in events]
                step, state = load_state(store, run_id)
                if durability == "sync":  # one commit per step
                    assert commits[:-1] == [i for i in range(1, STEPS + 1) for _ in (0, 1)]
                    assert step == STEPS + 1
                else:  # steps grouped into fewer commits, in order
                    assert commits == sorted(commits) and commits[-1] == step <= STEPS + 1
                assert step == run.step and run.steps == STEPS
                assert state.paths["p1"].history == [f"N{i}" for i in range(STEPS + 1)]
                assert len(state.paths) == 1 + STEPS // 10
                assert state.status == "completed"


@pytest.mark.parametrize("durability", ["async", "sync"])
async def test_24_concurrent_runs_in_one_process(tmp_path, durability):
    db = tmp_path / "runs.db"
    await write_runs(str(db), "solo", 24, STEPS, durability)
    assert_consistent(db, ["solo"], 24, durability)


def write_from_processes(db: Path, prefixes: list[str], runs: int, durability: str) -> None:
    children = [subprocess.Popen([sys.executable, str(HERE / "_concurrent_writer.py"), str(db), name,
                                  str(runs), str(STEPS), durability], stderr=subprocess.PIPE, text=True)
                for name in prefixes]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    assert_consistent(db, prefixes, runs, durability)


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_24_concurrent_runs_in_each_of_two_processes(tmp_path, durability):
    db = tmp_path / "runs.db"
    SQLiteStore(db).close()  # the schema exists before both start
    write_from_processes(db, ["left", "right"], 24, durability)


def test_two_processes_create_the_schema_at_once(tmp_path):
    db = tmp_path / "fresh.db"
    write_from_processes(db, ["a", "b"], 3, "async")
    with SQLiteStore(db) as store:
        assert store.schema_version() == SCHEMA_VERSION


async def test_group_commit_isolates_a_failing_write(tmp_path):
    """Writes queued together share a transaction; one failing write must not undo the others."""
    with SQLiteStore(tmp_path / "runs.db") as store:
        store.create_run(machine="m", run_id="taken")

        async def create(run_id):
            return await asyncio.to_thread(store.create_run, machine="m", run_id=run_id)

        results = await asyncio.gather(*(create(i) for i in ["a", "taken", "b", "c"]),
                                       return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["RunRecord", "RunExists", "RunRecord", "RunRecord"]
        assert {r.id for r in store.list_runs()} == {"taken", "a", "b", "c"}
