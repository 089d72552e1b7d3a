"""Read DOT back through Graphviz itself (`dot -Tjson0`), so tests check what Graphviz understood."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field


@dataclass
class Probe:
    graph: dict
    nodes: dict[str, dict] = field(default_factory=dict)
    clusters: dict[str, dict] = field(default_factory=dict)
    cluster_nodes: dict[str, set[str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict]] = field(default_factory=list)

    def edge(self, tail: str, head: str) -> dict:
        found = [a for t, h, a in self.edges if (t, h) == (tail, head)]
        assert len(found) == 1, f"expected one edge {tail} -> {head}, found {len(found)}: {self.edges}"
        return found[0]

    def innermost_cluster(self, node: str) -> str | None:
        holding = [c for c, members in self.cluster_nodes.items() if node in members]
        return min(holding, key=lambda c: len(self.cluster_nodes[c]), default=None)


def run_dot(source: str, fmt: str) -> str:
    """Lay out with `dot`; any warning on stderr fails the test."""
    proc = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode()
    return proc.stdout.decode()


def probe(source: str) -> Probe:
    data = json.loads(run_dot(source, "json0"))
    objects = data.get("objects", [])
    p = Probe(graph=data)
    names = {o["_gvid"]: o["name"] for o in objects[data["_subgraph_cnt"]:]}
    for o in objects[: data["_subgraph_cnt"]]:
        p.clusters[o["name"]] = o
        p.cluster_nodes[o["name"]] = {names[i] for i in o.get("nodes", [])}
    for o in objects[data["_subgraph_cnt"]:]:
        p.nodes[o["name"]] = o
    for e in data.get("edges", []):
        p.edges.append((names[e["tail"]], names[e["head"]], e))
    return p
