"""`dygraph lsp` over stdio with raw JSON-RPC: requests on odd documents get answers, not internal errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


class Server:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "dygraph", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.notifications: list[dict] = []

    def send(self, method: str, params, *, notify: bool = False) -> int | None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return message.get("id")

    def receive(self) -> dict:
        length = None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed its output"
            if not line.strip():
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def request(self, method: str, params) -> dict:
        wanted = self.send(method, params)
        while True:
            message = self.receive()
            if message.get("id") == wanted:
                return message
            self.notifications.append(message)

    def diagnostics_for(self, uri: str) -> list[dict]:
        self.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})  # a barrier
        found = [m["params"]["diagnostics"] for m in self.notifications
                 if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri]
        return found[-1]


@pytest.fixture(scope="module")
def server():
    srv = Server()
    srv.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    srv.send("initialized", {}, notify=True)
    yield srv
    srv.request("shutdown", None)
    srv.send("exit", None, notify=True)
    srv.proc.wait(timeout=10)


def open_doc(server: Server, uri: str, text: str) -> None:
    server.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "dygram", "version": 1,
                                                          "text": text}}, notify=True)


def internal_errors(server: Server) -> list[str]:
    return [m["params"]["message"] for m in server.notifications
            if m.get("method") in ("window/logMessage", "window/showMessage") and "internal" in m["params"]["message"]]


def test_request_on_a_document_neither_open_nor_on_disk_is_answered(server, tmp_path):
    uri = (tmp_path / "never-opened.dygram").as_uri()
    reply = server.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                  "position": {"line": 0, "character": 1}})
    assert "error" not in reply and reply["result"] is None
    assert not internal_errors(server)


def test_rename_to_an_invalid_name_is_invalid_params_with_a_reason(server, tmp_path):
    uri = (tmp_path / "rename.dygram").as_uri()
    open_doc(server, uri, "init start;\nend done;\nstart -> done;\n")
    reply = server.request("textDocument/rename", {"textDocument": {"uri": uri}, "newName": "bad name!",
                                                   "position": {"line": 2, "character": 1}})
    assert reply["error"]["code"] == -32602  # InvalidParams, not an internal error
    assert "not a valid node name" in reply["error"]["message"] and "data" not in reply["error"]


def test_byte_order_mark_and_deep_nesting_give_diagnostics(server, tmp_path):
    bom = (tmp_path / "bom.dygram").as_uri()
    open_doc(server, bom, "\ufeffinit start;\nend done;\nstart -> done;\n")
    assert server.diagnostics_for(bom) == []
    deep = (tmp_path / "deep.dygram").as_uri()
    open_doc(server, deep, "Context C { x: " + "[" * 500 + "]" * 500 + "; }\n")
    assert [d["code"] for d in server.diagnostics_for(deep)] == ["DG105"]
    assert not internal_errors(server)
