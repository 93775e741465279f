"""Source text -> AST, with Lark's LALR parser and an embedded transformer.

This module and :mod:`gradcli.syntax_errors` are the only ones that import lark.
The grammar is ``grammar/gradcli.lark`` (shipped in the wheel as
``gradcli/grammar/gradcli.lark``). The transformer builds each AST node the moment
its rule is reduced, so no parse tree is ever built and nothing recurses on the
depth of the expression. Lark's syntax errors become
:class:`GradError` values of kind ``"syntax"`` with words a user reads
(:mod:`gradcli.syntax_errors`, loaded when a program does not parse).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from .errors import GradError, Span
from .syntax import Assign, Binary, Call, Expr, Name, Num, Program, Statement, Unary

if TYPE_CHECKING:
    from pathlib import Path

# os.path, not pathlib: pathlib's import (urllib.parse, ipaddress) costs a few
# milliseconds of every command's start-up.
_HERE = os.path.dirname(os.path.realpath(__file__))
_GRAMMAR_PLACES = (
    os.path.join(_HERE, "grammar", "gradcli.lark"),  # installed wheel
    os.path.join(os.path.dirname(_HERE), "grammar", "gradcli.lark"),  # source checkout / editable install
)


def _grammar_file() -> str:
    for place in _GRAMMAR_PLACES:
        if os.path.isfile(place):
            return place
    raise FileNotFoundError("gradcli's grammar file is missing from the installation")


def grammar_path() -> Path:
    """Where the grammar file is, installed or in a checkout."""
    from pathlib import Path

    return Path(_grammar_file())


def token_span(tok: Token) -> Span:
    return Span(tok.start_pos, tok.end_pos)


class _Implicit:
    """Post-lexer: inserts the implicit product and drops line breaks inside ( ).

    ``2x``, ``2(x+1)``, ``(x+1)(x-1)``, ``2 sin(x)``: a number or ``)`` followed by a
    name or ``(`` gets an ``_IMPLICIT`` token between them, which the grammar
    treats as ``*``. ``xy`` is one name, and ``x(y)`` is a call.
    """

    always_accept = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        prev = ""
        for tok in stream:
            kind = tok.type
            if kind == "_SEP":
                if depth and tok.value != ";":  # a line break inside ( ) is nothing
                    continue
            elif kind == "LPAR":
                if prev == "NUMBER" or prev == "RPAR":
                    yield Token.new_borrow_pos("_IMPLICIT", "", tok)
                depth += 1
            elif kind == "NAME":
                if prev == "NUMBER" or prev == "RPAR":
                    yield Token.new_borrow_pos("_IMPLICIT", "", tok)
            elif kind == "RPAR":
                if depth:
                    depth -= 1
            prev = kind
            yield tok


class _Build:
    """The embedded transformer: one method per grammar rule, building AST nodes."""

    def __init__(self) -> None:
        self.source = ""

    def program(self, children: list[Any]) -> list[Any]:
        return children

    def assign(self, children: list[Any]) -> Assign:
        name, expr = children
        return Assign(name.value, expr, token_span(name), Span(name.start_pos, expr.span.end))

    @staticmethod
    def _binary(op: str) -> Any:
        def build(self: _Build, children: list[Expr]) -> Binary:
            left, right = children
            return Binary(op, left, right, Span(left.span.start, right.span.end))

        build.__name__ = op
        return build

    lt = _binary("lt")
    le = _binary("le")
    gt = _binary("gt")
    ge = _binary("ge")
    eq = _binary("eq")
    ne = _binary("ne")
    add = _binary("add")
    sub = _binary("sub")
    mul = _binary("mul")
    div = _binary("div")

    def pow(self, children: list[Any]) -> Binary:
        left, _, right = children
        return Binary("pow", left, right, Span(left.span.start, right.span.end))

    def neg(self, children: list[Any]) -> Unary:
        sign, operand = children
        return Unary("neg", operand, Span(sign.start_pos, operand.span.end))

    def pos(self, children: list[Any]) -> Expr:
        sign, operand = children
        # Unary plus changes nothing: no node, but the span covers the sign.
        operand.span = Span(sign.start_pos, operand.span.end)
        return operand

    def number(self, children: list[Token]) -> Num:
        (tok,) = children
        value = float(tok.value)
        if not math.isfinite(value):
            raise GradError("overflow", f"the number {tok.value} is too large for a float", token_span(tok))
        return Num(value, tok.value, token_span(tok))

    def name(self, children: list[Token]) -> Name:
        (tok,) = children
        return Name(tok.value, token_span(tok))

    def call(self, children: list[Any]) -> Call:
        name, *args, rpar = children
        return Call(name.value, tuple(args), Span(name.start_pos, rpar.end_pos), token_span(name))

    def paren(self, children: list[Any]) -> Expr:
        lpar, inner, rpar = children
        # The parentheses belong to the node: carets then cover `(x + y)` whole.
        inner.span = Span(lpar.start_pos, rpar.end_pos)
        return inner


_parser: Lark | None = None


def _read_grammar() -> str:
    with open(_grammar_file(), encoding="utf-8") as handle:
        return handle.read()


def _lark(**extra: Any) -> Lark:
    """gradcli's LALR parser built from the grammar: the AST built during the parse,
    no parse tree."""
    return Lark(
        _read_grammar(),
        start="program",
        parser="lalr",
        lexer="basic",
        transformer=_Build(),
        maybe_placeholders=False,
        **extra,
    )


def get_parser() -> Lark:
    """The LALR parser, made once per process.

    Building the LALR tables from the grammar costs tens of milliseconds, so the
    tables ship inside the package (:mod:`gradcli.parser_tables`, plain literals
    that Python loads from its bytecode) and are used when they were made from this
    very grammar by this very Lark; otherwise (a grammar being edited, another Lark)
    the parser is built from the grammar. Nothing is read from or written to any
    other place: a cache in the user's directories could be planted, replaced by a
    link or a FIFO, or read by another user. ``GRADCLI_PARSER_TABLES=0`` always
    builds from the grammar.
    """
    global _parser
    if _parser is None:
        _parser = _shipped_parser() or _lark(postlex=_Implicit())
    return _parser


def _shipped_parser() -> Lark | None:
    """The parser from the shipped tables, or None when they do not fit."""
    if os.environ.get("GRADCLI_PARSER_TABLES", "1") == "0":
        return None
    import lark

    try:
        from . import parser_tables as tables
    except ImportError:  # a checkout where they were never made
        return None
    if tables.LARK_VERSION != lark.__version__ or tables.GRAMMAR != _read_grammar():
        return None
    # Lark's own loader for serialised tables (its standalone parsers use it too).
    return Lark._load_from_dict(tables.DATA, tables.MEMO, transformer=_Build(), postlex=_Implicit())


def tables_source() -> str:
    """The text of ``gradcli/parser_tables.py`` for the grammar and the Lark of this
    installation (``python -m gradcli.parse`` writes it)."""
    import pprint

    import lark
    from lark.grammar import Rule
    from lark.lark import _LOAD_ALLOWED_OPTIONS
    from lark.lexer import TerminalDef

    data, memo = _lark(postlex=_Implicit()).memo_serialize([TerminalDef, Rule])
    # What is passed again at load time (the transformer, the post-lexer) is not data.
    data["options"] = {k: v for k, v in data["options"].items() if k not in _LOAD_ALLOWED_OPTIONS}
    return (
        '"""gradcli\'s LALR parser tables, made from grammar/gradcli.lark by Lark.\n\n'
        "Generated by ``python -m gradcli.parse``: do not edit. gradcli.parse uses them only\n"
        "when GRAMMAR is the grammar file and LARK_VERSION the Lark installed, and\n"
        "tests/test_parse_tables.py checks that they are what the grammar gives (Lark\n"
        'numbers the states differently from run to run, so a new file may differ in order)."""\n\n'
        f"LARK_VERSION = {lark.__version__!r}\n\n"
        f"GRAMMAR = {pprint.pformat(_read_grammar(), width=100)}\n\n"
        f"DATA = {pprint.pformat(data, width=100)}\n\n"
        f"MEMO = {pprint.pformat(memo, width=100)}\n"
    )


# --- the fast path for large programs ----------------------------------------------------
#
# Lark's parser calls a Python function for every reduction, four or five per operand;
# for a generated program of 10^5 nodes that is most of the time. gradcli.fastparse
# reads a well-formed program in one pass with explicit stacks and builds the same AST;
# anything it does not accept (every syntax error among them) is parsed again here, so
# this parser stays the reference for the language and the one voice of every error.

#: Programs this long or longer take the fast path. Below it Lark parses in well under
#: a millisecond: what a person types is read by the grammar itself.
FAST_PATH_MIN_CHARS = 2000


def use_fast_path(source: str) -> bool:
    """Whether ``source`` is long enough for the fast path (``GRADCLI_FAST_PARSE=0``
    turns it off)."""
    return len(source) >= FAST_PATH_MIN_CHARS and os.environ.get("GRADCLI_FAST_PARSE", "1") != "0"


#: What a program of no statement (blank, or comments alone) is told.
EMPTY_PROGRAM = "the program is empty: write an expression such as (x+y)*z"


def parse(source: str) -> Program:
    """Parse a program. Raises :class:`GradError` (kind ``"syntax"``) on bad input."""
    statements = None
    if use_fast_path(source):
        from .fastparse import parse_statements

        statements = parse_statements(source)
    try:
        if statements is None:
            statements = get_parser().parse(source)
    except UnexpectedInput as exc:
        from .syntax_errors import syntax_error

        raise syntax_error(source, exc) from None
    except GradError as err:
        raise err.with_source(source) from None
    except RecursionError:  # pragma: no cover - the parser is iterative; belt and braces
        raise GradError("syntax", "the program is nested too deeply to parse") from None
    if not statements:
        raise GradError("syntax", EMPTY_PROGRAM)
    check_statements(statements, source)
    return Program(statements, source)


# --- what the grammar lets through but a reader would take for something else ----------

#: The message for a line that starts with an operator, as if it went on from the line
#: before (``{op}`` is the operator).
CONTINUATION = (
    "a line cannot continue the one before it: this line, starting with '{op}', would be a"
    " statement of its own (parentheses let an expression span lines: put '(' before its"
    " first line and ')' after its last)"
)


def check_statements(statements: list[Statement], source: str) -> None:
    """Refuse what both parsers read but a person did not mean (the same check for
    both, after either): a statement that starts with ``+`` or ``-`` right after the
    line of another statement (``loss = (y - p)^2`` then ``+ lam*w^2`` on the next
    line would make ``+lam*w^2`` a statement, even the output), and a bare expression
    that is not the last statement (its value would be thrown away)."""
    last = len(statements) - 1
    prev_end = 0
    for index, stmt in enumerate(statements):
        if type(stmt) is not Assign:
            start = stmt.span.start
            if index and source[start] in "+-" and only_line_breaks(source, prev_end, start):
                raise GradError(
                    "syntax", CONTINUATION.format(op=source[start]), Span(start, start + 1), source
                )
            if index < last:
                raise GradError(
                    "syntax",
                    "this expression is not the last statement, so its value would be thrown"
                    " away: name it (q = ...) or make it the last statement",
                    stmt.span,
                    source,
                )
        prev_end = stmt.span.end


def only_line_breaks(source: str, start: int, end: int) -> bool:
    """Whether statements are separated between ``start`` and ``end`` by line breaks
    alone (and comments), not by a ``;``."""
    i = start
    broken = False
    while i < end:
        char = source[i]
        if char == ";":
            return False
        if char == "#":  # a comment runs to its line end, which comes before `end`
            i = min(j for j in (source.find("\n", i), source.find("\r", i), end) if j >= 0)
            continue
        if char == "\n" or char == "\r":
            broken = True
        i += 1
    return broken


if __name__ == "__main__":  # python -m gradcli.parse: write the shipped parser tables
    _TABLES = os.path.join(_HERE, "parser_tables.py")
    with open(_TABLES, "w", encoding="utf-8") as out:
        out.write(tables_source())
    print(f"wrote {_TABLES}")
