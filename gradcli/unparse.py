"""AST -> text: the program as gradcli read it (``gradcli parse``).

Every operation is written with its operands in parentheses wherever an operand is
itself an operation, so precedence no longer matters to a reader: ``1/2x`` reads
``(1 / 2) * x`` and ``-2^2`` reads ``-(2 ^ 2)``. The text parses back to the same
graph. :func:`ast_json` gives the same tree as JSON.

Both walk the tree with an explicit stack of pending pieces (text, or a node still
to expand), so a 100,000-deep program is written in linear time without recursion
(``json.dumps`` of nested dicts would recurse).
"""

from __future__ import annotations

import json
from typing import Any

from .ops import OPERATORS
from .syntax import Assign, Binary, Call, Expr, Name, Num, Program, Unary


def _wrapped(expr: Expr) -> list[Any]:
    """An operand: in parentheses when it is an operation."""
    if type(expr) is Binary or type(expr) is Unary:
        return ["(", expr, ")"]
    return [expr]


def _expand(expr: Expr) -> list[Any]:
    """The pieces of one node in reading order: text, and child nodes to expand."""
    kind = type(expr)
    if kind is Num:
        return [expr.text]  # type: ignore[attr-defined]
    if kind is Name:
        return [expr.id]  # type: ignore[attr-defined]
    if kind is Binary:
        symbol = OPERATORS[expr.op].symbol  # type: ignore[attr-defined]
        return [*_wrapped(expr.left), f" {symbol} ", *_wrapped(expr.right)]  # type: ignore[attr-defined]
    if kind is Unary:
        return [OPERATORS[expr.op].symbol, *_wrapped(expr.operand)]  # type: ignore[attr-defined]
    assert isinstance(expr, Call)
    pieces: list[Any] = [f"{expr.name}("]
    for k, arg in enumerate(expr.args):
        if k:
            pieces.append(", ")
        pieces.append(arg)
    pieces.append(")")
    return pieces


def _write(root: Expr, expand: Any) -> str:
    out: list[str] = []
    stack: list[Any] = [root]
    while stack:
        piece = stack.pop()
        if type(piece) is str:
            out.append(piece)
        else:
            stack.extend(reversed(expand(piece)))
    return "".join(out)


def expression_text(expr: Expr) -> str:
    """One expression, fully parenthesised."""
    return _write(expr, _expand)


def statement_lines(program: Program) -> list[str]:
    """Every statement of ``program`` fully parenthesised, one per line."""
    lines = []
    for stmt in program.statements:
        if isinstance(stmt, Assign):
            lines.append(f"{stmt.name} = {expression_text(stmt.expr)}")
        else:
            lines.append(expression_text(stmt))
    return lines


def _span(expr: Expr) -> str:
    return f', "span": [{expr.span.start}, {expr.span.end}]}}'


def _expand_json(expr: Expr) -> list[Any]:
    kind = type(expr)
    if kind is Num:
        return [f'{{"op": "num", "value": {json.dumps(expr.value)}{_span(expr)}']  # type: ignore[attr-defined]
    if kind is Name:
        name = json.dumps(expr.id, ensure_ascii=False)  # type: ignore[attr-defined]
        return [f'{{"op": "name", "name": {name}{_span(expr)}']
    if kind is Binary:
        args: tuple[Expr, ...] = (expr.left, expr.right)  # type: ignore[attr-defined]
        op = expr.op  # type: ignore[attr-defined]
    elif kind is Unary:
        args, op = (expr.operand,), expr.op  # type: ignore[attr-defined]
    else:
        assert isinstance(expr, Call)
        args, op = expr.args, expr.name
    pieces: list[Any] = [f'{{"op": {json.dumps(op, ensure_ascii=False)}, "args": [']
    for k, arg in enumerate(args):
        if k:
            pieces.append(", ")
        pieces.append(arg)
    pieces.append("]" + _span(expr))
    return pieces


def ast_json(program: Program) -> str:
    """``{"statements": [{"name": "q" | null, "expr": {"op", "args" | "value" | "name",
    "span": [start, end]}}]}``: ``op`` is ``num`` (with ``value``), ``name`` (with
    ``name``), an operator's name (``add``, ``neg``, ``lt``, ...) or a function's
    name, with ``args``."""
    parts = []
    for stmt in program.statements:
        if isinstance(stmt, Assign):
            name, expr = json.dumps(stmt.name, ensure_ascii=False), stmt.expr
        else:
            name, expr = "null", stmt
        parts.append(f'{{"name": {name}, "expr": {_write(expr, _expand_json)}}}')
    return '{"statements": [' + ", ".join(parts) + "]}"
