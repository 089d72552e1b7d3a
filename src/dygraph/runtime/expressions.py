"""CEL conditions and `{{ … }}` templates, evaluated with celpy.

Compiling a CEL expression is slow (milliseconds), so every expression is compiled once per process
and cached. Evaluation errors never escape: a condition that cannot be evaluated is false (decision 19)
and a template placeholder that cannot be evaluated is left as written; both are reported to the caller
as an error string so it can emit a diagnostic event.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional

import celpy
from celpy import celtypes

_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}  # CEL source -> compiled program, or the compile error message
TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)


def normalise(expression: str) -> str:
    """Accept the reference's spellings: `{{ a.b }}` → `a.b`, `===` → `==`, `!==` → `!=`."""
    text = TEMPLATE.sub(lambda m: m.group(1), expression.strip())
    return text.replace("!==", "!=").replace("===", "==")


def compile_expression(expression: str) -> tuple[Any, Optional[str]]:
    """(program, None) or (None, error message); cached per source text."""
    hit = _PROGRAMS.get(expression)
    if hit is None:
        try:
            hit = _ENV.program(_ENV.compile(normalise(expression)))
        except Exception as exc:  # celpy raises its own parse errors and occasionally plain ones
            hit = f"does not compile: {_first_line(exc)}"
        _PROGRAMS[expression] = hit
    return (None, hit) if isinstance(hit, str) else (hit, None)


def to_cel(value: Any) -> Any:
    """JSON value → CEL value. Whole floats become ints so `Ctx.n == 3` holds for n = 3.0."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, float) and value.is_integer():
        return celtypes.IntType(int(value))
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return celtypes.ListType([to_cel(v) for v in value])
    return celpy.json_to_cel(value)


def to_json(value: Any) -> Any:
    """CEL value → plain JSON value."""
    if value is None or isinstance(value, celtypes.BoolType):
        return None if value is None else bool(value)
    if isinstance(value, (celtypes.IntType, celtypes.UintType)):
        return int(value)
    if isinstance(value, celtypes.DoubleType):
        return float(value)
    if isinstance(value, (celtypes.StringType, str)):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return str(value)


def evaluate(expression: str, scope: Mapping[str, Any]) -> tuple[Any, Optional[str]]:
    """(JSON value, None) or (None, error message). `scope` holds CEL values (see `to_cel`)."""
    program, error = compile_expression(expression)
    if error:
        return None, error
    try:
        return to_json(program.evaluate(scope)), None
    except Exception as exc:  # CELEvalError and the Python errors it sometimes leaks
        return None, _first_line(exc)


def condition_holds(expression: str, scope: Mapping[str, Any]) -> tuple[bool, Optional[str]]:
    """A condition is true only if it evaluates to boolean true; an error makes it false."""
    value, error = evaluate(expression, scope)
    if error:
        return False, error
    if not isinstance(value, bool):
        return False, f"condition is not a boolean (got {json.dumps(value)})"
    return value, None


def render_template(text: str, scope: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Replace each `{{ expr }}`; placeholders that fail stay verbatim and are reported."""
    if "{{" not in text:
        return text, []
    errors: list[str] = []

    def replace(match: re.Match) -> str:
        value, error = evaluate(match.group(1), scope)
        if error:
            errors.append(f"{match.group(0)}: {error}")
            return match.group(0)
        return value if isinstance(value, str) else json.dumps(value)

    return TEMPLATE.sub(replace, text), errors


def _first_line(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    text = str(args[0]) if args else str(exc)
    text = text.split(" (in activation", 1)[0]
    return (text.splitlines() or [type(exc).__name__])[0][:300]
