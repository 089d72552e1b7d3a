"""`@priority` values as the validator and the runtime read them (one reading, shared)."""

from __future__ import annotations

import re
from typing import Any, Optional

PRIORITY_WORDS = {"high": 1.0, "medium": 2.0, "normal": 2.0, "low": 3.0}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def priority_rank(value: Any) -> Optional[float]:
    """Lower runs first: a number, or a string holding one (`@priority("1")`), is itself; high / medium
    (normal) / low are 1 / 2 / 3. None when `value` is not a priority."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    return PRIORITY_WORDS.get(text.lower())
