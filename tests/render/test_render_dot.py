"""DOT generation from hand-built IR, checked through what Graphviz itself reads back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dygraph.ir.model import Annotation, Attribute, Edge, Machine, Node, Note, TypeRef
from dygraph.render import render, to_dot, to_svg
from dygraph.render.html import markdown
from render_probe import probe, run_dot


def kind_of(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def node(path: str, type: str | None = None, title: str | None = None, attrs: dict | None = None,
         anns: list[Annotation] | None = None) -> Node:
    parent, _, name = path.rpartition(".")
    return Node(path=path, name=name, type=type, title=title, parent=parent or None,
                attributes=[Attribute(name=k, value=v, kind=kind_of(v)) for k, v in (attrs or {}).items()],
                annotations=anns or [])


def ann(name: str, value=None, **params) -> Annotation:
    if params:
        return Annotation(name=name, params=params)
    if value is None:
        return Annotation(name=name)
    return Annotation(name=name, value=value, kind=kind_of(value))


def edge(source: str, target: str, arrow: str | None = "->", **kw) -> Edge:
    return Edge(source=source, target=target, arrow=arrow, **kw)


def machine(*nodes: Node, edges=(), notes=(), **kw) -> Machine:
    return Machine(nodes=list(nodes), edges=list(edges), notes=list(notes), **kw)


# ---- shapes and colours ----

@pytest.mark.parametrize("n, extra_edges, shape, fill, color", [
    (node("a", "Task"), [], "box", "#E3F2FD", "#1976D2"),
    (node("a", attrs={"prompt": "do it"}), [], "box", "#E3F2FD", "#1976D2"),  # inferred task
    (node("a", "STATE"), [], "diamond", "#F3E5F5", "#7B1FA2"),
    (node("a", "context"), [], "folder", "#E8F5E9", "#388E3C"),
    (node("a", "Input"), [], "folder", "#E8F5E9", "#388E3C"),  # context alias
    (node("a_data"), [], "folder", "#E8F5E9", "#388E3C"),  # inferred from the name
    (node("a", "tool"), [], "component", "#FFF9C4", "#F57F17"),
    (node("a", attrs={"parameters": "x"}), [], "component", "#FFF9C4", "#F57F17"),  # inferred tool
    (node("a", "init"), [], "ellipse", "#FFF3E0", "#F57C00"),
    (node("a"), [edge("a", "b")], "ellipse", "#FFF3E0", "#F57C00"),  # inferred init: source only
    (node("a", "end"), [], "ellipse", "#FFFFFF", "#000000"),
    (node("a", "Process"), [], "box", "#FFFFFF", "#000000"),  # custom type
    (node("a"), [], "box", "#FFFFFF", "#000000"),  # untyped
])
def test_shape_and_colours_follow_the_effective_type(n, extra_edges, shape, fill, color):
    others = [node("b")] if extra_edges else []
    attrs = probe(to_dot(machine(n, *others, edges=extra_edges))).nodes[n.path]
    assert (attrs["shape"], attrs["fillcolor"], attrs["color"]) == (shape, fill, color)


def test_label_shows_name_written_type_annotation_values_title_desc_prompt_and_attributes():
    n = node("review", "Task", "Review the order",
             {"desc": "Second pair of eyes", "prompt": "Check the order " + "carefully " * 30, "retries": 3,
              "style": "color: red"},
             [ann("retry", 3), ann("Owner", "Platform Team"), ann("style", color="red")])
    n.attributes.append(Attribute(name="limit", type=TypeRef(name="number"), value=10, kind="number"))
    label = probe(to_dot(machine(n))).nodes["review"]["label"]
    assert "<B>review</B>" in label and "&lt;Task&gt;" in label
    assert "@retry(3)" in label and "@Owner(&quot;Platform Team&quot;)" in label
    assert "@style" not in label  # styling is not content
    assert "Review the order" in label and "Second pair of eyes" in label
    assert "→ Check the order" in label and "…" in label  # prompt preview is cut short
    assert 'PORT="retries__value"' in label and "limit" in label and " : number" in label
    assert "color: red" not in label  # the style attribute is not listed as data


def test_untyped_node_shows_no_type():
    label = probe(to_dot(machine(node("plain")))).nodes["plain"]["label"]
    assert "&lt;" not in label


# ---- identity, nesting, clusters ----

def test_nodes_are_keyed_by_full_path_and_nested_as_clusters():
    m = machine(node("Group1", "Process"), node("Group1.Step", "Task"), node("Group2"), node("Group2.Step", "Task"),
                edges=[edge("Group1.Step", "Group2.Step")])
    p = probe(to_dot(m))
    assert {"Group1.Step", "Group2.Step"} <= p.nodes.keys()
    assert p.innermost_cluster("Group1.Step") == "cluster_Group1"
    assert p.innermost_cluster("Group2.Step") == "cluster_Group2"
    assert "Step" not in p.nodes
    p.edge("Group1.Step", "Group2.Step")


def test_edges_to_a_parent_are_clipped_to_its_cluster_unless_they_start_inside_it():
    m = machine(node("start", "init"), node("Outer"), node("Outer.Inner"), node("Outer.Inner.Leaf", "Task"),
                edges=[edge("start", "Outer"), edge("Outer.Inner.Leaf", "Outer"), edge("Outer", "Outer.Inner"),
                       edge("Outer.Inner", "start")])
    p = probe(to_dot(m))
    assert p.edge("start", "Outer")["lhead"] == "cluster_Outer"
    child_to_parent = p.edge("Outer.Inner.Leaf", "Outer")
    assert "lhead" not in child_to_parent and "ltail" not in child_to_parent
    parent_to_child = p.edge("Outer", "Outer.Inner")
    assert "ltail" not in parent_to_child and parent_to_child["lhead"] == "cluster_Outer.Inner"
    assert p.edge("Outer.Inner", "start")["ltail"] == "cluster_Outer.Inner"
    assert p.nodes["Outer"]["style"] == "invis"
    assert p.innermost_cluster("Outer.Inner") == "cluster_Outer.Inner"


def test_parent_attributes_are_a_table_inside_its_cluster_with_ports():
    m = machine(node("parent", attrs={"spouse": "Alice"}), node("parent.child1", attrs={"age": 38}),
                edges=[edge("parent", "parent.child1", source_attribute="spouse")])
    p = probe(to_dot(m))
    assert p.nodes["parent"]["shape"] == "plain"
    assert p.innermost_cluster("parent") == "cluster_parent"
    e = p.edge("parent", "parent.child1")
    assert e["tailport"] == "spouse__value" and "ltail" not in e


def test_port_for_a_missing_attribute_is_dropped_not_invented():
    m = machine(node("a", attrs={"x": 1}), node("b"), edges=[edge("a", "b", source_attribute="nope")])
    assert "tailport" not in probe(to_dot(m)).edge("a", "b")


def test_edge_to_an_undeclared_node_still_draws_and_is_marked():
    p = probe(to_dot(machine(node("a"), edges=[edge("a", "ghost")])))
    assert p.nodes["ghost"]["color"] == "#D32F2F"


def test_style_nodes_are_not_drawn():
    m = machine(node("hot", "style", attrs={"color": "red"}, anns=[ann("Hot")]), node("a", anns=[ann("Hot")]))
    p = probe(to_dot(m))
    assert "hot" not in p.nodes and p.nodes["a"]["color"] == "red"


# ---- edges ----

@pytest.mark.parametrize("arrow, expected", [
    ("->", {}),
    ("-->", {"style": "dashed"}),
    ("=>", {"color": "#D32F2F"}),
    ("<-->", {"dir": "both"}),
    ("<|--", {"dir": "back", "arrowtail": "empty"}),
    ("*-->", {"dir": "back", "arrowtail": "diamond"}),
    ("o-->", {"dir": "back", "arrowtail": "odiamond"}),
])
def test_arrow_styles_per_arrow_kind(arrow, expected):
    e = probe(to_dot(machine(node("a"), node("b"), edges=[edge("a", "b", arrow)]))).edge("a", "b")
    assert {k: e.get(k) for k in expected} == expected
    if not expected:
        assert "style" not in e and "dir" not in e


@pytest.mark.parametrize("keyword", ["when", "unless", "if"])
def test_conditions_are_labelled_with_their_keyword(keyword):
    m = machine(node("a"), node("b"), edges=[edge("a", "b", inline={keyword: 'status == "ok" && n < 3'})])
    label = probe(to_dot(m)).edge("a", "b")["label"]
    assert f"<B>{keyword}</B>" in label
    assert "status == &quot;ok&quot; &amp;&amp; n &lt; 3" in label


def test_edge_label_has_text_annotations_and_other_attributes():
    m = machine(node("a"), node("b"), edges=[edge("a", "b", label="**approve**", inline={"timeout": 5000},
                                                  annotations=[ann("priority", "1"), ann("style", color="red")])])
    label = probe(to_dot(m)).edge("a", "b")["label"]
    assert "<B>approve</B>" in label and '@priority("1")' in label.replace("&quot;", '"')
    assert "timeout: 5000" in label and "@style" not in label


def test_hide_annotation_hides_only_the_annotation_row():
    m = machine(node("a"), node("b"), edges=[edge("a", "b", label="go", annotations=[ann("hideLabel"), ann("x")])])
    label = probe(to_dot(m)).edge("a", "b")["label"]
    assert "go" in label and "@x" not in label


def test_async_barrier_and_data_edges_look_different():
    m = machine(node("a"), node("b"), node("c"), node("d"), node("e"), node("f"), node("ctx", "context"),
                edges=[edge("a", "b", annotations=[ann("async")]),
                       edge("b", "c", annotations=[ann("barrier", "stage1")]),
                       edge("c", "ctx", label="writes"), edge("c", "d"),
                       edge("d", "e", annotations=[Annotation(name="map", value="ctx.items", kind="identifier")]),
                       edge("e", "f", label="error")])
    p = probe(to_dot(m))
    looks = {(t, h): (a.get("color"), a.get("arrowhead"), a.get("style")) for t, h, a in p.edges}
    assert len(set(looks.values())) == 6
    assert '@barrier(&quot;stage1&quot;)' in p.edge("b", "c")["label"]


def test_multiplicities_are_tail_and_head_labels():
    m = machine(node("a"), node("b"), edges=[edge("a", "b", "*-->", source_multiplicity="1",
                                                  target_multiplicity="0..*")])
    e = probe(to_dot(m)).edge("a", "b")
    assert (e["taillabel"], e["headlabel"]) == ("1", "0..*")


def test_inferred_attribute_edge_is_data_from_the_attribute_port():
    m = machine(node("child2", attrs={"likes": "apples"}), node("apples"),
                edges=[edge("child2", "apples", None, source_attribute="likes", inferred=True)])
    e = probe(to_dot(m)).edge("child2", "apples")
    assert e["style"] == "dotted" and e["tailport"] == "likes__value" and "likes" in e["label"]


# ---- notes ----

def test_notes_are_note_shapes_tied_to_their_targets():
    m = machine(node("G"), node("G.step", "Task"), node("other"),
                notes=[Note(target="G.step", text="Runs **twice**"), Note(target="G", text="group note"),
                       Note(target="missing", resolved=False, text="orphan")])
    p = probe(to_dot(m))
    assert [p.nodes[f"note#{i}"]["shape"] for i in range(3)] == ["note"] * 3
    assert p.innermost_cluster("note#0") == "cluster_G"  # sits beside its target
    assert p.edge("note#0", "G.step")["arrowhead"] == "none"
    assert "<B>twice</B>" in p.nodes["note#0"]["label"]
    assert p.edge("note#1", "G")["lhead"] == "cluster_G"
    assert p.innermost_cluster("note#1") is None
    assert not [e for e in p.edges if e[0] == "note#2"]
    assert "does not exist" in p.nodes["note#2"]["label"]


# ---- style precedence ----

def test_style_precedence_type_then_modifiers_then_selectors_then_attribute_then_annotation():
    sel1 = node("s1", "style", attrs={"color": "red", "penwidth": 3, "fillcolor": "pink", "fontcolor": "gray"},
                anns=[ann("hot")])
    sel2 = node("s2", "style", attrs={"fontcolor": "navy"}, anns=[ann("hot")])  # later selector wins
    n = node("a", "Task", attrs={"style": {"color": "blue", "fillcolor": "white"}},
             anns=[ann("hot"), ann("Critical"), ann("style", fillcolor="yellow")])
    a = probe(to_dot(machine(sel1, sel2, n))).nodes["a"]
    assert a["shape"] == "box"  # type default untouched
    assert a["penwidth"] == "3"  # selector (and @Critical)
    assert a["fontcolor"] == "navy"  # second selector over the first
    assert a["color"] == "blue"  # style attribute over selector
    assert a["fillcolor"] == "yellow"  # @style over style attribute


def test_selector_matching_is_exact_case():
    m = machine(node("s", "style", attrs={"color": "red"}, anns=[ann("critical")]),
                node("a", anns=[ann("Critical")]))
    assert probe(to_dot(m)).nodes["a"]["color"] == "#000000"


def test_edge_style_precedence_and_css_names():
    m = machine(node("s", "style", attrs={"color": "red", "penwidth": 4}, anns=[ann("hot")]), node("a"), node("b"),
                edges=[edge("a", "b", "=>", inline={"when": "x > 1"},
                            annotations=[ann("hot"), ann("style", "color: green; stroke-width: 2px")])])
    e = probe(to_dot(m)).edge("a", "b")
    assert e["color"] == "green" and e["penwidth"] == "2"


def test_cluster_style_precedence():
    m = machine(node("s", "style", attrs={"color": "red", "fillcolor": "pink"}, anns=[ann("hot")]),
                node("G", attrs={"style": {"fillcolor": "azure"}}, anns=[ann("hot")]), node("G.x"))
    c = probe(to_dot(m)).clusters["cluster_G"]
    assert c["color"] == "red" and c["fillcolor"] == "azure"


def test_user_style_flags_keep_the_fill():
    n = node("a", "Task", anns=[ann("style", style="dashed")])
    assert set(probe(to_dot(machine(n))).nodes["a"]["style"].split(",")) == {"filled", "rounded", "dashed"}


@pytest.mark.parametrize("style, direction, expected", [
    ({"rankdir": "LR"}, None, "LR"),
    ({"direction": "column"}, None, "LR"),
    ({"direction": "right-to-left"}, None, "RL"),
    ({}, None, "TB"),
    ({"rankdir": "LR"}, "TB", "TB"),  # the caller's direction wins
])
def test_direction(style, direction, expected):
    m = machine(node("a"), annotations=[ann("style", **style)] if style else [])
    assert probe(to_dot(m, direction=direction)).graph["rankdir"] == expected


def test_unknown_direction_or_format_is_refused():
    with pytest.raises(ValueError, match="direction"):
        to_dot(machine(node("a")), direction="sideways")
    with pytest.raises(ValueError, match="format"):
        render(machine(node("a")), "gif")


def test_layout_only_keys_are_not_emitted():
    m = machine(node("a", anns=[ann("style", col=2, grid=3, maxNameLength=5, color="red")]))
    a = probe(to_dot(m)).nodes["a"]
    assert a["color"] == "red" and not {"col", "grid", "maxNameLength"} & a.keys()


# ---- machine header ----

def test_machine_title_block():
    m = machine(node("a"), title="Order **Flow**",
                attributes=[Attribute(name="version", value="2.0", kind="string"),
                            Attribute(name="description", value="Takes `orders`", kind="string"),
                            Attribute(name="owner", value="team", kind="string")],
                annotations=[ann("Critical"), ann("Owner", "Platform")])
    label = probe(to_dot(m)).graph["label"]
    assert "Order <B>Flow</B>" in label and "v2.0 @Critical @Owner(&quot;Platform&quot;)" in label
    assert 'FACE="monospace"' in label and "owner" in label


# ---- markdown and escaping ----

@pytest.mark.parametrize("text, expected", [
    ("**b** and __b__", "<B>b</B> and <B>b</B>"),
    ("*i* and _i_", "<I>i</I> and <I>i</I>"),
    ("~~gone~~", "<S>gone</S>"),
    ("run `a < b`", 'run <FONT FACE="monospace" COLOR="#6C757D">a &lt; b</FONT>'),
    ("[docs](https://x.y)", "<U>docs</U>"),
    ("![logo](a.png)", "logo"),
    ("<b>raw</b> & co", "&lt;b&gt;raw&lt;/b&gt; &amp; co"),
    ("snake_case_name", "snake_case_name"),
    ("plain text", "plain text"),
])
def test_markdown_inline(text, expected):
    assert markdown(text) == expected


def test_markdown_wraps_long_text_without_breaking_spans():
    out = markdown("**" + " ".join(["word"] * 20) + "**")
    assert out.count("<BR/>") >= 2 and out.startswith("<B>") and out.endswith("</B>")


def test_markdown_in_titles_edge_text_and_notes_renders_in_svg():
    m = machine(node("a", title="**Bold** title"), node("b"),
                edges=[edge("a", "b", label="*go*")], notes=[Note(target="b", text="`code`")])
    svg = to_svg(m)
    assert re.search(r'font-weight="bold"[^>]*>Bold<', svg) and re.search(r'font-style="italic"[^>]*>go<', svg)
    assert 'font-family="monospace"' in svg


nasty_text = st.text(alphabet=st.sampled_from(list('<>&"\'\\{}[]|:;#*_`~\n\t') + ["a", "N", "é", "\x01", " "]),
                     min_size=0, max_size=24)
identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=identifier, title=nasty_text, value=nasty_text, key=identifier, edge_text=nasty_text, mult=nasty_text)
def test_html_escaping_never_breaks_dot(name, title, value, key, edge_text, mult):
    m = machine(node(name, "task", title=title, attrs={key: value, "desc": value, "prompt": title},
                     anns=[ann("Note", value)]),
                node("b", attrs={"style": value}),
                edges=[edge(name, "b", label=edge_text, inline={"when": value}, source_multiplicity=mult,
                            target_multiplicity=mult, annotations=[ann("style", value)])],
                notes=[Note(target="b", text=title)], title=title,
                attributes=[Attribute(name="description", value=value, kind="string")])
    src = to_dot(m)
    svg = run_dot(src, "svg")  # no warnings, no syntax errors
    root = ET.fromstring(svg)
    shown = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for word in re.findall(r"[A-Za-z]{2,}", value):
        assert word in shown


def test_blank_text_and_odd_style_keys_never_produce_invalid_dot():
    m = machine(node("a", title="  ", attrs={"desc": ""}), node("b", anns=[ann("style", "\\: x; :y; z\\: 1")]),
                edges=[edge("a", "b", label=" ", annotations=[ann("style", "\\")]),
                       edge("a", "b", None, inferred=True)],
                notes=[Note(target="a", text="")], title=" ")
    p = probe(to_dot(m))
    assert len(p.edges) == 3
    assert not {k for k in p.nodes["b"] if "\\" in k}


def test_machine_title_becomes_a_well_formed_svg_title():
    root = ET.fromstring(to_svg(machine(node("a"), title='R&D &; <x> "q"\x01')))
    assert root.find("{http://www.w3.org/2000/svg}g/{http://www.w3.org/2000/svg}title").text.startswith('R&D &; <x> "q"')


def test_to_svg_and_jupyter_repr_are_svg():
    m = machine(node("a", "Task"), node("b", "State"), edges=[edge("a", "b")])
    assert ET.fromstring(to_svg(m)).tag.endswith("svg")
    assert ET.fromstring(m._repr_svg_()).tag.endswith("svg")
