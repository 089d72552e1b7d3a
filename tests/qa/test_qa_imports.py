"""Imports as users write them: the same symbol imported twice, and errors inside an imported file."""

from __future__ import annotations

import dygraph


def test_importing_the_same_symbol_twice_from_one_file_is_harmless(tmp_path):
    (tmp_path / "lib.dygram").write_text("state review;\n")
    main = tmp_path / "main.dygram"
    main.write_text('import { review } from "./lib.dygram";\nimport { review } from "./lib.dygram";\n'
                    "init start;\nstart -> review;\n")
    machine = dygraph.load(main)
    assert [n.path for n in machine.nodes].count("review") == 1


def test_error_in_an_imported_file_names_the_import_that_brought_it_in(tmp_path):
    (tmp_path / "broken.dygram").write_text("state x;\nx -> ;\n")
    main = tmp_path / "main.dygram"
    main.write_text('import { x } from "./broken.dygram";\ninit start;\nstart -> x;\n')
    (d,) = dygraph.check(main.read_text(), str(main))
    assert d.file.endswith("broken.dygram") and (d.line, d.column) == (2, 6)
    assert d.hint.endswith("main.dygram:1:19")
