"""`dygraph run` is durable by default, and `dygraph runs …` lists, shows, follows, cancels, removes,
exports and resumes runs — against a real store in a temporary DYGRAPH_HOME."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from dygraph.cli import main
from dygraph.store import RunStatus, SQLiteStore

CHAIN = 'machine "Orders"\ncontext Order { total<number>: 10 }\n' + " -> ".join(f"N{i}" for i in range(30)) + ";\n"

# Runs the chain durably, committing every step, and SIGKILLs itself at its 15th event: an interrupted run.
KILLED_RUN = textwrap.dedent("""
    import asyncio, os, signal, sys
    import dygraph
    from dygraph.store import SQLiteStore
    from dygraph.store.durable import run_durably
    seen = 0
    def on_event(event):
        global seen
        seen += 1
        if seen == 15:
            os.kill(os.getpid(), signal.SIGKILL)
    path = sys.argv[1]
    with SQLiteStore() as store:
        asyncio.run(run_durably(dygraph.load(path), store=store, source=open(path).read(), file=path,
                                run_id="crashed", options={"agent": "offline"}, on_event=on_event,
                                durability="sync"))
""")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DYGRAPH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DYGRAPH_HEARTBEAT_EVERY", "0.2")
    return tmp_path / "home"


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "orders.dygram"
    path.write_text(CHAIN)
    return path


def dy(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def interrupted_run(chain) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(chain)], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_run_is_durable_by_default_and_runs_manage_it(home, chain):
    out = json.loads(dy("run", chain, "--agent", "offline", "--id", "first", "--json", "-q"))
    assert out["run_id"] == "first" and out["status"] == "completed"
    assert (home / "runs.db").exists()
    dy("run", chain, "--agent", "offline", "--id", "first", "-q", code=2)  # the id is taken
    dy("run", chain, "--agent", "offline", "--id", "first", "--force", "-q")

    listed = json.loads(dy("runs", "list", "--json"))
    assert [(r["id"], r["status"], r["steps"]) for r in listed] == [("first", "completed", 30)]
    table = dy("runs", "list")
    assert "first" in table and "Orders" in table and "completed" in table
    assert dy("runs", "list", "--status", "failed").strip() == "No runs found."
    assert "first" in dy("runs", "list", "--machine", "orders.dygram")

    shown = dy("runs", "show", "first")
    assert "completed" in shown and "N29" in shown and '"total": 10' in shown and "path_completed" in shown
    logs = dy("runs", "logs", "first").splitlines()
    assert sum("node_entered" in line for line in logs) == 30
    assert json.loads(dy("runs", "logs", "first", "--json").splitlines()[-1])["type"] == "run_completed"

    exported = json.loads(dy("runs", "export", "first"))
    assert exported["source"] == CHAIN and exported["state"]["paths"]["p0"]["history"][-1] == "N29"
    assert len(exported["events"]) == len(logs) and exported["ir"]["title"] == "Orders"

    assert "removed first" in dy("runs", "rm", "first")
    dy("runs", "show", "first", code=2)
    dy("runs", "rm", "first", code=1)


def test_durability_sync_commits_every_step_and_async_the_same_run_in_fewer_commits(home, chain):
    dy("run", chain, "--agent", "offline", "--id", "every-step", "--durability", "sync", "-q")
    dy("run", chain, "--agent", "offline", "--id", "grouped", "-q")
    every, grouped = (json.loads(dy("runs", "export", run_id)) for run_id in ("every-step", "grouped"))
    assert (every["options"]["durability"], grouped["options"]["durability"]) == ("sync", "async")
    assert every["checkpoint"] == every["steps"] + 2  # the start, each step, the end
    assert 1 <= grouped["checkpoint"] < every["checkpoint"]
    assert grouped["state"]["paths"] == every["state"]["paths"]
    strip = lambda events: [{k: v for k, v in e.items() if k not in ("at", "t", "run_id")} for e in events]
    assert strip(grouped["events"]) == strip(every["events"])
    assert "sync durability" in dy("runs", "show", "every-step")
    dy("run", chain, "--durability", "eventually", code=2)


def test_a_killed_run_is_interrupted_and_resumes_where_it_stopped(home, chain):
    interrupted_run(chain)
    assert [r["id"] for r in json.loads(dy("runs", "list", "--status", "interrupted", "--json"))] == ["crashed"]
    with SQLiteStore() as store:
        steps_before = store.require_run("crashed").steps
    assert 0 < steps_before < 30
    out = json.loads(dy("runs", "resume", "crashed", "--json"))
    assert out["status"] == "completed"
    assert out["paths"][0]["history"] == [f"N{i}" for i in range(30)]
    logs = dy("runs", "logs", "crashed")
    assert logs.count("node_entered") == 30 and "run_resumed" in logs  # no step lost or repeated
    dy("runs", "resume", "crashed", code=1)  # finished: nothing to resume


def test_resume_with_the_current_source_checks_the_active_nodes(home, chain):
    interrupted_run(chain)
    with SQLiteStore() as store:
        from dygraph.store.journal import load_state

        node = load_state(store, "crashed")[1].paths["p0"].node
    chain.write_text(CHAIN.replace(f"{node} ->", f"Renamed{node} ->"))
    result = CliRunner().invoke(main, ["runs", "resume", "crashed", "--use-current-source"])
    assert result.exit_code == 1
    assert f"p0 at {node}" in result.output and "no longer exist" in result.output
    chain.write_text(CHAIN.replace("N29;", "N29 -> Extra;"))  # an edit that keeps every active node
    out = json.loads(dy("runs", "resume", "crashed", "--use-current-source", "--json"))
    assert out["status"] == "completed" and out["paths"][0]["history"][-1] == "Extra"
    with SQLiteStore() as store:
        assert "Extra" in store.require_run("crashed").source


def test_cancel_stops_a_run_in_another_process(home, tmp_path):
    machine = tmp_path / "slow.dygram"
    machine.write_text('machine "Slow"\nstart -> work;\ntask work { prompt: "work"; }\nwork -> work;\n')
    (tmp_path / "script.json").write_text(json.dumps(
        {"work": [[{"name": "nap", "arguments": {}}, {"name": "transition_to_work", "arguments": {}}]] * 90}))
    (tmp_path / "tools.py").write_text("import time\nfrom dygraph.runtime import tool\n\n"
                                       "@tool\ndef nap() -> str:\n    time.sleep(0.1)\n    return 'rested'\n")
    proc = subprocess.Popen([sys.executable, "-m", "dygraph", "run", str(machine), "--id", "slow", "-q",
                             "--agent", f"script:{tmp_path / 'script.json'}", "--tools", str(tmp_path / "tools.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with SQLiteStore() as store:
        deadline = time.time() + 30
        while time.time() < deadline:
            run = store.get_run("slow")
            if run is not None and run.steps >= 3:
                break
            time.sleep(0.05)
        assert store.require_run("slow").effective_status() is RunStatus.RUNNING
        assert "cancellation requested" in dy("runs", "cancel", "slow")
        proc.wait(30)
        assert proc.returncode == 1
        run = store.require_run("slow")
        assert run.status is RunStatus.CANCELLED and run.steps < 90
        assert "run_cancelled" in [e.type for e in store.events("slow", last=3)]
    assert "already cancelled" in dy("runs", "cancel", "slow")


def test_detach_starts_the_run_in_the_background(home, chain):
    started = time.time()
    run_id = subprocess.run([sys.executable, "-m", "dygraph", "run", str(chain), "--agent", "offline", "--detach",
                             "--id", "bg"], capture_output=True, text=True, check=True).stdout.strip()
    assert run_id == "bg"
    with SQLiteStore() as store:
        deadline = time.time() + 30
        while time.time() < deadline and store.require_run("bg").status is not RunStatus.COMPLETED:
            time.sleep(0.1)
        assert store.require_run("bg").status is RunStatus.COMPLETED and store.require_run("bg").steps == 30
    follow = dy("runs", "logs", "bg", "--follow")
    assert follow.rstrip().endswith("steps=30") and "run_completed" in follow
    assert (home / "logs" / "bg.log").exists()
    assert time.time() - started < 30


def test_a_detached_run_whose_process_died_can_be_resumed(home, chain):
    from dygraph.store.durable import detach

    with SQLiteStore() as store:
        # a child that dies at once, before it takes the run over
        detach(store, ["--not-an-option"], machine_name="Orders", source=CHAIN, file=str(chain), run_id="lost")
        deadline = time.time() + 30
        while time.time() < deadline and store.require_run("lost").effective_status() is RunStatus.PENDING:
            time.sleep(0.1)
        assert store.require_run("lost").effective_status() is RunStatus.INTERRUPTED
    out = json.loads(dy("runs", "resume", "lost", "--json"))
    assert out["status"] == "completed" and len(out["paths"][0]["history"]) == 30


REVIEW = """machine "Review"
context Order { total<number>: 10 }
start -> review;
task review { prompt: "Review order of {{ Order.total }}"; }
review -> approve;
review -> reject;
review -writes-> Order;
"""
REVIEW_SCRIPT = {"review": [{"rounds": [[{"name": "write_Order", "arguments": {"total": 12}}],
                                        [{"name": "transition_to_approve", "arguments": {}}]]}]}


def test_record_then_replay_reproduces_the_run_and_divergence_fails_clearly(home, tmp_path):
    machine, script, rec = tmp_path / "review.dygram", tmp_path / "script.json", tmp_path / "rec"
    machine.write_text(REVIEW)
    script.write_text(json.dumps(REVIEW_SCRIPT))
    recorded = json.loads(dy("run", machine, "--agent", f"script:{script}", "--record", rec, "--json", "-q"))
    assert sorted(p.name for p in rec.iterdir()) == ["00001-review-v1-r1.json", "00002-review-v1-r2.json"]
    replayed = json.loads(dy("run", machine, "--replay", rec, "--json", "-q"))  # no model, no script
    assert replayed["paths"] == recorded["paths"] and replayed["context"] == {"Order": {"total": 12}}

    machine.write_text(REVIEW.replace("Review order", "Check order"))
    result = CliRunner().invoke(main, ["run", str(machine), "--replay", str(rec), "-q"])
    assert result.exit_code == 1
    assert "replay diverged: path p0 at node review (visit 1, round 1)" in result.output
    assert "Objective: Review order of 10" in result.output and "Objective: Check order of 10" in result.output


def test_an_interrupted_non_idempotent_call_is_surfaced_not_repeated(home, tmp_path):
    machine, script, tools = tmp_path / "pay.dygram", tmp_path / "script.json", tmp_path / "tools.py"
    machine.write_text('machine "Pay"\nstart -> pay;\ntask pay { prompt: "charge the card"; }\npay -> done;\n')
    script.write_text(json.dumps({"pay": [{"rounds": [[{"name": "charge", "arguments": {"amount": 5}}],
                                                      [{"name": "transition_to_done", "arguments": {}}]]}]}))
    tools.write_text(textwrap.dedent("""
        import os, signal
        from dygraph.runtime import tool

        @tool(idempotent=False)
        def charge(amount: int) -> str:
            with open(os.environ["CHARGES"], "a") as fh:
                fh.write(f"{amount}\\n")
            os.kill(os.getpid(), signal.SIGKILL)  # the process dies right after the charge
    """))
    charges = tmp_path / "charges.txt"
    env = {**os.environ, "CHARGES": str(charges)}
    proc = subprocess.run([sys.executable, "-m", "dygraph", "run", str(machine), "--id", "pay", "-q",
                           "--agent", f"script:{script}", "--tools", str(tools)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert json.loads(dy("runs", "list", "--json"))[0]["status"] == "interrupted"

    os.environ["CHARGES"] = str(charges)
    try:
        result = CliRunner().invoke(main, ["runs", "resume", "pay", "--tools", str(tools)])
    finally:
        del os.environ["CHARGES"]
    assert result.exit_code == 1
    assert "tool 'charge'" in result.output and "not idempotent" in result.output
    assert charges.read_text().split() == ["5"]  # charged once, never again
    with SQLiteStore() as store:
        (call,) = store.tool_calls("pay")
        assert call.status.value == "failed" and not call.idempotent and "interrupted" in call.error


def test_ctrl_c_leaves_the_run_resumable(home, tmp_path):
    machine, script, tools = tmp_path / "slow.dygram", tmp_path / "script.json", tmp_path / "tools.py"
    machine.write_text('machine "Slow"\nstart -> work;\ntask work { prompt: "work"; }\nwork -> work;\n')
    script.write_text(json.dumps({"work": [[{"name": "nap", "arguments": {}},
                                            {"name": "transition_to_work", "arguments": {}}]] * 6}))
    tools.write_text("import time\nfrom dygraph.runtime import tool\n\n"
                     "@tool\ndef nap() -> str:\n    time.sleep(0.1)\n    return 'rested'\n")
    proc = subprocess.Popen([sys.executable, "-m", "dygraph", "run", str(machine), "--id", "ctrl", "-q",
                             "--agent", f"script:{script}", "--tools", str(tools)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with SQLiteStore() as store:
        deadline = time.time() + 30
        while time.time() < deadline and (store.get_run("ctrl") is None or store.require_run("ctrl").steps < 2):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
        run = store.require_run("ctrl")
        assert run.effective_status() is RunStatus.INTERRUPTED and run.owner_pid is None
    out = CliRunner().invoke(main, ["runs", "resume", "ctrl", "--tools", str(tools), "--json"])
    result = json.loads(out.output[out.output.index("{"):])
    assert result["status"] == "failed" and "turn 7 was requested" in result["error"]  # the script ran out
    assert result["paths"][0]["history"].count("work") == 7  # no step lost or repeated across the Ctrl-C
