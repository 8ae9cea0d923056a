"""Durations as people write them in flags and env vars: ``500ms``, ``1s``, ``5m``, ``24h``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse ``"500ms"``, ``"1s"``, ``"1.5s"``, ``"5m"``, ``"1h30m"`` or ``"0"``.

    Raises ``ValueError`` naming the accepted form for anything else (a bare number other
    than 0 is refused: "30" could mean seconds or minutes).
    """
    cleaned = text.strip().lower()
    if cleaned == "0":
        return timedelta(0)
    position = 0
    seconds = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(cleaned):
        raise ValueError(
            f"{text!r} is not a duration: use a number with a unit, e.g. 500ms, 1s, 5m, 24h"
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact form ``parse_duration`` reads back: ``30s``, ``5m``, ``1500ms``."""
    milliseconds = round(value.total_seconds() * 1000)
    if milliseconds == 0:
        return "0"
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"
