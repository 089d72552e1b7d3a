"""The five async-edge design cases, await_result, @parallel, @map and barriers (decisions 25–27)."""

from __future__ import annotations

from conftest import histories, of_type, run_source, scripted


async def test_case1_all_async_task_with_prompt_gets_spawn_tools_and_completes():
    src = 'start -> t; task t { prompt: "delegate"; } t -@async-> a; t -@async-> b;'
    agent = scripted({"t": [[{"name": "spawn_async_to_a", "arguments": {"reason": "r"}},
                             {"name": "spawn_async_to_b", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert agent.tools_at("t") == ["spawn_async_to_a", "spawn_async_to_b"]
    assert r.status == "completed"
    assert histories(r) == {"p0": ["start", "t"], "p0.0": ["a"], "p0.1": ["b"]}
    assert all(p.status == "completed" for p in r.paths)
    assert len(agent.at("t")) == 2  # round 2 ends the turn: no transition tool, so the path completes


async def test_case2_all_async_prompt_less_state_auto_spawns_and_completes():
    r = await run_source("state s; start -> s; s -@async-> a; s -@async-> b; a -> done;")
    assert histories(r) == {"p0": ["start", "s"], "p0.0": ["a", "done"], "p0.1": ["b"]}
    assert r.path("p0").status == "completed"
    spawned = of_type(r, "path_spawned")
    assert [(e["child"], e["kind"]) for e in spawned] == [("p0.0", "async"), ("p0.1", "async")]


async def test_case3_mixed_edges_offer_transition_and_spawn_tools():
    src = 'start -> t; task t { prompt: "p"; } t -> next; t -@async-> side;'
    agent = scripted({"t": [[{"name": "spawn_async_to_side", "arguments": {}},
                             {"name": "transition_to_next", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert agent.tools_at("t") == ["transition_to_next", "spawn_async_to_side"]
    assert histories(r) == {"p0": ["start", "t", "next"], "p0.0": ["side"]}


async def test_case3b_mixed_edges_on_a_prompt_less_node_spawn_and_move_on():
    r = await run_source("start -> s; s -> next; s -@async-> side;")
    assert histories(r) == {"p0": ["start", "s", "next"], "p0.0": ["side"]}


async def test_case4_async_edge_with_cel_condition():
    src = """
    context Cfg { log<boolean>: false; check<boolean>: true }
    start -> s;
    Cfg -> s;
    s -@async, when: "Cfg.log";-> logger;
    s -@async, when: "Cfg.check";-> checker;
    begin @start;
    begin -> t;
    task t { prompt: "p"; }
    Cfg -> t;
    t -@async, when: "Cfg.log";-> logger2;
    t -@async, when: "Cfg.check";-> checker2;
    """
    agent = scripted({"t": [[{"name": "spawn_async_to_checker2", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    nodes = sorted(p.history[0] for p in r.paths if p.parent)
    assert nodes == ["checker", "checker2"]
    assert "spawn_async_to_logger2" not in agent.tools_at("t")


async def test_case5_spawn_without_transition_keeps_the_path_at_the_node():
    src = 'start -> t; task t { prompt: "p"; } t -> done; t -@async-> work;'
    agent = scripted({"t": [[{"name": "spawn_async_to_work", "arguments": {}}],
                            [{"name": "transition_to_done", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert [q.visit for q in agent.at("t") if q.round == 1] == [1, 2]
    assert histories(r) == {"p0": ["start", "t", "done"], "p0.0": ["work"]}
    # the second turn remembers the first: the spawn and its result are in its conversation
    again = next(q for q in agent.at("t") if q.visit == 2)
    roles = [m["role"] for m in again.messages]
    assert roles[:3] == ["user", "assistant", "tool"] and '"path_id": "p0.0"' in again.messages[2]["content"]
    assert "ended without a transition" in again.messages[-1]["content"]
    assert r.path("p0").conversation == []  # cleared once the path moved on


async def test_spawn_ids_are_deterministic_across_turns():
    src = 'start -> t; task t { prompt: "p"; } t -> done; t -@async-> w;'
    spawn = {"name": "spawn_async_to_w", "arguments": {}}
    agent = scripted({"t": [[spawn, spawn], [spawn, {"name": "transition_to_done", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert sorted(r.state.paths) == ["p0", "p0.0", "p0.1", "p0.2"]


async def test_await_result_first_and_completion():
    src = """
    start -> t;
    task t { prompt: "p"; }
    t -@async-> w;
    task w { prompt: "work"; }
    w -> w2;
    task w2 { prompt: "more"; }
    """
    agent = scripted({
        "t": [[{"name": "spawn_async_to_w", "arguments": {"await_result": True}},
               {"name": "spawn_async_to_w", "arguments": {"await_result": "completion"}}]],
        "w": [{"rounds": [[{"name": "transition_to_w2", "arguments": {}}]], "content": "w says hi"}] * 2,
        "w2": [{"rounds": [], "content": "finished"}] * 2,
    })
    r = await run_source(src, agent=agent)
    results = [e["result"] for e in of_type(r, "tool_result") if e["name"] == "spawn_async_to_w"]
    first, completion = results
    assert first["result"] == {"node": "w", "output": "w says hi", "status": "active", "next": "w2"}
    assert completion["path_status"] == "completed"
    assert completion["history"] == ["w", "w2"] and completion["output"] == "finished"


async def test_parallel_forks_and_other_exits_are_still_taken():
    # decision 27: the reference drops the sibling edge
    r = await run_source("start -> s; s -@parallel-> a; s -@parallel-> b; s -> c;")
    assert histories(r) == {"p0": ["start", "s", "c"], "p0.0": ["a"], "p0.1": ["b"]}


async def test_parallel_on_a_prompted_node_does_not_skip_the_prompt():
    agent = scripted({"t": [[{"name": "transition_to_c", "arguments": {}}]]})
    r = await run_source('start -> t; task t { prompt: "p"; } t -@parallel-> a; t -> c;', agent=agent)
    assert len(agent.at("t")) == 1
    assert histories(r) == {"p0": ["start", "t", "c"], "p0.0": ["a"]}


async def test_map_forks_one_path_per_item_with_item_and_index():
    src = """
    context Job { files<Array<string>>: ["a.txt", "b.txt", "c.txt"] }
    start -> split;
    Job -> split;
    split -@map(Job.files)-> handle;
    task handle { prompt: "Handle {{ item }} (#{{ index }})"; }
    handle -when: "index == 1";-> special;
    handle -> normal;
    """
    agent = scripted({"handle": [[{"name": "transition_to_normal", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert r.status == "completed"
    prompts = sorted(q.messages[0]["content"] for q in agent.at("handle"))
    assert prompts == ["Handle a.txt (#0)", "Handle b.txt (#1)", "Handle c.txt (#2)"]
    kids = {p.id: (p.item, p.index) for p in r.paths if p.parent}
    assert kids == {"p0.0": ("a.txt", 0), "p0.1": ("b.txt", 1), "p0.2": ("c.txt", 2)}
    # conditions see item/index: only #1 is offered the `special` exit
    offered = {q.path_id: [t.name for t in q.tools] for q in agent.at("handle")}
    assert offered["p0.1"] == ["transition_to_special", "transition_to_normal"]
    assert offered["p0.0"] == ["transition_to_normal"]


async def test_map_over_a_non_array_fails_the_path():
    r = await run_source('context Job { n: 3 } start -> s; Job -> s; s -@map(Job.n)-> h;')
    assert r.status == "failed" and [p.id for p in r.paths] == ["p0"]
    assert "@map source Job.n is not an array (it holds 3)" in r.error


async def test_map_over_a_non_array_takes_the_catch_edge():
    r = await run_source('context Job { n: 3 } start -> s; Job -> s; s -@map(Job.n)-> h; s -catch-> oops;')
    assert r.status == "completed" and r.path("p0").history == ["start", "s", "oops"]


async def test_barrier_waits_for_every_path_then_all_continue():
    src = """
    start -@async-> fetchA, fetchB, fetchC;
    fetchA -> slowA;
    slowA -@barrier("sync")-> combine;
    fetchB -@barrier("sync")-> combine;
    fetchC -@barrier("sync")-> combine;
    """
    r = await run_source(src)
    assert r.status == "completed"
    released = of_type(r, "barrier_released")
    assert len(released) == 1 and sorted(released[0]["paths"]) == ["p0.0", "p0.1", "p0.2"]
    assert len(of_type(r, "barrier_waiting")) == 3
    # the release happens only after the slow path arrived
    assert released[0]["seq"] > max(e["seq"] for e in of_type(r, "barrier_waiting"))
    assert all(p.history[-1] == "combine" for p in r.paths if p.parent)


async def test_merge_barrier_continues_one_path_only():
    src = """
    start -@async-> a, b;
    a -@join("j")-> combine;
    b -@join("j")-> combine;
    combine -> finish;
    """
    r = await run_source(src)
    ends = sorted(p.history[-1] for p in r.paths if p.parent)
    assert ends == ["a", "finish"] or ends == ["b", "finish"]
    merged = [e for e in of_type(r, "path_completed") if "merged_into" in e]
    assert len(merged) == 1


async def test_barrier_ignores_paths_that_cannot_reach_it():
    # decision 26: the reference waits for the unrelated main path forever
    src = """
    start -> main;
    main -> m2;
    m2 -> m3;
    start2 @start;
    start2 -@async-> w1, w2;
    w1 -@barrier("b")-> joined;
    w2 -@barrier("b")-> joined;
    """
    r = await run_source(src)
    assert r.status == "completed"
    assert len(of_type(r, "barrier_released")) == 1


async def test_barrier_resets_after_release_so_loops_work():
    src = """
    context Count { n: 0 }
    start -> loop;
    state loop;
    loop -@async-> a, b;
    a -@barrier("x")-> after;
    b -@barrier("x")-> after;
    """
    r = await run_source(src)
    assert len(of_type(r, "barrier_released")) == 1
    src2 = """
    start -> gate;
    state gate;
    gate -@barrier("g")-> body;
    body -when: "errorCount == 0";-> gate2;
    state gate2;
    gate2 -@barrier("g")-> done;
    """
    r2 = await run_source(src2)
    assert r2.state.barriers["g"].releases == 2
    assert r2.path("p0").history == ["start", "gate", "body", "gate2", "done"]


async def test_agent_chosen_transition_honours_the_barrier():
    src = """
    start -@async-> t, u;
    task t { prompt: "p"; }
    t -@barrier("b")-> joined;
    u -> slow;
    slow -@barrier("b")-> joined;
    """
    agent = scripted({"t": [[{"name": "transition_to_joined", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert len(of_type(r, "barrier_released")) == 1
    assert sorted(p.history[-1] for p in r.paths if p.parent) == ["joined", "joined"]


async def test_example_conditional_async_workflow_runs_offline():
    src = """
    machine "Conditional Async Workflow" { maxSteps: 30 }
    context State { validated: false }
    start "Initialize workflow"
    task process "Main processing"
    task validate "Validate data"
    barrier checkpoint "Synchronization point"
    decision routing "Route based on results"
    end "Workflow complete"
    start -@async-> process, validate;
    process -@barrier("checkpoint")-> checkpoint;
    validate -@barrier("checkpoint")-> checkpoint;
    checkpoint -> routing;
    routing -standard-> standardPath;
    routing -fast-> fastPath;
    standardPath, fastPath -> end;
    """
    r = await run_source(src)
    assert r.status == "completed"
    assert all(p.history[-1] == "end" for p in r.paths if p.parent)


async def test_awaiting_completion_of_a_child_at_a_barrier_does_not_deadlock():
    src = """
    start -> boss;
    task boss { prompt: "p"; }
    boss -@async-> worker;
    boss -@barrier("b")-> joined;
    worker -@barrier("b")-> joined;
    """
    agent = scripted({"boss": [[{"name": "spawn_async_to_worker", "arguments": {"await_result": "completion"}},
                                {"name": "transition_to_joined", "arguments": {}}]]})
    import anyio

    with anyio.fail_after(5):
        r = await run_source(src, agent=agent)
    assert r.status == "completed"
    assert histories(r) == {"p0": ["start", "boss", "joined"], "p0.0": ["worker", "joined"]}


async def test_forks_happen_on_arrival_not_when_the_agent_is_asked_again():
    src = """
    context Job { items<Array<string>>: ["a", "b"] }
    start -> t;
    task t { prompt: "p"; }
    Job -> t;
    t -@map(Job.items)-> each;
    t -@parallel-> side;
    t -@auto, @async-> audit;
    t -> done;
    """
    agent = scripted({"t": [[], [{"name": "transition_to_done", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert len([q for q in agent.at("t") if q.round == 1]) == 2
    assert sorted(p.history[0] for p in r.paths if p.parent) == ["audit", "each", "each", "side"]


async def test_self_loop_counts_as_arrival():
    src = 'context C { n<number>: 0 } start -> t; task t { prompt: "p"; } t -writes-> C; ' \
          't -@parallel-> side; t -when: "C.n < 2";-> t; t -> done;'
    agent = scripted({"t": [[{"name": "write_C", "arguments": {"n": 1}}, {"name": "transition_to_t", "arguments": {}}],
                            [{"name": "write_C", "arguments": {"n": 2}}, {"name": "transition_to_done", "arguments": {}}]]})
    r = await run_source(src, agent=agent)
    assert r.path("p0").history == ["start", "t", "t", "done"]
    assert len([p for p in r.paths if p.parent]) == 2  # one fork per arrival at t


async def test_inline_async_flag_is_an_async_edge():
    r = await run_source("start -> s; state s; s -async;-> a; s -async;-> b;")
    assert histories(r) == {"p0": ["start", "s"], "p0.0": ["a"], "p0.1": ["b"]}
