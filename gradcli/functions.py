"""``gradcli functions``: every operator and function with its arity, domain and
derivative rule, read from the operation table (``ops.ALL_OPS``) so it cannot drift."""

from __future__ import annotations

from typing import IO, Any

from .ops import ALL_OPS, CONSTANTS, Op


def _also(op: Op) -> list[str]:
    """Other spellings of the same row: ``x ** y`` and ``pow(x, y)`` for ``x ^ y``."""
    if op.name == "pow":
        return ["x ** y", "pow(x, y)"]
    return []


def _derivative(op: Op) -> str:
    # One-argument rules are written as f'(x); with more arguments the rule names
    # each partial itself ("∂/∂x = y, ∂/∂y = x").
    if op.arity == 1 and not op.rule.startswith("∂"):
        return f"{op.signature}  →  {op.rule}"
    return op.rule


def function_rows() -> list[dict[str, Any]]:
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
        for op in ALL_OPS
    ]


def functions_json() -> dict[str, Any]:
    """``functions --json``: the rows, and the named constants with their values."""
    return {"functions": function_rows(), "constants": dict(CONSTANTS)}


def print_functions(file: IO[str] | None = None) -> None:
    """The table: signature, arity, domain, derivative."""
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
         _derivative(op)]
        for op in ALL_OPS
    ]
    print_rows("operators and functions (gradcli/ops.py)", columns, rows, file)
