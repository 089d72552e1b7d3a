"""Child process for the cross-process test: `python _concurrent_writer.py DB PREFIX RUNS STEPS DURABILITY`."""

import asyncio
import sys

from dygraph.runtime.state import PathState, RunState
from dygraph.store import SQLiteStore
from dygraph.store.journal import SQLiteJournal


async def one_run(store: SQLiteStore, run_id: str, steps: int, durability: str) -> None:
    store.create_run(machine="chain", run_id=run_id)
    journal = SQLiteJournal(store, run_id, durability=durability, commit_interval=0.001)
    state = RunState(run_id=run_id)
    state.paths["p1"] = PathState(id="p1", node="N0", history=["N0"])
    for i in range(1, steps + 1):
        path = state.paths["p1"]
        path.node = f"N{i}"
        path.history.append(path.node)
        state.steps = i
        if i % 10 == 0:  # a second path appears now and then
            state.paths[f"p{i}"] = PathState(id=f"p{i}", node=f"S{i}", history=[f"S{i}"])
        await journal.on_step(state, [{"type": "node_entered", "path": "p1", "node": path.node},
                                      {"type": "transition", "path": "p1", "to": path.node}])
        await asyncio.sleep(0.0002 * (i % 3))  # runs interleave; async durability groups some steps
    state.status = "completed"
    await journal.on_step(state, [{"type": "run_completed"}])


async def main(db: str, prefix: str, runs: int, steps: int, durability: str) -> None:
    store = SQLiteStore(db)
    try:
        await asyncio.gather(*(one_run(store, f"{prefix}-{n}", steps, durability) for n in range(runs)))
    finally:
        store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
