"""Errors as values: a kind, a message and, where there is one, a place in the source.

Every failure a user can cause is a :class:`GradError`. The CLI turns one into an
``error:`` line, the source line with a caret under the place, and the exit code
``EXIT_CODES[kind]`` (SPEC §5). Nothing here imports anything heavy.
"""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A half-open range of character offsets ``[start, end)`` into a source string."""

    start: int
    end: int


#: kind -> exit code. Math errors exit 1, usage errors exit 2, a failed check exits 3.
EXIT_CODES: dict[str, int] = {
    # math errors (exit 1)
    "domain": 1,  # log(-1), sqrt(-2), asin(2)
    "division_by_zero": 1,  # 1/0, 0^-1
    "overflow": 1,  # exp(1000), 1e308*10: a value that is not a finite float
    "gradient": 1,  # an undefined local gradient: sqrt'(0), x^y toward y with x < 0
    # usage errors (exit 2)
    "syntax": 2,  # the text is not a program
    "name": 2,  # unknown function or constant misuse, assigning twice, use before assignment
    "arity": 2,  # a function called with the wrong number of arguments
    "binding": 2,  # a missing, unknown or non-numeric binding
    "usage": 2,  # a bad option, an unreadable file
    # verification (exit 3)
    "check": 3,  # `gradcli check` found a gradient that disagrees with finite differences
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

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    def with_source(self, source: str) -> GradError:
        """Attach the source text the span refers to, unless one is attached already."""
        if self.source is None:
            self.source = source
        return self

    def __repr__(self) -> str:
        return f"GradError({self.kind!r}, {self.message!r}, {self.span!r})"

    def to_json(self) -> dict[str, object]:
        """The error as a JSON-ready object: kind, message and, if known, line and column."""
        out: dict[str, object] = {"kind": self.kind, "message": self.message}
        if self.span is not None and self.source is not None:
            line, column = line_and_column(self.source, self.span.start)
            out["line"] = line
            out["column"] = column
        return out


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``source``."""
    line_start = source.rfind("\n", 0, offset) + 1
    return source.count("\n", 0, offset) + 1, offset - line_start + 1


def format_error(err: GradError) -> str:
    """The text the CLI writes to standard error: an ``error:`` line and, when the
    error has a place, the source line and a caret under it (httpie style)::

        error: log(-1) is outside the domain of log (x > 0)
          y = log(x - 3)
              ^^^^^^^^^^
    """
    lines = [f"error: {err.message}"]
    if err.span is None or err.source is None:
        return "\n".join(lines)
    source = err.source
    start = max(0, min(err.span.start, len(source)))
    line_no, column = line_and_column(source, start)
    line_start = start - (column - 1)
    line_end = source.find("\n", line_start)
    if line_end < 0:
        line_end = len(source)
    text = source[line_start:line_end]
    end = max(start + 1, min(err.span.end, line_end))
    # Tabs would misplace the caret; show them as single spaces.
    text = text.replace("\t", " ")
    prefix = f"  line {line_no}: " if source.count("\n", 0, len(source)) and line_no > 1 else "  "
    if len(text) > 200:  # keep a long line readable: a window around the caret
        lo = max(0, column - 1 - 80)
        hi = min(len(text), column - 1 + 120)
        shown = ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
        caret_col = column - 1 - lo + (1 if lo else 0)
        caret_len = min(end - start, hi - (column - 1))
        text = shown
    else:
        caret_col = column - 1
        caret_len = end - start
    lines.append(prefix + text)
    lines.append(" " * (len(prefix) + caret_col) + "^" * max(1, caret_len))
    return "\n".join(lines)
