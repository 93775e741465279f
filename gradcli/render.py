"""Results -> text: strict JSON, rich tables, numbers for people.

JSON output never imports rich. Tables are rich tables; when standard output is
not a terminal they are plain ASCII with no colour and no wrapping, so a pipe
gets exactly one table; on a terminal they are coloured (``NO_COLOR`` is
honoured) and fold long numbers rather than cut them in a narrow window.
``eval`` and ``trace`` draw their piped tables (and tables past LARGE_TABLE rows)
themselves, in exactly rich's layout, so that a pipe never waits for rich.
"""

from __future__ import annotations

import json
import math
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console
    from rich.table import Table

    from .evaluate import NodeResult, Result

DEFAULT_PRECISION = 6


def dumps(obj: Any) -> str:
    """Strict RFC 8259 JSON: never NaN or Infinity; floats in shortest round-trip form;
    ``-0.0`` written as ``0.0`` (a zero's sign means nothing to a script, and jq
    would print it as ``-0``)."""
    text = json.dumps(obj, allow_nan=False, ensure_ascii=False)
    if "-0.0" in text:  # rare: only then walk the object (a string may hold it too)
        text = json.dumps(_unsigned_zeros(obj), allow_nan=False, ensure_ascii=False)
    for char in _LINE_BREAKS:  # valid JSON raw, but they split "lines" for many readers
        if char in text:
            text = text.replace(char, f"\\u{ord(char):04x}")
    return text


#: Line breaks that JSON allows raw inside strings (json.dumps escapes those below U+0020).
_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _unsigned_zeros(obj: Any) -> Any:
    """``obj`` with every ``-0.0`` made ``0.0`` (JSON objects nest a few levels only)."""
    if isinstance(obj, float):
        return obj + 0.0  # -0.0 + 0.0 == +0.0; every other float is unchanged
    if isinstance(obj, dict):
        return {key: _unsigned_zeros(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_unsigned_zeros(value) for value in obj]
    return obj


def format_number(value: float | None, precision: int | None = DEFAULT_PRECISION) -> str:
    """A number for people: ``precision`` significant digits (None: shortest
    round-trip), no ``-0``, and ``—`` for a value that was not computed."""
    if value is None:
        return "—"
    if value == 0:
        return "0"  # also turns -0.0 into 0
    if not math.isfinite(value):  # pragma: no cover - the evaluator never returns these
        return repr(value)
    if precision is None:
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.{precision}g}"


def make_console(file: IO[str] | None = None, *, stderr: bool = False, width: int | None = None) -> Console:
    """A console for ``file``: rich on a terminal, plain and unwrapped elsewhere (or
    wrapped at ``width`` when given)."""
    from rich.console import Console

    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    if is_tty:
        return Console(file=stream, highlight=False, emoji=False)
    return Console(
        file=stream,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
        width=width or 100_000,  # never wrap a pipe's table unless asked
        legacy_windows=False,
    )


#: Where a program's lines meet in a one-line title: a visible line end, so that a
#: comment cannot seem to swallow the statements after it.
LINE_JOIN = " ↵ "


def short_title(text: str, limit: int = 60) -> str:
    """A program as a title: one line, at most ``limit`` characters, its lines joined
    by a visible ↵, and nothing a terminal would obey (an escape sequence in a comment
    is shown as U+FFFD, as in error messages)."""
    from .errors import printable

    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    text = printable(LINE_JOIN.join(line for line in lines if line))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def output_label(result: Result) -> str:
    """The output's name in human output (see :meth:`Graph.output_label`)."""
    return result.graph.output_label()


#: Past this many rows a table is drawn by :func:`draw_table` even on a terminal (rich takes about a
#: millisecond a row: a 100,000-node trace would take minutes).
LARGE_TABLE = 1000


class Column:
    """A column of a table: its header, alignment, colour on a terminal, and whether
    a cell is ``whole``: never split across lines (numbers, signatures). ``heading``
    (as "row {}") makes the column's cell the heading of its row's block when a table
    too wide for the terminal is drawn one block per row, instead of a ``header: cell``
    line (a matrix's row label, whose header speaks of the whole matrix)."""

    __slots__ = ("header", "heading", "justify", "style", "whole")

    def __init__(
        self, header: str, justify: str = "left", style: str | None = None, *, whole: bool = False,
        heading: str | None = None,
    ) -> None:
        self.header = header
        self.justify = justify
        self.style = style
        self.whole = whole
        self.heading = heading


class Blank(str):
    """A cell left empty to be filled in (a worksheet's gradient): empty in a table, a
    line to write on in the one-block-per-row layout, where an empty cell is left out."""

    LINE = "________"


class Styled(str):
    """A cell with a terminal style of its own (a verdict in green or red); elsewhere
    it is its text."""

    style: str

    def __new__(cls, text: str, style: str) -> Styled:
        cell = super().__new__(cls, text)
        cell.style = style
        return cell


def print_rows(
    title: str,
    columns: list[Column],
    rows: list[list[str]],
    file: IO[str] | None = None,
    *,
    width: int | None = None,
) -> None:
    """Print a table: every table of gradcli goes through here. On a terminal it is
    rich's own (coloured, folding in a narrow window) up to LARGE_TABLE rows. In a
    pipe, and past LARGE_TABLE rows, the same layout is drawn here: byte for byte what
    rich draws in a pipe, without importing rich (a third of a command's start-up) or
    spending a millisecond a row. ``width`` wraps a piped table's text at that width
    (through rich) instead of leaving its lines as long as their cells."""
    stream = file if file is not None else sys.stdout
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    if (not is_tty and width is None) or len(rows) > LARGE_TABLE:
        stream.write(draw_table(title, columns, rows, plain=not is_tty))
        stream.flush()
        return
    from rich.text import Text

    console = make_console(stream, width=width)
    if not _fits(columns, rows, console.width):
        _print_records(console, title, columns, rows)
        return
    table = make_table(console, title=title)
    for column in columns:
        table.add_column(
            column.header, justify=column.justify, overflow="fold", style=column.style,  # type: ignore[arg-type]
            no_wrap=column.whole, min_width=None,
        )
    for row in rows:
        table.add_row(*(Text(cell, style=cell.style) if isinstance(cell, Styled) else cell for cell in row))
    console.print(table)


#: The narrowest a folding (text) column is allowed to become before a table gives way
#: to one record per block.
MIN_FOLD = 6


def _fits(columns: list[Column], rows: list[list[str]], width: int) -> bool:
    """Whether the table fits ``width`` cells with every whole cell (a number) on one
    line: whole columns keep their widest cell, the others may fold to MIN_FOLD."""
    need = 1
    for k, column in enumerate(columns):
        widest = max([cell_width(column.header), *(cell_width(row[k]) for row in rows)])
        need += 3 + (widest if column.whole else min(widest, MIN_FOLD))
    return need <= width


def _print_records(console: Console, title: str, columns: list[Column], rows: list[list[str]]) -> None:
    """A table too wide for the terminal, as one block per row (``header: cell`` lines),
    so that no number is ever split across lines."""
    from rich.text import Text

    console.print(Text(title, style="bold"), soft_wrap=True)
    label = max((cell_width(c.header) for c in columns if c.heading is None), default=0)
    for row in rows:
        console.print()
        for column, cell in zip(columns, row, strict=True):
            if isinstance(cell, Blank) and not cell:
                cell = Blank.LINE
            elif not cell:
                continue
            if column.heading is not None:
                console.print(Text(column.heading.format(cell), style="bold"))
                continue
            style = cell.style if isinstance(cell, Styled) else column.style
            pad = " " * (label - cell_width(column.header))
            # Wrapped by rich at spaces only: "1.5, -2" may break after its comma, a number never.
            console.print(Text.assemble(f"{column.header}:{pad} ", (cell, style or "")))


def make_table(console: Console, title: str | None = None) -> Table:
    """An empty rich table in gradcli's look: ASCII in a pipe, rounded on a terminal."""
    from rich import box
    from rich.table import Table

    plain = not console.is_terminal
    return Table(
        title=title,
        box=box.ASCII if plain else box.ROUNDED,
        title_justify="left",
        show_edge=True,
        header_style="" if plain else "bold",
        title_style="" if plain else "bold",
    )


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes: wide (CJK) characters 2, combining marks 0."""
    if text.isascii():
        return len(text)
    from unicodedata import combining, east_asian_width

    return sum(0 if combining(ch) else 2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def draw_table(title: str, columns: list[Column], rows: list[list[str]], *, plain: bool = True) -> str:
    """The text of a table in rich's layout: its ASCII box (``plain``) or its rounded
    box, titled on the left, each column as wide as its widest cell."""
    widths = [cell_width(c.header) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            n = cell_width(cell)
            if n > widths[i]:
                widths[i] = n

    bar = "|" if plain else "│"

    def line(cells: list[str]) -> str:
        parts = []
        for cell, width, column in zip(cells, widths, columns, strict=True):
            pad = " " * (width - cell_width(cell))
            parts.append(pad + cell if column.justify == "right" else cell + pad)
        return f"{bar} " + f" {bar} ".join(parts) + f" {bar}"

    segments = [("-" if plain else "─") * (w + 2) for w in widths]
    total = sum(w + 3 for w in widths) + 1
    if plain:
        top = bottom = "+" + "-" * (total - 2) + "+"
        rule = "|" + "+".join(segments) + "|"
    else:
        top = "╭" + "┬".join(segments) + "╮"
        rule = "├" + "┼".join(segments) + "┤"
        bottom = "╰" + "┴".join(segments) + "╯"
    out = [title + " " * max(0, total - cell_width(title)), top, line([c.header for c in columns]), rule]
    out.extend(line(row) for row in rows)
    out.append(bottom)
    return "\n".join(out) + "\n"


def print_eval(
    result: Result, precision: int | None = DEFAULT_PRECISION, file: IO[str] | None = None
) -> None:
    """``eval``'s table: the output's value, then each reported name with its value
    and ∂f/∂name."""
    f = output_label(result)
    columns = [
        Column("name"),
        Column("value", "right", "green", whole=True),
        Column(f"∂{f}/∂name", "right", "red", whole=True),
    ]
    rows = [[f"{f} (output)", format_number(result.value, precision), ""]]
    unused = set(result.graph.unused())
    for name, grad in result.gradient.items():
        shown = f"{name} (unused)" if name in unused else name
        rows.append([shown, format_number(result.value_of(name), precision), format_number(grad, precision)])
    print_rows(short_title(result.source), columns, rows, file)


def print_trace(
    result: Result,
    precision: int | None = DEFAULT_PRECISION,
    file: IO[str] | None = None,
    *,
    edges: bool = False,
    blank: bool = False,
    cells: Callable[[NodeResult], tuple[str, str, str]] | None = None,
) -> None:
    """``trace``'s table: one row per graph node, inputs before consumers, output last.
    With ``edges``, two more columns: what each use of the node contributes to its
    gradient (``3 (via 2)``: 3 through its use by node 2), and the sum of those contributions.
    With ``blank``, the gradient columns are left empty (a worksheet). ``cells`` writes
    a node's value, local gradients and gradient instead of the floats (exact fractions)."""
    f = output_label(result)
    columns = [
        Column("id", "right", whole=True),
        Column("label"),
        Column("op"),
        Column("inputs"),
        Column("value", "right", "green", whole=True),
        # — marks what was not computed: gradients toward constants.
        Column("∂node/∂input", "right", whole=True),
        Column(f"∂{f}/∂node", "right", "red", whole=True),
    ]

    def floats(node: NodeResult) -> tuple[str, str, str]:
        return (
            format_number(node.value, precision),
            ", ".join(format_number(g, precision) for g in node.local_grads),
            format_number(node.grad, precision),
        )

    write = cells or floats
    rows = []
    for node in result.nodes:
        value, local, grad = write(node)
        if node.evaluated is False:
            value = "not taken"
        if blank:  # what the student fills in: every gradient there is to compute
            local = Blank("") if node.inputs and node.grad is not None else ""
            grad = Blank("") if node.grad is not None else ""
        inputs = ", ".join(str(i) for i in node.inputs)
        rows.append([str(node.id), node.label, node.op, inputs, value, local, grad])
    # An input the output does not depend on is no node of the graph; a row of its own
    # says it was read and has gradient 0.
    unused = [
        ["", f"{name} (unused)", "var", "", format_number(result.inputs[name], precision), "",
         Blank("") if blank else "0"]
        for name in result.graph.unused()
    ]
    if edges:
        _add_edge_columns(result, columns, rows, precision)
        for row in unused:
            row[-1:-1] = ["", ""]
    print_rows(short_title(result.source), columns, unused + rows, file)


def _add_edge_columns(
    result: Result, columns: list[Column], rows: list[list[str]], precision: int | None
) -> None:
    """The contributions into each node, and their sum, before the gradient column."""
    from .edges import contribution_sum, incoming

    into = incoming(result)
    columns.insert(-1, Column("contributions (via consumer)"))
    columns.insert(-1, Column("sum", "right", whole=True))
    for row, uses, grad in zip(rows, into, result.grads, strict=True):
        if grad is None:  # constants, and what depends on no variable: no gradient to explain
            uses = []
        parts = [f"{format_number(e.contribution, precision)} (via {e.consumer})" for e in uses]
        row.insert(-1, " + ".join(parts))
        row.insert(-1, format_number(contribution_sum(uses), precision) if uses else "")


