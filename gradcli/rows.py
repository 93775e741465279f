"""The row readers: CSV and JSON Lines in, chunks of float columns out.

A :class:`Source` reads its stream a chunk of rows at a time (never the whole
input), turns each input's cells into a float column, and keeps what passes
through to the output: the CSV row's own text, or a JSON line's other keys. A
row whose own data is wrong (a cell that is not a number, a line that is not a
JSON object) gets its error in the chunk and the other rows go on.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bindings import cell_value, option_flag
from .errors import GradError, shorten
from .graph import Graph, suggest
from .lines import CHUNK_BYTES, LineReader, is_blank
from .records import csv_cell, csv_text, load_orjson
from .vectorised import FILLER, all_finite

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
) -> None:
    """The columns of a batch input against the program (``what`` names the input in
    a message: "the CSV header", "the Parquet input"): no column named twice, none
    also swept by ``--grid``, no pass-through column with a reserved output name, and
    a column or a default for every input in ``inputs``."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise GradError("usage", f"{what} names the column {shorten(name)!r} twice")
        seen.add(name)
        if name in grid_names:
            raise GradError("usage", f"{name} is swept by --grid and is also a column of the input: drop one")
    if passthrough:
        check_reserved(graph, [name for name in header if name not in graph.inputs])
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


def _field_count(row: list[str], k: int) -> GradError:
    """A CSV row with more or fewer fields than its header has columns."""
    if len(row) > k:
        rest = shorten(",".join(row[k:]))
        return GradError(
            "syntax", f"the row has {len(row)} fields; the header has {k}: {rest} has no column"
        )
    return GradError("syntax", f"the row has {len(row)} fields; the header has {k}")


class _NotJson(ValueError):
    """A number or a name that JSON's grammar allows but no float can hold, or
    that only JavaScript knows (NaN, Infinity)."""


def _constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"the number {shorten(text)} is too large for a float")
    return value


def json_loads(line: bytes) -> Any:
    """A line of JSON Lines as the standard library reads it, held to RFC 8259 as
    orjson is: UTF-8 only, no NaN or Infinity, no number past the float range."""
    return json.loads(line.decode("utf-8"), parse_float=_finite_float, parse_constant=_constant)


def _json_row(line: bytes, number: int, orjson: Any) -> tuple[dict[str, Any], GradError | None]:
    """One line of JSON Lines: its object, or an empty one and the row's error.

    orjson reads a line first where it is installed; where its reading could differ
    from the standard library's (an integer past 64 bits becomes a float in orjson),
    or where it refuses the line, the standard library reads it again (and says
    why): the rows and their messages are the same with orjson and without it."""
    obj: Any = None
    if orjson is not None:
        try:
            obj = orjson.loads(line)
        except ValueError:
            obj = None
        if obj is not None and _past_64_bits(obj):
            obj = None  # perhaps an integer, which the standard library keeps whole
    try:
        if obj is None:
            obj = json_loads(line)
            if b"\\u" in line:  # an escape may make a lone surrogate, which is not text
                json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        return {}, GradError("syntax", f"line {number} is not UTF-8 text")
    except UnicodeEncodeError as exc:
        code = ord(str(exc.object)[exc.start])
        return {}, GradError(
            "syntax", f"line {number} holds a lone surrogate (\\u{code:04x}), which is no character of text"
        )
    except _NotJson as exc:
        return {}, GradError("syntax", f"line {number}: {exc}")
    except RecursionError:
        return {}, GradError("syntax", f"line {number} is nested too deeply")
    except ValueError as exc:
        reason = getattr(exc, "msg", None) or str(exc)
        return {}, GradError("syntax", f"line {number} is not JSON: {reason}")
    if not isinstance(obj, dict):
        return {}, GradError("syntax", f"line {number} is not a JSON object of bindings")
    return obj, None


def _past_64_bits(obj: Any) -> bool:
    """Whether a value read by orjson holds a float of 2^63 or more: perhaps an
    integer past 64 bits, which orjson reads as a float (no recursion: a stack)."""
    if type(obj) is not dict:
        return False  # not a row: its error does not depend on the number
    stack: list[Any] = []
    for value in obj.values():  # the common case, flat, without the stack
        kind = type(value)
        if kind is float:
            if not -9.2e18 < value < 9.2e18:
                return True
        elif kind is dict or kind is list:
            stack.append(value)
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is float:
            if not -9.2e18 < value < 9.2e18:
                return True
        elif kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
    return False


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


#: Bytes of CSV input from which Arrow's reader is worth importing (the ``fast`` extra).
ARROW_MIN_BYTES = 1 << 20
#: The end of the input, in place of a block read by Arrow.
END = object()

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
            return err

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


#: Characters of a chunk of plain numbers in CSV (no letters but the exponent's).
_NUMERIC_BYTES = b"0123456789+-.eE \t\n,"
_NEWLINE_TO_COMMA = bytes.maketrans(b"\n", b",")


def _numeric_block(np: Any, text: str, k: int, n: int) -> Any:
    """A chunk of CSV lines that hold only plain numbers, parsed by NumPy's C reader
    into an (n, k) array; None when anything is unusual (then the careful path runs).
    Each line has k - 1 commas (checked by the caller), the characters allow only
    decimal numbers, NumPy refuses a cell it cannot read whole ("1,,2", "1.2.3",
    "1 2"), and the count must come out at n·k."""
    import warnings

    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    if raw.translate(None, _NUMERIC_BYTES):
        return None
    raw = raw.translate(_NEWLINE_TO_COMMA)
    tight = raw.translate(None, b" \t")
    if b",," in tight or tight.startswith(b",") or tight.endswith(b","):
        return None  # a blank cell, which NumPy would read as -1: missing, for the careful path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            flat = np.fromstring(raw, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    if flat.size != n * k or not all_finite(flat):
        return None
    return flat.reshape(n, k)


def sniff(lines: LineReader) -> str:
    """'jsonl' when the first line that is not blank starts with '{' (or there is
    none), else 'csv'. It waits for that line however the input arrives."""
    first = lines.skip_blank()
    return "jsonl" if first is None or first.lstrip().startswith(b"{") else "csv"


class Source:
    """Where the rows come from: chunks of :class:`Chunk`, and the pass-through names."""

    def __init__(
        self, np: Any, graph: Graph, lines: LineReader, fmt: str, defaults: dict[str, float],
        grid_names: Sequence[str], rows_per_chunk: int, *, passthrough: bool = True, arrow: bool = False,
    ) -> None:
        """``passthrough``: False when nothing is written per row (``fit``), so other
        columns and keys are ignored, whatever their names."""
        self.np = np
        self.passthrough = passthrough
        self.graph = graph
        self.defaults = defaults
        self.grid_names = set(grid_names)
        self.step = rows_per_chunk
        self.inputs = [name for name in graph.inputs if name not in self.grid_names]
        self.converters = {name: Columns(np, name, defaults.get(name)) for name in self.inputs}
        self.fmt = fmt
        self.lines = lines
        self.extra_names: list[str] | None = None  # CSV: the pass-through columns
        self._reader: Any = None  # csv.reader, once a chunk has quotes
        # CSV through Arrow's C reader (gradcli.arrowcsv.ArrowCsv): None until the
        # first block shows whether the input is large enough to repay importing it
        self._arrow: Any = None if arrow else False
        if fmt == "csv":
            self._csv_header()

    # CSV ----------------------------------------------------------------------------
    def _csv_header(self) -> None:
        import csv

        header: list[str] = []
        if self.lines.skip_blank() is not None:
            raw = self.lines.take(1)[0]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = "\x00"
            if any(c < " " and c not in "\t\r\n" for c in line):
                # Random bytes or a binary file: its "rows" would stream errors for ever.
                raise GradError(
                    "usage",
                    f"the first line of {self.lines.what} is not text (invalid UTF-8 or a control"
                    " character), so it cannot be a CSV header: is it a file of rows?",
                )
            header = next(csv.reader([line]), [])
        self.header = [h.strip() for h in header]
        check_header(
            self.header, self.graph, self.inputs, self.grid_names, self.defaults, self.passthrough,
            "the CSV header",
        )
        inputs = self.graph.inputs
        self.extra_names = [h for h in self.header if h not in inputs] if self.passthrough else []

    def _csv_rows(self) -> Iterator[tuple[list[list[str]] | None, Any]]:
        """Chunks of rows: (rows, None) from csv.reader, (None, lines) when the
        chunk has no quotes and every line splits on commas (the fast path), or
        (None, block) for a block read by Arrow. Blank lines are not rows."""
        import csv

        while True:
            if self._reader is None:
                block = self._arrow_block()
                if block is not None:
                    if block is END:
                        return
                    yield None, block
                    continue
                raw = self.lines.take(self.step)
                if not raw:
                    return
                text = b"".join(raw).decode("utf-8", "replace")
                if '"' not in text:
                    if "\r" in text:
                        text = text.replace("\r\n", "\n").replace("\r", "\n")
                    records = text.split("\n")
                    yield None, [r for r in records if r.strip()]
                    continue
                # Quoted fields may hold commas and line breaks: csv.reader from here on.
                lines = [line.decode("utf-8", "replace") for line in raw]
                self._reader = csv.reader(itertools.chain(lines, self._decoded()))
            rows: list[list[str]] = []
            start, start_bytes = self.lines.line_no, self.lines.bytes_taken
            try:
                for row in self._reader:
                    if row and (len(row) > 1 or row[0].strip()):
                        rows.append(row)
                    if len(rows) >= self.step or self.lines.bytes_taken - start_bytes >= CHUNK_BYTES:
                        break
            except csv.Error as exc:
                raise GradError("usage", f"line {self._reader.line_num} of the CSV input: {exc}") from None
            if not rows:
                if self.lines.line_no == start:
                    return
                continue
            yield rows, None

    def _arrow_block(self) -> Any:
        """The next block of lines read by Arrow (gradcli.arrowcsv.ArrowBlock), ``END``,
        or None: the standard library's path reads the next chunk."""
        if self._arrow is False:
            return None
        from .arrowcsv import next_block

        block, self._arrow = next_block(self.np, self._arrow, self.lines, self.header, self.step)
        return block

    def _decoded(self) -> Iterator[str]:
        for line in self.lines:
            yield line.decode("utf-8", "replace")

    def _csv_chunks(self) -> Iterator[Chunk]:
        np = self.np
        k = len(self.header)
        index = {name: j for j, name in enumerate(self.header)}
        extra_index = [index[name] for name in self.extra_names or []]
        for rows, records in self._csv_rows():
            if records is not None and not isinstance(records, list):  # a block read by Arrow
                if records.num_rows:
                    yield records.chunk(np, self.inputs, self.converters, self.defaults)
                continue
            errors: dict[int, GradError] = {}
            fields: list[list[str]] | None = None
            if records is not None:
                size = len(records)
                if set(map(str.count, records, itertools.repeat(","))) <= {k - 1}:
                    block = None if extra_index else _numeric_block(np, "\n".join(records), k, size)
                    if block is not None:  # the fast path: numbers only, read by NumPy
                        columns = {
                            name: block[:, index[name]] if name in index
                            else np.full(size, self.defaults[name])
                            for name in self.inputs
                        }
                        yield Chunk(size, columns, errors, extra_cols=[], lead=records)
                        continue
                    cells = ",".join(records).split(",") if records else []
                    fields = [cells[j::k] for j in range(k)]
                    lead = records
                else:
                    rows = [r.split(",") for r in records]
            if rows is not None:
                size = len(rows)
                for r, row in enumerate(rows):
                    if len(row) != k:
                        errors[r] = _field_count(row, k)
                        rows[r] = (row + [""] * k)[:k]
                fields = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in range(k)]
                lead = [",".join(map(csv_cell, row)) for row in rows]
            if size == 0 or fields is None:
                continue
            columns = {}
            for name in self.inputs:
                if name in index:
                    columns[name] = self.converters[name].convert(fields[index[name]], errors, strings=True)
                else:
                    columns[name] = np.full(size, self.defaults[name])
            raw = {
                r: {name: fields[index[name]][r] if name in index else "" for name in self.inputs}
                for r in errors
            }
            extra_cols = [fields[j] for j in extra_index]
            yield Chunk(size, columns, errors, extra_cols=extra_cols, raw=raw, lead=lead)

    # JSON Lines ---------------------------------------------------------------------
    def _jsonl_chunks(self) -> Iterator[Chunk]:
        import operator

        orjson = load_orjson()
        loads = orjson.loads if orjson is not None else json_loads
        n_inputs = len(self.inputs)
        while True:
            first_line = self.lines.line_no + 1
            lines = self.lines.take(self.step)
            if not lines:
                return
            try:
                # The fast path: every line an object with exactly the inputs as keys.
                # orjson refuses what the standard library's reading refuses and
                # gives the same floats (an integer past 64 bits too, rounded as
                # float() rounds it); without it, a "\u" escape, which may be a lone
                # surrogate, takes the careful path.
                if orjson is None and b"\\u" in b"".join(lines):
                    raise ValueError("an escape")
                objects = list(map(loads, lines))
                if set(map(type, objects)) != {dict} or sum(map(len, objects)) != len(objects) * n_inputs:
                    raise ValueError("not plain")
                failed: dict[int, GradError] = {}
                columns = {
                    name: self.converters[name].convert(list(map(operator.itemgetter(name), objects)), failed)
                    for name in self.inputs
                }
            except (ValueError, KeyError, TypeError, RecursionError):
                failed = {0: GradError("syntax", "not plain")}
            if failed:  # not plain after all: line by line, with every row's own error
                yield from self._jsonl_careful(lines, first_line, orjson)
                continue
            yield Chunk(len(objects), columns, {})

    def _jsonl_careful(self, lines: list[bytes], line_no: int, orjson: Any) -> Iterator[Chunk]:
        """A chunk line by line: blank lines skipped, a line that is not a JSON
        object becomes that row's error, and keys beyond the inputs pass through."""
        inputs = self.graph.inputs
        reserved = reserved_names(self.graph) if self.passthrough else set()
        objects: list[dict[str, Any]] = []
        errors: dict[int, GradError] = {}
        extras: list[dict[str, Any] | None] = []
        for number, line in enumerate(lines, start=line_no):
            if is_blank(line):
                continue  # blank lines are not rows
            r = len(objects)
            obj, error = _json_row(line, number, orjson)
            extra = {key: value for key, value in obj.items() if key not in inputs} or None
            if extra and error is None:
                for key in extra:
                    if key in self.grid_names:
                        error = GradError(
                            "binding", f"{key} is swept by --grid and cannot also be given in a row"
                        )
                        break
                    if key in reserved:
                        error = GradError(
                            "binding", f"the key {key!r} would clash with the record's own {key!r}: rename it"
                        )
                        break
            if error is not None:
                errors[r] = error
            objects.append(obj)
            extras.append(extra)
        size = len(objects)
        if size == 0:
            return
        columns = {
            name: self.converters[name].convert([o.get(name) for o in objects], errors)
            for name in self.inputs
        }
        raw = {r: {name: csv_text(objects[r].get(name)) for name in self.inputs} for r in errors}
        yield Chunk(size, columns, errors, extra_rows=extras if any(extras) else None, raw=raw)

    def chunks(self) -> Iterator[Chunk]:
        return self._csv_chunks() if self.fmt == "csv" else self._jsonl_chunks()


def reserved_names(graph: Graph) -> set[str]:
    return set(RESERVED) | {f"grad_{name}" for name in graph.inputs}


def check_reserved(graph: Graph, extra_names: Iterable[str]) -> None:
    reserved = reserved_names(graph)
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
