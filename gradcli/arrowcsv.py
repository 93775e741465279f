"""CSV through Arrow (the ``fast`` extra): plain blocks of a large CSV input read by
Arrow's C reader, and their records written by Arrow, with no Python code per row.

A block of lines is read by Arrow only when nothing in it could be read otherwise
by the standard library's path (no quotes, no ``\\r``, every line with the header's
number of fields, valid UTF-8): anything else goes to that path, so the output is
the same, byte for byte, with pyarrow or without it. A record of CSV output is the
input line as it came, then the row's numbers (:func:`gradcli.floattext.repr_cells`),
the empty error cell and the line end: Arrow joins the lines of the block with the
numbers' cells, and the joined text is written straight from Arrow's buffer.

pyarrow (its csv module, and compute's functions without ``pyarrow.compute``:
:func:`gradcli.columnar.arrow_compute`) is imported only once an input
proves large enough to repay it. Nothing here calls ``pyarrow.array`` or
``pyarrow.scalar``: they import pandas, which costs more than a block's work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .columnar import arrow_compute, table_chunk
from .floattext import repr_cells
from .lines import CHUNK_BYTES
from .rows import Chunk, Columns
from .vectorised import all_finite


def load_arrow_csv() -> Any:
    """pyarrow with its csv module, or None when it is not installed."""
    try:
        import pyarrow
        import pyarrow.csv
    except ImportError:
        return None
    return pyarrow


class ArrowCsv:
    """Arrow's C reader for the plain blocks of a CSV input (see the module's doc)."""

    def __init__(self, pa: Any, header: list[str]) -> None:
        self.pa = pa
        self.block_bytes = 1 << 20  # bytes of lines per block: about a chunk of rows
        names = list(header)
        # One thread: on a busy machine, Arrow's pool of readers costs more CPU to
        # coordinate than it saves (a block is about a chunk of rows, a few MiB).
        self.read_options = pa.csv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 20)
        self.parse_options = pa.csv.ParseOptions(
            quote_char=False, double_quote=False, escape_char=False, newlines_in_values=False,
            ignore_empty_lines=True,
        )
        self.convert_options = pa.csv.ConvertOptions(
            column_types={name: pa.string() for name in names}, strings_can_be_null=False,
            quoted_strings_can_be_null=False, check_utf8=True,
        )

    def read(self, block: bytes) -> Any:
        """The block's rows as a table of text cells, or None when the block is not
        plain (the standard library's path then reads it)."""
        pa = self.pa
        if b'"' in block or b"\r" in block:
            return None
        try:
            return pa.csv.read_csv(
                pa.py_buffer(block), read_options=self.read_options, parse_options=self.parse_options,
                convert_options=self.convert_options,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a row of another width, not UTF-8
            return None


class ArrowBlock:
    """A block of CSV lines read by Arrow: the table of its text cells, the text, and
    where each line ends (its "\n", or the end of the text)."""

    def __init__(self, pa: Any, table: Any, text: bytes, ends: Any) -> None:
        self.pa = pa
        self.table = table
        self.text = text
        self.ends = ends
        self.num_rows = table.num_rows

    def chunk(
        self, np: Any, inputs: list[str], converters: dict[str, Columns], defaults: dict[str, float]
    ) -> Chunk:
        chunk = table_chunk(np, self.pa, self.table, inputs, converters, defaults)
        chunk.block = self
        return chunk


def next_block(np: Any, reader: Any, lines: Any, header: list[str], step: int) -> tuple[Any, Any]:
    """The next block of a CSV input read by Arrow: (an :class:`ArrowBlock`, ``END``
    or None, for the standard library's path to read the next chunk; the reader,
    False once the input proves too small to repay importing pyarrow)."""
    from . import csv_rows

    size = reader.block_bytes if reader is not None else min(CHUNK_BYTES, 64 * step)
    block = lines.take_block(size)
    if block is None:
        return None, reader
    if reader is None:  # the first block: is the input worth importing pyarrow?
        pa = load_arrow_csv() if len(block) >= csv_rows.ARROW_MIN_BYTES and len(header) > 1 else None
        if pa is None:
            lines.give_back(block)
            return None, False
        reader = ArrowCsv(pa, header)
        reader.block_bytes = size
    if not block:
        return csv_rows.END, reader
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
    if len(ends) > step:  # more lines than a chunk's rows (the first block's size is a guess)
        cut = int(ends[step - 1]) + 1
        lines.give_back(block[cut:])
        block, ends = block[:cut], ends[:step]
    elif not block.endswith(b"\n"):  # the last line, at the end of the input
        ends = np.append(ends, len(block))
    table = reader.read(block)
    if table is None:
        lines.give_back(block)
        return None, reader
    lines.commit(block, len(ends))
    if table.num_rows:  # blocks of about a chunk of rows
        reader.block_bytes = int(min(CHUNK_BYTES, max(1 << 16, 0.95 * step * len(block) / table.num_rows)))
    return ArrowBlock(reader.pa, table, block, ends), reader


def _strings(np: Any, pa: Any, offsets: Any, data: Any) -> Any:
    """An Arrow string array over ``data`` (a buffer or bytes, not copied)."""
    if not isinstance(data, pa.Buffer):
        data = pa.py_buffer(data)
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), data)


def _offsets(np: Any, array: Any) -> Any:
    """The offsets of an Arrow string array's cells into its data buffer."""
    every = np.frombuffer(array.buffers()[1], dtype=np.int32)
    return every[array.offset : array.offset + len(array) + 1]


def _commas(np: Any, pa: Any, size: int) -> Any:
    """A column of ``size`` commas: the separator of a join (a scalar would be made
    by ``pyarrow.scalar``)."""
    return _strings(np, pa, np.arange(size + 1), b"," * size)


def csv_records(np: Any, orjson: Any, chunk: Chunk, numbers: list[Any]) -> list[Any] | None:
    """The CSV records of a chunk read by Arrow whose rows all went through: each
    line of the block as it came, then the row's ``numbers`` (columns of floats) as
    ``repr`` writes them, the empty error cell and the line end. The parts to write,
    in order (the first is Arrow's buffer, not copied); None when this path does
    not apply (a block with blank lines, which are not rows; a number not finite)."""
    block, size = chunk.block, chunk.size
    if block is None or orjson is None or not numbers or not size or len(block.text) >= 2**31:
        return None
    pa, text, ends = block.pa, block.text, block.ends
    if len(ends) != size:  # Arrow passed over blank lines
        return None
    if not all(map(all_finite, numbers)):
        return None
    compute = arrow_compute()
    cells = repr_cells(np, pa, compute, orjson, numbers)
    if cells is None:
        return None
    numbers_rows = _strings(np, pa, _offsets(np, cells)[:: len(numbers)], cells.buffers()[2])
    # Line r as it came, with the line end before it (none before the first): joined
    # with its numbers by a comma, the rows follow each other as the text's lines did.
    starts = np.empty(size + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends
    lines = _strings(np, pa, starts, text)
    joined = compute.call_function("binary_join_element_wise", [lines, numbers_rows, _commas(np, pa, size)])
    offsets = _offsets(np, joined)
    return [memoryview(joined.buffers()[2])[int(offsets[0]) : int(offsets[-1])], b"\n"]


def csv_rows(np: Any, pa: Any, table: Any, body_of: Callable[[], bytes], size: int) -> bytes:
    """CSV records: each row's own cells as they came, then its line of ``body_of()``
    (the numbers, the empty error cell and the line end), joined by Arrow in C;
    empty when this path does not apply."""
    if any(not pa.types.is_string(kind) for kind in table.schema.types):
        return b""  # (Parquet's columns: the writer's own path)
    body = body_of()
    ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10)
    if len(ends) != size or len(body) >= 2**31:
        return b""
    offsets = np.zeros(size + 1, dtype=np.int32)
    offsets[1:] = ends + 1
    numbers = _strings(np, pa, offsets, body)
    cells = [table.column(j).combine_chunks() for j in range(table.num_columns)]
    join = arrow_compute().call_function
    joined = join("binary_join_element_wise", [*cells, numbers, _commas(np, pa, size)])
    offsets_out = _offsets(np, joined)
    data = joined.buffers()[2]
    return data.to_pybytes()[int(offsets_out[0]) : int(offsets_out[-1])]
