"""The command line's numeric options, read as strictly as bindings are.

``--steps 1_000``, ``--precision １０`` and ``--lr 1_0`` were read by Python's
``int`` and ``float``, which take underscores and digits of every script; a
binding takes neither. These types read an option's value the way a binding's
value is read (a real number may be a constant expression, ``--lr 1/64``), so a
mistake is an ``error:`` line naming the option, exit 2, and an absurd count is
refused before anything runs.
"""

from __future__ import annotations

import re
from typing import Any

import click

from .errors import GradError, shorten

_WHOLE = re.compile(r"[+-]?[0-9]+")
#: Digits past which a count is not even converted (Python refuses past 4,300).
_MAX_DIGITS = 100


class Count(click.ParamType):
    """A whole number ≥ ``minimum`` (and ≤ ``maximum``, the limit), written with the digits 0-9."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int | None = None, unit: str = "") -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.unit = f" {unit}" if unit else ""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        flag = _flag(param)
        text = str(value).strip()
        shown = shorten(text)
        if not _WHOLE.fullmatch(text):
            plain = text.replace("_", "")
            hint = f" (write {shorten(plain)})" if "_" in text and _WHOLE.fullmatch(plain) else ""
            if text.lstrip("+-").isdecimal() and len(text) <= _MAX_DIGITS:
                hint = f" (write {int(text)})"  # digits of another script: ١٢, full-width １２
            raise GradError("usage", f"{flag} {shown}: not a whole number written with the digits 0-9{hint}")
        if text.startswith("-") and text.strip("-0"):
            raise GradError("usage", f"{flag} {shown}: at least {self.minimum}")
        digits = text.lstrip("+-").lstrip("0") or "0"
        if self.maximum is not None and (len(digits) > _MAX_DIGITS or int(digits) > self.maximum):
            raise GradError("usage", f"{flag} {shown}: at most {self.maximum:,}{self.unit} (the limit)")
        if len(digits) > _MAX_DIGITS:
            raise GradError("usage", f"{flag} {shown}: too large a number")
        number = int(digits)
        if number < self.minimum:
            raise GradError("usage", f"{flag} {shown}: at least {self.minimum}")
        return number


class Real(click.ParamType):
    """A finite real number, read as a binding's value is (``1e-3``, ``1/64``); the
    command checks its range."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        from .bindings import constant_value

        flag = _flag(param)
        try:
            return constant_value(str(value), flag)
        except GradError as err:
            raise GradError("usage", err.message, err.span, err.source) from None


def _flag(param: click.Parameter | None) -> str:
    if param is None or not param.opts:
        return "the option"
    return max(param.opts, key=len)
