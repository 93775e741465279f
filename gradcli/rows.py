"""What every batch reader shares: chunks of float columns, and the checks of an
input's columns against the program.

A reader (:mod:`gradcli.csv_rows`, :mod:`gradcli.jsonl_rows`, and for Parquet
:mod:`gradcli.columnar`) reads its input a chunk of rows at a time (never the whole
input), turns each input's cells into a float column (:class:`Columns`), and keeps
what passes through to the output: the CSV row's own text, or a JSON line's other
keys. A row whose own data is wrong (a cell that is not a number, a line that is
not a JSON object) gets its error in the chunk and the other rows go on.
:func:`open_source` picks the reader of CSV or JSON Lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bindings import cell_value, option_flag
from .errors import GradError, shorten
from .graph import Graph, suggest
from .lines import LineReader
from .vectorised import FILLER

#: Keys of an output record: a pass-through column may not take these names.
RESERVED = ("output", "value", "inputs", "gradient", "row", "error")


def _missing(name: str) -> GradError:
    flag = option_flag(name)
    return GradError(
        "binding", f"missing a value for {name}: give it in the row, or a default as {flag} VALUE"
    )


def check_header(
    header: list[str],
    graph: Graph,
    inputs: Sequence[str],
    grid_names: set[str],
    defaults: dict[str, Any],
    passthrough: bool,
    what: str,
    reported: Sequence[str] | None = None,
) -> None:
    """The columns of a batch input against the program (``what`` names the input in
    a message: "the CSV header", "the Parquet input"): no column named twice, none
    also swept by ``--grid``, no pass-through column with a name of the output's own
    (``reported``: the names whose ``grad_NAME`` it has), and a column or a default for
    every input in ``inputs``."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise GradError("usage", f"{what} names the column {shorten(name)!r} twice")
        seen.add(name)
        if name in grid_names:
            raise GradError("usage", f"{name} is swept by --grid and is also a column of the input: drop one")
    if passthrough:
        check_reserved(graph, [name for name in header if name not in graph.inputs], reported)
    missing = [name for name in inputs if name not in seen and name not in defaults]
    if missing:
        raise GradError("binding", no_column(missing, header))


def no_column(missing: list[str], header: list[str]) -> str:
    """No column for an input and no default: the columns that are there, and a
    word on a header that seems to use another separator than the comma."""
    name = missing[0]
    names = ", ".join(shorten(n) for n in missing)
    found = ", ".join(shorten(h) for h in header[:12]) + (", ..." if len(header) > 12 else "")
    text = (
        f"the input has no column {names}{suggest(name, header)} and there is no default:"
        f" add the column, or bind {option_flag(name)} VALUE;"
        f" its columns are {found}" if header else f"the CSV input has no header row (so no column {names})"
    )
    if len(header) == 1:
        for mark, what in ((";", "semicolons"), ("\t", "tabs")):
            if mark in header[0]:
                text += f" (the header seems to be separated by {what}: CSV input must use commas)"
                break
    return text


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(eq=False)
class Chunk:
    """Rows read from the input: a column per program input, the rows that failed
    already, and what passes through to the output."""

    size: int
    columns: dict[str, Any]
    errors: dict[int, GradError]
    #: pass-through: per row, a dict of the non-input keys (JSON Lines), or None
    extra_rows: list[dict[str, Any] | None] | None = None
    #: pass-through: per CSV column, its cells (CSV)
    extra_cols: list[list[str]] | None = None
    #: CSV: each row's own cells, as CSV text (CSV output repeats them as they are)
    lead: list[str] | None = None
    #: for rows that failed on their own data: the text they gave for each input
    raw: dict[int, dict[str, str]] = field(default_factory=dict)
    #: the rows as Arrow read them (Parquet, or CSV through Arrow), every column;
    #: ``lead`` and ``extra_cols`` are made from it only when an output needs them
    table: Any = None
    #: CSV through Arrow: the block of lines the rows came from (gradcli.arrowcsv.ArrowBlock)
    block: Any = None


#: Texts whose reading a column remembers at most.
_SEEN_TEXTS = 4096


class Columns:
    """Turns cells (numbers, strings, None) into a float column, row by row where needed."""

    def __init__(self, np: Any, name: str, default: float | None) -> None:
        self.np = np
        self.name = name
        self.default = default
        # The reading of each text that was not a plain number: a column often
        # repeats one ("n/a").
        self._seen: dict[str, float | GradError] = {}

    def convert(self, cells: list[Any], errors: dict[int, GradError], *, strings: bool = False) -> Any:
        """A float column from ``cells``; a row whose cell is not a number gets its
        error in ``errors`` (the first error of a row wins)."""
        np = self.np
        column = self._fast(cells, strings)
        if column is not None:
            bad = np.flatnonzero(~np.isfinite(column)).tolist()
        else:
            column = np.empty(len(cells))
            bad = range(len(cells))
        return self.fill(column, bad, cells.__getitem__, errors)

    def fill(self, column: Any, bad: Iterable[int], cell_of: Any, errors: dict[int, GradError]) -> Any:
        """Read the cells of rows ``bad`` (``cell_of(r)``) one by one into ``column``:
        a blank cell takes the default, and a cell that is no number is its row's error."""
        seen = self._seen
        for r in bad:
            cell = cell_of(r)
            outcome = seen.get(cell) if type(cell) is str else None
            if outcome is None:
                outcome = self._read(cell)
                if type(cell) is str:
                    if len(seen) >= _SEEN_TEXTS:
                        seen.clear()
                    seen[cell] = outcome
            if isinstance(outcome, GradError):
                column[r] = FILLER
                errors.setdefault(r, outcome)
            else:
                column[r] = outcome
        return column

    def _read(self, cell: Any) -> float | GradError:
        try:
            if _is_blank(cell):
                if self.default is None:
                    return _missing(self.name)
                return self.default
            return cell_value(self.name, cell)
        except GradError as err:
            return err.kept()

    def _fast(self, cells: list[Any], strings: bool) -> Any:
        """The whole column at C speed when it is plain numbers, else None."""
        np = self.np
        try:
            if not strings:
                kinds = set(map(type, cells))
                if kinds <= {float, int}:
                    return np.array(cells, dtype=np.float64)
                strings = kinds == {str}
            if strings:
                joined = "".join(cells)
                # float() reads "1_000" and "١٢"; the language does not: such cells
                # go one by one through the careful reading (cell_value).
                if joined.isascii() and "_" not in joined and "" not in cells:
                    return np.array(cells, dtype=np.float64)
        except (ValueError, OverflowError, TypeError):
            return None
        return None


def array_cell(value: Any) -> Any:
    """A cell of a column from Python (a DataFrame's, an array's) as a row's cell: a
    missing value (None, NaN, NA, NaT) is blank, a NumPy scalar a Python one."""
    if value is None or isinstance(value, str):
        return value
    if getattr(value, "ndim", 0):  # an array in a cell (a list column): a list, no number
        return value.tolist()
    try:
        if value != value:  # NaN, and pandas' NA (whose comparison is NA, which is not True)
            return None
    except (TypeError, ValueError):
        return None
    if type(value).__module__ == "numpy":
        return value.item()
    return value


def array_floats(
    np: Any, values: Any, converter: Columns, errors: dict[int, GradError], *, as_they_are: bool = False,
    what: str = "the column",
) -> Any:
    """An input's floats from a column given from Python (a list, a NumPy array, a
    DataFrame's column): integers and floats at C speed, every other cell one by one
    as a CSV cell is read (text such as "2.5"; a bool, a complex number, a date or
    "1_000" is that row's error in ``errors``, never a number NumPy made of it).
    A NaN among floats is a blank cell, an infinity its row's error; ``as_they_are``
    keeps both in the column, for a caller that says what eval says of them. Values
    that are not one column (a scalar, a 2-D array) are a usage error that calls them
    ``what`` ("the column", "the data's column")."""
    array = None
    if not isinstance(values, (str, bytes, Mapping)) and hasattr(values, "__iter__"):
        try:
            array = np.asarray(values if hasattr(values, "__len__") else list(values))
        except (TypeError, ValueError):  # lists of lists of several lengths
            array = None
    if array is None or array.ndim != 1:
        raise GradError(
            "usage", f"{what} {shorten(converter.name)} must be a list or a 1-D array of numbers"
        )
    if array.dtype.kind in "iuf":
        column = np.ascontiguousarray(array, dtype=np.float64)  # (no copy of float64 numbers)
        bad = [] if as_they_are else np.flatnonzero(~np.isfinite(column)).tolist()
        if not bad:
            return column
        column = np.array(column)  # its own, to write into
        cells = array.tolist()
        return converter.fill(column, bad, lambda r: array_cell(cells[r]), errors)
    return converter.convert([array_cell(v) for v in array.tolist()], errors)


def sniff(lines: LineReader) -> str:
    """'jsonl' when the first line that is not blank starts with '{' (or there is
    none), else 'csv'. It waits for that line however the input arrives."""
    first = lines.skip_blank()
    return "jsonl" if first is None or first.lstrip().startswith(b"{") else "csv"


class Source:
    """Where the rows come from: chunks of :class:`Chunk`, and the pass-through names
    (a reader of CSV or of JSON Lines: see :func:`open_source`)."""

    #: CSV: the pass-through columns (JSON Lines: None, its keys are a row's own)
    extra_names: list[str] | None = None

    def __init__(
        self, np: Any, graph: Graph, lines: LineReader, defaults: dict[str, float],
        grid_names: Sequence[str], rows_per_chunk: int, *, passthrough: bool = True,
        reported: Sequence[str] | None = None,
    ) -> None:
        """``passthrough``: False when nothing is written per row (``fit``), so other
        columns and keys are ignored, whatever their names. ``reported``: the names
        whose gradients the records hold (default every input)."""
        self.np = np
        self.passthrough = passthrough
        self.reported = reported
        self.graph = graph
        self.defaults = defaults
        self.grid_names = set(grid_names)
        self.step = rows_per_chunk
        self.inputs = [name for name in graph.inputs if name not in self.grid_names]
        self.converters = {name: Columns(np, name, defaults.get(name)) for name in self.inputs}
        self.lines = lines

    def chunks(self) -> Iterator[Chunk]:
        raise NotImplementedError


def open_source(
    np: Any, graph: Graph, lines: LineReader, fmt: str, defaults: dict[str, float],
    grid_names: Sequence[str], rows_per_chunk: int, *, passthrough: bool = True, arrow: bool = False,
    reported: Sequence[str] | None = None,
) -> Source:
    """The reader of ``lines`` in ``fmt`` ("csv", else JSON Lines; :func:`sniff` tells
    them apart). ``arrow``: a large CSV input may be read by Arrow's C reader (the
    ``fast`` extra). A CSV header is read and checked here, before any row."""
    if fmt == "csv":
        from .csv_rows import CsvSource

        return CsvSource(
            np, graph, lines, defaults, grid_names, rows_per_chunk, passthrough=passthrough, arrow=arrow,
            reported=reported,
        )
    from .jsonl_rows import JsonlSource

    return JsonlSource(
        np, graph, lines, defaults, grid_names, rows_per_chunk, passthrough=passthrough, reported=reported
    )


def reserved_names(graph: Graph, reported: Sequence[str] | None = None) -> set[str]:
    """The names an output record has of its own: ``grad_NAME`` for each reported
    name (``--wrt``, which may name statements; default every input)."""
    names = graph.inputs if reported is None else reported
    return set(RESERVED) | {f"grad_{name}" for name in names}


def check_input_columns(graph: Graph, reported: Sequence[str]) -> None:
    """Output with columns (CSV, Parquet, a DataFrame) has one per input beside
    ``value``, ``grad_NAME`` and ``error``: an input may take none of those names. (In
    JSON Lines an input is a key of ``inputs``, which clashes with nothing.)"""
    own = {"value", "error"} | {f"grad_{name}" for name in reported}
    for name in graph.inputs:
        if name in own:
            raise GradError(
                "usage",
                f"the input {shorten(name)} would clash with the output's own column {name!r}: rename it,"
                " or write JSON Lines",
            )


def check_reserved(graph: Graph, extra_names: Iterable[str], reported: Sequence[str] | None = None) -> None:
    reserved = reserved_names(graph, reported)
    for name in extra_names:
        if name in reserved:
            raise GradError(
                "usage",
                f"the input's column {name!r} would clash with the output's own {name!r}: rename it",
            )


def _rows_of(table: Any, rows: Any) -> Any:
    """An Arrow table's rows: a slice (no copy) when they follow each other."""
    if len(rows) and bool((rows[1:] - rows[:-1] == 1).all()):
        return table.slice(int(rows[0]), len(rows))
    return table.take(rows)


def _take(items: list[Any] | None, index: list[int]) -> list[Any] | None:
    return None if items is None else [items[i] for i in index]


def slice_chunk(np: Any, chunk: Chunk, rows: Any) -> Chunk:
    if len(rows) == chunk.size and chunk.size and rows[0] == 0:
        return Chunk(chunk.size, dict(chunk.columns), chunk.errors, extra_rows=chunk.extra_rows,
                     extra_cols=chunk.extra_cols, raw=chunk.raw, lead=chunk.lead, table=chunk.table,
                     block=chunk.block)
    index = rows.tolist()
    errors: dict[int, GradError] = {}
    raw: dict[int, dict[str, str]] = {}
    if chunk.errors:
        for position, r in enumerate(index):
            if r in chunk.errors:
                errors[position] = chunk.errors[r]
                if r in chunk.raw:
                    raw[position] = chunk.raw[r]
    return Chunk(
        len(index),
        {name: column[rows] for name, column in chunk.columns.items()},
        errors,
        extra_rows=_take(chunk.extra_rows, index),
        extra_cols=None if chunk.extra_cols is None else [_take(col, index) for col in chunk.extra_cols],
        raw=raw,
        lead=_take(chunk.lead, index),
        table=None if chunk.table is None else _rows_of(chunk.table, rows),
    )
