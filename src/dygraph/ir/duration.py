"""Durations as DyGram writes them (`@timeout`, `Duration` attributes), shared by the validator and runtime.

Forms: `"500ms"`, `"30s"`, `"5m"` / `"5min"`, `"2h"` / `"2hr"`, `"1d"`, `"1w"`, `"1y"` (a decimal number
and a unit, case-insensitive, optional space), and ISO-8601 `"PT30S"`, `"P1DT2H"`. A bare number — or a
string holding only one — is in `number_unit` seconds (milliseconds by default, as the reference's
`@timeout(5000)` examples mean it).
"""

from __future__ import annotations

import re
from typing import Any, Optional

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0,
          "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_SHORT = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|hr|h|d|w|y)", re.I)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_N = r"(\d+(?:\.\d+)?)"
_ISO = re.compile(rf"P(?!\Z)(?:{_N}Y)?(?:{_N}M)?(?:{_N}W)?(?:{_N}D)?(?:T(?=\d)(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?",
                  re.I)
# Seconds per ISO field, in pattern order: years, months (30 days), weeks, days, hours, minutes, seconds.
_ISO_SECONDS = (31536000.0, 2592000.0, 604800.0, 86400.0, 3600.0, 60.0, 1.0)


def parse_duration_text(text: str) -> Optional[float]:
    """Seconds of a duration string with a unit (`"30s"`, `"PT30S"`), or None if it is not one."""
    text = text.strip()
    m = _SHORT.fullmatch(text)
    if m:
        return float(m.group(1)) * _UNITS[m.group(2).lower()]
    m = _ISO.fullmatch(text)
    if m:
        return sum(float(v) * unit for v, unit in zip(m.groups(), _ISO_SECONDS) if v is not None)
    return None


def parse_duration(value: Any, *, number_unit: float = 0.001) -> Optional[float]:
    """Seconds of `value` (a number, a numeric string or a duration string), or None if it is none of them."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) * number_unit
    if not isinstance(value, str):
        return None
    if _NUMBER.fullmatch(value.strip()):
        return float(value) * number_unit
    return parse_duration_text(value)
