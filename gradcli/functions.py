"""``gradcli functions``: every operator and function with its arity, domain and
derivative rule, read from the operation table (``ops.ALL_OPS``) so it cannot drift."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from .ops import ALL_OPS, CONSTANTS, Op

#: A piped listing is wrapped at this many columns (on a terminal, the window's width).
PIPE_WIDTH = 80


def _also(op: Op) -> list[str]:
    """Other spellings of the same row: ``x ** y`` and ``pow(x, y)`` for ``x ^ y``."""
    if op.name == "pow":
        return ["x ** y", "pow(x, y)"]
    return []


def derivative_text(op: Op) -> str:
    # One-argument rules are written as f'(x); with more arguments the rule names
    # each partial itself ("∂/∂x = y, ∂/∂y = x").
    if op.arity == 1 and not op.rule.startswith("∂"):
        return f"{op.signature}  →  {op.rule}"
    return op.rule


def _spellings(op: Op) -> set[str]:
    """What a user may type to pick ``op``'s row: its name, its operator symbol, the
    function name of each of its signatures (``pow`` and ``**`` for ``x ^ y``)."""
    words = {op.name}
    if op.symbol is not None:
        words.add(op.symbol)
    for signature in [op.signature, *_also(op)]:
        head = signature.split("(", 1)[0].strip()
        if "(" in signature:
            words.add(head)
        else:  # an infix form such as ``x ** y``: its operator
            words.update(part for part in signature.split() if part not in op.params)
    return words


def select_ops(names: Iterable[str] = ()) -> list[Op]:
    """The rows of the operation table that ``names`` pick (every row for none), in
    the table's order. An unknown name is a usage error with the closest spellings."""
    wanted = list(names)
    if not wanted:
        return list(ALL_OPS)
    spellings = {op: _spellings(op) for op in ALL_OPS}
    known = set().union(*spellings.values())
    for name in wanted:
        if name not in known:
            from .errors import GradError
            from .graph import suggest
            from .ops import CONSTANTS
            from .syntax_errors import LOOKALIKES

            if name in CONSTANTS:  # once "did you mean if?" for pi
                raise GradError("usage", f"{name} is a constant ({CONSTANTS[name]!r}), not an operator or"
                                " a function: gradcli functions --json lists the constants")
            close = LOOKALIKES.get(name)  # ≤ for <=, × for *: as the parser says
            hint = f" (did you mean {close}?)" if close else suggest(name, sorted(known))
            raise GradError("usage", f"no operator or function named {name}{hint}")
    return [op for op in ALL_OPS if spellings[op] & set(wanted)]


def function_rows(ops: Iterable[Op] = ALL_OPS) -> list[dict[str, Any]]:
    """One record per row of the operation table, in the table's order."""
    return [
        {
            "name": op.name,
            "signature": op.signature,
            "also": _also(op),
            "kind": "operator" if op.symbol is not None else "function",
            "arity": op.arity,  # the least number of arguments when "variadic"
            "variadic": op.variadic,
            "domain": op.domain,
            "derivative": op.rule,
        }
        for op in ops
    ]


def functions_json(ops: Iterable[Op] = ALL_OPS) -> dict[str, Any]:
    """``functions --json``: the rows, and the named constants with their values."""
    return {"functions": function_rows(ops), "constants": dict(CONSTANTS)}


def print_functions(ops: Iterable[Op] = ALL_OPS, file: IO[str] | None = None) -> None:
    """The table: signature, arity, domain, derivative. In a pipe it is wrapped at
    PIPE_WIDTH columns (words fold inside their cells); ``--json`` is for programs."""
    from .render import Column, print_rows

    columns = [
        Column("signature", whole=True),
        Column("arity", "right", whole=True),
        Column("domain"),
        Column("derivative"),
    ]
    rows = [
        # 2+: two or more arguments
        [", ".join([op.signature, *_also(op)]), f"{op.arity}+" if op.variadic else str(op.arity), op.domain,
         derivative_text(op)]
        for op in ops
    ]
    stream = file if file is not None else sys.stdout
    width = None if hasattr(stream, "isatty") and stream.isatty() else PIPE_WIDTH
    print_rows("operators and functions", columns, rows, stream, width=width)
