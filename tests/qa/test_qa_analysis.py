"""Validator hints a user can paste as they are."""

from __future__ import annotations

import dygraph


def test_dg505_hint_names_a_context_that_exists():
    with_context = dygraph.check('Context Notes { text<string?>; }\ninit start;\nTask think { prompt: "Think"; }\n'
                                 "start -> think;\nthink -> done;\n")
    (d,) = [d for d in with_context if d.code == "DG505"]
    assert "`think -writes-> Notes;`" in d.hint
    (d,) = [d for d in dygraph.check('init start;\nTask think { prompt: "Think"; }\nstart -> think;\n'
                                     "think -> done;\n") if d.code == "DG505"]
    assert "context Results" in d.hint and "-writes-> results" not in d.hint
