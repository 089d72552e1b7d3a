"""Child process of the crash test: runs (or resumes) one durable run and can SIGKILL itself.

`python _crash_child.py --serve` is a small fork server: it imports everything once, then for each
JSON line on stdin (the arguments of `main`) forks a child that runs `main` and answers with one line:
the child's exit code, or minus the signal that killed it. So a kill point costs no interpreter
start-up. `python _crash_child.py DB RUN_ID start|resume KILL_AT_EVENT KILL_IN_TOOL LOG REPORT [DURABILITY]` runs
`main` directly (a resumed run keeps the durability it was started with).

KILL_AT_EVENT=k kills the process when the run emits its k-th event (mid-step, before the step is
committed); KILL_IN_TOOL=n kills it inside the n-th tool execution of this process, after the tool's
effect and before its result is recorded. 0 disables either. Every tool execution appends its
arguments to EXECUTIONS_LOG, so the test can count real executions.
"""

import asyncio
import json
import os
import signal
import sys

import dygraph
import dygraph.runtime.engine  # noqa: F401 - imported here, once, by the fork server
from dygraph.agents.script import ScriptAgent
from dygraph.runtime import Limits, tool
from dygraph.store import SQLiteStore
from dygraph.store.durable import resume_durably, run_durably

SOURCE = """
machine "Crash"
context Acc { total<number>: 0 }
start -> plan;
task plan { prompt: "plan the work"; }
plan -@async-> worker;
plan -> collect;
plan -writes-> Acc;
task worker { prompt: "work"; }
worker -> w1 -> w2 -> w3 -> finish;
state collect;
collect -> c1 -> c2 -> c3;
c3 -@barrier("all")-> report;
finish -@barrier("all")-> report;
task report { prompt: "report"; }
report -> wrap -> end;
"""

SCRIPT = {
    "plan": [{"rounds": [
        [{"name": "double", "arguments": {"n": 1}}, {"name": "write_Acc", "arguments": {"total": 2}}],
        [{"name": "spawn_async_to_worker", "arguments": {}}, {"name": "spawn_async_to_worker", "arguments": {}},
         {"name": "spawn_async_to_worker", "arguments": {}}],
        [{"name": "double", "arguments": {"n": 3}}],
        [{"name": "transition_to_collect", "arguments": {}}],
    ]}],
    "worker": [{"rounds": [[{"name": "double", "arguments": {"n": 5}}, {"name": "double", "arguments": {"n": 6}}],
                           [{"name": "transition_to_w1", "arguments": {}}]]}],
    "report": [{"rounds": [[{"name": "double", "arguments": {"n": 7}}], [{"name": "transition_to_wrap"}]]}],
}


MACHINE = dygraph.loads(SOURCE)


def main(db: str, run_id: str, mode: str, kill_at_event: int, kill_in_tool: int, log: str, report: str,
         durability: str = "async") -> None:
    executions = 0

    @tool
    async def double(n: int) -> int:
        nonlocal executions
        with open(log, "a") as fh:
            fh.write(f"{n}\n")
        executions += 1
        if executions == kill_in_tool:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(0.001 * (n % 3))  # paths interleave differently at each call
        return 2 * n

    seen = 0

    def on_event(event: dict) -> None:
        nonlocal seen
        seen += 1
        if seen == kill_at_event:
            os.kill(os.getpid(), signal.SIGKILL)

    machine = MACHINE
    with SQLiteStore(db) as store:
        if mode == "start":
            outcome = asyncio.run(run_durably(machine, store=store, agent=ScriptAgent(SCRIPT), tools=[double],
                                              run_id=run_id, limits=Limits(max_steps=500, retry_backoff=0.001),
                                              on_event=on_event, durability=durability))
        else:
            outcome = asyncio.run(resume_durably(store, run_id, agent=ScriptAgent(SCRIPT), tools=[double],
                                                 on_event=on_event, durability=durability))
    with open(report, "w") as fh:
        json.dump({"status": outcome.result.status, "events": seen, "reused_tool_calls": outcome.reused_tool_calls,
                   "reused_exchanges": outcome.reused_exchanges,
                   "surfaced": outcome.surfaced}, fh)


def serve() -> None:
    for line in sys.stdin:
        args = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                main(*args)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(code, flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    serve()
elif __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7],
         *sys.argv[8:9])
