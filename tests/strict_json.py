"""A strict JSON reader for gradcli's output (RFC 8259, as the JSON output promises).

``strict_loads`` refuses ``NaN``, ``Infinity`` and ``-Infinity`` (Python's ``json``
reads them by default), duplicate keys, and any float not written in its shortest
round-trip form (``repr``) or written as ``-0.0``. Tests that see JSON output call it.
"""

from __future__ import annotations

import json
from typing import Any


class NotStrictJSON(ValueError):
    """The text is JSON only to a lenient parser."""


def _constant(name: str) -> Any:
    raise NotStrictJSON(f"{name} is not JSON (RFC 8259)")


def _float(text: str) -> float:
    value = float(text)
    if repr(value) != text:
        raise NotStrictJSON(f"{text} is not the shortest round-trip form of {value!r}")
    if text == "-0.0":
        raise NotStrictJSON("-0.0: a zero is written 0.0")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotStrictJSON(f"duplicate key {key!r}")
        out[key] = value
    return out


def strict_loads(text: str) -> Any:
    """Parse one JSON document strictly; raise :class:`NotStrictJSON` or ``ValueError``."""
    return json.loads(
        text, parse_constant=_constant, parse_float=_float, object_pairs_hook=_no_duplicates
    )


def strict_lines(text: str) -> list[Any]:
    """Parse JSON Lines (one document per non-empty line, lines end with \\n) strictly."""
    return [strict_loads(line) for line in text.split("\n") if line.strip()]
