"""Attribute type checking (reference §11.1, DG301–DG304) and edge multiplicities (DG305/DG306).

Values are checked as written (decision 5): `"42"` is a string, `null` is a null, `-1` is a number.
Built-in type names match case-insensitively; any node name is a type (its typed attributes are the
fields). Strings holding `{{ … }}` are only known at run time, so they pass scalar checks.
"""

from __future__ import annotations

import json
import re
from typing import Callable, Iterator, Optional

from dygraph.diagnostics import Diagnostic
from dygraph.ir.duration import parse_duration_text
from dygraph.ir.model import Attribute, Machine, Node, TypeRef, Value

from .context import Context

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+\Z")
_MULTIPLICITY = re.compile(r"([0-9]+|\*)(\.\.([0-9*]+))?\Z")


def is_duration(text: str) -> bool:
    return parse_duration_text(text) is not None


def _is_number(v: Value) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_template(v: Value) -> bool:
    return isinstance(v, str) and "{{" in v


def describe(v: Value) -> str:
    """A short, readable rendering of a value for messages."""
    if isinstance(v, str):
        text = json.dumps(v)
    elif isinstance(v, list):
        return "an array"
    elif isinstance(v, dict):
        return "an object"
    else:
        text = json.dumps(v)
    return text if len(text) <= 40 else text[:37] + "…\""


def _kind_of(v: Value) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if _is_number(v):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def _string_check(pattern: Callable[[str], bool], what: str) -> Callable[[Value], Optional[str]]:
    def check(v: Value) -> Optional[str]:
        if not isinstance(v, str):
            return f"expected {what}, got {_kind_of(v)} {describe(v)}"
        if _is_template(v) or pattern(v):
            return None
        return f"{describe(v)} is not {what}"
    return check


def _number_check(integral: bool) -> Callable[[Value], Optional[str]]:
    def check(v: Value) -> Optional[str]:
        if _is_template(v):
            return None
        if not _is_number(v):
            return f"expected {'an integer' if integral else 'a number'}, got {_kind_of(v)} {describe(v)}"
        if integral and not float(v).is_integer():
            return f"{describe(v)} is not an integer"
        return None
    return check


def _simple(test: Callable[[Value], bool], what: str) -> Callable[[Value], Optional[str]]:
    def check(v: Value) -> Optional[str]:
        return None if test(v) or _is_template(v) else f"expected {what}, got {_kind_of(v)} {describe(v)}"
    return check


def _any(v: Value) -> Optional[str]:
    return None


# Lowercased built-in type name → check of a present, non-null value.
_BUILTINS: dict[str, Callable[[Value], Optional[str]]] = {
    "string": _simple(lambda v: isinstance(v, str), "a string"),
    "number": _number_check(False),
    "float": _number_check(False),
    "double": _number_check(False),
    "decimal": _number_check(False),
    "integer": _number_check(True),
    "int": _number_check(True),
    "boolean": _simple(lambda v: isinstance(v, bool), "a boolean"),
    "date": _string_check(lambda s: bool(_DATE.match(s)), "an ISO timestamp such as \"2025-01-31T12:00:00Z\""),
    "uuid": _string_check(lambda s: bool(_UUID.match(s)), "a UUID"),
    "url": _string_check(lambda s: bool(_URL.match(s)), "a URL such as \"https://example.com\""),
    "duration": _string_check(is_duration, "a duration such as \"PT30S\" or \"30s\""),
    "array": _simple(lambda v: isinstance(v, list), "an array"),
    "list": _simple(lambda v: isinstance(v, list), "an array"),
    "map": _simple(lambda v: isinstance(v, dict), "an object"),
    "record": _simple(lambda v: isinstance(v, dict), "an object"),
    "object": _simple(lambda v: isinstance(v, dict), "an object"),
    "promise": _any,
    "result": _any,
    "any": _any,
    "unknown": _any,
}


class TypeChecker:
    """Checks values against declared types of one machine (node names are types)."""

    def __init__(self, machine: Machine):
        self.machine = machine

    def _node_type(self, name: str) -> Optional[Node]:
        found = self.machine.find(name)
        return found[0] if found else None

    def check(self, t: TypeRef, v: Value, *, nested: bool = False, depth: int = 0) -> Optional[str]:
        """Why `v` does not fit `t`, or None. Unknown type names fail at the top level only."""
        if v is None:
            return None if t.optional else "null is not allowed"
        if t.literals is not None:
            text = _literal_text(v)
            if text in t.literals:
                return None
            allowed = ", ".join(repr(x) for x in t.literals)
            return f"{describe(v)} is not one of the allowed literals: {allowed}"
        name = t.name.lower()
        if t.args:
            if name in ("array", "list"):
                if not isinstance(v, list):
                    return f"expected an array, got {_kind_of(v)} {describe(v)}"
                for i, item in enumerate(v):
                    why = self.check(t.args[0], item, nested=True, depth=depth + 1)
                    if why:
                        return f"element {i}: {why}"
                return None
            if name in ("map", "record"):
                if not isinstance(v, dict):
                    return f"expected an object, got {_kind_of(v)} {describe(v)}"
                for key, item in v.items():
                    why = self.check(t.args[-1], item, nested=True, depth=depth + 1)
                    if why:
                        return f"key '{key}': {why}"
                return None
            return None  # Promise<…>, Result<…, …> and other generics describe, they don't constrain
        node = self._node_type(t.name) if depth < 8 else None
        if node is not None:
            return self._check_object(node, v, depth)
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            return builtin(v)
        if nested:
            return None  # the reference treats unknown type arguments as `any`
        return f"unknown type '{t.name}'"

    def _check_object(self, node: Node, v: Value, depth: int) -> Optional[str]:
        if isinstance(v, str) and self.machine.find(v):
            return None  # a reference to a node of that type
        if not isinstance(v, dict):
            return f"expected a '{node.name}' object, got {_kind_of(v)} {describe(v)}"
        for a in node.attributes:
            if a.type is None or a.type.literals is not None:  # untyped and union fields accept anything
                continue
            if a.name not in v:
                if not a.type.optional:
                    return f"missing field '{a.name}' required by '{node.name}'"
                continue
            why = self.check(a.type, v[a.name], nested=True, depth=depth + 1)
            if why:
                return f"field '{a.name}': {why}"
        return None


def _literal_text(v: Value) -> Optional[str]:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (str, int, float)):
        return str(v)
    return None


def _attribute_diagnostic(ctx: Context, checker: TypeChecker, a: Attribute, owner: str) -> Optional[Diagnostic]:
    t = a.type
    assert t is not None
    if not a.has_value:
        if t.optional:
            return None
        return ctx.diag("DG301", f"Attribute '{a.name}'{owner} has type {t} but no value", a.span,
                        hint=f"Give it a value, mark it optional (`{a.name}<{t}?>;`), or declare it in a "
                             "`Type` node to describe a schema")
    if a.kind == "null" or a.value is None:
        if t.optional:
            return None
        return ctx.diag("DG302", f"Attribute '{a.name}'{owner} is null but its type {t} is not optional",
                        a.span, hint=f"Mark the type optional: `{a.name}<{t}?>`")
    why = checker.check(t, a.value)
    if why is None:
        return None
    code = "DG303" if t.literals is not None else "DG304"
    hint = None
    if code == "DG304" and a.kind == "string" and t.name.lower() in ("number", "integer", "int", "float",
                                                                     "boolean", "double", "decimal"):
        hint = "Quoted values are strings; write the value without quotes"
    elif why.startswith("unknown type"):
        hint = (f"Use a built-in type (string, number, boolean, Integer, Float, Date, UUID, URL, Duration, "
                f"Array<T>, Map<K, V>) or declare `Type {t.name} {{ … }}`")
    return ctx.diag(code, f"Attribute '{a.name}'{owner}: {why} (declared type {t})", a.span, hint=hint)


def check_attribute_types(ctx: Context) -> Iterator[Diagnostic]:
    m = ctx.machine
    checker = TypeChecker(m)
    for a in m.attributes:
        if a.type is not None:
            d = _attribute_diagnostic(ctx, checker, a, " of the machine")
            if d:
                yield d
    for node in ctx.nodes:
        if node.type_lower == "type":  # schema nodes describe fields; they need no values
            continue
        for a in node.attributes:
            if a.type is not None:
                d = _attribute_diagnostic(ctx, checker, a, f" of '{node.name}'")
                if d:
                    yield d
    for e in m.edges:
        for a in e.block:
            if a.type is not None:
                d = _attribute_diagnostic(ctx, checker, a, f" of edge {ctx.label(e.source)} → {ctx.label(e.target)}")
                if d:
                    yield d


def check_multiplicity(ctx: Context) -> Iterator[Diagnostic]:
    for e in ctx.machine.edges:
        for side, text in (("source", e.source_multiplicity), ("target", e.target_multiplicity)):
            if text is None:
                continue
            m = _MULTIPLICITY.match(text)
            if m is None:
                yield ctx.diag("DG305", f"Invalid {side} multiplicity \"{text}\"", e.span,
                               hint='Write a count or a range: "1", "*", "0..1", "1..*", "2..5"')
                continue
            lower, upper = m.group(1), m.group(3)
            if upper is not None and "*" not in lower + upper and upper.isdigit() and int(lower) > int(upper):
                yield ctx.diag("DG306", f"The {side} multiplicity \"{text}\" has a lower bound greater than its "
                                        "upper bound", e.span, hint=f'Did you mean "{upper}..{lower}"?')


CHECKS = (check_attribute_types, check_multiplicity)
