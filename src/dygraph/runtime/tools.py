"""User tools: Python callables offered to agents at prompted nodes, next to the built-in tools."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional, Union

import anyio
from pydantic import create_model

ToolFunction = Callable[..., Union[Any, Awaitable[Any]]]


@dataclass
class Tool:
    """A user tool. `fn` receives the arguments as keywords; sync functions run in a worker thread.
    `idempotent` tells a durable store whether an interrupted call may be re-run on resume."""

    name: str
    fn: ToolFunction
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    idempotent: bool = True

    async def __call__(self, arguments: dict) -> Any:
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(**arguments)
        result = await anyio.to_thread.run_sync(lambda: self.fn(**arguments))
        if inspect.isawaitable(result):
            result = await result
        return result


def tool(fn: Optional[ToolFunction] = None, *, name: Optional[str] = None, description: Optional[str] = None,
         idempotent: bool = True) -> Any:
    """Decorator: make a `Tool` from a function, its JSON Schema from the signature's annotations."""

    def build(f: ToolFunction) -> Tool:
        return Tool(name=name or f.__name__, fn=f, description=description or inspect.getdoc(f) or "",
                    parameters=signature_schema(f), idempotent=idempotent)

    return build(fn) if fn is not None else build


def signature_schema(fn: ToolFunction) -> dict:
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = Any if p.annotation is inspect.Parameter.empty else p.annotation
        fields[p.name] = (annotation, ... if p.default is inspect.Parameter.empty else p.default)
    schema = create_model(f"{fn.__name__}_args", **fields).model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return schema


def check_arguments(schema: dict, arguments: dict) -> Optional[str]:
    """A small JSON Schema check (types, enums, required, unknown keys) for tool arguments."""
    props = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in arguments:
            return f"missing required argument {key!r}"
    if schema.get("additionalProperties") is False:
        unknown = [k for k in arguments if k not in props]
        if unknown:
            return f"unknown argument(s) {', '.join(map(repr, unknown))}; expected: {', '.join(props) or 'none'}"
    for key, value in arguments.items():
        sub = props.get(key)
        if sub and not _matches(sub, value):
            return f"argument {key!r} must be {_describe(sub)}, got {type(value).__name__} {value!r}"
    return None


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _matches(schema: dict, value: Any) -> bool:
    if "enum" in schema and value not in schema["enum"] and value is not None:
        return False
    if "anyOf" in schema:
        return any(_matches(s, value) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind is None:
        return True
    kinds = kind if isinstance(kind, list) else [kind]
    if not any(_JSON_TYPES.get(k, lambda v: True)(value) for k in kinds):
        return False
    if isinstance(value, list) and "items" in schema:
        return all(_matches(schema["items"], v) for v in value)
    return True


def _describe(schema: dict) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    kind = schema.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)
