"""Crash test: kill -9 a durable run at seeded random points, resume it, and get the same run.

Each scenario runs `_crash_child.py` in subprocesses (forked from a preloaded fork server, so a kill
point costs no interpreter start-up) that SIGKILL themselves at their k-th event
(mid-step, before the step's commit) or inside its n-th tool execution (after the tool's effect,
before its result is recorded); some scenarios are killed again while resuming. After the final
resume the run must equal an uninterrupted one: same paths and histories, same context and step
count, each path's events stored once and in order, the same tool calls — and no completed tool call
executed again (every execution is accounted for by a recorded attempt).
"""

import json
import random
import subprocess
import sys
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dygraph.store import SQLiteStore
from dygraph.store.journal import load_state

CHILD = Path(__file__).parent / "_crash_child.py"


class ForkServer:
    """One `_crash_child.py --serve` process per worker thread."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, str(CHILD), "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, *args) -> int:
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


_servers = threading.local()
_all_servers: list[ForkServer] = []


def fork_server() -> ForkServer:
    if not hasattr(_servers, "server"):
        _servers.server = ForkServer()
        _all_servers.append(_servers.server)
    return _servers.server
SEED = 20261125
KILL_POINTS = 24
WORKERS = 4


def child(db: Path, run_id: str, mode: str, log: Path, *, at_event: int = 0, in_tool: int = 0,
          durability: str = "async"):
    report = log.with_suffix(f".{mode}.json")
    report.unlink(missing_ok=True)
    code = fork_server().run(str(db), run_id, mode, at_event, in_tool, str(log), str(report), durability)
    killed = code == -9
    assert killed or code == 0, f"{run_id} {mode}: exit code {code}"
    return killed, (json.loads(report.read_text()) if not killed else None)


def snapshot(db: Path, run_id: str) -> dict:
    with SQLiteStore(db) as store:
        step, state = load_state(store, run_id)
        per_path = defaultdict(list)
        for event in store.events(run_id):
            if event.type in ("node_entered", "path_spawned", "transition", "path_completed"):
                per_path[event.payload.get("path")].append((event.type, event.payload.get("node"),
                                                            event.payload.get("child"), event.payload.get("to")))
        calls = store.tool_calls(run_id)
        return {
            "status": state.status,
            "steps": state.steps,
            "histories": {p.id: p.history for p in state.paths.values()},
            "path_status": {p.id: p.status for p in state.paths.values()},
            "context": state.context,
            "events_by_path": dict(per_path),
            "calls": {c.call_id: (c.name, c.arguments, c.status.value, c.result) for c in calls},
            "exchanges": {x.key: x.reply for x in store.llm_exchanges(run_id)},
            "attempts": sum(c.attempts for c in calls),
            "run_status": store.require_run(run_id).status.value,
        }


def executions(log: Path) -> int:
    return len(log.read_text().split()) if log.exists() else 0


@pytest.fixture(scope="module", autouse=True)
def close_servers():
    yield
    for server in _all_servers:
        server.close()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baseline")
    killed, report = child(tmp / "runs.db", "base", "start", tmp / "exec.log", durability="sync")
    assert not killed and report["status"] == "completed"
    return {"events": report["events"], "executions": executions(tmp / "exec.log"),
            **snapshot(tmp / "runs.db", "base")}


def scenarios(total_events: int, total_tools: int) -> list[dict]:
    rng = random.Random(SEED)
    chosen = []
    for n in range(KILL_POINTS):
        if n % 4 == 3:  # inside a tool, after its effect
            chosen.append({"in_tool": rng.randint(1, total_tools)})
        else:
            chosen.append({"at_event": rng.randint(1, total_events - 1)})
        if n % 3 == 0:  # killed again while resuming
            chosen[-1]["again_at"] = rng.randint(1, total_events // 2)
    return chosen


def crash_and_resume(db: Path, tmp: Path, n: int, scenario: dict, durability: str) -> tuple[dict, dict]:
    run_id, log = f"crash-{n}", tmp / f"exec-{n}.log"
    kills = 0
    killed, _ = child(db, run_id, "start", log, at_event=scenario.get("at_event", 0),
                      in_tool=scenario.get("in_tool", 0), durability=durability)
    kills += killed
    if killed and "again_at" in scenario:
        killed, _ = child(db, run_id, "resume", log, at_event=scenario["again_at"])
        kills += killed
    report = None
    if killed:
        killed, report = child(db, run_id, "resume", log)
        assert not killed
    result = snapshot(db, run_id)
    result.update(kills=kills, executions=executions(log), report=report)
    return scenario, result


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_run(baseline, tmp_path, durability):
    """The baseline ran with `sync` durability: with `async`, steps lost in a crash are computed again
    on resume, and the run must still come out the same."""
    db = tmp_path / "runs.db"
    SQLiteStore(db).close()
    plan = scenarios(baseline["events"], baseline["executions"])
    assert len(plan) >= 20
    with ThreadPoolExecutor(WORKERS) as pool:  # scenarios share one store file, as real runs do
        results = list(pool.map(lambda item: crash_and_resume(db, tmp_path, *item, durability), enumerate(plan)))

    reused = reused_replies = 0
    for scenario, got in results:
        where = f"scenario {scenario}"
        assert got["kills"] >= 1, f"{where}: the kill point was never reached"
        assert got["status"] == "completed" and got["run_status"] == "completed", where
        for key in ("steps", "histories", "path_status", "context", "events_by_path"):
            assert got[key] == baseline[key], f"{where}: {key} differs"
        # the same tool calls, each completed once with the same result
        assert got["calls"] == baseline["calls"], where
        # every execution follows a recorded attempt (a kill can fall between the two), and an
        # attempt is only recorded for a call that never completed: so no completed call ran again
        assert len(got["calls"]) <= got["executions"] <= got["attempts"], where
        assert got["attempts"] - len(got["calls"]) <= got["kills"] * 4, where
        # one stored reply per agent request, the same as in the uninterrupted run
        assert got["exchanges"] == baseline["exchanges"], where
        reused += got["report"]["reused_tool_calls"] if got["report"] else 0
        reused_replies += got["report"]["reused_exchanges"] if got["report"] else 0
    assert reused > 0  # resumed runs did reuse stored tool results
    assert reused_replies > 0  # ... and agent replies already stored (a resumed turn does not pay twice)

    with SQLiteStore(db) as store:
        assert store.integrity_check() == "ok"
