"""One test per syntax feature (reference §20 checklist and decisions 2–6), asserting the IR."""

from __future__ import annotations

import textwrap

import pytest

import dygraph
from dygraph.ir import Machine


def load(src: str) -> Machine:
    return dygraph.loads(textwrap.dedent(src))


def edges(m: Machine) -> list[tuple[str, str, str]]:
    return [(e.source, e.target, e.arrow) for e in m.edges if not e.inferred]


def test_comments_are_ignored():
    m = load("""
        // line comment
        /* block
           comment */ a -> b; // trailing
    """)
    assert edges(m) == [("a", "b", "->")]


def test_identifiers_are_case_sensitive():
    m = load("User; user; USER;")
    assert [n.path for n in m.nodes] == ["User", "user", "USER"]


@pytest.mark.parametrize("src, value", [
    ('x: "a\\nb";', "a\nb"),
    ("x: 'say \"hi\"';", 'say "hi"'),
    ('x: "multi\nline";', "multi\nline"),
    ('x: "\\q";', "q"),
])
def test_strings_and_escapes(src, value):
    assert load(src).attribute("x").value == value


@pytest.mark.parametrize("text, value", [("42", 42), ("19.99", 19.99), ("1.5e10", 1.5e10), ("-273.15", -273.15),
                                         ("-1", -1)])
def test_numbers_including_signed(text, value):
    a = load(f"machine \"M\" {{ n: {text}; }}").attribute("n")
    assert a.value == value and a.kind == "number"


def test_quoted_strings_stay_strings_and_null_is_null():
    m = load('Task t { version: "1.0"; zip: "12345"; nothing: null; yes: true; ref: #envKey; color: blue; }')
    t = m.node("t")
    assert t.attr_value("version") == "1.0" and t.attribute("version").kind == "string"
    assert t.attr_value("zip") == "12345"
    assert t.attribute("nothing").kind == "null" and t.attr_value("nothing", "missing") is None
    assert t.attr_value("yes") is True
    assert t.attr_value("ref") == "#envKey" and t.attribute("ref").kind == "external"
    assert t.attr_value("color") == "blue" and t.attribute("color").kind == "identifier"


def test_machine_header_annotations_and_attributes():
    m = load("""
        machine "API Service" @Critical @Version("2.0") {
            version: "1.0.0";
        };
        description: "root attribute";
    """)
    assert m.title == "API Service"
    assert [a.name for a in m.annotations] == ["Critical", "Version"]
    assert m.annotation("Version").value == "2.0"
    assert [a.name for a in m.attributes] == ["version", "description"]


def test_headerless_file():
    m = load("Start -> Process -> End;")
    assert m.title is None and edges(m) == [("Start", "Process", "->"), ("Process", "End", "->")]


def test_typed_node_with_title_annotations_and_body():
    m = load("""
        Task process "Process the data" @Critical @Async {
            temperature: 0.7;
        };
    """)
    n = m.node("process")
    assert (n.type, n.title) == ("Task", "Process the data")
    assert [a.name for a in n.annotations] == ["Critical", "Async"]
    assert n.attr_value("temperature") == 0.7


def test_title_and_annotations_in_either_order():
    a = load('Task a @Critical "T";').node("a")
    b = load('Task a "T" @Critical;').node("a")
    assert (a.title, [x.name for x in a.annotations]) == (b.title, [x.name for x in b.annotations]) == (
        "T", ["Critical"])


def test_annotation_arguments_of_every_kind():
    m = load("""
        Task t @weight(5) @Version("2.0") @priority(high) @ref(#x) @style(color: red; penwidth: 3; bold);
    """)
    t = m.node("t")
    assert t.annotation("weight").value == 5
    assert t.annotation("Version").value == "2.0"
    assert (t.annotation("priority").value, t.annotation("priority").kind) == ("high", "identifier")
    assert t.annotation("ref").value == "#x"
    assert t.annotation("style").params == {"color": "red", "penwidth": 3, "bold": True}


def test_nesting_gives_full_paths_and_parents():
    m = load("""
        Process workflow {
            Task start "Initialize";
            Task validate;
            start -> validate;
        };
    """)
    assert [n.path for n in m.nodes] == ["workflow", "workflow.start", "workflow.validate"]
    assert m.node("workflow.start").parent == "workflow"
    assert edges(m) == [("workflow.start", "workflow.validate", "->")]
    assert m.edges[0].scope == "workflow"


def test_same_simple_name_under_two_parents_are_two_nodes():
    m = load("""
        Group1 { task Step; }
        Group2 { task Step; }
        Group1.Step -> Group2.Step;
    """)
    assert {n.path for n in m.nodes} >= {"Group1.Step", "Group2.Step"}
    assert edges(m) == [("Group1.Step", "Group2.Step", "->")]


def test_local_names_resolve_in_their_own_block_first():
    m = load("""
        A { Step; Next; Step -> Next; }
        B { Step; Next; Step -> Next; }
    """)
    assert edges(m) == [("A.Step", "A.Next", "->"), ("B.Step", "B.Next", "->")]


def test_qualified_definitions_expand_and_merge():
    m = load("""
        task API.Authentication "Auth handler";
        task API.DataFetch;
        API { version: 2; }
    """)
    assert m.node("API").type == "task"  # created on demand, inherits the leaf's type
    assert m.node("API.Authentication").title == "Auth handler"
    assert m.node("API").attr_value("version") == 2


@pytest.mark.parametrize("arrow", ["->", "-->", "=>", "<-->", "<--sync-->", "<|--", "*-->", "o-->"])
def test_every_arrow_kind(arrow):
    m = load(f"a {arrow} b;")
    assert edges(m) == [("a", "b", arrow)]


def test_fan_out_fan_in_cross_product_and_chain():
    m = load("a, b -> c, d -> e;")
    assert sorted(edges(m)) == sorted([("a", "c", "->"), ("a", "d", "->"), ("b", "c", "->"), ("b", "d", "->"),
                                       ("c", "e", "->"), ("d", "e", "->")])


@pytest.mark.parametrize("src, arrow", [("a -label-> b;", "->"), ("a --label--> b;", "-->"),
                                        ("a =label=> b;", "=>"), ('a -"label"-> b;', "->")])
def test_labelled_arrows(src, arrow):
    e = load(src).edges[0]
    assert (e.arrow, e.label, e.text) == (arrow, "label", "label")


def test_inline_attributes_flags_and_annotations():
    e = load('a -condition: true, priority: 1; async; @Critical @style(color: blue;) "main"-> b;').edges[0]
    assert e.inline == {"condition": True, "priority": 1, "async": True}
    assert e.flags == ["async"]
    assert [x.name for x in e.annotations] == ["Critical", "style"]
    assert e.label == "main"


def test_edge_annotation_forms():
    m = load("""
        a -@barrier("sync")-> b;
        a -@map(WorkQueue.items)-> c;
        a -@barrier(id: join1; merge: true)-> d;
        a -@weight(5)-> e;
    """)
    anns = [e.annotations[0] for e in m.edges if not e.inferred]
    assert (anns[0].value, anns[0].kind) == ("sync", "string")
    assert (anns[1].value, anns[1].kind) == ("WorkQueue.items", "identifier")
    assert anns[2].params == {"id": "join1", "merge": True}
    assert anns[3].value == 5


def test_multiplicities():
    e = load('User "1" --> "*" Post;').edges[0]
    assert (e.source_multiplicity, e.target_multiplicity) == ("1", "*")


def test_edge_attribute_block_applies_to_every_edge_and_wins():
    m = load('a -text: "inline"-> b, c { text: "**Success**"; weight<number>: 2; }')
    assert [e.attributes["text"] for e in m.edges] == ["**Success**", "**Success**"]
    assert m.edges[0].block[1].type.name == "number"


@pytest.mark.parametrize("src, expr", [
    ("""Processing -when: 'status == "valid"';-> Success;""", 'status == "valid"'),
    ("Processing -unless: 'errorCount > 0';-> Continue;", "!(errorCount > 0)"),
    ("increment -if: '(count < maxCount)';-> increment;", "(count < maxCount)"),
])
def test_conditions(src, expr):
    assert load(src).edges[0].condition_expression == expr


def test_context_access_edges_have_relations():
    m = load("gen -stores-> storage; gen -reads-> cfg; work -error-> failed;")
    assert [e.relation for e in m.edges] == ["writes", "reads", "catch"]


def test_attribute_ports():
    m = load("""
        parent { spouse: "Alice"; child1 { age: 38; } }
        parent.spouse -"begets..."-> parent.child1;
    """)
    e = [e for e in m.edges if not e.inferred][0]
    assert (e.source, e.source_attribute, e.target, e.target_attribute) == ("parent", "spouse", "parent.child1", None)


def test_typed_generic_optional_and_union_attributes():
    t = load("""
        Task t {
            port<number>: 3000;
            data<Map<string, Array<number>>>: #dataMap;
            timeout<number?>;
            priority<'low' | "high">: "high";
        }
    """).node("t")
    assert str(t.attribute("port").type) == "number"
    data = t.attribute("data").type
    assert (data.name, [str(a) for a in data.args]) == ("Map", ["string", "Array<number>"])
    assert t.attribute("timeout").type.optional and not t.attribute("timeout").has_value
    assert t.attribute("priority").type.literals == ["low", "high"]


def test_arrays_and_objects_nest():
    t = load("""
        Task t {
            items<Array<Item>>: [
                { id: "1"; value: 100; },
                { id: "2"; value: 200; }
            ];
            style: { color: blue; shape: box; };
            empty: [];
        }
    """).node("t")
    assert t.attr_value("items") == [{"id": "1", "value": 100}, {"id": "2", "value": 200}]
    assert t.attr_value("style") == {"color": "blue", "shape": "box"}
    assert t.attr_value("empty") == []


def test_templates_are_kept_verbatim():
    t = load('Task apiCall { endpoint: "{{ config.apiUrl }}"; }').node("apiCall")
    assert t.attr_value("endpoint") == "{{ config.apiUrl }}"


def test_notes_are_first_class_and_never_retype():
    m = load("""
        Task process;
        note process "Handles processing" @Documentation { author: "Team A"; }
        Processor { Validate; }
        note Processor.Validate "Validates input";
    """)
    assert [(n.target, n.text) for n in m.notes] == [("process", "Handles processing"),
                                                     ("Processor.Validate", "Validates input")]
    assert m.node("process").type == "Task"
    assert m.node("Processor.Validate").type is None and m.node("Processor.Validate").title is None
    assert m.notes[0].attributes[0].name == "author"


def test_style_nodes_are_nodes_with_selectors():
    m = load("style criticalStyle @Critical { penwidth: 3; }")
    n = m.node("criticalStyle")
    assert n.type == "style" and n.annotations[0].name == "Critical"


def test_auto_created_nodes():
    m = load("""
        problem; solution;
        problem -> solution;
        one -> two;
        workflow.start -> workflow.process;
    """)
    assert [n.path for n in m.nodes] == ["problem", "solution", "one", "two", "workflow", "workflow.start",
                                         "workflow.process"]
    assert [n.auto_created for n in m.nodes] == [False, False, True, True, True, True, True]


def test_inferred_attribute_edges_are_data():
    m = load("child2 @highlight { likes: apples; } apples;")
    (e,) = m.edges
    assert (e.source, e.target, e.inferred, e.source_attribute, e.arrow) == ("child2", "apples", True, "likes", None)


def test_effective_types():
    m = load("""
        analyze { prompt: "…"; }
        fetcher { schema: "x"; }
        appConfig { url: "x"; }
        grandchild { age: 7; }
        entry -> analyze;
        Input request { q: 1; }
        apples;
    """)
    got = {n.path: m.effective_type(n) for n in m.nodes}
    assert got == {"analyze": "task", "fetcher": "tool", "appConfig": "context", "grandchild": "context",
                   "entry": "init", "request": "context", "apples": None}


def test_strict_mode_disables_auto_creation():
    with pytest.raises(dygraph.DygraphError) as info:
        load("""
            machine "UserAuth" @StrictMode
            Task login;
            login -> dashbord;
        """)
    (d,) = info.value.errors
    assert d.code == "DG203" and "dashbord" in d.message


def test_load_reads_files(tmp_path):
    path = tmp_path / "m.dygram"
    path.write_text("a -> b;\n")
    m = dygraph.load(path)
    assert m.file == str(path) and m.edges[0].span.line == 1


def test_ir_json_round_trips_and_has_a_schema():
    from dygraph.ir import json_schema

    m = load('machine "M" @A(1) { x: null; } a -when: "x > 1";-> b { w: 2 } note a "doc";')
    again = Machine.model_validate_json(m.to_json())
    assert again.model_dump() == m.model_dump()
    schema = json_schema()
    assert schema["title"].startswith("dygraph IR") and "Node" in schema["$defs"]
