"""The data of a fit, read once into float64 columns.

A file (CSV, JSON Lines; ``-`` for standard input) is read by the batch readers
(:mod:`gradcli.lines`, :mod:`gradcli.rows`) a chunk at a time; each chunk's
columns are copied out (so the chunk, and any column the program does not use,
is freed at once) and joined column by column at the end, so the peak is the
data plus one column. A mapping of columns (lists or NumPy arrays) from Python is
checked the same way. Bad data (a missing column, a cell that is not a number,
no rows, a parameter that is also a column) is a usage error naming the line and
the column, raised before any step.

Each row remembers its line in the file, so that an error at a step of the fit
can name the line of the data that caused it.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bindings import option_flag
from .errors import GradError, shorten
from .graph import Graph, suggest
from .lines import LineReader, is_blank


@dataclass(eq=False)
class Data:
    """The rows of a fit: ``columns`` maps each input read from the data to a float64
    array of ``rows`` values; ``constants`` holds the other inputs that are not
    fitted (bound, and not a column of the data)."""

    columns: dict[str, Any]
    constants: dict[str, float]
    rows: int
    what: str
    #: runs of rows: (first row, first line) when the lines are consecutive, or
    #: (first row, array of line numbers), or (first row, None) when unknown
    runs: list[tuple[int, Any]] = field(default_factory=list)

    def line_of(self, row: int) -> int | None:
        """The line of the file that holds ``row`` (0-based), or None (data from Python)."""
        if not self.runs:
            return None
        k = bisect.bisect_right([start for start, _ in self.runs], row) - 1
        start, lines = self.runs[k]
        if lines is None:
            return None
        if isinstance(lines, int):
            return lines + row - start
        return int(lines[row - start])

    def where(self, row: int) -> str:
        """``data.csv line 7`` or ``row 7 of the data``: where a row is, for a message."""
        line = self.line_of(row)
        if line is None:
            return f"row {row + 1:,} of {self.what}"
        return f"{self.what} line {line:,}"


class _CountingLines(LineReader):
    """The batch line reader, noting the line number of each row it hands out (the
    lines that are not blank), so that a row's error can name its line."""

    numbers: list[int]

    def take(self, count: int) -> list[bytes]:
        start = self.line_no
        lines = super().take(count)
        self.numbers = [start + 1 + k for k, line in enumerate(lines) if not is_blank(line)]
        return lines


class _Inputs:
    """What the row readers need of a program: the names to read as columns."""

    def __init__(self, names: Sequence[str]) -> None:
        self.inputs: dict[str, int | None] = dict.fromkeys(names, 0)


def data_names(graph: Graph, params: Sequence[str]) -> list[str]:
    """The inputs a fit reads from the data: every input that is not fitted."""
    return [name for name in graph.inputs if name not in params]


def read_data(
    np: Any,
    graph: Graph,
    data: Any,
    params: Sequence[str],
    bindings: Mapping[str, float],
    *,
    input_format: str | None = None,
    stdin: Any = None,
) -> Data:
    """``data`` is a path (``-``: standard input) or a mapping of columns. Bindings of
    inputs that are not parameters are defaults for a blank cell and stand for a
    column the data does not have."""
    names = data_names(graph, params)
    if isinstance(data, Mapping):
        return _from_mapping(np, data, names, params, bindings)
    if isinstance(data, (str, os.PathLike)):
        return _from_file(np, os.fspath(data), names, params, bindings, input_format, stdin)
    raise GradError(
        "usage",
        f"data must be a path or a mapping of columns (name -> list or array), not {type(data).__name__}",
    )


def _from_mapping(
    np: Any, data: Mapping[str, Any], names: list[str], params: Sequence[str], bindings: Mapping[str, float]
) -> Data:
    for name in params:
        if name in data:
            raise _param_is_column(name)
    columns: dict[str, Any] = {}
    constants: dict[str, float] = {}
    for name in names:
        if name not in data:
            if name in bindings:
                constants[name] = bindings[name]
                continue
            raise GradError("binding", _no_column(name, list(data), "the data"))
        columns[name] = _column(np, name, data[name])
    sizes = {len(col) for col in columns.values()}
    if len(sizes) > 1:
        listed = ", ".join(f"{name} {len(col):,}" for name, col in columns.items())
        raise GradError("usage", f"the data's columns differ in length: {listed}")
    if not sizes:  # the loss uses no column: the data's columns still say how many rows
        sizes = {len(values) for values in data.values() if hasattr(values, "__len__")}
        if len(sizes) > 1:
            raise GradError("usage", "the data's columns differ in length")
    rows = sizes.pop() if sizes else 0
    if rows == 0:
        raise GradError("usage", "the data has no rows: there is nothing to fit")
    return Data(columns, constants, rows, "the data")


def _column(np: Any, name: str, values: Any) -> Any:
    """One column from Python as float64, or the error of its first bad value: cells
    are read as a batch's (a bool, a complex number or "1_000" is no number)."""
    from .rows import Columns, array_floats

    errors: dict[int, GradError] = {}
    # (a missing cell, None or NaN, is NaN: "must be a finite number" below)
    column = array_floats(np, values, Columns(np, name, math.nan), errors, what="the data's column")
    if errors:
        r = min(errors)
        raise GradError("binding", f"row {r + 1:,} of the data: {errors[r].message}")
    bad = np.flatnonzero(~np.isfinite(column))
    if bad.size:
        r = int(bad[0])
        raise GradError(
            "binding",
            f"row {r + 1:,} of the data: the value of {shorten(name)} must be a finite number,"
            f" not {float(column[r])!r}",
        )
    return np.ascontiguousarray(column)


def _from_file(
    np: Any, path: str, names: list[str], params: Sequence[str], bindings: Mapping[str, float],
    input_format: str | None, stdin: Any,
) -> Data:
    import sys

    from .arguments import open_input
    from .batch import CHUNK
    from .columnar import ParquetSource, is_parquet, parquet_paths
    from .rows import open_source, sniff

    parquet = input_format == "parquet" or (input_format is None and path != "-" and is_parquet(path))
    if parquet and path == "-":
        raise GradError("usage", "Parquet data is read from files, not standard input: give --data FILE")
    if path == "-":
        stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise GradError("usage", "cannot read --data -: standard input is closed")
        what, owned = "standard input", False
    elif parquet:
        stream, what, owned = None, shorten(path, 80), False
    else:
        stream, what, owned = open_input(path, "--data"), shorten(path, 80), True
    try:
        defaults = {name: bindings[name] for name in names if name in bindings}
        fake = _Inputs(names)
        source: Any
        if parquet:  # (read by gradcli.columnar, a record batch at a time; rows have no lines)
            lines, kind = None, "parquet"
            source = ParquetSource(np, fake, parquet_paths(path, "--data"), defaults, (), CHUNK,  # type: ignore[arg-type]
                                   "--data", passthrough=False)
        else:
            lines = _CountingLines(stream, what)
            kind = input_format or sniff(lines)
            source = open_source(np, fake, lines, kind, defaults, (), CHUNK, passthrough=False)  # type: ignore[arg-type]
        header = source.header if kind in ("csv", "parquet") else None
        if header is not None:
            for name in params:
                if name in header:
                    raise _param_is_column(name, what)
        store = ColumnStore(np, line_bound(path) if owned else 0)
        runs: list[tuple[int, Any]] = []
        rows = 0
        for chunk in source.chunks():
            numbers = lines.numbers if lines is not None and len(lines.numbers) == chunk.size else None
            if chunk.errors:
                r = min(chunk.errors)
                line = numbers[r] if numbers is not None else None
                place = f"{what} line {line:,}" if line is not None else f"row {rows + r + 1:,} of {what}"
                message = chunk.errors[r].message
                own = f"line {line}"  # "line 3 is not JSON", "line 3: NaN is ...": the line said once
                if line is not None and message.startswith((own + " ", own + ":")):
                    raise GradError("binding", f"{place}{message[len(own):]}")
                raise GradError("binding", f"{place}: {message}")
            if chunk.extra_rows is not None:
                for r, extra in enumerate(chunk.extra_rows):
                    for name in params:
                        if extra and name in extra:
                            line = numbers[r] if numbers is not None else None
                            raise _param_is_column(name, f"{what} line {line:,}" if line else what)
            for name in names:
                if header is None or name in header:
                    store.add(name, chunk.columns[name], rows)
            if numbers is None:
                runs.append((rows, None))
            elif numbers and numbers[-1] - numbers[0] == len(numbers) - 1:
                runs.append((rows, numbers[0]))
            else:
                runs.append((rows, np.array(numbers, dtype=np.int64)))
            rows += chunk.size
            del chunk
    finally:
        if owned:
            stream.close()
    if rows == 0:
        shown = "a header but no rows" if kind in ("csv", "parquet") and header else "no rows"
        raise GradError("usage", f"{what} has {shown}: there is nothing to fit")
    columns: dict[str, Any] = {}
    constants: dict[str, float] = {}
    for name in names:
        if header is not None and name not in header:
            constants[name] = defaults[name]  # bound, and no column of that name
            continue
        columns[name] = store.finish(name, rows)
    return Data(columns, constants, rows, what, runs)


class ColumnStore:
    """The columns as the chunks arrive. When the file's line count bounds the rows,
    each column is one array allocated up front and filled in place (its unused tail
    is never written, so it never takes memory): the data is held once. Otherwise
    (standard input, or a file that grew while it was read) the chunks are kept as
    copies and joined, column by column, at the end."""

    def __init__(self, np: Any, capacity: int) -> None:
        self.np = np
        self.capacity = capacity
        self.buffers: dict[str, Any] = {}
        self.parts: dict[str, list[Any]] = {}

    def add(self, name: str, values: Any, at: int) -> None:
        np = self.np
        end = at + len(values)
        if end <= self.capacity:
            buffer = self.buffers.get(name)
            if buffer is None:
                buffer = self.buffers[name] = np.empty(self.capacity)
            buffer[at:end] = values
            return
        if name in self.buffers:  # past the bound: what is there becomes the first part
            self.parts[name] = [self.buffers.pop(name)[:at]]
        self.parts.setdefault(name, []).append(np.array(values, dtype=np.float64))  # a copy

    def finish(self, name: str, rows: int) -> Any:
        if name in self.buffers:
            return self.buffers.pop(name)[:rows]
        pieces = self.parts.pop(name, [])
        return pieces[0] if len(pieces) == 1 else self.np.concatenate(pieces)


def line_bound(path: str) -> int:
    """More than the rows a regular file can hold (every line end counted, a CRLF
    twice), read in blocks; 0 when that cannot be known (a pipe, a device)."""
    import stat

    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return 0
            count = 1
            while block := handle.read(1 << 20):
                count += block.count(b"\n") + block.count(b"\r")
            return count
    except OSError:
        return 0


def _param_is_column(name: str, what: str = "from Python") -> GradError:
    return GradError(
        "usage",
        f"{shorten(name)} is fitted (--params) and is also a column of the data ({what}): rename"
        " the column or the parameter",
    )


def _no_column(name: str, found: list[str], what: str) -> str:
    listed = ", ".join(shorten(n) for n in found[:12]) + (", ..." if len(found) > 12 else "")
    return (
        f"{what} has no column {shorten(name)}{suggest(name, found)} and {shorten(name)} is not bound:"
        f" add the column, or bind {option_flag(name)} VALUE; its columns are {listed or 'none'}"
    )
