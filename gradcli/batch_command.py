"""``eval --batch/--grid``: read the options, run the batch here or on Dask, report.

The work is the library's (:func:`gradcli.batch.run_batch`, :func:`gradcli.dask.run`);
this module checks what the options say together, opens ``--out`` and turns the
summary into the exit code.
"""

from __future__ import annotations

import click

from .errors import ExitStatus, GradError, shorten
from .options import program_and_bindings, write_stderr, wrt_names


def eval_batch(
    words: tuple[str, ...],
    file: str | None,
    batch: str | None,
    grids: tuple[str, ...],
    out_format: str,
    input_format: str | None,
    wrt: str | None,
    output: str | None,
    *,
    out: str | None = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> None:
    """eval --batch/--grid: one record per point; exit 1 if any row failed."""
    from . import batch as batching
    from .api import compile
    from .arguments import split_words

    batching.load_numpy()  # before anything is read: a clear error if NumPy is missing
    if batch == "-" and file is None and split_words(words, has_file=False)[0] == "-":
        raise GradError("usage", "standard input cannot be both SOURCE and --batch: use --file for one")
    if engine == "dask":
        _check_dask_options(batch, grids, out, out_format)
    elif scheduler is not None:
        raise GradError("usage", "--scheduler is for --engine dask")
    if out_format == "parquet" and out is None:
        raise GradError("usage", "--format parquet writes a file: give --out FILE")
    source, bindings = program_and_bindings(words, file)
    graph = compile(source, output)
    if out_format == "csv" and graph.unused():  # JSON Lines records list them as "unused"
        for name in graph.unused():
            write_stderr(f"note: {name} is unused: the output does not depend on it, so its gradient is 0")
    if engine == "dask":
        from .dask import run

        assert batch is not None and out is not None  # checked above
        summary = run(source, bindings, batch, out, scheduler=scheduler, output=output, wrt=wrt_names(wrt))
        _report(summary)
        return
    if out is None or out_format == "parquet":
        summary = batching.run_batch(
            graph, bindings, batch=batch, grids=grids, fmt=out_format,
            input_format=input_format, wrt=wrt_names(wrt), out_path=out,
        )
    else:
        summary = _to_file(graph, bindings, batch, grids, out_format, input_format, wrt, out)
    _report(summary)


def _check_dask_options(batch: str | None, grids: tuple[str, ...], out: str | None, fmt: str) -> None:
    if batch is None or batch == "-" or grids:
        raise GradError("usage", "--engine dask runs a --batch of Parquet files, without --grid")
    if out is None:
        raise GradError("usage", "--engine dask writes a Parquet dataset: give --out DIR")
    if fmt not in ("jsonl", "parquet"):  # (jsonl: the default, not asked for)
        raise GradError("usage", "--engine dask writes Parquet only: drop --format")


def _to_file(graph, bindings, batch, grids, fmt, input_format, wrt, out):  # type: ignore[no-untyped-def]
    """JSON Lines or CSV into ``out``, whole or not at all (see gradcli.files)."""
    from . import batch as batching
    from .files import cannot_write, open_output

    try:
        with open_output(out, "w", encoding="utf-8", newline="") as stream:
            return batching.run_batch(
                graph, bindings, batch=batch, grids=grids, fmt=fmt,
                input_format=input_format, wrt=wrt_names(wrt), out=stream,
            )
    except OSError as exc:
        raise cannot_write("--out", out, exc) from None


def _report(summary: object) -> None:
    for key, row in getattr(summary, "left_out", {}).items():
        write_stderr(
            f"note: the key {shorten(key)!r} first appears in row {row:,}, after the output's columns were"
            " set from the rows before it: its values are left out (give it in an earlier row, or write"
            " JSON Lines)"
        )
    failed = getattr(summary, "failed", 0)
    if failed:
        first = getattr(summary, "first_failed", [])
        rows = ", ".join(map(str, first)) + (", ..." if failed > len(first) else "")
        where = f" (row {rows})" if first else ""
        # Not a GradError: the run went through, and its output is complete.
        write_stderr(
            f"error: {failed} of {summary.rows} rows failed{where}; their records say why"  # type: ignore[attr-defined]
        )
        raise click.exceptions.Exit(ExitStatus.MATH)
