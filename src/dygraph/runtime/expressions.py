"""CEL conditions and `{{ … }}` templates, evaluated with celpy.

Compiling a CEL expression is slow (milliseconds), so every expression is compiled once per process
and cached, together with the root names it reads: an evaluation binds only those names (celpy copies
every binding it is given, and a machine may have thousands of nodes). celpy builds its LALR parser
from its grammar on first use, which takes about a second; the parser tables are cached on disk instead,
and nothing is built until the first expression is compiled. Evaluation errors never escape: a condition
that cannot be evaluated is false (decision 19) and a template placeholder that cannot be evaluated is
left as written; both are reported to the caller as an error string so it can emit a diagnostic event.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping, NamedTuple, Optional

import celpy
from celpy import celtypes

_ENV: Optional[celpy.Environment] = None
_MISSING = object()
_PROGRAMS: dict[str, Any] = {}  # CEL source -> _Compiled, or the compile error message
TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)


class _Compiled(NamedTuple):
    program: Any
    names: tuple[str, ...]  # root identifiers the expression reads (macro variables included; harmless)


def _environment() -> celpy.Environment:
    global _ENV
    if _ENV is None:
        from celpy.celparser import CELParser

        if CELParser.CEL_PARSER is None:
            CELParser.CEL_PARSER = _cached_parser()
        _ENV = celpy.Environment()
    return _ENV


def _cached_parser():
    """celpy's own parser (same grammar and options), with its LALR tables kept in the user's cache."""
    import hashlib
    from pathlib import Path

    import lark
    from celpy.celparser import CELParser

    grammar = (Path(celpy.__file__).parent / "cel.lark").read_text()
    options = dict(parser="lalr", start="expr", g_regex_flags=re.M, propagate_positions=True,
                   lexer_callbacks={"IDENT": CELParser.ambiguous_literals}, maybe_placeholders=False,
                   priority="invert", tree_class=celpy.InterpretedRunner.tree_node_class)
    digest = hashlib.sha256(f"{lark.__version__}\n{grammar}".encode()).hexdigest()[:16]
    folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                          "dygraph")
    try:
        os.makedirs(folder, exist_ok=True)
        return lark.Lark(grammar, cache=os.path.join(folder, f"celpy-runtime-{digest}.pickle"), **options)
    except (OSError, EOFError, ValueError):  # unwritable or corrupt cache: build in memory
        return lark.Lark(grammar, **options)


def normalise(expression: str) -> str:
    """Accept the reference's spellings: `{{ a.b }}` → `a.b`, `===` → `==`, `!==` → `!=`."""
    text = TEMPLATE.sub(lambda m: m.group(1), expression.strip())
    return text.replace("!==", "!=").replace("===", "==")


def _root_names(tree: Any) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for sub in tree.iter_subtrees():
        if sub.data in ("ident", "dot_ident") and sub.children:
            names.setdefault(str(sub.children[-1]), None)
    return tuple(names)


def compile_expression(expression: str) -> tuple[Optional[_Compiled], Optional[str]]:
    """(compiled, None) or (None, error message); cached per source text."""
    hit = _PROGRAMS.get(expression)
    if hit is None:
        try:
            env = _environment()
            ast = env.compile(normalise(expression))
            hit = _Compiled(env.program(ast), _root_names(ast))
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
    """(JSON value, None) or (None, error message). `scope` maps names to CEL values (see `to_cel`);
    only the names the expression reads are looked up."""
    compiled, error = compile_expression(expression)
    if error:
        return None, error
    activation = {}
    for name in compiled.names:
        value = scope.get(name, _MISSING)
        if value is not _MISSING:
            activation[name] = value
    try:
        return to_json(compiled.program.evaluate(activation)), None
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
