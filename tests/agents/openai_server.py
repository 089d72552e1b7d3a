"""A scripted OpenAI-compatible HTTP server on loopback, for testing LLM code paths for real.

The server is a genuine HTTP/1.1 server (stdlib `http.server`, in a background thread) bound to
127.0.0.1 on an ephemeral port. It speaks the parts of the OpenAI API that dygraph uses:

- ``POST /v1/chat/completions`` — answers with the next scripted reply (see below);
- ``GET  /v1/models`` and ``GET /v1/models/{id}`` — lists ``server.models``.

Nothing leaves the machine, and no code of ours is mocked: the client under test (the ``openai``
SDK inside ``OpenAIAgent``, or ``dygraph run`` in a subprocess with ``OPENAI_BASE_URL`` pointing
here) does real HTTP.

Usage (the ``openai_server`` fixture from ``tests/agents/conftest.py`` starts and stops one)::

    def test_something(openai_server):
        openai_server.reply_tool_calls(tool_call("transition_to_Review", {"reason": "done"}))
        openai_server.reply_text("all finished")
        openai_server.reply_error(500, "overloaded")                     # retried by the client
        openai_server.reply_error(429, "slow down", retry_after=1)       # Retry-After: 1
        openai_server.reply_malformed_arguments("write_Data", '{"n": 1')  # invalid JSON arguments
        openai_server.reply_tools_unsupported()                           # 400 "does not support tools"
        openai_server.reply_disconnect()                                  # close without answering
        openai_server.reply(lambda body: text_reply(f"saw {len(body['messages'])} messages"))

        env = {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": "test-key"}
        ...
        body = openai_server.chat_requests[0]          # the JSON body the client sent
        assert tool_names(body) == ["transition_to_Review"]

Scripted replies are consumed in order, one per chat-completions request. A reply is either a
``ScriptedReply`` or a callable ``(request_body: dict) -> ScriptedReply`` (for replies that depend
on what the client sent, e.g. "call the first offered transition tool": see
``first_tool_starting_with``). ``server.fallback`` (a reply or callable, default ``None``) answers
once the queue is empty; without one, an unscripted request gets HTTP 400 with a message saying so,
which surfaces as a clear test failure rather than a hang.

Every request is recorded in ``server.received`` (``RecordedRequest``: method, path, headers,
JSON body, monotonic arrival time); ``server.chat_requests`` are the bodies of the chat-completions
requests only. Streaming (``"stream": true``) is not supported and answered with HTTP 400.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

# ---------------------------------------------------------------------------------------------
# Replies


@dataclass
class ScriptedReply:
    """One HTTP answer. ``body`` is JSON-encoded unless it is ``bytes``; ``disconnect`` closes the
    connection without sending anything (a connection error for the client)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    disconnect: bool = False


Responder = Callable[[dict], ScriptedReply]
Scripted = Union[ScriptedReply, Responder]

_ids = itertools.count(1)


def tool_call(name: str, arguments: dict | str | None = None, *, id: str | None = None) -> dict:
    """A tool call as it appears in a chat completion message. ``arguments`` given as a ``str`` is
    sent verbatim (so it can be invalid JSON); a dict is JSON-encoded."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return {
        "id": id or f"call_{next(_ids)}",
        "type": "function",
        "function": {"name": name, "arguments": raw},
    }


def completion(
    message: dict,
    *,
    model: str = "test-model",
    finish_reason: str = "stop",
    usage: dict | None = None,
) -> dict:
    """A complete ``chat.completion`` object around one assistant message."""
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage
        if usage is not None
        else {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def text_reply(content: str, **kwargs: Any) -> ScriptedReply:
    return ScriptedReply(body=completion({"role": "assistant", "content": content}, **kwargs))


def tool_calls_reply(*calls: dict, content: str | None = None, **kwargs: Any) -> ScriptedReply:
    message = {"role": "assistant", "content": content, "tool_calls": list(calls)}
    return ScriptedReply(body=completion(message, finish_reason="tool_calls", **kwargs))


def error_reply(
    status: int,
    message: str,
    *,
    type: str = "server_error",
    code: str | None = None,
    retry_after: float | None = None,
    retry_after_ms: int | None = None,
) -> ScriptedReply:
    """An OpenAI-style error body (``{"error": {"message", "type", "code"}}``)."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return ScriptedReply(status=status, body=body, headers=headers)


def first_tool_starting_with(prefix: str, arguments: dict | None = None) -> Responder:
    """A responder that calls the first offered tool whose name starts with ``prefix`` (answers
    with text if there is none) — handy for driving a machine without knowing its tool order."""

    def respond(body: dict) -> ScriptedReply:
        for name in tool_names(body):
            if name.startswith(prefix):
                return tool_calls_reply(tool_call(name, arguments or {"reason": "scripted"}))
        return text_reply(f"no tool starting with {prefix!r} was offered")

    return respond


def tool_names(body: dict) -> list[str]:
    """Names of the tools offered in a recorded chat-completions request body."""
    return [tool["function"]["name"] for tool in body.get("tools") or []]


# ---------------------------------------------------------------------------------------------
# Server


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival


class ScriptedOpenAIServer:
    """See the module docstring. Start with ``start()`` (or use as a context manager)."""

    def __init__(self, models: tuple[str, ...] = ("test-model",)) -> None:
        self.models = list(models)
        self.received: list[RecordedRequest] = []
        self.fallback: Scripted | None = None
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "ScriptedOpenAIServer":
        handler = type("Handler", (_Handler,), {"server_state": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="openai-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ScriptedOpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """The value for ``OPENAI_BASE_URL`` / ``--base-url`` (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ------------------------------------------------------------------------
    def reply(self, *replies: Scripted) -> "ScriptedOpenAIServer":
        with self._lock:
            self._queue.extend(replies)
        return self

    def reply_text(self, content: str, **kwargs: Any) -> "ScriptedOpenAIServer":
        return self.reply(text_reply(content, **kwargs))

    def reply_tool_calls(self, *calls: dict, content: str | None = None, **kwargs: Any) -> "ScriptedOpenAIServer":
        return self.reply(tool_calls_reply(*calls, content=content, **kwargs))

    def reply_error(self, status: int, message: str, **kwargs: Any) -> "ScriptedOpenAIServer":
        return self.reply(error_reply(status, message, **kwargs))

    def reply_malformed_arguments(self, name: str, raw_arguments: str) -> "ScriptedOpenAIServer":
        return self.reply(tool_calls_reply(tool_call(name, raw_arguments)))

    def reply_tools_unsupported(self, model: str | None = None) -> "ScriptedOpenAIServer":
        """The 400 that Ollama gives for a model without tool support."""
        return self.reply(
            lambda body: error_reply(
                400,
                f"registry.ollama.ai/library/{model or body.get('model')}:latest does not support tools",
                type="api_error",
            )
        )

    def reply_disconnect(self) -> "ScriptedOpenAIServer":
        return self.reply(ScriptedReply(disconnect=True))

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    # -- inspection -----------------------------------------------------------------------
    @property
    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r.body for r in self.received if r.path.rstrip("/").endswith("/chat/completions")]

    # -- used by the handler ----------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.received.append(request)

    def _next_chat_reply(self, body: dict) -> ScriptedReply:
        with self._lock:
            scripted = self._queue.popleft() if self._queue else self.fallback
        if scripted is None:
            return error_reply(400, "the scripted test server has no reply left for this request",
                               type="invalid_request_error")
        return scripted(body) if callable(scripted) else scripted


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections must not stall shutdown
    request_queue_size = 256  # many concurrent paths connect at once


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: ScriptedOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> None:
        self.server_state._record(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
        )

    def _send(self, reply: ScriptedReply) -> None:
        if reply.disconnect:
            self.close_connection = True
            self.connection.close()
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        path = self.path.split("?")[0].rstrip("/")
        if not path.endswith("/chat/completions"):
            self._send(error_reply(404, f"unknown endpoint {self.path}", type="invalid_request_error"))
        elif not isinstance(body, dict):
            self._send(error_reply(400, "request body must be a JSON object", type="invalid_request_error"))
        elif body.get("stream"):
            self._send(error_reply(400, "streaming is not supported by the scripted test server",
                                   type="invalid_request_error"))
        else:
            self._send(self.server_state._next_chat_reply(body))

    def do_GET(self) -> None:
        self._record(None)
        path = self.path.split("?")[0].rstrip("/")
        models = self.server_state.models
        if path.endswith("/models"):
            data = [_model_object(m) for m in models]
            self._send(ScriptedReply(body={"object": "list", "data": data}))
        elif "/models/" in path and path.rsplit("/models/", 1)[1] in models:
            self._send(ScriptedReply(body=_model_object(path.rsplit("/models/", 1)[1])))
        else:
            self._send(error_reply(404, f"unknown endpoint or model {self.path}", type="invalid_request_error"))


def _model_object(model: str) -> dict:
    return {"id": model, "object": "model", "created": 0, "owned_by": "dygraph-tests"}
