"""Start nodes, automatic stepping, conditions, state modules, prompts and @auto (decisions 19–24)."""

from __future__ import annotations

from conftest import histories, of_type, run_source, scripted

import dygraph
from dygraph.runtime import Runtime
from dygraph.runtime.graph import Program


def starts(source: str) -> list[str]:
    return Program(dygraph.loads(source)).starts


def test_start_nodes_follow_the_reference_rules():
    assert starts("a -> b; start -> c;") == ["start"]
    assert starts("a -> b; x @start; x -> b;") == ["x"]
    assert starts("init boot; boot -> b; a -> b;") == ["boot"]
    assert starts("a -> b; c -> b;") == ["a", "c"]
    # context nodes (and alias types) are never start nodes
    assert starts("context Ctx { n: 1 } input In { x: 1 } a -> b;") == ["a"]


async def test_prompt_less_chain_runs_to_the_terminal_node():
    r = await run_source("start -> a; a -> b; b -> end;")
    assert r.status == "completed"
    assert histories(r) == {"p0": ["start", "a", "b", "end"]}
    assert r.steps == 4
    assert [e["type"] for e in r.events][:2] == ["run_started", "node_entered"]
    assert r.events[-1]["type"] == "run_completed"


async def test_true_condition_wins_then_priority_then_declaration_order():
    src = """
    context Ctx { n: 5 }
    start -> check;
    Ctx -> check;
    check -when: "Ctx.n > 10";-> big;
    check -@priority(2), when: "Ctx.n > 1";-> second;
    check -@priority(1), when: "Ctx.n > 2";-> first;
    check -> otherwise;
    """
    r = await run_source(src)
    assert r.path("p0").history == ["start", "check", "first"]


async def test_unconditioned_exit_is_the_else_branch():
    src = 'context Ctx { n: 0 } start -> check; check -when: "Ctx.n > 1";-> big; check -> small;'
    r = await run_source(src)
    assert r.path("p0").history[-1] == "small"


async def test_all_conditions_false_fails_the_path_clearly():
    r = await run_source('context Ctx { n: 0 } start -when: "Ctx.n > 1";-> big;')
    assert r.status == "failed"
    assert "every exit condition is false" in r.error


async def test_cel_error_makes_the_condition_false_and_is_a_diagnostic():
    # decision 19: the reference takes the erroring edge; we do not
    r = await run_source('start -when: "Missing.x > 1";-> wrong; start -> right;')
    assert r.path("p0").history == ["start", "right"]
    diags = of_type(r, "diagnostic")
    assert diags and "Missing" in diags[0]["message"] and diags[0]["expression"] == "Missing.x > 1"


async def test_state_with_two_plain_exits_takes_the_first_by_priority():
    r = await run_source("state s; start -> s; s -> a; s -@priority(1)-> b;")
    assert r.path("p0").history == ["start", "s", "b"]


async def test_untyped_node_with_two_plain_exits_asks_the_agent_with_its_title():
    agent = scripted({"pick": [[{"name": "transition_to_b", "arguments": {}}]]})
    r = await run_source('start -> pick; pick "Which way?"; pick -> a; pick -> b;', agent=agent)
    assert r.path("p0").history == ["start", "pick", "b"]
    (req,) = agent.at("pick")
    assert req.messages[0]["content"] == "Which way?"
    assert [t.name for t in req.tools] == ["transition_to_a", "transition_to_b"]


async def test_state_module_entry_and_exit_through_the_parent():
    src = 'start -> M; state M { task a "A"; task b "B"; a -> b; } M -> after;'
    r = await run_source(src)
    assert r.path("p0").history == ["start", "M.a", "M.b", "after"]


async def test_agent_transition_enters_modules_too():
    agent = scripted({"t": [[{"name": "transition_to_M", "arguments": {}}]]})
    src = 'start -> t; task t { prompt: "go"; } t -> M; state M { task a "A"; } M -> after;'
    r = await run_source(src, agent=agent)
    assert r.path("p0").history == ["start", "t", "M.a", "after"]


async def test_prompt_is_never_skipped_even_with_a_single_exit():
    agent = scripted({"t": [[{"name": "transition_to_b", "arguments": {"reason": "done"}}]]})
    r = await run_source('start -> t; task t { prompt: "do it"; } t -> b;', agent=agent)
    assert len(agent.at("t")) == 1
    assert r.path("p0").history == ["start", "t", "b"]
    t = [e for e in of_type(r, "transition") if e["from"] == "t"][0]
    assert t["reason"] == "done"


async def test_auto_exit_is_taken_after_the_agent_turn_and_not_offered():
    src = """
    context Ctx { ready<boolean>: false }
    start -> t;
    task t { prompt: "prepare"; }
    t -writes-> Ctx;
    t -@auto, when: "Ctx.ready";-> next;
    """
    agent = scripted({"t": [[{"name": "write_Ctx", "arguments": {"ready": True}}]]})
    r = await run_source(src, agent=agent)
    assert agent.tools_at("t") == ["read_Ctx", "write_Ctx"]
    assert r.path("p0").history == ["start", "t", "next"]
    assert r.context["Ctx"]["ready"] is True


async def test_exit_offered_only_when_its_condition_is_true():
    # decision 20: the reference offers it only while false
    src = """
    context Ctx { n: 3 }
    start -> t;
    Ctx -> t;
    task t { prompt: "choose"; }
    t -when: "Ctx.n > 1";-> yes;
    t -when: "Ctx.n > 100";-> no;
    """
    agent = scripted({"t": [[{"name": "transition_to_yes", "arguments": {}}]]})
    await run_source(src, agent=agent)
    assert agent.tools_at("t") == ["transition_to_yes", "read_Ctx"]


async def test_prompted_terminal_runs_once_and_completes():
    # decision 22: the reference calls the model forever
    agent = scripted({"summary": [{"rounds": [], "content": "all done"}]})
    r = await run_source('start -> summary; task summary { prompt: "sum up"; }', agent=agent)
    assert r.status == "completed"
    assert len(agent.at("summary")) == 1
    assert r.path("p0").output == "all done"


async def test_turn_without_transition_asks_again_next_step():
    agent = scripted({"t": [[], [{"name": "transition_to_b", "arguments": {}}]]})
    r = await run_source('start -> t; task t { prompt: "p"; } t -> b;', agent=agent)
    assert [q.visit for q in agent.at("t") if q.round == 1] == [1, 2]
    assert r.path("p0").history == ["start", "t", "b"]
    assert r.path("p0").visits["t"] == 2


async def test_prompt_templates_are_rendered_with_runtime_values():
    src = """
    context Req { kind: "pdf"; pages: 3 }
    start -> t;
    Req -> t;
    task t { prompt: "Make a {{ Req.kind }} of {{ Req.pages + 1 }} pages ({{ Nope.x }})"; }
    """
    agent = scripted({"t": [[]]})
    r = await run_source(src, agent=agent)
    (req,) = agent.at("t")
    assert req.messages[0]["content"] == "Make a pdf of 4 pages ({{ Nope.x }})"
    assert any("Nope" in d["message"] for d in of_type(r, "diagnostic"))
    assert "Make a pdf of 4 pages" in req.system


async def test_machine_attributes_and_error_count_are_in_scope():
    src = 'machine "M" { env: "prod" } start -when: "machine.env == \'prod\' && errorCount == 0";-> prod; start -> dev;'
    r = await run_source(src)
    assert r.path("p0").history[-1] == "prod"


async def test_model_precedence_node_then_cli_then_config_then_env(monkeypatch):
    src = 'machine "M" { model: "machine-model" } start -> a; task a { prompt: "p"; model: "node-model"; } a -> b; task b { prompt: "p"; }'
    agent = scripted({"a": [[{"name": "transition_to_b", "arguments": {}}]], "b": [[]]})
    await Runtime(dygraph.loads(src), agent=agent, model="cli-model").run()
    assert [r.model for r in agent.requests if r.round == 1] == ["node-model", "cli-model"]
    agent = scripted({"a": [[{"name": "transition_to_b", "arguments": {}}]], "b": [[]]})
    await Runtime(dygraph.loads(src), agent=agent).run()
    assert agent.at("b")[0].model == "machine-model"
    monkeypatch.setenv("DYGRAPH_MODEL", "env-model")
    agent = scripted({"b": [[]]})
    await Runtime(dygraph.loads('start -> b; task b { prompt: "p"; }'), agent=agent).run()
    assert agent.at("b")[0].model == "env-model"


async def test_inferred_attribute_edges_are_data_not_control():
    r = await run_source('start -> t; task t { note: "review"; } review "Review";')
    assert r.path("p0").history == ["start", "t"]


async def test_active_state_is_the_last_state_on_the_path():
    src = """
    state Review;
    start -> Review;
    Review -> check;
    check -when: "activeState == 'Review'";-> fromReview;
    check -> elsewhere;
    """
    r = await run_source(src)
    assert r.path("p0").history[-1] == "fromReview"


async def test_auto_async_exit_spawns_while_the_path_moves_on():
    r = await run_source("start -> s; s -@auto, @async-> side; s -> main;")
    assert histories(r) == {"p0": ["start", "s", "main"], "p0.0": ["side"]}
    assert of_type(r, "path_spawned")[0]["kind"] == "auto-async"


async def test_prose_answer_gets_one_reminder_to_transition():
    agent = scripted({"t": [{"rounds": [[], [{"name": "transition_to_b", "arguments": {}}]], "content": "thinking"}]})
    r = await run_source('start -> t; task t { prompt: "p"; } t -> b;', agent=agent)
    assert r.path("p0").history == ["start", "t", "b"] and r.path("p0").visits["t"] == 1
    second = agent.at("t")[1]
    assert second.round == 2 and "transition_to_*" in second.messages[-1]["content"]
    assert second.messages[-1]["role"] == "user"


async def test_current_node_attributes_are_in_scope_by_node_name():
    src = """
    context C { score<number>: 7 }
    start -> check;
    state check { threshold<number>: 5; }
    C -> check;
    check -when: "C.score > check.threshold";-> high;
    check -> low;
    """
    r = await run_source(src)
    assert r.path("p0").history[-1] == "high"


async def test_question_of_an_ambiguous_node_is_rendered():
    agent = scripted({"pick": [[{"name": "transition_to_a", "arguments": {}}]]})
    src = 'context C { n: 4 } start -> pick; pick "Route {{ C.n }} items"; C -> pick; pick -> a; pick -> b;'
    await run_source(src, agent=agent)
    assert agent.at("pick")[0].messages[0]["content"] == "Route 4 items"


async def test_checkpoint_annotation_marks_the_step_commit():
    r = await run_source("start -> a; a @checkpoint; a -> b;")
    marks = of_type(r, "checkpoint")
    assert [(e["path"], e["node"]) for e in marks] == [("p0", "a")]
