"""`dygraph lsp` driven over stdio with real LSP messages (pygls' client talking to a subprocess)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.lsp.client import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROGRAM = '''machine "Orders" @StrictMode {
    version: "1.0";
}

Context cart {
    items<Array<string>>: [];
}

Task review "Review order" @Critical {
    prompt: "Check {{ cart.items }}";
}

Process shipping {
    Task pack "Pack";
    Task send;
    pack -> send;
}

review -when: 'size(cart.items) > 0';-> shipping.pack;
review -@async-> audit;
State audit;
note review "Reviews every order";
review -reads-> cart;
'''


class Session:
    def __init__(self, client: LanguageClient, root: Path):
        self.client = client
        self.root = root
        self.diagnostics: dict[str, types.PublishDiagnosticsParams] = {}
        self.changed = asyncio.Condition()
        self.versions: dict[str, int] = {}
        self.messages: list[str] = []

    async def wait_diagnostics(self, uri: str, version: int | None = None) -> list[types.Diagnostic]:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(
                lambda: uri in self.diagnostics and (version is None or self.diagnostics[uri].version == version)),
                timeout=30)
        return list(self.diagnostics[uri].diagnostics)

    def open(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(text)
        uri = path.as_uri()
        self.diagnostics.pop(uri, None)
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="dygram", version=1, text=text)))
        return uri

    def change(self, uri: str, text: str) -> int:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        return self.versions[uri]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lsp(tmp_path_factory):
    root = tmp_path_factory.mktemp("workspace")
    client = LanguageClient("dygraph-tests", "1")
    session = Session(client, root)

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    async def on_diagnostics(params: types.PublishDiagnosticsParams):
        async with session.changed:
            session.diagnostics[params.uri] = params
            session.changed.notify_all()

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def on_message(params: types.ShowMessageParams):
        session.messages.append(params.message)

    await client.start_io(sys.executable, "-m", "dygraph", "lsp", "--stdio", env={**os.environ, "PYTHONUNBUFFERED": "1"})
    result = await asyncio.wait_for(client.initialize_async(types.InitializeParams(
        process_id=os.getpid(), root_uri=root.as_uri(), capabilities=types.ClientCapabilities())), timeout=60)
    session.capabilities = result.capabilities
    client.initialized(types.InitializedParams())
    yield session
    await asyncio.wait_for(client.shutdown_async(None), timeout=30)
    client.exit(None)
    await client.stop()


def pos(text: str, needle: str, nth: int = 0, delta: int = 0) -> types.Position:
    """LSP position of the nth occurrence of needle (plus delta characters)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += delta
    line = text.count("\n", 0, offset)
    return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def test_server_advertises_its_features(lsp):
    caps = lsp.capabilities
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.document_symbol_provider and caps.document_formatting_provider
    assert "@" in caps.completion_provider.trigger_characters
    assert "decorator" in caps.semantic_tokens_provider.legend.token_types


async def test_diagnostics_on_open_and_change_match_check(lsp):
    uri = lsp.open("diag.dygram", PROGRAM)
    assert await lsp.wait_diagnostics(uri, 1) == []

    broken = PROGRAM.replace("review -@async-> audit;", "review -when: x > 1-> audit;")
    version = lsp.change(uri, broken)
    diagnostics = await lsp.wait_diagnostics(uri, version)
    assert diagnostics, "a syntax error must be reported"
    first = diagnostics[0]
    assert first.code == "DG101" and first.source == "dygraph"
    assert first.severity == types.DiagnosticSeverity.Error
    assert first.range.start == pos(broken, "> 1-> audit")
    assert "hint:" in first.message and "quote" in first.message

    from dygraph import check  # the same codes and places as `dygraph check`
    expected = [(d.code, d.line - 1, d.column - 1) for d in check(broken, str(lsp.root / "diag.dygram"))]
    assert [(d.code, d.range.start.line, d.range.start.character) for d in diagnostics] == expected

    strict = PROGRAM.replace("review -@async-> audit;", "review -> nowhere;")
    version = lsp.change(uri, strict)
    diagnostics = await lsp.wait_diagnostics(uri, version)
    undefined = [d for d in diagnostics if d.code == "DG203"]
    assert len(undefined) == 1 and undefined[0].range.start == pos(strict, "nowhere")

    version = lsp.change(uri, PROGRAM)
    assert await lsp.wait_diagnostics(uri, version) == []


async def test_hover_shows_node_type_title_and_attributes(lsp):
    uri = lsp.open("hover.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)
    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=doc(uri), position=pos(PROGRAM, "review -when", delta=2)))
    text = hover.contents.value
    assert "**Task** `review`" in text and "Review order" in text
    assert "`prompt`" in text and "@Critical" in text and "Reviews every order" in text
    assert hover.range.start == pos(PROGRAM, "review -when")

    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=doc(uri), position=pos(PROGRAM, "@async", delta=2)))
    assert "@async" in hover.contents.value and "path" in hover.contents.value

    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=doc(uri), position=pos(PROGRAM, "prompt:")))
    assert "agent" in hover.contents.value


async def test_definition_and_references_for_simple_and_qualified_names(lsp):
    uri = lsp.open("nav.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)
    # `shipping.pack` (qualified) -> the `pack` declared inside `shipping`
    locations = await lsp.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc(uri), position=pos(PROGRAM, "shipping.pack", delta=10)))
    assert [(loc.range.start, loc.range.end) for loc in locations] == [
        (pos(PROGRAM, "pack \"Pack\""), pos(PROGRAM, "pack \"Pack\"", delta=4))]
    # the `shipping` segment of the same reference -> the Process node
    locations = await lsp.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc(uri), position=pos(PROGRAM, "shipping.pack", delta=2)))
    assert locations[0].range.start == pos(PROGRAM, "shipping {")
    # `audit` is used before it is declared
    locations = await lsp.client.text_document_definition_async(types.DefinitionParams(
        text_document=doc(uri), position=pos(PROGRAM, "-> audit", delta=4)))
    assert locations[0].range.start == pos(PROGRAM, "audit;", nth=1)

    refs = await lsp.client.text_document_references_async(types.ReferenceParams(
        text_document=doc(uri), position=pos(PROGRAM, "Task pack", delta=6),
        context=types.ReferenceContext(include_declaration=True)))
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == sorted(
        (p.line, p.character) for p in (pos(PROGRAM, "pack \"Pack\""), pos(PROGRAM, "pack -> send"),
                                          pos(PROGRAM, "shipping.pack", delta=9)))
    refs = await lsp.client.text_document_references_async(types.ReferenceParams(
        text_document=doc(uri), position=pos(PROGRAM, "Task review", delta=6),
        context=types.ReferenceContext(include_declaration=False)))
    assert len(refs) == 4  # three edges and the note

    highlights = await lsp.client.text_document_document_highlight_async(types.DocumentHighlightParams(
        text_document=doc(uri), position=pos(PROGRAM, "-> send", delta=4)))
    kinds = sorted((h.range.start.line, h.kind) for h in highlights)
    assert kinds == [(pos(PROGRAM, "Task send").line, types.DocumentHighlightKind.Write),
                     (pos(PROGRAM, "-> send").line, types.DocumentHighlightKind.Read)]


async def test_completion_offers_names_annotations_attributes_and_arrows(lsp):
    uri = lsp.open("complete.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)

    async def labels(text: str, position: types.Position) -> set[str]:
        version = lsp.change(uri, text)
        await lsp.wait_diagnostics(uri, version)
        result = await lsp.client.text_document_completion_async(types.CompletionParams(
            text_document=doc(uri), position=position))
        return {item.label for item in result.items}

    edited = PROGRAM + "review -> "  # unfinished edge: the file does not parse, names still come
    found = await labels(edited, types.Position(line=edited.count("\n"), character=len("review -> ")))
    assert {"review", "audit", "cart", "shipping.pack", "pack"} <= found

    edited = PROGRAM + "review -@"
    found = await labels(edited, types.Position(line=edited.count("\n"), character=len("review -@")))
    assert {"async", "barrier", "map", "auto"} <= found

    edited = PROGRAM.replace('prompt: "Check {{ cart.items }}";', 'prompt: "Check {{ cart.items }}";\n    mo')
    found = await labels(edited, pos(edited, "    mo", delta=6))
    assert {"model", "prompt", "desc"} <= found

    edited = PROGRAM + "review "
    found = await labels(edited, types.Position(line=edited.count("\n"), character=len("review ")))
    assert {"->", "-->", "=>", "-when->", "-@async->"} <= found


async def test_document_symbols_outline_nested_nodes(lsp):
    uri = lsp.open("outline.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)
    symbols = await lsp.client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(uri)))
    names = [s.name for s in symbols]
    assert names == ["machine 'Orders'", "cart", "review", "shipping", "audit"]
    shipping = symbols[3]
    assert [c.name for c in shipping.children] == ["pack", "send"]
    assert shipping.kind == types.SymbolKind.Class
    assert symbols[2].kind == types.SymbolKind.Function  # a task
    assert [c.name for c in symbols[0].children] == ["version"]


async def test_formatting_returns_the_fmt_output(lsp):
    messy = "a->b   ;Task x{prompt:'p'}\n"
    uri = lsp.open("format.dygram", messy)
    await lsp.wait_diagnostics(uri, 1)
    edits = await lsp.client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(tab_size=4, insert_spaces=True)))
    from dygraph.fmt import format_text

    assert len(edits) == 1 and edits[0].new_text == format_text(messy)
    assert edits[0].range.start == types.Position(line=0, character=0)

    version = lsp.change(uri, "a -> ;\n")  # a syntax error: nothing is formatted, the user is told why
    await lsp.wait_diagnostics(uri, version)
    edits = await lsp.client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert edits is None
    for _ in range(100):
        if lsp.messages:
            break
        await asyncio.sleep(0.05)
    assert any("not formatted" in m and "DG101" in m for m in lsp.messages)


async def test_semantic_tokens_classify_the_source(lsp):
    uri = lsp.open("tokens.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)
    result = await lsp.client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=doc(uri)))
    legend = lsp.capabilities.semantic_tokens_provider.legend.token_types
    lines = PROGRAM.split("\n")
    line = col = 0
    decoded = {}
    data = result.data
    for i in range(0, len(data), 5):
        d_line, d_col, length, kind, _ = data[i:i + 5]
        line += d_line
        col = col + d_col if d_line == 0 else d_col
        decoded[(line, lines[line][col:col + length])] = legend[kind]
    assert decoded[(0, "machine")] == "keyword"
    assert decoded[(8, "Task")] == "type"
    assert decoded[(8, "review")] == "class"
    assert decoded[(8, "Critical")] == "decorator"
    assert decoded[(9, "prompt")] == "property"
    assert decoded[(9, '"Check {{ cart.items }}"')] == "string"
    assert decoded[(18, "->")] == "operator"


async def test_incremental_change_is_applied_before_checking(lsp):
    uri = lsp.open("incremental.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)
    lsp.versions[uri] += 1
    start = pos(PROGRAM, "State audit;")
    lsp.client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=lsp.versions[uri]),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=start, end=types.Position(line=start.line, character=start.character + 5)),
            text="State audit; State")]))
    diagnostics = await lsp.wait_diagnostics(uri, lsp.versions[uri])
    assert [d.code for d in diagnostics] == ["DG201"]  # declared twice now
    assert diagnostics[0].range.start.line == start.line


async def test_rename_updates_declaration_and_every_reference(lsp):
    uri = lsp.open("rename.dygram", PROGRAM)
    await lsp.wait_diagnostics(uri, 1)
    edit = await lsp.client.text_document_rename_async(types.RenameParams(
        text_document=doc(uri), position=pos(PROGRAM, "shipping.pack", delta=10), new_name="box"))
    edits = edit.changes[uri]
    lines = PROGRAM.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        line = lines[e.range.start.line]
        lines[e.range.start.line] = line[:e.range.start.character] + e.new_text + line[e.range.end.character:]
    renamed = "\n".join(lines)
    assert "Task box \"Pack\"" in renamed and "box -> send" in renamed and "shipping.box;" in renamed
    assert "pack" not in renamed.replace("Pack", "")
    from dygraph.syntax import compile_source

    before, _ = compile_source(PROGRAM)
    after, _ = compile_source(renamed)
    assert {n.path for n in after.nodes} == {n.path.replace("pack", "box") for n in before.nodes}


async def test_definition_of_an_imported_node_opens_the_other_file(lsp):
    library = lsp.root / "library.dygram"
    library.write_text('// shared steps\nTask Login "Log in" {\n    timeout: "30s";\n}\n')
    main = 'import { Login as SignIn } from "./library.dygram";\nstart -> SignIn;\n'
    uri = lsp.open("uses-import.dygram", main)
    assert await lsp.wait_diagnostics(uri, 1) == []
    for position in (pos(main, "SignIn;"), pos(main, "SignIn }")):
        locations = await lsp.client.text_document_definition_async(types.DefinitionParams(
            text_document=doc(uri), position=position))
        assert [loc.uri for loc in locations] == [library.resolve().as_uri()]
        assert locations[0].range.start == types.Position(line=1, character=0)
    hover = await lsp.client.text_document_hover_async(types.HoverParams(
        text_document=doc(uri), position=pos(main, "SignIn;")))
    assert "Log in" in hover.contents.value
