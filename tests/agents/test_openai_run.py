"""`dygraph run --agent openai` end to end: the real CLI in a subprocess, the model a scripted server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openai_server import ScriptedOpenAIServer, tool_call, tool_names

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "runtime"


def dygraph_run(machine: str | Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`dygraph run` on MACHINE (a path, or the name of a file in examples/runtime) with only ENV's OpenAI settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "DYGRAPH_MODEL"}
    return subprocess.run(
        [sys.executable, "-m", "dygraph", "run", str(EXAMPLES / machine if isinstance(machine, str) else machine), "--ephemeral", "--json", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_with_server(server: ScriptedOpenAIServer, machine: str, *args: str) -> tuple[int, dict, str]:
    done = dygraph_run(machine, "--agent", "openai", "--model", "test-model", *args,
                       env={"OPENAI_BASE_URL": server.base_url})
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def history(result: dict) -> dict[str, list[str]]:
    return {p["id"]: p["history"] for p in result["paths"]}


def test_a_decision_with_a_context_write(openai_server):
    openai_server.reply_tool_calls(tool_call("write_Order", {"status": "rejected"}, id="call_write"))
    openai_server.reply_tool_calls(tool_call("transition_to_reject", {"reason": "out of stock"}, id="call_move"))

    code, result, _ = run_with_server(openai_server, "agent-decisions.dygram")

    assert code == 0 and result["status"] == "completed"
    assert history(result) == {"p0": ["start", "review", "reject", "done"]}
    assert result["context"]["Order"]["status"] == "rejected"

    first, second = openai_server.chat_requests
    assert first["model"] == "test-model"  # --model wins over the machine's model attribute
    assert tool_names(first) == ["transition_to_approve", "transition_to_reject", "read_Order", "write_Order"]
    write = next(t for t in first["tools"] if t["function"]["name"] == "write_Order")["function"]
    assert write["parameters"]["properties"]["status"] == {"type": "string", "enum": ["new", "approved", "rejected"]}
    assert first["messages"][0]["role"] == "system"
    assert "2 x lamp" in first["messages"][1]["content"]  # the prompt template was rendered

    # round 2 carries round 1: the assistant's call, then its result under the same id
    assistant, tool = second["messages"][-2:]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_write"]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_write"
    assert "status" in json.loads(tool["content"])["written"]


def test_spawn_tools_and_a_turn_without_transitions(openai_server):
    openai_server.reply_tool_calls(
        tool_call("spawn_async_to_spamCheck", {"reason": "suspicious"}),
        tool_call("transition_to_summary", {"reason": "checks started"}),
    )
    openai_server.reply_tool_calls(tool_call("spawn_async_to_workerA", {}), tool_call("spawn_async_to_workerB", {}))
    openai_server.reply_text("Both workers started.")

    code, result, _ = run_with_server(openai_server, "agent-spawn.dygram")

    assert code == 0 and result["status"] == "completed"
    assert sorted(history(result).values()) == sorted(
        [["start", "triage", "summary", "delegate"], ["spamCheck"], ["workerA"], ["workerB"]]
    )
    triage, delegate, after_spawning = openai_server.chat_requests
    assert tool_names(triage) == ["transition_to_summary", "spawn_async_to_spamCheck", "spawn_async_to_fraudCheck"]
    spawn = triage["tools"][1]["function"]["parameters"]["properties"]
    assert spawn["await_result"]["enum"] == ["none", "first", "completion"]
    assert tool_names(delegate) == ["spawn_async_to_workerA", "spawn_async_to_workerB"]
    results = [m for m in after_spawning["messages"] if m["role"] == "tool"]
    assert [json.loads(m["content"])["status"] for m in results] == ["spawned", "spawned"]


def test_server_errors_and_malformed_arguments_do_not_end_the_run(openai_server):
    openai_server.reply_error(500, "overloaded", retry_after_ms=20)
    openai_server.reply_malformed_arguments("write_Order", '{"status": "approv')
    openai_server.reply_tool_calls(tool_call("write_Order", {"status": "approved"}))
    openai_server.reply_tool_calls(tool_call("transition_to_approve", {"reason": "fixed"}))

    code, result, _ = run_with_server(openai_server, "agent-decisions.dygram")

    assert code == 0 and result["status"] == "completed"
    assert history(result) == {"p0": ["start", "review", "approve", "done"]}
    assert result["context"]["Order"]["status"] == "approved"
    # the retried request was identical; the model was told its arguments were invalid
    bodies = openai_server.chat_requests
    assert bodies[0] == bodies[1]
    error = json.loads(bodies[2]["messages"][-1]["content"])
    assert "not valid JSON" in error["error"]


def test_a_model_without_tools_fails_the_run_with_a_clear_message(openai_server):
    openai_server.reply_tools_unsupported()

    code, result, _ = run_with_server(openai_server, "agent-decisions.dygram")

    assert code == 1 and result["status"] == "failed"
    assert "'test-model'" in result["error"] and "does not support tool calling" in result["error"]
    assert len(openai_server.chat_requests) == 1


def test_no_key_and_no_base_url_is_a_usage_error():
    done = dygraph_run("agent-decisions.dygram", "--agent", "openai", env={})
    assert done.returncode == 2
    assert "OPENAI_API_KEY" in done.stderr and "--base-url" in done.stderr
    assert "Traceback" not in done.stderr


DECIDE = """
machine "Decide"
start -> ask;
Task ask { prompt: "Pick one."; }
ask -> left;
ask -> right;
"""


@pytest.mark.parametrize("via", ["flag", "env"])
def test_base_url_from_flag_or_environment_and_model_from_dygraph_model(openai_server, tmp_path, via):
    machine = tmp_path / "decide.dygram"
    machine.write_text(DECIDE)
    openai_server.reply_tool_calls(tool_call("transition_to_right", {}))
    flag = ["--base-url", openai_server.base_url] if via == "flag" else []
    unused = "http://127.0.0.1:9/v1"  # the flag must win over the environment
    env = {"OPENAI_BASE_URL": openai_server.base_url if via == "env" else unused, "DYGRAPH_MODEL": "env-model"}
    done = dygraph_run(machine, "--agent", "openai", *flag, env=env)
    assert done.returncode == 0, done.stderr
    assert history(json.loads(done.stdout)) == {"p0": ["start", "ask", "right"]}
    assert openai_server.chat_requests[0]["model"] == "env-model"
    assert tool_names(openai_server.chat_requests[0]) == ["transition_to_left", "transition_to_right"]


def test_recorded_exchanges_replay_without_the_server(openai_server, tmp_path):
    openai_server.reply_tool_calls(tool_call("write_Order", {"status": "rejected"}))
    openai_server.reply_tool_calls(tool_call("transition_to_reject", {"reason": "no stock"}))
    recording = tmp_path / "recording"
    home = {"DYGRAPH_HOME": str(tmp_path / "home")}  # a durable run, kept out of the user's store

    def run(*args: str, server: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "dygraph", "run", str(EXAMPLES / "agent-decisions.dygram"), "--json",
             "--agent", "openai", "--model", "test-model", *args],
            env={**os.environ, **home, "OPENAI_BASE_URL": server}, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    recorded = run("--record", str(recording), server=openai_server.base_url)
    openai_server.stop()
    replayed = run("--replay", str(recording), server="http://127.0.0.1:9/v1")  # nothing listens there

    assert len(list(recording.iterdir())) == 2  # one file per exchange (tool round)
    for result in (recorded, replayed):
        assert history(result) == {"p0": ["start", "review", "reject", "done"]}
        assert result["context"]["Order"]["status"] == "rejected"
