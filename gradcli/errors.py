"""Errors as values: a kind, a message and, where there is one, a place in the source.

Every failure a user can cause is a :class:`GradError`. The CLI turns one into an
``error:`` line, the source line with a caret under the place, and the exit code
``EXIT_CODES[kind]``; :class:`ExitStatus` names every exit code the command line
uses. Nothing here imports anything heavy.
"""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum
from typing import NamedTuple


class ExitStatus(IntEnum):
    """Every exit code of the command line, in one place."""

    OK = 0
    MATH = 1  # a math error, or rows of a batch that failed
    USAGE = 2  # the command line, the program or a stream it needs is wrong
    CHECK_FAILED = 3  # `gradcli check` found a gradient that disagrees
    UNJUDGED = 4  # `gradcli check`: none disagrees, but some could not be judged
    INTERNAL = 70  # a bug in gradcli itself (EX_SOFTWARE); never a user's mistake
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class Span(NamedTuple):
    """A half-open range of character offsets ``[start, end)`` into a source string."""

    start: int
    end: int


#: kind -> exit code. Math errors exit 1, usage errors exit 2, a failed check exits 3.
EXIT_CODES: dict[str, ExitStatus] = {
    # math errors (exit 1)
    "domain": ExitStatus.MATH,  # log(-1), sqrt(-2), asin(2)
    "division_by_zero": ExitStatus.MATH,  # 1/0, 0^-1
    "overflow": ExitStatus.MATH,  # exp(1000), 1e308*10: a value that is not a finite float
    "gradient": ExitStatus.MATH,  # an undefined local gradient: sqrt'(0), x^y toward y with x < 0
    "diverged": ExitStatus.MATH,  # `gradcli descend`: the value keeps going the wrong way (lr too large)
    "singular": ExitStatus.MATH,  # `descend`/`fit --method newton`: a Hessian that cannot be solved
    # usage errors (exit 2)
    "syntax": ExitStatus.USAGE,  # the text is not a program
    "name": ExitStatus.USAGE,  # unknown function or constant misuse, assigning twice, use before assignment
    "arity": ExitStatus.USAGE,  # a function called with the wrong number of arguments
    "binding": ExitStatus.USAGE,  # a missing, unknown or non-numeric binding
    "usage": ExitStatus.USAGE,  # a bad option, an unreadable file, a closed stream
    # verification (exit 3)
    "check": ExitStatus.CHECK_FAILED,  # `gradcli check` found a gradient that disagrees
    # `gradcli check`: none disagrees, but finite differences cannot judge some
    "unjudged": ExitStatus.UNJUDGED,
    # Ctrl-C (exit 130): `gradcli descend` stopped part-way, at the last good point
    "interrupted": ExitStatus.INTERRUPTED,
}


class GradError(Exception):
    """A user-facing error: ``kind`` (a key of :data:`EXIT_CODES`), ``message`` and
    an optional ``span`` into ``source`` (the text the span refers to: the program,
    or a binding's value)."""

    def __init__(
        self,
        kind: str,
        message: str,
        span: Span | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        if kind not in EXIT_CODES:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind = kind
        self.message = message
        self.span = span
        self.source = source
        # Where a math error was born: the pass ("forward", or "backward toward x")
        # and the id of the node (as trace numbers them); None for other errors.
        self.stage: str | None = None
        self.node: int | None = None

    def at(self, stage: str, node: int) -> GradError:
        """Record the pass and the node where this math error was born (the first
        record stands: the innermost place is the true one)."""
        if self.stage is None:
            self.stage = stage
            self.node = node
        return self

    @property
    def exit_code(self) -> ExitStatus:
        return EXIT_CODES[self.kind]

    def cell(self) -> str:
        """``kind: message``, the error in a table's cell (a CSV or Parquet file's, a
        DataFrame's): a message that starts with its kind's words (``overflow: ...``,
        ``division by zero: ...``) does not say them twice."""
        words = self.kind.replace("_", " ") + ": "
        message = self.message[len(words):] if self.message.startswith(words) else self.message
        return f"{self.kind}: {message}"

    def kept(self) -> GradError:
        """This error, to be kept after it was caught (a failed row's error, a cell's
        reading): without its traceback and the exception it was raised from, which
        would keep the frames they passed through alive, and their locals, in a
        cycle only the collector frees."""
        self.__context__ = self.__cause__ = None
        return self.with_traceback(None)

    def with_source(self, source: str) -> GradError:
        """Attach the source text the span refers to, unless one is attached already."""
        if self.source is None:
            self.source = source
        return self

    def __repr__(self) -> str:
        return f"GradError({self.kind!r}, {self.message!r}, {self.span!r})"

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled whole (a Dask worker sends its errors back to the client)."""
        return (GradError, (self.kind, self.message, self.span, self.source), self.__dict__)

    def to_json(self) -> dict[str, object]:
        """The error as a JSON-ready object: kind, message and, if known, line and column."""
        out: dict[str, object] = {"kind": self.kind, "message": short_message(self.message)}
        if self.span is not None and self.source is not None:
            line, column = line_and_column(self.source, self.span.start)
            out["line"] = line
            out["column"] = column
        out.update(self.provenance())
        return out

    def provenance(self) -> dict[str, object]:
        """``{"pass", "node", "span": [start, end]}`` for a math error that knows where
        it was born; empty otherwise."""
        if self.stage is None:
            return {}
        span = [self.span.start, self.span.end] if self.span is not None else None
        return {"pass": self.stage, "node": self.node, "span": span}

    def where(self) -> str | None:
        """``in the forward pass, at node 3`` (None when not known)."""
        if self.stage is None:
            return None
        stage = self.stage.replace("forward", "forward pass", 1).replace("backward", "backward pass", 1)
        return f"in the {stage}, at node {self.node}"


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``source``. A line
    ends at "\n", "\r\n" or a lone "\r", as in the language."""
    at = offset
    if 0 < at < len(source) and source[at] == "\n" and source[at - 1] == "\r":
        at -= 1  # the "\n" of a "\r\n" ends the same line as its "\r"
    line_start = max(source.rfind("\n", 0, at), source.rfind("\r", 0, at)) + 1
    line = source.count("\n", 0, at) + source.count("\r", 0, at) - source.count("\r\n", 0, at) + 1
    return line, offset - line_start + 1


def line_end(source: str, start: int) -> int:
    """Where the line that goes on at ``start`` ends: its "\n" or "\r", or the end."""
    ends = [i for i in (source.find("\n", start), source.find("\r", start)) if i >= 0]
    return min(ends) if ends else len(source)


#: A run of this many non-blank characters in a message is shortened (a 10^6-letter name).
_LONG_WORD = 80


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to about ``limit`` characters with an ellipsis in the middle, so a
    huge name or value stays recognisable (its start and its end) in a message."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head - 1
    return f"{text[:head]}…{text[len(text) - tail:]}"


def short_message(message: str) -> str:
    """``message`` with every run of more than 80 non-blank characters shortened."""
    if len(message) <= _LONG_WORD:
        return message
    return re.sub(rf"\S{{{_LONG_WORD + 1},}}", lambda m: shorten(m.group(0), _LONG_WORD), message)


def _cell_width(char: str) -> int:
    """Terminal cells a character takes: 2 for wide (CJK) characters, 0 for
    combining marks and invisible format characters, else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 2
    return 1


def _visible(char: str) -> str:
    """A character as the caret line shows it: tabs and control characters would
    move the cursor (or worse, drive the terminal), so they become one cell."""
    if char == "\t":
        return " "
    # U+0085, U+2028 and U+2029 break lines too; an invisible format character (a
    # right-to-left override reorders what follows) is shown as the character it hides.
    if unicodedata.category(char) in ("Cc", "Zl", "Zp", *_FORMAT_CATEGORIES):
        return "\ufffd"
    return char


#: What a terminal must never receive from user text: control characters (ESC starts
#: escape sequences that retitle or clear the terminal), line and paragraph
#: separators, invisible format characters (a right-to-left override reorders what
#: follows), surrogates (not encodable), private-use and unassigned characters.
#: ASCII text can hold only the first: its controls, each to U+FFFD (a table for
#: str.translate, which costs nothing to build where a regular expression over
#: these ranges took 1 to 1.5 ms of every start).
_ASCII_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], "\ufffd")
_FORMAT_CATEGORIES = ("Cf", "Cs", "Co", "Cn")


def printable(text: str, *, tab: str = " ") -> str:
    """``text`` safe to echo anywhere (a table title, a label, a picture): a tab becomes
    ``tab``, and every control, separator, format, surrogate or unassigned character
    becomes U+FFFD, as in the caret line of an error message."""
    if text.isascii():
        if text.isprintable():
            return text
        return text.translate({**_ASCII_CONTROLS, ord("\t"): tab})
    return "".join(
        tab if c == "\t"
        else "\ufffd" if (c < "\xa0" and not c.isprintable()) or unicodedata.category(c) in _FORMAT_CATEGORIES
        or c in "\u2028\u2029" else c
        for c in text
    )


def _width(text: str) -> int:
    return sum(_cell_width(c) for c in text)


def format_error(err: GradError) -> str:
    """The text the CLI writes to standard error: an ``error:`` line and, when the
    error has a place, the source line and a caret under it (httpie style)::

        error: log(-1) is outside the domain of log (x > 0)
          y = log(x - 3)
              ^^^^^^^^^^

    The caret is placed by terminal cells, not characters: a CJK character takes
    two cells and a combining mark none. A line after the first is prefixed with
    its number, and a very long line is shown as a window around the caret.
    """
    lines = [f"error: {short_message(err.message)}"]
    where = err.where()
    if err.span is None or err.source is None:
        if where is not None:
            lines.append(f"  {where}")
        return "\n".join(lines)
    source = err.source
    start = max(0, min(err.span.start, len(source)))
    line_no, column = line_and_column(source, start)
    line_start = start - (column - 1)
    stop = line_end(source, line_start)
    end = max(start + 1, min(err.span.end, stop))
    # Characters of the line before, under and after the caret (by index in the line).
    lo, hi = 0, stop - line_start
    before_len = start - line_start
    if hi > 200:  # keep a long line readable: a window around the caret
        lo = max(0, before_len - 80)
        hi = min(hi, before_len + 120)
    text = source[line_start + lo : line_start + hi]
    shown = "".join(_visible(c) for c in text)
    lead = "…" if lo else ""
    trail = "…" if line_start + hi < stop else ""
    prefix = f"  line {line_no}: " if line_no > 1 else "  "
    caret_at = _width(lead + "".join(_visible(c) for c in source[line_start + lo : start]))
    marked = "".join(_visible(c) for c in source[start : min(end, line_start + hi)])
    caret_len = _width(marked)
    if caret_len == 0 and caret_at > 0 and start < stop:
        caret_at -= 1  # a lone combining mark: point at the letter it sits on
    lines.append(prefix + lead + shown + trail)
    lines.append(" " * (len(prefix) + caret_at) + "^" * max(1, caret_len))
    if where is not None:
        lines.append(f"  {where}")
    return "\n".join(lines)
