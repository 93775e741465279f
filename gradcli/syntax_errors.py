"""Syntax errors in words a user reads.

Lark's parser (:mod:`gradcli.parse`) refuses a program with an exception that names
a state and the terminals it would have taken; :func:`syntax_error` turns it into a
:class:`GradError` of kind ``"syntax"`` that says what is wrong, where, and what
would fit there. Imported only when a program does not parse.
"""

from __future__ import annotations

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import GradError, Span, shorten
from .parse import CONTINUATION, get_parser, token_span

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
        for tok in get_parser().lex(source[:offset], dont_ignore=False):
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


def syntax_error(source: str, exc: UnexpectedInput) -> GradError:
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
        span = token_span(tok)
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
        message = "this '(' is never closed: expected ')'"
        return GradError("syntax", message, token_span(opened[-1][0]), source)
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
        for tok in get_parser().lex(source[offset:], dont_ignore=False):
            if tok.type != "_IMPLICIT":
                return _shifted(tok, offset)
    except UnexpectedInput:
        pass
    return None


def _shifted(tok: Token, offset: int) -> Token:
    return Token(tok.type, tok.value, start_pos=tok.start_pos + offset, end_pos=tok.end_pos + offset)
