"""The row readers: CSV and JSON Lines in, chunks of float columns out.

A :class:`Source` reads its stream a chunk of rows at a time (never the whole
input), turns each input's cells into a float column, and keeps what passes
through to the output: the CSV row's own text, or a JSON line's other keys. A
row whose own data is wrong (a cell that is not a number, a line that is not a
JSON object) gets its error in the chunk and the other rows go on.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bindings import coerce_value, option_flag
from .errors import GradError
from .graph import Graph
from .records import csv_cell, csv_text, load_orjson
from .vectorised import FILLER, all_finite

#: Keys of an output record: a pass-through column may not take these names.
RESERVED = ("output", "value", "inputs", "gradient", "row", "error")


def _missing(name: str) -> GradError:
    flag = option_flag(name)
    return GradError(
        "binding", f"missing a value for {name}: give it in the row, or a default as {flag} VALUE"
    )


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


class _Columns:
    """Turns cells (numbers, strings, None) into a float column, row by row where needed."""

    def __init__(self, np: Any, name: str, default: float | None) -> None:
        self.np = np
        self.name = name
        self.default = default

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
        for r in bad:
            cell = cells[r]
            try:
                if _is_blank(cell):
                    if self.default is None:
                        raise _missing(self.name)
                    column[r] = self.default
                else:
                    column[r] = coerce_value(self.name, cell)
            except GradError as err:
                column[r] = FILLER
                errors.setdefault(r, err)
        return column

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
                # go one by one through the language's own reading (constant_value).
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            flat = np.fromstring(raw.translate(_NEWLINE_TO_COMMA), dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    if flat.size != n * k or not all_finite(flat):
        return None
    return flat.reshape(n, k)


def sniff(stream: Any) -> str:
    """'jsonl' when the first character that is not space is '{', else 'csv'."""
    if stream.seekable():
        position = stream.tell()
        head = stream.read(4096)
        stream.seek(position)
    elif hasattr(stream, "peek"):
        head = stream.peek(4096)
    else:  # pragma: no cover - files and standard input are one or the other
        head = b""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if text.startswith(b"{") or not text else "csv"


class Source:
    """Where the rows come from: chunks of :class:`Chunk`, and the pass-through names."""

    def __init__(
        self, np: Any, graph: Graph, stream: Any, fmt: str, defaults: dict[str, float],
        grid_names: Sequence[str], rows_per_chunk: int,
    ) -> None:
        self.np = np
        self.graph = graph
        self.defaults = defaults
        self.grid_names = set(grid_names)
        self.step = rows_per_chunk
        self.inputs = [name for name in graph.inputs if name not in self.grid_names]
        self.converters = {name: _Columns(np, name, defaults.get(name)) for name in self.inputs}
        self.fmt = fmt
        self.stream = stream
        self.extra_names: list[str] | None = None  # CSV: the pass-through columns
        self._pending: Chunk | None = None
        if fmt == "csv":
            self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
            self._csv_header()
        else:
            self._text = None

    def close(self) -> None:
        if self._text is not None:
            self._text.detach()  # leave the caller's stream open

    # CSV ----------------------------------------------------------------------------
    def _csv_header(self) -> None:
        import csv

        self._lines: Iterator[str] = iter(self._text)  # type: ignore[arg-type]
        self._reader: Any = None
        header: list[str] | None = None
        for line in self._lines:
            if line.strip():
                header = next(csv.reader([line]))
                break
        if header is None:
            header = []
        self.header = [h.strip() for h in header]
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                raise GradError("usage", f"the CSV header names the column {name!r} twice")
            seen.add(name)
            if name in self.grid_names:
                raise GradError(
                    "usage", f"{name} is swept by --grid and is also a column of the input: drop one"
                )
        _check_reserved(self.graph, [h for h in self.header if h not in self.graph.inputs])
        for name in self.inputs:
            if name not in seen and name not in self.defaults:
                flag = option_flag(name)
                raise GradError(
                    "binding",
                    f"the input has no column {name} and there is no default: add the column,"
                    f" or bind {flag} VALUE",
                )
        self.extra_names = [h for h in self.header if h not in self.graph.inputs]

    def _csv_rows(self) -> Iterator[tuple[list[list[str]] | None, list[str] | None]]:
        """Chunks of rows: (rows, None) from csv.reader, or (None, lines) when the
        chunk has no quotes and every line splits on commas (the fast path)."""
        import csv

        while True:
            if self._reader is None:
                lines = list(itertools.islice(self._lines, self.step))
                if not lines:
                    return
                text = "".join(lines)
                if '"' not in text:
                    if "\r" in text:
                        text = text.replace("\r\n", "\n").replace("\r", "\n")
                    records = text.split("\n")
                    if records and records[-1] == "":
                        records.pop()
                    yield None, records
                    continue
                # Quoted fields may hold commas and line breaks: csv.reader from here on.
                self._reader = csv.reader(itertools.chain(lines, self._lines))
            rows = list(itertools.islice(self._reader, self.step))
            if not rows:
                return
            yield rows, None

    def _csv_chunks(self) -> Iterator[Chunk]:
        np = self.np
        k = len(self.header)
        index = {name: j for j, name in enumerate(self.header)}
        extra_index = [index[name] for name in self.extra_names or []]
        for rows, records in self._csv_rows():
            errors: dict[int, GradError] = {}
            fields: list[list[str]] | None = None
            if records is not None:
                if "" in records:
                    records = [r for r in records if r]  # blank lines are not rows
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
                rows = [r for r in rows if r]  # csv.reader gives [] for a blank line
                size = len(rows)
                for r, row in enumerate(rows):
                    if len(row) != k:
                        errors[r] = GradError("syntax", f"the row has {len(row)} fields; the header has {k}")
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
        loads = orjson.loads if orjson is not None else json.loads
        inputs = set(self.graph.inputs)
        n_inputs = len(self.inputs)
        line_no = 0
        while True:
            lines = list(itertools.islice(self.stream, self.step))
            if not lines:
                return
            if line_no == 0:
                lines[0] = lines[0].removeprefix(b"\xef\xbb\xbf")
            first_line = line_no + 1
            line_no += len(lines)
            try:
                # The fast path: every line an object with exactly the inputs as keys.
                objects = list(map(loads, lines))
                if set(map(type, objects)) != {dict} or sum(map(len, objects)) != len(objects) * n_inputs:
                    raise ValueError("not plain")
                failed: dict[int, GradError] = {}
                columns = {
                    name: self.converters[name].convert(list(map(operator.itemgetter(name), objects)), failed)
                    for name in self.inputs
                }
            except (ValueError, KeyError, TypeError):
                failed = {0: GradError("syntax", "not plain")}
            if failed:  # not plain after all: line by line, with every row's own error
                yield from self._jsonl_careful(lines, first_line, inputs, loads)
                continue
            yield Chunk(len(objects), columns, {})

    def _jsonl_careful(
        self, lines: list[bytes], line_no: int, inputs: set[str], loads: Any
    ) -> Iterator[Chunk]:
        """A chunk line by line: blank lines skipped, a line that is not a JSON
        object becomes that row's error, and keys beyond the inputs pass through."""
        reserved = _reserved_names(self.graph)
        objects: list[dict[str, Any]] = []
        errors: dict[int, GradError] = {}
        extras: list[dict[str, Any] | None] = []
        for number, line in enumerate(lines, start=line_no):
            if not line.strip():
                continue  # blank lines are not rows
            r = len(objects)
            error: GradError | None = None
            try:
                obj = loads(line)
            except UnicodeDecodeError:
                obj, error = {}, GradError("syntax", f"line {number} is not UTF-8 text")
            except ValueError as exc:
                reason = getattr(exc, "msg", None) or str(exc)
                obj, error = {}, GradError("syntax", f"line {number} is not JSON: {reason}")
            if error is None and not isinstance(obj, dict):
                obj, error = {}, GradError("syntax", f"line {number} is not a JSON object of bindings")
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


def _reserved_names(graph: Graph) -> set[str]:
    return set(RESERVED) | {f"grad_{name}" for name in graph.inputs}


def _check_reserved(graph: Graph, extra_names: Iterable[str]) -> None:
    reserved = _reserved_names(graph)
    for name in extra_names:
        if name in reserved:
            raise GradError(
                "usage",
                f"the input's column {name!r} would clash with the output's own {name!r}: rename it",
            )


def _take(items: list[Any] | None, index: list[int]) -> list[Any] | None:
    return None if items is None else [items[i] for i in index]


def slice_chunk(np: Any, chunk: Chunk, rows: Any) -> Chunk:
    if len(rows) == chunk.size and chunk.size and rows[0] == 0:
        return Chunk(chunk.size, dict(chunk.columns), chunk.errors, extra_rows=chunk.extra_rows,
                     extra_cols=chunk.extra_cols, raw=chunk.raw, lead=chunk.lead)
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
    )
