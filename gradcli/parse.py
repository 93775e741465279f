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
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import GradError, Span, shorten
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
        return Assign(name.value, expr, _span(name), Span(name.start_pos, expr.span.end))

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


def _get_parser() -> Lark:
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


def parse(source: str) -> Program:
    """Parse a program. Raises :class:`GradError` (kind ``"syntax"``) on bad input."""
    statements = None
    if use_fast_path(source):
        from .fastparse import parse_statements

        statements = parse_statements(source)
    try:
        if statements is None:
            statements = _get_parser().parse(source)
    except UnexpectedInput as exc:
        raise _syntax_error(source, exc) from None
    except GradError as err:
        raise err.with_source(source) from None
    except RecursionError:  # pragma: no cover - the parser is iterative; belt and braces
        raise GradError("syntax", "the program is nested too deeply to parse") from None
    if not statements:
        raise GradError("syntax", "the program is empty: write an expression such as (x+y)*z")
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
            if index and source[start] in "+-" and _only_line_breaks(source, prev_end, start):
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


def _only_line_breaks(source: str, start: int, end: int) -> bool:
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


# ---------------------------------------------------------------------------
# Syntax errors in words a user reads
#
# LALR reports only the terminals of the current state after default reductions,
# so its "expected" sets are partial (after `(x` it lists '+', '-', ')' but not
# '*'). The messages below therefore never list them: what was expected follows
# from the previous token alone. After an operand (a number, a name or ')') comes
# an operator or the end of a group; after anything else comes an operand, and
# "a number, a name or '('" is always right there.

_OPERAND_END = {"NUMBER", "NAME", "RPAR"}
_COMPARISONS = {"_LT", "_LE", "_GT", "_GE", "_EQ", "_NE"}
_OPERAND_WORDS = "a number, a name or '('"

#: Characters that look like an operator but are not one.
LOOKALIKES = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2010": "-",  # hyphen
    "\u00d7": "*",  # multiplication sign
    "\u22c5": "*",  # dot operator
    "\u00b7": "*",  # middle dot
    "\u2217": "*",  # asterisk operator
    "\u2219": "*",  # bullet operator
    "\u00f7": "/",  # division sign
    "\u2215": "/",  # division slash
    "\u2044": "/",  # fraction slash
    "\uff08": "(",  # fullwidth parentheses
    "\uff09": ")",
    "\u00b2": "^2",  # superscript two
    "\u00b3": "^3",
    "\u00b9": "^1",
    "[": "(",
    "]": ")",
    "{": "(",
    "}": ")",
    "\u066b": ".",  # Arabic decimal separator
    "\u2264": "<=",  # less-than or equal to
    "\u2265": ">=",  # greater-than or equal to
    "\u2260": "!=",  # not equal to
}
#: What some tools take for a line end besides the language's own ("\n", "\r\n", "\r"):
#: refused, so a program never reads as one line where an editor shows two.
LINE_SEPARATORS = "\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_QUOTES = "'\"`\u2018\u2019\u201c\u201d"
_ALLOWED = set("+-*/^(),;=<>!.#_ ") | set("0123456789")


#: Names of control characters, which unicodedata leaves without one.
_CONTROL_NAMES = {
    "\t": "CHARACTER TABULATION", "\v": "LINE TABULATION", "\f": "FORM FEED",
    "\x1c": "FILE SEPARATOR", "\x1d": "GROUP SEPARATOR", "\x1e": "RECORD SEPARATOR",
    "\x85": "NEXT LINE", "\x00": "NULL", "\x1b": "ESCAPE", "\x7f": "DELETE",
}


def _char_name(char: str) -> str:
    import unicodedata

    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def _unexpected_character(source: str, pos: int) -> str:
    """The message for a character no token starts with."""
    import unicodedata

    char = source[pos] if pos < len(source) else ""
    if not char:
        return "unexpected end of the program"
    hint = LOOKALIKES.get(char)
    if hint is None and ord(char) > 127:
        digit = unicodedata.decimal(char, None)
        folded = unicodedata.normalize("NFKC", char)
        if digit is not None:
            hint = str(digit)
        elif folded.isascii() and folded.strip() and set(folded) <= _ALLOWED:
            hint = folded
    if hint is not None:
        return f"unexpected character '{char}' ({_char_name(char)}): did you mean '{hint}'?"
    if char in _QUOTES:
        return "unexpected quote: strings are not part of the language, only numbers, names and operators"
    if char == "!":
        return "unexpected '!': 'not equal' is written !="
    if char == ".":
        return "unexpected '.': a number is written 2.5 or .5, and a name cannot contain '.'"
    if unicodedata.category(char) in ("Mn", "Mc", "Me"):
        base = source[pos - 1] if pos else ""
        composed = unicodedata.normalize("NFC", base + char)
        if base and len(composed) == 1:  # e + U+0301 is é: the precomposed letter is a name
            return (
                f"unexpected combining mark ({_char_name(char)}) after '{base}':"
                f" write '{composed}' as one character (NFC)"
            )
        return (
            f"unexpected combining mark ({_char_name(char)}):"
            " a name is letters, digits and _, without combining marks"
        )
    if char in LINE_SEPARATORS:
        return (
            f"unexpected line separator ({_char_name(char)}): end a line with an ordinary"
            " line break, or use an ordinary space"
        )
    if char.isspace():
        return f"unexpected space character ({_char_name(char)}): use an ordinary space"
    if not char.isprintable():
        return f"unexpected invisible character ({_char_name(char)})"
    if ord(char) > 127:
        return f"unexpected character '{char}' ({_char_name(char)})"
    return f"unexpected character '{char}'"


def _describe(tok: Token) -> str:
    """A token as a message names it: the number 2, the name x, '+', ';'."""
    if tok.type == "$END":
        return "the end of the program"
    if tok.type == "_SEP":
        return "';'" if tok.value == ";" else "the end of the line"
    if tok.type == "NUMBER":
        return f"the number {shorten(tok.value)}"
    if tok.type == "NAME":
        return f"the name {shorten(tok.value)}"
    return f"'{tok.value}'"


def _tokens_before(source: str, offset: int) -> list[Token]:
    """The tokens that end at or before ``offset`` (for 'after ...' and paren balance)."""
    tokens: list[Token] = []
    try:
        for tok in _get_parser().lex(source[:offset], dont_ignore=False):
            if tok.type != "_IMPLICIT":
                tokens.append(tok)
    except UnexpectedInput:
        pass
    return tokens


def _open_parens(tokens: list[Token]) -> list[tuple[Token, bool]]:
    """Every '(' among ``tokens`` that no ')' closes, with whether it opens a call."""
    opened: list[tuple[Token, bool]] = []
    prev: Token | None = None
    for tok in tokens:
        if tok.type == "LPAR":
            opened.append((tok, prev is not None and prev.type == "NAME"))
        elif tok.type == "RPAR" and opened:
            opened.pop()
        prev = tok
    return opened


def _syntax_error(source: str, exc: UnexpectedInput) -> GradError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        return GradError("syntax", _unexpected_character(source, pos), Span(pos, pos + 1), source)
    if not isinstance(exc, UnexpectedToken):  # pragma: no cover - LALR raises only the two above
        pos = getattr(exc, "pos_in_stream", None) or 0
        return GradError("syntax", "this is not a program", Span(pos, pos + 1), source)

    tok = exc.token
    if tok.type == "_IMPLICIT":  # the implicit product is invisible: name what follows it
        after_tok = _tokens_after(source, tok.start_pos)
        if after_tok is not None:
            tok = after_tok
    pos = len(source) if tok.type == "$END" else tok.start_pos
    before = _tokens_before(source, pos)
    prev = before[-1] if before else None
    opened = _open_parens(before)
    got = _describe(tok)
    line_end = tok.type == "_SEP" and tok.value != ";"
    if tok.type == "$END" or line_end:
        # The end has no character of its own: put the caret just after the last token.
        at = prev.end_pos if prev is not None else pos
        span = Span(at, at + 1)
    else:
        span = _span(tok)
    after = f" after {_describe(prev)}" if prev is not None else ""
    if tok.type == "$END":
        unexpected = "unexpected end of the program"
    elif line_end:
        unexpected = "unexpected end of the line"
    else:
        unexpected = f"unexpected {got}"

    if prev is None or prev.type not in _OPERAND_END:
        # An operand was expected: at the start, after an operator, '(' or ','.
        if tok.type == "RPAR" and prev is not None and prev.type == "LPAR":
            name = before[-2].value if len(before) > 1 and before[-2].type == "NAME" else None
            if name is not None:
                message = f"{shorten(name)}() has no argument: write {_example_call(name)}"
            else:
                message = "empty parentheses: write an expression inside '(' and ')'"
        elif tok.type == "RPAR" and not opened:
            message = "unexpected ')': it closes no '('"
        elif tok.type == "EQUAL":
            message = "unexpected '=': only a plain name can be assigned, as in  q = x + y"
        elif (tok.type in ("STAR", "SLASH", "POW") or tok.type in _COMPARISONS) and _continues_a_line(before):
            message = CONTINUATION.format(op=tok.value)
        elif prev is None or prev.type == "_SEP":
            message = f"{unexpected} at the start of a statement: expected {_OPERAND_WORDS}"
        else:
            message = f"{unexpected}: expected {_OPERAND_WORDS}{after}"
        return GradError("syntax", message, span, source)

    # After an operand: an operator or the end of a group was expected.
    if tok.type in _COMPARISONS and _comparison_before(before):
        message = (
            "comparisons do not chain: for both of a < b < c write (a < b) * (b < c);"
            f" to compare a comparison's 1 or 0, put it in parentheses, as in (a < b) {tok.value} c"
        )
    elif tok.type in ("NAME", "NUMBER"):
        left = "(…)" if prev.type == "RPAR" else shorten(prev.value)
        message = (
            f"expected an operator between {_describe(prev)} and {got}"
            f" (write {left}*{shorten(tok.value)} for a product)"
        )
    elif tok.type == "EQUAL":
        message = "unexpected '=': only a plain name can be assigned, as in  q = x + y"
    elif tok.type in ("$END", "_SEP") and opened:
        return GradError("syntax", "this '(' is never closed: expected ')'", _span(opened[-1][0]), source)
    elif tok.type == "RPAR" and not opened:
        message = "unexpected ')': it closes no '('"
    elif tok.type == "COMMA" and not (opened and opened[-1][1]):
        message = "unexpected ',': a comma separates the arguments of a call, as in max(x, y)"
    else:
        if opened and opened[-1][1]:
            ends = "an operator, ',' or ')'"
        elif opened:
            ends = "an operator or ')'"
        else:
            ends = "an operator, ';' or the end of the line"
        message = f"{unexpected}: expected {ends}{after}"
    return GradError("syntax", message, span, source)


def _example_call(name: str) -> str:
    """What a call of ``name`` looks like: ``max(x, y)``, ``clip(x, lo, hi)``, ``f(x)``."""
    from .ops import FUNCTIONS

    rows = FUNCTIONS.get(name)
    if not rows:
        return f"one inside, as in {shorten(name)}(x)"
    op = min(rows.values(), key=lambda row: row.arity)
    count = ("one", "two", "three")[op.arity - 1] if op.arity <= 3 else str(op.arity)
    words = f"{count} or more inside" if op.variadic else f"{count} inside"
    return f"{words}, as in {op.signature}"


def _comparison_before(tokens: list[Token]) -> bool:
    """Whether the expression that ``tokens`` end in has a comparison at its own level
    (not inside parentheses), since the last '(', ',' or statement break."""
    depth = 0
    for tok in reversed(tokens):
        if tok.type == "RPAR":
            depth += 1
        elif tok.type == "LPAR":
            if not depth:
                return False
            depth -= 1
        elif not depth and (tok.type in ("COMMA", "_SEP") or tok.type == "EQUAL"):
            return False
        elif not depth and tok.type in _COMPARISONS:
            return True
    return False


def _continues_a_line(before: list[Token]) -> bool:
    """Whether the tokens before an operator end a statement with line breaks alone."""
    i = len(before) - 1
    if i < 0 or before[i].type != "_SEP":
        return False
    while i >= 0 and before[i].type == "_SEP":
        if before[i].value == ";":
            return False
        i -= 1
    return i >= 0


def _tokens_after(source: str, offset: int) -> Token | None:
    """The first real token at or after ``offset``."""
    try:
        for tok in _get_parser().lex(source[offset:], dont_ignore=False):
            if tok.type != "_IMPLICIT":
                return _shifted(tok, offset)
    except UnexpectedInput:
        pass
    return None


def _shifted(tok: Token, offset: int) -> Token:
    return Token(tok.type, tok.value, start_pos=tok.start_pos + offset, end_pos=tok.end_pos + offset)


if __name__ == "__main__":  # python -m gradcli.parse: write the shipped parser tables
    _TABLES = os.path.join(_HERE, "parser_tables.py")
    with open(_TABLES, "w", encoding="utf-8") as out:
        out.write(tables_source())
    print(f"wrote {_TABLES}")
