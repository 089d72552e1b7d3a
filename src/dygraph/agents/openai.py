"""The `openai` agent: any OpenAI-compatible Chat Completions server with tool calling.

Works with OpenAI itself and with local or hosted compatible servers (Ollama, vLLM, LM Studio,
llama.cpp, OpenRouter) through the standard ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` variables.
Retries (429, 5xx, timeouts, connection errors; exponential backoff honouring ``Retry-After``) are
the SDK's own, bounded by ``max_retries``. Every failure reaches the runtime as an `AgentError`
with a message a user can act on.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import openai as sdk

from dygraph.agents.base import AgentConfigurationError, AgentError, AgentReply, AgentRequest, ToolCall, ToolSpec

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_TIMEOUT = 120.0  # seconds per HTTP request
DEFAULT_MAX_RETRIES = 3  # so up to 4 attempts per request
# Local servers accept any key, but the SDK insists on one.
LOCAL_PLACEHOLDER_KEY = "dygraph-no-key"

MODEL_ENV = "DYGRAPH_MODEL"
BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"

# How servers say "this model cannot call tools": Ollama "... does not support tools",
# OpenRouter "No endpoints found that support tool use", OpenAI "'tools' is not supported with
# this model", vLLM "auto tool choice requires --enable-auto-tool-choice", llama.cpp "tools param
# requires --jinja flag".
_TOOLS_WORD = re.compile(r"\btools?\b|tool[ _-]?(use|call|choice)|function[ _-]?call|\bfunctions\b", re.I)
_UNSUPPORTED_WORD = re.compile(r"support|enable-auto-tool-choice|requires --", re.I)


class OpenAIAgent:
    """Agent backed by the Chat Completions API (see module docstring).

    ``model`` is this agent's default; the runtime's per-request ``model`` (node attribute, then
    ``--model``, then the machine's config) wins over it, and ``DYGRAPH_MODEL`` / `DEFAULT_MODEL`
    are the last resorts.
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or None
        key = api_key or os.environ.get(API_KEY_ENV) or None
        if key is None and self.base_url is None:
            raise AgentConfigurationError(
                "the openai agent needs a server: set OPENAI_API_KEY for api.openai.com, or set "
                "--base-url / OPENAI_BASE_URL to an OpenAI-compatible server "
                "(e.g. Ollama: http://localhost:11434/v1); "
                "use --agent offline to run without an LLM"
            )
        self.model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        self.timeout = timeout
        self.max_retries = max_retries
        self._client = sdk.AsyncOpenAI(
            api_key=key or LOCAL_PLACEHOLDER_KEY,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        self._server = self.base_url or "api.openai.com"

    async def respond(self, request: AgentRequest) -> AgentReply:
        model = request.model or self.model
        messages = list(request.messages)
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        params: dict[str, Any] = {"model": model, "messages": messages}
        if request.tools:
            params["tools"] = [tool_schema(tool) for tool in request.tools]
        try:
            completion = await self._client.chat.completions.create(**params)
        except sdk.OpenAIError as exc:
            raise self._explain(exc, model, with_tools=bool(request.tools)) from None
        return _reply(completion, model, self._server)

    async def aclose(self) -> None:
        await self._client.close()

    def _explain(self, exc: sdk.OpenAIError, model: str, *, with_tools: bool) -> AgentError:
        """Turn an SDK error into a message that names the server and model and says what to do."""
        where = f"model {model!r} at {self._server}"
        attempts = f"after {self.max_retries + 1} attempts"
        if isinstance(exc, sdk.APITimeoutError):
            return AgentError(f"{where}: no answer within {self.timeout:g}s ({attempts})")
        if isinstance(exc, sdk.APIConnectionError):
            cause = exc.__cause__ or exc
            return AgentError(f"cannot reach {self._server} ({attempts}): {cause}")
        if not isinstance(exc, sdk.APIStatusError):
            return AgentError(f"{where}: {exc}")
        status = exc.status_code
        message = _error_message(exc)
        if with_tools and status in (400, 404, 422) and _says_tools_unsupported(message):
            return AgentError(
                f"model {model!r} at {self._server} does not support tool calling ({message}); "
                f"decisions need it: choose a tools-capable model with --model or DYGRAPH_MODEL "
                f"(e.g. gpt-4o-mini, or llama3.1 / qwen2.5 on Ollama)",
                permanent=True,
            )
        if status == 401:
            return AgentError(f"{self._server} rejected the API key (HTTP 401: {message}); check OPENAI_API_KEY",
                              permanent=True)
        if status == 403:
            return AgentError(f"{where}: access denied (HTTP 403: {message})", permanent=True)
        if status == 404:
            return AgentError(
                f"{where}: not found (HTTP 404: {message}); check the model name and that the "
                f"base URL ends in /v1",
                permanent=True,
            )
        if status == 429:
            return AgentError(f"{where}: rate limited (HTTP 429) {attempts}: {message}")
        if status >= 500:
            return AgentError(f"{where}: server error (HTTP {status}) {attempts}: {message}")
        return AgentError(f"{where} rejected the request (HTTP {status}): {message}")


def tool_schema(tool: ToolSpec) -> dict:
    """A `ToolSpec` as a Chat Completions function tool, parameters passed through unchanged
    (an empty schema becomes the empty object schema, which strict servers require)."""
    parameters = tool.parameters or {"type": "object", "properties": {}}
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": parameters},
    }


def parse_arguments(raw: Any) -> dict:
    """Tool-call arguments as a dict; anything that is not a JSON object is kept, not raised, as
    ``{"__malformed__": raw}`` so the runtime can tell the model its call was invalid."""
    if isinstance(raw, dict):  # some servers send an object instead of a JSON string
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {"__malformed__": raw if isinstance(raw, str) else repr(raw)}
    return value if isinstance(value, dict) else {"__malformed__": raw}


def _reply(completion: Any, model: str, server: str) -> AgentReply:
    choices = _field(completion, "choices") or []
    if not choices:
        raise AgentError(f"model {model!r} at {server} answered without any choice: {completion!r:.300}")
    message = _field(choices[0], "message")
    calls = []
    for index, call in enumerate(_field(message, "tool_calls") or []):
        function = _field(call, "function") or _field(call, "custom")
        raw = _field(function, "arguments")
        if raw is None:
            raw = _field(function, "input")
        calls.append(
            ToolCall(
                # some local servers omit ids; the runtime needs one to pair the tool result
                id=_field(call, "id") or f"call_{index}",
                name=_field(function, "name") or "",
                arguments=parse_arguments(raw),
            )
        )
    return AgentReply(content=_field(message, "content"), tool_calls=calls, usage=_usage(completion))


def _usage(completion: Any) -> dict | None:
    usage = _field(completion, "usage")
    if usage is None:
        return None
    prompt, output = _field(usage, "prompt_tokens"), _field(usage, "completion_tokens")
    total = _field(usage, "total_tokens")
    if total is None and prompt is not None and output is not None:
        total = prompt + output
    return {"input_tokens": prompt, "output_tokens": output, "total_tokens": total}


def _field(obj: Any, name: str) -> Any:
    """Attribute or key; lenient because compatible servers omit fields the SDK types declare."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _error_message(exc: sdk.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return exc.message


def _says_tools_unsupported(message: str) -> bool:
    return bool(_TOOLS_WORD.search(message) and _UNSUPPORTED_WORD.search(message)) and "schema" not in message.lower()
