"""Source text -> AST, with Lark's LALR parser and an embedded transformer.

This is the only module that imports lark. The grammar is ``grammar/gradcli.lark``
(shipped in the wheel as ``gradcli/grammar/gradcli.lark``). The transformer builds
each AST node the moment its rule is reduced, so no parse tree is ever built and
nothing recurses on the depth of the expression. Lark's syntax errors become
:class:`GradError` values of kind ``"syntax"`` with words a user reads.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import GradError, Span
from .syntax import Assign, Binary, Call, Expr, Name, Num, Program, Unary

_HERE = Path(__file__).resolve().parent
_GRAMMAR_PLACES = (
    _HERE / "grammar" / "gradcli.lark",  # installed wheel
    _HERE.parent / "grammar" / "gradcli.lark",  # source checkout / editable install
)


def grammar_path() -> Path:
    """Where the grammar file is, installed or in a checkout."""
    for place in _GRAMMAR_PLACES:
        if place.is_file():
            return place
    raise FileNotFoundError("gradcli's grammar file is missing from the installation")


def _cache_file() -> str | bool:
    """Lark's parser cache (it checks the grammar's hash and Lark's version itself).

    Building the LALR tables costs tens of milliseconds per process; loading them
    from the cache about two. The cache lives in the user's cache directory;
    ``GRADCLI_PARSER_CACHE=0`` turns it off.
    """
    if os.environ.get("GRADCLI_PARSER_CACHE", "1") == "0":
        return False
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "gradcli")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    if not os.access(folder, os.W_OK):
        return False
    return os.path.join(folder, "parser-py{}{}.lark".format(*sys.version_info[:2]))


def _span(tok: Token) -> Span:
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
                if depth and tok.value == "\n":
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
        return Assign(str(name), expr, _span(name), Span(name.start_pos, expr.span.end))

    @staticmethod
    def _binary(op: str) -> Any:
        def build(self: _Build, children: list[Expr]) -> Binary:
            left, right = children
            return Binary(op, left, right, Span(left.span.start, right.span.end))

        build.__name__ = op
        return build

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
            raise GradError("overflow", f"the number {tok.value} is too large for a float", _span(tok))
        return Num(value, tok.value, _span(tok))

    def name(self, children: list[Token]) -> Name:
        (tok,) = children
        return Name(tok.value, _span(tok))

    def call(self, children: list[Any]) -> Call:
        name, *args, rpar = children
        return Call(name.value, tuple(args), Span(name.start_pos, rpar.end_pos), _span(name))

    def paren(self, children: list[Any]) -> Expr:
        lpar, inner, rpar = children
        # The parentheses belong to the node: carets then cover `(x + y)` whole.
        inner.span = Span(lpar.start_pos, rpar.end_pos)
        return inner


_parser: Lark | None = None


def _get_parser() -> Lark:
    """The LALR parser, built once per process (and cached across processes)."""
    global _parser
    if _parser is None:
        _parser = Lark(
            grammar_path().read_text(encoding="utf-8"),
            start="program",
            parser="lalr",
            lexer="basic",
            postlex=_Implicit(),
            transformer=_Build(),
            maybe_placeholders=False,
            cache=_cache_file(),
        )
    return _parser


def parse(source: str) -> Program:
    """Parse a program. Raises :class:`GradError` (kind ``"syntax"``) on bad input."""
    try:
        statements = _get_parser().parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(source, exc) from None
    except GradError as err:
        raise err.with_source(source) from None
    except RecursionError:  # pragma: no cover - the parser is iterative; belt and braces
        raise GradError("syntax", "the program is nested too deeply to parse") from None
    if not statements:
        raise GradError("syntax", "the program is empty: write an expression such as (x+y)*z")
    return Program(statements, source)


# ---------------------------------------------------------------------------
# Syntax errors in words a user reads

_WORDS = {
    "NUMBER": "a number",
    "NAME": "a name",
    "LPAR": "'('",
    "RPAR": "')'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "POW": "'^'",
    "EQUAL": "'='",
    "COMMA": "','",
    "_SEP": "';' or a new line",
    "$END": "the end of the program",
}
# Operands first, then operators, then the rest: the order a reader expects.
_ORDER = ["NUMBER", "NAME", "LPAR", "PLUS", "MINUS", "STAR", "SLASH", "POW", "EQUAL", "COMMA",
          "RPAR", "_SEP", "$END"]
_OPERAND_START = {"NUMBER", "NAME", "LPAR", "PLUS", "MINUS"}

#: Characters that look like an operator but are not one.
LOOKALIKES = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u00d7": "*",  # multiplication sign
    "\u22c5": "*",  # dot operator
    "\u00b7": "*",  # middle dot
    "\u2217": "*",  # asterisk operator
    "\u00f7": "/",  # division sign
    "\u2215": "/",  # division slash
    "\uff08": "(",  # fullwidth parentheses
    "\uff09": ")",
    "\u00b2": "^2",  # superscript two
    "\u00b3": "^3",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
}


def _describe(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the program"
    if tok.type == "_SEP":
        return "a new line" if tok.value == "\n" else "';'"
    if tok.type == "NUMBER":
        return f"the number {tok.value}"
    if tok.type == "NAME":
        return f"the name {tok.value}"
    return f"'{tok.value}'"


def _expected_words(expected: set[str]) -> str:
    names = [n for n in _ORDER if n in expected]
    if _OPERAND_START <= expected:
        # "a number, a name or '('" reads better than listing the unary signs too.
        names = [n for n in names if n not in ("PLUS", "MINUS")]
    words = [_WORDS.get(n, n) for n in names]
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _tokens_before(source: str, offset: int) -> list[Token]:
    """The tokens that end at or before ``offset`` (for 'after ...' and paren balance)."""
    tokens: list[Token] = []
    try:
        for tok in _get_parser().lex(source[:offset], dont_ignore=False):
            tokens.append(tok)
    except UnexpectedInput:
        pass
    return tokens


def _unclosed_paren(tokens: list[Token]) -> Token | None:
    """The innermost '(' among ``tokens`` that no ')' closes."""
    opened: list[Token] = []
    for tok in tokens:
        if tok.type == "LPAR":
            opened.append(tok)
        elif tok.type == "RPAR" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _syntax_error(source: str, exc: UnexpectedInput) -> GradError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        char = source[pos] if pos < len(source) else ""
        hint = LOOKALIKES.get(char)
        if hint is not None:
            message = f"unexpected character '{char}' (U+{ord(char):04X}): did you mean '{hint}'?"
        elif char in "'\"":
            message = "strings are not part of the language: it has numbers, names and operators"
        elif char == "=":
            message = "unexpected '=': only a plain name can be assigned, as in  q = x + y"
        else:
            code = f" (U+{ord(char):04X})" if char and not char.isprintable() else ""
            message = f"unexpected character {char!r}{code}"
        return GradError("syntax", message, Span(pos, pos + 1), source)

    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = set(exc.expected) - {"_IMPLICIT"}
    if tok.type == "$END":
        start = len(source.rstrip())
        span = Span(max(0, start - 1), max(1, start))
        pos = start
    else:
        span = _span(tok)
        pos = tok.start_pos
    before = _tokens_before(source, pos)
    prev = before[-1] if before else None
    unclosed = _unclosed_paren(before)
    after = f" after {_describe(prev)}" if prev is not None else ""
    got = _describe(tok)
    if prev is not None and prev.type in ("NAME", "NUMBER", "RPAR") and tok.type in ("NAME", "NUMBER"):
        # Two operands side by side: `x y`, `2 3`, `(a)2`.
        message = (
            f"expected an operator between {_describe(prev)} and {got}"
            f" (write {prev.value}*{tok.value} for a product)"
        )
    elif tok.type == "EQUAL":
        message = "unexpected '=': only a plain name can be assigned, as in  q = x + y"
    elif tok.type in ("$END", "_SEP") and unclosed is not None and "RPAR" in expected:
        return GradError("syntax", "this '(' is never closed", _span(unclosed), source)
    elif tok.type == "RPAR" and unclosed is None:
        message = "unexpected ')': it closes no '('"
    elif tok.type == "$END":
        message = f"unexpected end of the program: expected {_expected_words(expected)}{after}"
    else:
        message = f"unexpected {got}: expected {_expected_words(expected)}{after}"
    return GradError("syntax", message, span, source)
