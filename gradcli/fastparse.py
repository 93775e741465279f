"""The fast path for large programs: one regular expression for the tokens, operator
precedence with explicit stacks for the structure, the same AST as the grammar's.

Lark's LALR parser (:mod:`gradcli.parse`, from ``grammar/gradcli.lark``) is the
reference for the language. It calls one Python function per reduction, four or
five per operand on the way up the precedence levels, so a generated program of a
million nodes spends most of its time there. This module reads a well-formed
program in one pass instead, with no reduction for an operand on its own, and
gives up (returns None) at the first thing out of the ordinary: any syntax error, a
number too large for a float, a character it does not know. The reference parser
then reads the program again and words the error, so every message still comes
from one place.

What it accepts it must parse exactly as the grammar does, spans included:
``tests/test_fastparse.py`` compares the two on generated and mutated programs.
The precedence levels below are the grammar's (``?sum``, ``?product``, ``?unary``,
``?power``), and the token patterns are its terminals, checked against Lark's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from .errors import Span
from .syntax import Assign, Binary, Call, Expr, Name, Num, Statement, Unary

#: The grammar's terminals, as one pattern: what the grammar ignores (spaces, a
#: comment), then a NUMBER (group 1), a NAME (group 2) or an operator (group 3).
#: ``**`` comes before ``*``, as in Lark's lexer (longer literals first).
NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
NAME = r"[^\W\d]\w*"
# A comment runs to the end of its line: the lookahead stops the regex from backing
# into a comment to find a token in it (`# note` is not the name `e`). It also ends at
# a character some tools take for a line end, which no token matches: declined.
COMMENT = r"#[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*"
IGNORED = rf"[ \t]*(?:{COMMENT}(?=[\n\r]|\Z))?"
OPERATOR = r"\*\*|[<>=!]=|[-+*/^(),;=<>\n]"  # two-character ones first, as Lark's lexer
#: A line end other than "\n": "\r\n" or a lone "\r" (group 4, read as "\n").
CR_LINE_END = r"\r\n?"
_TOKEN = re.compile(rf"{IGNORED}(?:({NUMBER})|({NAME})|({OPERATOR})|({CR_LINE_END}))")
_REST = re.compile(IGNORED)

# Binding strength of each operator: ?comparison < ?sum < ?product (and the implicit
# product) < ?unary (prefix - and +) < ?power, which is the only right-associative
# one. Comparisons do not associate at all: a second one at the same level declines.
_COMPARE = 1
_BINARY = {
    "<": (_COMPARE, "lt"), "<=": (_COMPARE, "le"), ">": (_COMPARE, "gt"),
    ">=": (_COMPARE, "ge"), "==": (_COMPARE, "eq"), "!=": (_COMPARE, "ne"),
    "+": (2, "add"), "-": (2, "sub"),
    "*": (3, "mul"), "/": (3, "div"),
    "^": (5, "pow"), "**": (5, "pow"),
}
_IMPLICIT = (3, "mul")
_PREFIX = 4
_OPEN = 0  # a '(' or a call's '(' on the operator stack: nothing reduces past it
ALL = _OPEN + 1  # reduce(ALL) builds every operator back to the innermost '('

# What the token before was, for the implicit product: it follows a number or ')'.
_OTHER, _NUMBER, _RPAR = 0, 1, 2


class Declined(Exception):
    """Not a program this fast path reads: the reference parser takes over."""


def parse_statements(source: str) -> list[Statement] | None:
    """The statements of ``source``, or None when it is not a well-formed program
    (or uses anything the fast path leaves to the reference parser)."""
    try:
        return list(Parser(source).statements())
    except Declined:
        return None


class Parser:
    """One pass over the tokens with two stacks: ``operands`` (AST nodes) and
    ``operators``, whose entries are ``(strength, op, start)`` for an operator
    (``start`` is None for a binary one), ``(_OPEN, None, start)`` for a '(' and
    ``(_OPEN, name, start, name_end, base)`` for a call, whose arguments are
    ``operands[base:]``. :meth:`reduce` never pops an ``_OPEN`` entry (it is asked
    for strength 1 or more); only :meth:`close` does, when its ')' comes."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.operands: list[Expr] = []
        self.operators: list[tuple] = []  # type: ignore[type-arg]

    def reduce(self, strength: int) -> None:
        """Build the nodes of the pending operators that bind at least as strongly as
        an operator of ``strength`` arriving (left-associative) would allow."""
        operators, operands = self.operators, self.operands
        while operators and operators[-1][0] >= strength:
            _, op, start = operators.pop()
            operand = operands[-1]
            if start is None:  # a binary operator: its left operand sits below
                left = operands[-2]
                del operands[-1]
                operands[-1] = Binary(op, left, operand, Span(left.span.start, operand.span.end))
            elif op == "neg":
                operands[-1] = Unary("neg", operand, Span(start, operand.span.end))
            else:  # unary plus: no node, but the span covers the sign
                operand.span = Span(start, operand.span.end)

    def statements(self) -> Iterator[Statement]:
        """Each statement as its ``;``, line break or the end is read; raises
        :class:`Declined` at the first token the reference parser would refuse."""
        source = self.source
        operands, operators = self.operands, self.operators
        reduce = self.reduce
        match = _TOKEN.match
        depth = 0  # open parentheses: a line break inside them is not a separator
        pos = 0
        expect_operand = True
        prev = _OTHER
        name: str | None = None  # a name just read: a call, an assignment or an operand?
        name_start = name_end = 0
        target: tuple[str, int, int] | None = None  # this statement's `name =`
        statement_start = True  # no token of this statement yet

        while True:
            m = match(source, pos)
            if m is None:
                break
            pos = m.end()
            kind = m.lastindex
            if kind == 4:  # "\r\n" or "\r": a line end like "\n"
                kind, token = 3, "\n"
            else:
                token = m.group(3) if kind == 3 else None

            if name is not None:  # what follows a name decides what it was
                if token == "(":
                    operators.append((_OPEN, name, name_start, name_end, len(operands)))
                    depth += 1
                    name = None
                    statement_start = False
                    continue
                if token == "=":
                    if not statement_start:
                        raise Declined  # `x + y = 1`, `a = b = 1`
                    target = (name, name_start, name_end)
                    name = None
                    statement_start = False
                    continue
                if token == "\n" and depth:
                    continue  # a line break inside ( ) is nothing, even here
                operands.append(self.name(name, name_start, name_end))
                name = None
                expect_operand = False
                prev = _OTHER
                statement_start = False

            if kind == 1:  # a number
                if not expect_operand:
                    raise Declined  # `2 3`, `x 2`, `(x) 2`: no implicit product
                text = m.group(1)
                value = float(text)
                if not math.isfinite(value):
                    raise Declined  # the reference parser reports the overflow
                operands.append(self.number(value, text, m.start(1), pos))
                expect_operand = False
                prev = _NUMBER
                statement_start = False
            elif kind == 2:  # a name: held until the next token says what it is
                if not expect_operand:
                    if prev == _OTHER:
                        raise Declined  # `x y`
                    self.implicit()  # `2x`, `(x+1)y`
                    expect_operand = True
                name, name_start, name_end = m.group(2), m.start(2), pos
            elif token == "\n" or token == ";":
                if depth:
                    if token == ";":
                        raise Declined  # `;` inside ( )
                    continue  # a line break inside ( ) is dropped; `prev` stays
                if expect_operand:
                    if not statement_start:
                        raise Declined  # `x +` or `q =` at the end of a statement
                    continue  # a blank statement
                yield self.statement(target)
                target = None
                expect_operand = True
                statement_start = True
                prev = _OTHER
            elif expect_operand:  # an operand was expected: '(' or a sign
                start = m.start(3)
                if token == "(":
                    operators.append((_OPEN, None, start))
                    depth += 1
                elif token == "-":
                    operators.append((_PREFIX, "neg", start))
                elif token == "+":
                    operators.append((_PREFIX, "pos", start))
                else:
                    raise Declined
                statement_start = False
                prev = _OTHER
            else:  # after an operand: an operator, ',' or ')'; '(' is an implicit product
                binary = _BINARY.get(token)  # type: ignore[arg-type]
                if binary is not None:
                    strength, op = binary
                    if strength == _COMPARE:
                        # Everything tighter first; a comparison then still pending at
                        # this level makes `a < b < c`: comparisons do not chain.
                        reduce(_COMPARE + 1)
                        if operators and operators[-1][0] == _COMPARE:
                            raise Declined
                    else:
                        reduce(strength + 1 if op == "pow" else strength)  # ^ is right-associative
                    operators.append((strength, op, None))
                    expect_operand = True
                    prev = _OTHER
                elif token == ")":
                    self.close(pos)
                    depth -= 1
                    prev = _RPAR
                elif token == ",":
                    reduce(ALL)
                    if not operators or operators[-1][1] is None:
                        raise Declined  # a comma outside a call's parentheses
                    expect_operand = True
                    prev = _OTHER
                elif token == "(" and prev != _OTHER:
                    self.implicit()  # `2(x)`, `(x)(y)`
                    operators.append((_OPEN, None, m.start(3)))
                    depth += 1
                    expect_operand = True
                    prev = _OTHER
                else:  # '='
                    raise Declined

        if name is not None:
            operands.append(self.name(name, name_start, name_end))
            expect_operand = False
        if _REST.match(source, pos).end() != len(source):  # type: ignore[union-attr]
            raise Declined  # a character that starts no token
        if depth:
            raise Declined
        if expect_operand:
            if not statement_start:
                raise Declined  # `x +` or `q =` at the end
        else:
            yield self.statement(target)

    def name(self, name: str, start: int, end: int) -> Expr:
        """The operand a name makes where it is not called or assigned."""
        return Name(name, Span(start, end))

    def number(self, value: float, text: str, start: int, end: int) -> Expr:
        """The operand a number makes."""
        return Num(value, text, Span(start, end))

    def implicit(self) -> None:
        """``2x``, ``2(x)``, ``(x)(y)``: a product without a sign."""
        strength, op = _IMPLICIT
        self.reduce(strength)
        self.operators.append((strength, op, None))

    def close(self, end: int) -> None:
        """A ')' ending at ``end``: finish the group or the call it closes."""
        operators, operands = self.operators, self.operands
        self.reduce(ALL)
        if not operators:
            raise Declined  # a ')' that closes no '('
        frame = operators.pop()
        name = frame[1]
        if name is None:  # ( expr ): the parentheses belong to the node
            # One operand above the '(': ',' is declined outside a call.
            inner = operands[-1]
            inner.span = Span(frame[2], end)
            return
        base = frame[4]
        args = tuple(operands[base:])
        del operands[base:]
        operands.append(Call(name, args, Span(frame[2], end), Span(frame[2], frame[3])))

    def statement(self, target: tuple[str, int, int] | None) -> Statement:
        """The statement that ends here (no '(' is open)."""
        operands = self.operands
        self.reduce(ALL)
        expr = operands.pop()
        if target is None:
            return expr
        name, start, end = target
        return Assign(name, expr, Span(start, end), Span(start, expr.span.end))
