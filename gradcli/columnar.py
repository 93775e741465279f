"""Arrow in and out: Parquet files for ``eval --batch``, and Arrow tables as chunks of rows.

pyarrow is imported by this module (and by :mod:`gradcli.arrowcsv`, CSV through
Arrow) only, and only by a batch that reads or writes Parquet, or reads a CSV
input large enough to repay the import (the ``fast`` extra). Rows keep the
meaning they have in CSV and JSON Lines: a null (or NaN) is a blank cell, a
string cell is read as a CSV cell is, and a row whose own data is wrong gets its
error and the others go on.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import GradError, shorten
from .graph import Graph
from .records import csv_cell, csv_text
from .rows import Chunk, Columns, check_header
from .vectorised import all_finite

#: How to install what Parquet needs.
PARQUET_HINT = "pip install 'gradcli[parquet]'"
#: File names read as Parquet (unless --input-format says otherwise).
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")


def load_pyarrow(why: str | None = None) -> Any:
    """pyarrow with its compute, csv and parquet modules; None when it is not
    installed, or with ``why`` a usage error that says how to install it."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.csv
        import pyarrow.parquet
    except ImportError:
        if why is None:
            return None
        raise GradError("usage", f"{why} needs pyarrow: {PARQUET_HINT}") from None
    return pyarrow


def arrow_compute() -> Any:
    """Arrow's compute functions by name (``call_function``) and their options,
    without importing ``pyarrow.compute``, whose import makes a Python function for
    each of Arrow's hundreds of kernels (0.03 s, much of a 1 MiB CSV batch's work)."""
    try:
        import pyarrow._compute as compute
    except ImportError:  # (should pyarrow move its internals)
        import pyarrow.compute as compute  # type: ignore[no-redef]
    return compute


def is_parquet(path: str) -> bool:
    """A path, a pattern or a folder that names Parquet files."""
    return path.lower().rstrip("/").endswith(PARQUET_SUFFIXES) or os.path.isdir(path)


def parquet_paths(pattern: str, option: str = "--batch") -> list[str]:
    """The files a ``--batch`` names: a file, a folder of ``*.parquet`` files (a
    dataset, as ``--engine dask`` writes one), or a glob pattern; sorted by name."""
    shown = shorten(pattern, 80)
    if os.path.isdir(pattern):
        found = sorted(
            os.path.join(pattern, name) for name in os.listdir(pattern)
            if name.lower().endswith(PARQUET_SUFFIXES) and not name.startswith((".", "_"))
        )
        if not found:
            raise GradError("usage", f"{option} {shown}: the folder holds no .parquet file")
        return found
    if glob.has_magic(pattern):
        found = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
        if not found:
            raise GradError("usage", f"{option} {shown}: no file matches")
        return found
    return [pattern]


def _open_parquet(pa: Any, path: str, option: str) -> Any:
    shown = shorten(path, 80)
    try:
        return pa.parquet.ParquetFile(path)
    except FileNotFoundError:
        raise GradError("usage", f"cannot read {option} {shown}: no such file") from None
    except IsADirectoryError:
        raise GradError("usage", f"cannot read {option} {shown}: it is a directory") from None
    except PermissionError:
        raise GradError("usage", f"cannot read {option} {shown}: permission denied") from None
    except (pa.ArrowException, OSError) as exc:
        reason = shorten(str(exc), 200)
        raise GradError("usage", f"cannot read {option} {shown} as Parquet: {reason}") from None


def _readable_type(pa: Any, kind: Any) -> bool:
    """Column types whose cells are numbers or text that may hold one."""
    t = pa.types
    if t.is_dictionary(kind):
        return _readable_type(pa, kind.value_type)
    return bool(
        t.is_integer(kind) or t.is_floating(kind) or t.is_decimal(kind) or t.is_null(kind)
        or t.is_string(kind) or t.is_large_string(kind)
    )


def python_cell(value: Any) -> Any:
    """An Arrow cell as the row readers know cells: NaN is missing (None), as in a
    DataFrame; text, numbers and None as they are; a struct, a list or a map as JSON's
    objects and arrays, binary as its text (its bytes in hexadecimal where they are not
    UTF-8); anything else (a date, a decimal) its text."""
    if isinstance(value, float):  # an infinity stays: the reader makes it the row's error
        return None if math.isnan(value) else value
    return _json_like(value)


def _json_like(value: Any) -> Any:
    """A nested Arrow value as JSON holds it (never Python's repr, "{'a': 1}" or
    "b'\\x00'", which no JSON or CSV reader takes back); a float that is not finite is null."""
    if isinstance(value, dict):
        return {str(key): _json_like(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_like(item) for item in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def float_column(np: Any, pa: Any, array: Any, converter: Columns, errors: dict[int, GradError]) -> Any:
    """An input's float column from an Arrow column: at C speed where every cell is
    a finite number or a plain decimal text; the other rows one by one as a CSV cell
    is read (a null or a NaN is missing: the default, or the row's error)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.dictionary_decode()
        kind = array.type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    try:
        # Arrow reads a decimal number as the language does (no white space, no
        # "1_000", no "0x10"): a column it refuses goes cell by cell below.
        compute = arrow_compute()
        exact = not text and not pa.types.is_integer(kind)
        cast = compute.CastOptions.safe if exact else compute.CastOptions.unsafe
        floats = compute.call_function("cast", [array], cast(pa.float64()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if text:
            return converter.convert([python_cell(v) for v in array.to_pylist()], errors)
        raise
    if floats.null_count:
        column = floats.to_numpy(zero_copy_only=False)  # NaN for null
    else:  # (to_numpy imports pandas, which costs more than the column's work)
        data = floats.buffers()[1]
        column = np.frombuffer(data, dtype=np.float64, count=len(floats), offset=8 * floats.offset)
    if all_finite(column):
        return column
    column = np.array(column)  # writable
    bad = np.flatnonzero(~np.isfinite(column)).tolist()
    return converter.fill(column, bad, lambda r: python_cell(array[r].as_py()), errors)


class ParquetSource:
    """Rows from Parquet files, a record batch at a time: the same :class:`Chunk`
    as the CSV and JSON Lines readers make, with the batch itself in ``table``."""

    def __init__(
        self, np: Any, graph: Graph, paths: Sequence[str], defaults: dict[str, float],
        grid_names: Sequence[str], rows_per_chunk: int, option: str = "--batch", *,
        passthrough: bool = True, reported: Sequence[str] | None = None,
    ) -> None:
        """``passthrough``: False when nothing is written per row (``fit``): the other
        columns are neither read nor checked, whatever their names. ``reported``: the
        names whose gradients the records hold (default every input)."""
        self.pa = load_pyarrow("Parquet input")
        self.np = np
        self.graph = graph
        self.paths = list(paths)
        self.option = option
        self.passthrough = passthrough
        self.reported = reported
        self.step = rows_per_chunk
        self.grid_names = set(grid_names)
        self.inputs = [name for name in graph.inputs if name not in self.grid_names]
        self.defaults = defaults
        self.converters = {name: Columns(np, name, defaults.get(name)) for name in self.inputs}
        first = _open_parquet(self.pa, self.paths[0], option)
        self.schema = first.schema_arrow
        self.header = list(self.schema.names)
        self._check(self.header)
        self.extra_names = [name for name in self.header if name not in graph.inputs]
        self._first = first

    def _check(self, header: list[str]) -> None:
        check_header(
            header, self.graph, self.inputs, self.grid_names, self.defaults, self.passthrough,
            "the Parquet input", self.reported,
        )
        for name in self.inputs:
            if name in header:
                kind = self.schema.field(name).type
                if not _readable_type(self.pa, kind):
                    raise GradError(
                        "binding",
                        f"the column {shorten(name)} of the Parquet input holds {kind}, not numbers:"
                        " an input's column holds numbers, or text such as 2.5",
                    )

    def _files(self) -> Iterator[Any]:
        yield self._first
        for path in self.paths[1:]:
            handle = _open_parquet(self.pa, path, self.option)
            if list(handle.schema_arrow.names) != self.header:
                raise GradError(
                    "usage",
                    f"{shorten(path, 80)} has the columns {', '.join(handle.schema_arrow.names)[:200]},"
                    f" not those of {shorten(self.paths[0], 80)}: the files of one batch share their columns",
                )
            yield handle

    def chunks(self) -> Iterator[Chunk]:
        for handle in self._files():
            columns = None if self.passthrough else [n for n in self.header if n in self.graph.inputs]
            for batch in handle.iter_batches(batch_size=self.step, columns=columns, use_threads=False):
                if batch.num_rows:
                    yield table_chunk(self.np, self.pa, batch, self.inputs, self.converters, self.defaults)


def table_chunk(
    np: Any, pa: Any, table: Any, inputs: list[str], converters: dict[str, Columns],
    defaults: dict[str, float],
) -> Chunk:
    """A chunk from an Arrow table or record batch of rows."""
    size = table.num_rows
    names = table.schema.names
    errors: dict[int, GradError] = {}
    columns = {}
    for name in inputs:
        if name in names:
            columns[name] = float_column(np, pa, table.column(name), converters[name], errors)
        else:
            columns[name] = np.full(size, defaults[name])
    raw = {}
    for r in errors:
        raw[r] = {
            name: text_of(python_cell(table.column(name)[r].as_py())) if name in names else ""
            for name in inputs
        }
    return Chunk(size, columns, errors, raw=raw, table=table)


def text_of(value: Any) -> str:
    """A cell (as :func:`python_cell` gives it) as CSV text: a float as ``repr`` writes
    it (an infinity too), anything else as CSV output writes a JSON value (None blank,
    true and false, an object or an array as JSON)."""
    return repr(value) if isinstance(value, float) else csv_text(value)


def materialize(chunk: Chunk, lead_names: list[str], inputs: Sequence[str]) -> None:
    """Give a chunk read by Arrow what the text writers need: each row's cells as
    CSV text (``lead``) and the pass-through columns' cells (``extra_cols``)."""
    table = chunk.table
    columns = [[python_cell(v) for v in table.column(name).to_pylist()] for name in lead_names]
    rows = zip(*columns, strict=True) if columns else iter([()] * chunk.size)
    chunk.lead = [",".join(csv_cell(text_of(v)) for v in row) for row in rows]
    chunk.extra_cols = [col for name, col in zip(lead_names, columns, strict=True) if name not in inputs]


# --- Parquet out -------------------------------------------------------------------------------------


def _cannot_write(path: str, exc: OSError) -> Exception:
    from .files import cannot_write

    return cannot_write("--out", path, exc)


class ParquetWriter:
    """Records out as a Parquet file: a Parquet input's own columns with their types
    (other inputs' pass-through columns as text, their inputs as float64), the
    inputs that came from defaults, ``value``, ``grad_NAME`` (float64, null where
    the row failed) and ``error`` (``kind: message``, null where it did not).
    Written to a temporary file beside ``path`` and renamed at the end, so that a
    run that stops part-way leaves no file that looks complete."""

    def __init__(self, np: Any, path: str, graph: Graph, names: list[str], keep_inputs: bool) -> None:
        self.pa = load_pyarrow("--format parquet")
        self.np = np
        self.path = path
        self.inputs = list(graph.inputs)
        self.names = names
        self.keep_inputs = keep_inputs
        self.started = False
        self.lead_names: list[str] = []
        self.float_inputs: list[str] = []
        self.schema: Any = None
        self._writer: Any = None
        from .files import open_output

        self._staging = open_output(path, "wb")  # whole or not at all: see gradcli.files
        try:
            self.temp = self._staging.__enter__()  # an open binary file
        except OSError as exc:
            raise _cannot_write(path, exc) from None

    def start(self, lead_names: list[str]) -> None:
        self.started = True
        self.lead_names = [n for n in lead_names if self.keep_inputs or n not in self.inputs]
        self.float_inputs = [n for n in self.inputs if n not in self.lead_names]

    def _lead(self, chunk: Chunk) -> list[Any]:
        pa = self.pa
        if chunk.table is not None:  # Parquet (types kept), or CSV read by Arrow (text)
            return [chunk.table.column(name) for name in self.lead_names]
        if chunk.extra_cols is not None:  # CSV: the pass-through cells, as text
            return [pa.array(col, pa.string()) for col in chunk.extra_cols]
        # JSON Lines: the keys' values as text, as CSV output writes them (an object as JSON)
        rows = chunk.extra_rows or [None] * chunk.size
        return [
            pa.array([None if e is None or e.get(name) is None else csv_text(e.get(name)) for e in rows],
                     pa.string())
            for name in self.lead_names
        ]

    def write(self, chunk: Chunk, result: Any, first_row: int) -> None:
        pa, np = self.pa, self.np
        failed = result.failed
        arrays = self._lead(chunk)
        bad_input = np.zeros(chunk.size, dtype=bool)
        bad_input[list(chunk.errors)] = True
        arrays += [pa.array(chunk.columns[name], pa.float64(), mask=bad_input) for name in self.float_inputs]
        arrays.append(pa.array(result.value, pa.float64(), mask=failed))
        arrays += [pa.array(result.gradient[name], pa.float64(), mask=failed) for name in self.names]
        if result.errors:
            errors: list[str | None] = [None] * chunk.size
            for r, err in result.errors.items():
                errors[r] = err.cell()
            arrays.append(pa.array(errors, pa.string()))
        else:
            arrays.append(pa.nulls(chunk.size, pa.string()))
        names = [*self.lead_names, *self.float_inputs, "value", *(f"grad_{n}" for n in self.names), "error"]
        if self._writer is None:
            table = pa.Table.from_arrays(arrays, names=names)
            self.schema = table.schema
            try:
                self._writer = pa.parquet.ParquetWriter(self.temp, self.schema)
            except OSError as exc:
                raise _cannot_write(self.path, exc) from None
        else:
            try:
                fields = zip(arrays, self.schema, strict=True)
                cast = [a.cast(f.type) if a.type != f.type else a for a, f in fields]
                table = pa.Table.from_arrays(cast, schema=self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                reason = shorten(str(exc), 200)
                message = f"the files of the batch disagree on a column's type: {reason}"
                raise GradError("usage", message) from None
        self._write_table(table)

    def _write_table(self, table: Any) -> None:
        try:
            self._writer.write_table(table)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None

    def finish(self, ok: bool) -> None:
        """Close the file; put it in place when the run went through, else remove it."""
        writer, self._writer = self._writer, None
        try:
            try:
                if ok and writer is None:  # no row at all: a file with the columns and no rows
                    pa = self.pa
                    fields = [pa.field(n, pa.string()) for n in self.lead_names]
                    fields += [pa.field(n, pa.float64()) for n in self.float_inputs]
                    floats = ["value", *(f"grad_{n}" for n in self.names)]
                    fields += [pa.field(n, pa.float64()) for n in floats]
                    fields.append(pa.field("error", pa.string()))
                    pa.parquet.write_table(pa.schema(fields).empty_table(), self.temp)
                elif writer is not None:
                    writer.close()
            except BaseException as exc:
                self._staging.__exit__(type(exc), exc, exc.__traceback__)  # removes the staged file
                raise
            if ok:
                self._staging.__exit__(None, None, None)  # renames it into place
            else:
                stopped = RuntimeError("the run stopped")
                self._staging.__exit__(RuntimeError, stopped, None)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None
