"""`dygraph run`: exit codes, the --json shape, --events JSONL, --set, --agent script:FILE."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dygraph.cli import main

MACHINE = """
machine "Orders"
context Order { qty<number>: 1; status: "new" }
start -> review;
task review { prompt: "Review an order of {{ Order.qty }}"; }
review -writes-> Order;
review -> approve;
review -> reject;
approve -> done;
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (tmp_path / "m.dygram").write_text(MACHINE)
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


def test_json_output_has_the_documented_shape(files):
    r = invoke(str(files / "m.dygram"), "--agent", "offline", "--json", "--ephemeral")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert set(data) == {"status", "steps", "paths", "context", "error"}
    assert data["status"] == "completed" and data["steps"] == 4 and data["error"] is None
    assert data["paths"] == [{"id": "p0", "status": "completed", "history": ["start", "review", "approve", "done"]}]
    assert data["context"] == {"Order": {"qty": 1, "status": "new"}}


def test_durable_json_output_carries_the_run_id(files):
    r = invoke(str(files / "m.dygram"), "--agent", "offline", "--json", "--id", "order-1")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["run_id"] == "order-1" and data["status"] == "completed"


def test_script_agent_set_and_events_file(files):
    script = {"review": [[{"name": "write_Order", "arguments": {"status": "rejected"}},
                          {"name": "transition_to_reject", "arguments": {"reason": "too many"}}]]}
    (files / "s.json").write_text(json.dumps(script))
    events = files / "ev.jsonl"
    r = invoke(str(files / "m.dygram"), "--agent", f"script:{files / 's.json'}", "--json", "--ephemeral",
               "--set", "Order.qty=12", "--events", str(events))
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["paths"][0]["history"] == ["start", "review", "reject"]
    assert data["context"]["Order"] == {"qty": 12, "status": "rejected"}
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["seq"] for e in lines] == list(range(len(lines)))
    kinds = [e["type"] for e in lines]
    assert kinds[0] == "run_started" and kinds[-1] == "run_completed"
    for kind in ("node_entered", "transition", "agent_turn", "tool_called", "tool_result", "path_completed"):
        assert kind in kinds
    turn = next(e for e in lines if e["type"] == "agent_turn")
    assert turn["node"] == "review" and turn["tool_calls"] == ["write_Order", "transition_to_reject"]


def test_failed_run_exits_1_with_the_error(files):
    (files / "loop.dygram").write_text("start -> a; a -> b; b -> a;")
    r = invoke(str(files / "loop.dygram"), "--max-steps", "5", "--json", "--ephemeral")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["status"] == "failed" and "step limit reached (5" in data["error"]


def test_usage_errors_exit_2_without_traceback(files):
    assert invoke(str(files / "missing.dygram")).exit_code == 2
    r = invoke(str(files / "m.dygram"), "--set", "nonsense")
    assert r.exit_code == 2 and "CONTEXT.ATTRIBUTE=VALUE" in r.output
    r = invoke(str(files / "m.dygram"), "--set", "Nope.x=1", "--ephemeral")
    assert r.exit_code == 2 and "no context node 'Nope'" in r.output
    r = invoke(str(files / "m.dygram"), "--agent", "bogus")
    assert r.exit_code == 2 and "unknown agent 'bogus'" in r.output
    r = invoke(str(files / "m.dygram"), "--agent", f"script:{files / 'none.json'}")
    assert r.exit_code == 2 and "cannot read script" in r.output
    r = invoke(str(files / "m.dygram"), "--ephemeral", "--events", str(files / "no" / "such" / "dir.jsonl"))
    assert r.exit_code == 2 and "--events" in r.output
    (files / "broken.py").write_text("raise RuntimeError('boom')")
    r = invoke(str(files / "m.dygram"), "--ephemeral", "--tools", str(files / "broken.py"))
    assert r.exit_code == 2 and "RuntimeError: boom" in r.output


def test_syntax_errors_are_diagnostics_not_tracebacks(files):
    (files / "bad.dygram").write_text("start -> ;")
    r = invoke(str(files / "bad.dygram"))
    assert r.exit_code == 1
    assert "DG1" in r.output and "Traceback" not in r.output


def test_human_summary_and_offline_notice(files):
    r = invoke(str(files / "m.dygram"), "--ephemeral")
    assert r.exit_code == 0
    assert "not an LLM" in r.stderr
    assert "completed" in r.stdout and "start → review → approve → done" in r.stdout


def test_tools_file_with_background_tool(files):
    examples = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "runtime"
    r = invoke(str(examples / "async-tools.dygram"), "--agent", f"script:{examples / 'async-tools.script.json'}",
               "--tools", str(examples / "async-tools.py"), "--json", "--ephemeral", "--events",
               str(files / "ev.jsonl"))
    assert r.exit_code == 0, r.output
    kinds = [json.loads(line)["type"] for line in (files / "ev.jsonl").read_text().splitlines()]
    assert kinds.count("async_tool_started") == 1 and kinds.count("async_tool_finished") == 1


SLOW = 'start -> work; task work { prompt: "work"; } work -> work;'
SLOW_TOOLS = '''
import os
import anyio
from dygraph.runtime import tool

@tool
async def nap() -> str:
    open(os.environ["NAP_MARKER"], "w").close()
    try:
        await anyio.sleep(30)
    finally:
        print("nap cleaned up", flush=True)
'''


@pytest.mark.parametrize("mode, stop", [("--ephemeral", "SIGINT"), ("durable", "SIGINT"), ("durable", "SIGTERM")])
def test_ctrl_c_and_sigterm_stop_tools_cleanly(files, mode, stop):
    import os
    import signal
    import subprocess
    import sys
    import time

    (files / "slow.dygram").write_text(SLOW)
    (files / "tools.py").write_text(SLOW_TOOLS)
    (files / "s.json").write_text(json.dumps({"work": [[{"name": "nap", "arguments": {}}]]}))
    events = files / "ev.jsonl"
    args = [sys.executable, "-m", "dygraph", "run", str(files / "slow.dygram"), "--agent", f"script:{files / 's.json'}",
            "--tools", str(files / "tools.py"), "--events", str(events), "-q"]
    if mode != "durable":
        args.append(mode)
    marker = files / "napping"
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NAP_MARKER": str(marker)})
    deadline = time.time() + 30
    while time.time() < deadline and not marker.exists():
        time.sleep(0.05)
    proc.send_signal(getattr(signal, stop))
    out, err = proc.communicate(timeout=30)
    assert "nap cleaned up" in out
    if mode == "durable":
        assert proc.returncode == 130 and "dygraph runs resume" in err
    else:
        assert proc.returncode == 1
        assert json.loads(events.read_text().splitlines()[-1])["type"] == "run_cancelled"
    assert "Traceback" not in err
