"""Bindings: the values given to a program's inputs, checked and turned into floats.

One reading for every way a value arrives: ``eval``'s command line and the Python
API (:func:`resolve_point`), and every row and default of a batch
(:func:`coerce_value`). A value is a number or a constant expression
(``pi/4``); a name in a message is shortened, so a huge key stays readable.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import GradError, shorten
from .evaluate import forward
from .graph import Graph, lower, suggest
from .ops import CONSTANTS, FUNCTIONS
from .syntax import Assign

_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PREFIXED_INTEGER = re.compile(r"[+-]?0(?:[xX][0-9a-fA-F_]+|[oO][0-7_]+|[bB][01_]+)")
_NOT_FINITE = ("inf", "infinity", "nan")
_NAME = re.compile(r"[^\W\d]\w*")  # the grammar's NAME


def option_flag(name: str) -> str:
    """How the command line binds ``name``: ``-x`` or ``--rate``."""
    return f"-{name}" if len(name) == 1 else f"--{shorten(name)}"


def _spelling_hint(text: str, *, scripts: bool = True) -> tuple[str, str] | None:
    """A number that Python reads but the language does not (``0x10``, ``1_000``,
    and with ``scripts`` ``١٢``): a word for the message and how to write it, or None."""
    if _PREFIXED_INTEGER.fullmatch(text):
        if len(text) > 40:  # its decimal spelling would be long (and slow to make)
            return " decimal", "write it in decimal"
        return " decimal", f"write {int(text.replace('_', ''), 0)}"
    if "_" in text and _PLAIN_NUMBER.fullmatch(text.replace("_", "")):
        return "", f"write {shorten(text.replace('_', ''))}, without '_'"
    if scripts and not text.isascii() and _PLAIN_NUMBER.fullmatch(_ascii_digits(text)):
        return "", f"write {shorten(_ascii_digits(text))}, with the digits 0-9"
    return None


def _ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script as its ASCII digit."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def cell_value(name: str, raw: Any) -> float:
    """One input's value in a row of a data file (a CSV cell, a JSON Lines value):
    a number, or a string holding a decimal number as the language writes one
    (``2.5``, ``-3``, ``.5``, ``1e-3``), with white space around it allowed.

    Never an expression: a date such as ``2024-01-05`` in a column is that row's
    error, not 2018. (Command-line bindings, read by :func:`constant_value`, do
    take constant expressions.) A blank cell is the caller's: it means missing.
    """
    if isinstance(raw, (bool, list, dict)):  # JSON's true, false, [...], {...}: as JSON spells them
        import json

        shown = shorten(json.dumps(raw, ensure_ascii=False, default=str))
        raise GradError("binding", f"the value of {shorten(name)} is not a number: {shown}")
    if not isinstance(raw, str):
        return coerce_value(name, raw)
    text = raw.strip()
    plain = _PLAIN_NUMBER.fullmatch(text)
    if plain:
        value = float(text)
        if math.isfinite(value):
            return value
    label, shown = shorten(name), shorten(text)
    if plain:
        raise GradError("binding", f"the value of {label} is too large for a float: {shown}")
    if text.lower().lstrip("+-") in _NOT_FINITE:
        raise GradError("binding", f"the value of {label} must be a finite number, not {text}")
    hint = _spelling_hint(text)
    if hint:
        raise GradError("binding", f"the value of {label} is not a{hint[0]} number: {shown} ({hint[1]})")
    raise GradError(
        "binding",
        f"the value of {label} is not a number: {shown} (a row holds decimal numbers such as 2.5"
        " or -1e-3; expressions such as pi/4 are read only on the command line)",
    )


def constant_value(text: str, name: str = "value") -> float:
    """A binding's value: a number or a constant expression (``pi/4``, ``2^0.5``).

    Values must be finite: ``inf`` and ``nan`` are refused by name, ``1e999`` as too
    large; ``0x10`` and ``1_000`` (which Python would read) are refused with the
    decimal spelling, since the language itself has neither.
    """
    label = shorten(name)
    text = text.strip()
    shown = shorten(text)
    if not text:
        raise GradError("binding", f"the value of {label} is empty: give a number, as in {label}=2")
    if text.lower().lstrip("+-") in _NOT_FINITE:
        raise GradError("binding", f"the value of {label} must be a finite number, not {text}")
    if _PLAIN_NUMBER.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            raise GradError("binding", f"the value of {label} is too large for a float: {shown}")
        return value
    hint = _spelling_hint(text, scripts=False)  # the parse below points at the character
    if hint:
        raise GradError("binding", f"the value of {label} is not a{hint[0]} number: {shown} ({hint[1]})")
    if _NAME.fullmatch(text) and text not in CONSTANTS and text not in FUNCTIONS:
        # A bare name (a word in a column of numbers): what the parse below would say.
        raise GradError(
            "binding",
            f"the value of {label} must be a number or a constant expression, not the name {shown}"
            f" (the constants are {', '.join(CONSTANTS)})",
        )
    from .parse import parse

    try:
        program = parse(text)
    except GradError as err:
        raise GradError(
            "binding", f"the value of {label} is not a number: {err.message}", err.span, err.source
        ) from None
    if len(program.statements) != 1 or isinstance(program.statements[0], Assign):
        raise GradError(
            "binding",
            f"the value of {label} must be one number or constant expression, not statements",
        )
    graph = lower(program)
    if graph.inputs:
        names = ", ".join(shorten(n) for n in graph.inputs)
        what = f"the name {shown}" if list(graph.inputs) == [text] else f"{shown}, which uses {names}"
        raise GradError(
            "binding",
            f"the value of {label} must be a number or a constant expression, not {what}"
            f" (the constants are {', '.join(CONSTANTS)})",
        )
    try:
        value = forward(graph, {})[-1]
    except GradError as err:
        raise GradError(
            "binding", f"the value of {label} cannot be computed: {err.message}", err.span, err.source
        ) from None
    return value


def coerce_value(name: str, raw: Any) -> float:
    """One input's value as a float: a number (int or float, finite) or a string that
    :func:`constant_value` reads. The one reading of the point path and the batch path."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise GradError("binding", f"the value of {shorten(name)} is not a number: {shorten(repr(raw))}")
    if isinstance(raw, str):
        return constant_value(raw, name)
    try:
        value = float(raw)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    if not math.isfinite(value):
        raise GradError(
            "binding", f"the value of {shorten(name)} must be a finite number, not {shorten(repr(raw))}"
        )
    return value


def unknown_binding(graph: Graph, name: str) -> str:
    """Why ``name`` cannot be bound in ``graph`` (a constant, computed, or unused)."""
    label = shorten(name)
    if name in CONSTANTS:
        return f"{label} is a constant and cannot be bound"
    if name in graph.names:
        return f"{label} is computed by the program and cannot be bound"
    if not graph.inputs:
        return f"the program does not use {label}; it has no inputs"
    inputs = ", ".join(shorten(n) for n in graph.inputs)
    return f"the program does not use {label}{suggest(name, graph.inputs)}; its inputs are {inputs}"


def resolve_point(graph: Graph, bindings: Mapping[str, Any]) -> dict[str, float]:
    """Check ``bindings`` against the program's inputs and turn every value into a float."""
    for name in bindings:
        if name not in graph.inputs:
            raise GradError("binding", unknown_binding(graph, name))
    missing = [name for name in graph.inputs if name not in bindings]
    if missing:
        listed = ", ".join(shorten(n) for n in missing)
        example = " ".join(f"{option_flag(n)} VALUE" for n in missing[:5])
        raise GradError(
            "binding",
            f"missing a value for {listed}: bind {'it' if len(missing) == 1 else 'them'}"
            f" as {example}{' ...' if len(missing) > 5 else ''}",
        )
    return {name: coerce_value(name, bindings[name]) for name in graph.inputs}


def resolve_wrt(graph: Graph, wrt: Iterable[str] | None) -> list[str]:
    """The names whose gradient is reported: inputs and named intermediates."""
    if wrt is None:
        return list(graph.inputs)
    names = list(wrt)
    seen: set[str] = set()
    for name in names:
        if name in seen:  # each gradient once: no record with two "grad_x"
            raise GradError("usage", f"--wrt {shorten(name)}: {shorten(name)} is named twice")
        seen.add(name)
        if name not in graph.inputs and name not in graph.names:
            known = [*graph.inputs, *graph.names]
            raise GradError(
                "usage",
                f"--wrt {name}: the program has no input or named value {name}"
                f"{suggest(name, known)}; it has {', '.join(known) or 'none'}",
            )
    return names


def chosen_inputs(graph: Graph, names: Iterable[str] | None, option: str = "--wrt") -> list[str]:
    """The inputs a command works on, as ``option`` names them: the Hessian's rows and
    columns (``hessian --wrt``), what ``descend --wrt`` and ``fit --params`` move, what
    ``check --wrt`` perturbs; default (None) every input, in order of first appearance.
    Refused, each as a usage error that lists the inputs: a named statement (it is
    computed by the program, not free: moving it or differentiating toward it as a
    variable means nothing), a name the program does not have, a name given twice,
    and no name at all."""
    if names is None:
        names = list(graph.inputs)
        if not names:
            raise GradError("usage", "the program has no inputs: there is nothing to differentiate toward")
        return names
    inputs = ", ".join(shorten(n) for n in graph.inputs) or "none"
    chosen: list[str] = []
    for name in names:
        label = shorten(name)
        if name in graph.names:
            why = f"{label} is computed by the program, not an input"
        elif name not in graph.inputs:
            why = f"the program has no input {label}{suggest(name, graph.inputs)}"
        elif name in chosen:
            raise GradError("usage", f"{option} {label}: {label} is named twice")
        else:
            chosen.append(name)
            continue
        raise GradError("usage", f"{option} {label}: {why}; its inputs are {inputs}")
    if not chosen:
        raise GradError("usage", f"{option}: name at least one input; the program's inputs are {inputs}")
    return chosen
