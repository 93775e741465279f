"""Batch and sweeps: one program, many points, vectorised and streamed.

Points come from a file of rows (JSON Lines or CSV, ``--batch``), from grids
(``--grid x=a:b:n``, their product), or both (every row times every grid point);
bindings from the command line are defaults that a row may override. The points
are read, evaluated and written in chunks of at most :data:`CHUNK` rows, so memory
does not grow with the number of rows.

This module is the driver; the work is done along the data flow by
:mod:`gradcli.rows` with :mod:`gradcli.csv_rows` and :mod:`gradcli.jsonl_rows`
(CSV and JSON Lines in), :mod:`gradcli.grids` (sweeps), :mod:`gradcli.vectorised`
(the array evaluator: :func:`evaluate_arrays`) and :mod:`gradcli.records` (JSON
Lines and CSV out). A row that fails becomes an
error record and the exit code is 1.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .bindings import coerce_value, resolve_wrt, unknown_binding
from .columnar import ParquetSource, ParquetWriter, is_parquet, parquet_paths
from .errors import GradError, shorten
from .graph import Graph
from .grids import Grid, parse_grid, single_row, with_grid
from .lines import LineReader
from .records import Writer
from .rows import Chunk, check_input_columns, open_source, sniff
from .vectorised import (
    CHUNK_FLOATS,
    INSTALL_HINT,
    ArrayResult,
    evaluate_arrays,
    evaluate_columns,
    load_numpy,
)

__all__ = [
    "CHUNK", "INSTALL_HINT", "ArrayResult", "BatchSummary", "Grid", "chunk_rows", "evaluate_arrays",
    "load_numpy", "parse_grid", "run_batch",
]

#: Rows read and written per chunk: big enough that the per-chunk work in Python
#: vanishes, small enough that memory stays flat. Programs of many nodes get fewer.
CHUNK = 65_536


def chunk_rows(graph: Graph) -> int:
    """Rows read and written per chunk for ``graph``: fewer for programs with many nodes."""
    return max(64, min(CHUNK, CHUNK_FLOATS // max(1, len(graph.nodes))))


def check_defaults(graph: Graph, bindings: Mapping[str, Any]) -> dict[str, float]:
    """Command-line bindings: checked against the program, each turned into a float."""
    out: dict[str, float] = {}
    for name, raw in bindings.items():
        if name not in graph.inputs:
            raise GradError("binding", unknown_binding(graph, name))
        out[name] = coerce_value(name, raw)
    return out


@dataclass
class BatchSummary:
    """What a batch did: how many records it wrote and which rows failed (the first few)."""

    rows: int = 0
    failed: int = 0
    first_failed: list[int] = field(default_factory=list)
    #: JSON Lines into CSV or Parquet: the keys first met after the columns were set
    #: (by the first chunk), and the row each was first met in; their values are not out
    left_out: dict[str, int] = field(default_factory=dict)


def _open(path: str, stdin: Any) -> tuple[Any, bool]:
    if path == "-":
        if stdin is None:
            stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise GradError("usage", "cannot read --batch -: standard input is closed")
        return stdin, False
    from .arguments import open_input

    return open_input(path, "--batch"), True  # closed by run_batch


def run_batch(
    graph: Graph,
    bindings: Mapping[str, Any],
    *,
    batch: str | None = None,
    grids: Sequence[str] = (),
    fmt: str = "jsonl",
    input_format: str | None = None,
    wrt: Iterable[str] | None = None,
    out: IO[str] | None = None,
    stdin: Any = None,
    out_path: str | None = None,
) -> BatchSummary:
    """Evaluate ``graph`` at every row of ``batch`` (a path, or ``-``) times every
    point of ``grids``, writing one record per point to ``out`` in ``fmt``
    (``jsonl``, ``csv``, or ``parquet`` into the file ``out_path``)."""
    np = load_numpy()
    names = resolve_wrt(graph, wrt)
    defaults = check_defaults(graph, bindings)
    grid: list[Grid] = []
    for text in grids:
        name, start, stop, count = parse_grid(graph, text)
        if name in defaults:
            raise GradError("usage", f"--grid {text}: {name} is also bound on the command line: drop one")
        if any(name == other.name for other in grid):
            raise GradError("usage", f"--grid {text}: {name} is swept twice")
        grid.append(Grid(name, start, stop, count))
    grid_names = [g.name for g in grid]
    step = chunk_rows(graph)
    summary = BatchSummary()
    parquet_in = batch is not None and (
        input_format == "parquet" or (input_format is None and batch != "-" and is_parquet(batch))
    )
    if parquet_in and batch == "-":
        raise GradError("usage", "Parquet input is read from files, not standard input: give --batch FILE")
    if fmt != "jsonl":
        check_input_columns(graph, names)
    if fmt == "parquet":
        if out_path is None:
            raise GradError("usage", "--format parquet writes a file: give --out FILE")
        writer: Any = ParquetWriter(np, out_path, graph, names, keep_inputs=parquet_in)
    else:
        writer = Writer(np, out if out is not None else sys.stdout, graph, names, fmt)

    stream, owned = (None, False)
    source: Any = None
    ok = False
    # Rows that overflow become error records: never a NumPy warning on standard error.
    with np.errstate(all="ignore"):
        try:
            if batch is not None and parquet_in:
                source = ParquetSource(
                    np, graph, parquet_paths(batch), defaults, grid_names, step, reported=names
                )
                chunks: Iterator[Chunk] = source.chunks()
            elif batch is not None:
                stream, owned = _open(batch, stdin)
                what = "standard input" if batch == "-" else f"--batch {shorten(batch, 80)}"
                lines = LineReader(stream, what)
                kind = input_format or sniff(lines)
                source = open_source(
                    np, graph, lines, kind, defaults, grid_names, step, arrow=not grid, reported=names
                )
                chunks = source.chunks()
            else:
                chunks = single_row(np, graph, defaults, grid_names)
            first_row = 1
            for chunk in with_grid(np, chunks, grid, step):
                if not writer.started:
                    writer.start(_extra_names(source, chunk))
                result = evaluate_columns(
                    np, graph, chunk.columns, names, chunk.errors, chunk.size, check_inputs=False
                )
                writer.write(chunk, result, first_row)
                if fmt != "jsonl" and chunk.extra_rows is not None:
                    _left_out(chunk.extra_rows, writer.lead_names, summary.left_out, first_row)
                summary.rows += chunk.size
                if result.errors:
                    summary.failed += len(result.errors)
                    room = 5 - len(summary.first_failed)
                    if room > 0:
                        summary.first_failed += [first_row + r for r in sorted(result.errors)[:room]]
                first_row += chunk.size
                del chunk, result  # before the next chunk is read: one chunk in memory at a time
            if not writer.started:
                writer.start(_extra_names(source, None))
            ok = True
        finally:
            if owned and stream is not None:
                stream.close()
            writer.finish(ok)
    return summary


def _left_out(
    rows: list[dict[str, Any] | None], columns: list[str], found: dict[str, int], first_row: int
) -> None:
    """Note in ``found`` each key of ``rows`` that is none of the output's ``columns``."""
    known = set(columns)
    for r, extra in enumerate(rows):
        if extra:
            for key in extra:
                if key not in known and key not in found:
                    found[key] = first_row + r


def _extra_names(source: Any, chunk: Chunk | None) -> list[str]:
    """The pass-through columns of CSV output: the CSV header's, or the keys that the
    first chunk of JSON Lines has beyond the inputs, in order of appearance."""
    if source is None:
        return []
    if source.extra_names is not None:
        return source.header  # CSV in: every row starts with its own cells
    names: dict[str, None] = {}
    if chunk is not None and chunk.extra_rows is not None:
        for extra in chunk.extra_rows:
            if extra:
                names.update(dict.fromkeys(extra))
    return list(names)
