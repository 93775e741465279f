"""The abstract syntax tree: what a program says, with where it says it.

Nodes compare by identity (no dataclass ``eq``) and have a shallow ``repr``: an
AST 100,000 levels deep must never be walked recursively by ``hash``, ``==`` or
``repr``. ``Binary.op`` and ``Unary.op`` are operation names: keys of ``ops.OPERATORS``.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import Span


class Expr:
    """Base class of expressions. ``span`` is the node's place in the source."""

    __slots__ = ("span",)
    span: Span

    def children(self) -> tuple[Expr, ...]:
        return ()

    def __repr__(self) -> str:  # shallow on purpose
        return f"<{type(self).__name__} at {self.span.start}:{self.span.end}>"


class Num(Expr):
    __slots__ = ("text", "value")

    def __init__(self, value: float, text: str, span: Span) -> None:
        self.value = value
        self.text = text
        self.span = span


class Name(Expr):
    __slots__ = ("id",)

    def __init__(self, id: str, span: Span) -> None:
        self.id = id
        self.span = span


class Unary(Expr):
    __slots__ = ("op", "operand")

    def __init__(self, op: str, operand: Expr, span: Span) -> None:
        self.op = op
        self.operand = operand
        self.span = span

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


class Binary(Expr):
    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: Expr, right: Expr, span: Span) -> None:
        self.op = op
        self.left = left
        self.right = right
        self.span = span

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


class Call(Expr):
    __slots__ = ("args", "name", "name_span")

    def __init__(self, name: str, args: tuple[Expr, ...], span: Span, name_span: Span) -> None:
        self.name = name
        self.args = args
        self.span = span
        self.name_span = name_span

    def children(self) -> tuple[Expr, ...]:
        return self.args


class Assign:
    """``name = expr``: a named statement."""

    __slots__ = ("expr", "name", "name_span", "span")

    def __init__(self, name: str, expr: Expr, name_span: Span, span: Span) -> None:
        self.name = name
        self.expr = expr
        self.name_span = name_span
        self.span = span

    def __repr__(self) -> str:
        return f"<Assign {self.name} at {self.span.start}:{self.span.end}>"


Statement = Assign | Expr


class Program:
    """A list of statements; the source it came from, for error carets."""

    __slots__ = ("source", "statements")

    def __init__(self, statements: list[Statement], source: str) -> None:
        self.statements = statements
        self.source = source

    def __repr__(self) -> str:
        return f"<Program of {len(self.statements)} statements>"


def postorder(root: Expr) -> Iterator[Expr]:
    """Every node under ``root``, children before parents, without recursion.

    A node reached twice (shared by construction) is yielded each time it is reached.
    """
    stack: list[tuple[Expr, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        stack.append((node, True))
        kids = node.children()
        for child in reversed(kids):
            stack.append((child, False))
