"""CSV rows in: the header checked against the program, then chunks of float columns.

A chunk of plain numbers is read by NumPy's C reader; a large input by Arrow's (the
``fast`` extra, :mod:`gradcli.arrowcsv`); other chunks are split on commas, or read
by ``csv.reader`` from the first quote on (a quoted field may hold commas and line
breaks). Each row keeps its own cells, as CSV text, for the output to repeat.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import GradError, shorten
from .graph import Graph
from .lines import CHUNK_BYTES, LineReader
from .records import csv_cell
from .rows import Chunk, Source, check_header
from .vectorised import all_finite

#: Bytes of CSV input from which Arrow's reader is worth importing (the ``fast`` extra).
ARROW_MIN_BYTES = 1 << 20
#: The end of the input, in place of a block read by Arrow.
END = object()


def _field_count(row: list[str], k: int) -> GradError:
    """A CSV row with more or fewer fields than its header has columns."""
    if len(row) > k:
        rest = shorten(",".join(row[k:]))
        return GradError(
            "syntax", f"the row has {len(row)} fields; the header has {k}: {rest} has no column"
        )
    return GradError("syntax", f"the row has {len(row)} fields; the header has {k}")


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


class CsvSource(Source):
    """The rows of a CSV input (see :func:`gradcli.rows.open_source`)."""

    def __init__(
        self, np: Any, graph: Graph, lines: LineReader, defaults: dict[str, float],
        grid_names: Sequence[str], rows_per_chunk: int, *, passthrough: bool = True, arrow: bool = False,
        reported: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            np, graph, lines, defaults, grid_names, rows_per_chunk, passthrough=passthrough, reported=reported
        )
        self._reader: Any = None  # csv.reader, once a chunk has quotes
        # CSV through Arrow's C reader (gradcli.arrowcsv.ArrowCsv): None until the
        # first block shows whether the input is large enough to repay importing it
        self._arrow: Any = None if arrow else False
        self._read_header()

    def _read_header(self) -> None:
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
            "the CSV header", self.reported,
        )
        inputs = self.graph.inputs
        self.extra_names = [h for h in self.header if h not in inputs] if self.passthrough else []

    def _rows(self) -> Iterator[tuple[list[list[str]] | None, Any]]:
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

    def chunks(self) -> Iterator[Chunk]:
        np = self.np
        k = len(self.header)
        index = {name: j for j, name in enumerate(self.header)}
        extra_index = [index[name] for name in self.extra_names or []]
        for rows, records in self._rows():
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
