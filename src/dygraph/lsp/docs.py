"""Short documentation shown on hover and in completion: annotations, attributes, node types, arrows."""

from __future__ import annotations

# name (lowercase) -> (where it applies, markdown)
ANNOTATIONS: dict[str, tuple[str, str]] = {
    "strictmode": ("machine", "Strict mode: references to undeclared nodes are errors (no auto-creation). Alias `@strict`."),
    "strict": ("machine", "Alias of `@StrictMode`."),
    "meta": ("machine, node", "Gives agent turns meta-programming tools (read/update the machine)."),
    "style": ("machine, node, edge", "Graphviz styling: `@style(color: red; penwidth: 3)`."),
    "async": ("edge", "Spawn a new execution path at the target (fan-out). Aliases `@spawn`, `@fork`."),
    "spawn": ("edge", "Alias of `@async`."),
    "fork": ("edge", "Alias of `@async`."),
    "parallel": ("edge", "Fork one path per `@parallel` edge; the node's other exits still apply."),
    "barrier": ("edge", "Join point: paths wait until every path of the group arrives. "
                        "`@barrier`, `@barrier(\"id\")`, `@barrier(Ctx.items)`, `@barrier(id: x; merge: true)`."),
    "wait": ("edge", "Alias of `@barrier`."),
    "sync": ("edge", "Alias of `@barrier`."),
    "join": ("edge", "`@barrier` that merges: the other paths complete, one continues."),
    "merge": ("edge", "Alias of `@join`."),
    "map": ("edge", "Data-driven fan-out: one path per element of a context array. "
                    "`@map(Ctx.items)` or `@map(items: Ctx.items; group: g)`. Aliases `@foreach`, `@each`."),
    "foreach": ("edge", "Alias of `@map`."),
    "each": ("edge", "Alias of `@map`."),
    "auto": ("edge", "Take this edge automatically (no agent decision) when its condition holds."),
    "priority": ("node, edge", "Orders automatic choices between exits: `@priority(1)`."),
    "retry": ("node, edge", "Retry a failing step: `@retry(3)`."),
    "timeout": ("node, edge", "Fail the step after a duration: `@timeout(\"30s\")`."),
    "checkpoint": ("node", "Force a durable checkpoint after this node."),
    "start": ("node", "Marks a runtime start node."),
    "code": ("node", "The task runs code (`code`, `schema`, `prompt` attributes) instead of an agent turn."),
    "abstract": ("node", "Abstract node (rendered as an egg shape); not allowed on `init` nodes."),
    "deprecated": ("node", "Deprecated (rendered dashed and greyed)."),
    "critical": ("node", "Critical (rendered with a thick border)."),
    "singleton": ("node", "Singleton (rendered with a double border)."),
    "note": ("node", "Hidden from the diagram's annotation list."),
    "hidelabel": ("edge", "Hide the edge's annotation row."),
    "hideannotation": ("edge", "Hide the edge's annotation row."),
}

ATTRIBUTES: dict[str, str] = {
    "prompt": "What the agent does at this task; a prompt makes the node an agent turn (templates `{{ … }}` allowed).",
    "model": "Model for this task's agent turn (overrides the machine's).",
    "modelId": "Model for this task's agent turn (alias of `model`).",
    "desc": "Description, shown in the diagram and used as the question for ambiguous exits.",
    "description": "Description, shown in the diagram.",
    "title": "Display title.",
    "when": "Edge condition (CEL): the edge is eligible when the expression is true. Quote it: `-when: 'x > 1';->`.",
    "unless": "Edge condition (CEL): the edge is eligible when the expression is false.",
    "if": "Edge condition (CEL), same as `when`.",
    "timeout": "Timeout for the node (e.g. `\"30s\"`).",
    "maxTimeout": "Upper bound for the node's timeout.",
    "style": "Graphviz style for this node or the machine.",
    "version": "Machine version, shown in the diagram title.",
    "schema": "Tool / code schema.",
    "code": "Code run by a `@code` task.",
    "input": "Tool input schema (marks an untyped node as a tool).",
    "output": "Tool output schema.",
    "parameters": "Tool parameters (marks an untyped node as a tool).",
    "returns": "Tool return schema.",
    "maxSteps": "Run limit: maximum number of steps.",
    "maxVisits": "Run limit: maximum visits of one node.",
}

NODE_TYPES: dict[str, str] = {
    "task": "Executable step; with a `prompt` it runs an agent turn.",
    "state": "Control state; a single exit is taken automatically.",
    "context": "Data store, read and written by tasks; not part of control flow.",
    "init": "Entry point.",
    "tool": "A tool agents can call.",
    "end": "End state.",
    "note": "Documentation attached to a node: `note target \"text\"`.",
    "style": "Style definition (never rendered or executed).",
    "type": "Schema node: its typed attributes need no values.",
    "input": "Context alias (data).",
    "output": "Context alias (data).",
    "data": "Context alias (data).",
    "result": "Context alias (data).",
    "process": "Grouping node (custom type).",
}

ARROWS: dict[str, str] = {
    "->": "Transition (control flow).",
    "-->": "Dependency (dashed).",
    "=>": "Transform / critical path (thick).",
    "<-->": "Bidirectional.",
    "<|--": "Inheritance: `Parent <|-- Child`.",
    "*-->": "Composition: `Whole *--> Part`.",
    "o-->": "Aggregation: `Group o--> Member`.",
}

# Completion items for arrow forms: (label, snippet)
ARROW_SNIPPETS: list[tuple[str, str]] = [
    ("->", "-> ${1:target};"),
    ("-label->", "-${1:label}-> ${2:target};"),
    ("-when->", "-when: '${1:condition}';-> ${2:target};"),
    ("-@async->", "-@async-> ${1:target};"),
    ("-@barrier->", "-@barrier(\"${1:join}\")-> ${2:target};"),
    ("-->", "--> ${1:target};"),
    ("=>", "=> ${1:target};"),
    ("<-->", "<--> ${1:target};"),
    ("<|--", "<|-- ${1:child};"),
    ("*-->", "*--> ${1:part};"),
    ("o-->", "o--> ${1:member};"),
]


def annotation_doc(name: str) -> str | None:
    entry = ANNOTATIONS.get(name.lower())
    if entry is None:
        return None
    where, text = entry
    return f"**@{name}** ({where}) — {text}"
