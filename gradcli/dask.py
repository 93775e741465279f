"""Beyond one machine: the rows of a Dask DataFrame, evaluated on a Dask cluster.

:func:`evaluate` is lazy: it returns a Dask DataFrame whose partitions are
evaluated by :func:`gradcli.frames.evaluate_frame` with ``map_partitions``, the
program compiled once per worker process (and per program). :func:`run` is
``eval --batch 'dir/*.parquet' --engine dask --out DIR``: it reads the Parquet
files, evaluates them on a local cluster of worker processes or on the scheduler
given, and writes a Parquet dataset, one file per partition, in input order.

The dataset is written into a hidden folder beside ``DIR`` and renamed to
``DIR`` at the end, with an empty ``_SUCCESS`` file inside: a run that fails
(a worker that dies, the scheduler gone, Ctrl-C) leaves no ``DIR``, and the
hidden folder is removed.

Dask and pyarrow are imported here only, when a function is called (the ``dask``
extra: ``pip install 'gradcli[dask]'``, on the client and on every worker).
"""

from __future__ import annotations

import functools
import logging
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import GradError, shorten

DASK_HINT = "pip install 'gradcli[dask]'"
#: Seconds to wait for a scheduler to answer.
CONNECT_SECONDS = 5
#: Seconds a run waits while its cluster has no worker at all before it gives up.
NO_WORKER_SECONDS = 10


def _load() -> tuple[Any, Any, Any]:
    try:
        import dask
        import dask.dataframe
        import distributed
    except ImportError as exc:
        raise GradError("usage", f"the Dask engine needs Dask ({exc.name} is missing): {DASK_HINT}") from None
    return dask, dask.dataframe, distributed


@functools.lru_cache(maxsize=32)
def _program(source: str, output: str | None) -> Any:
    """The compiled program: once per worker process (and per program)."""
    from .api import compile

    return compile(source, output)


def _partition(
    df: Any, source: str, output: str | None, wrt: list[str] | None, defaults: dict[str, Any]
) -> Any:
    from .frames import evaluate_frame

    return evaluate_frame(_program(source, output), df, defaults, wrt=wrt)


def evaluate(
    ddf: Any, source: str, /, *, output: str | None = None, wrt: Iterable[str] | None = None, **defaults: Any
) -> Any:
    """A lazy Dask DataFrame: ``ddf``'s columns, then ``value``, ``grad_NAME`` and
    ``error``, as :meth:`Graph.evaluate_frame` gives them for each partition.

    The program and the defaults are checked here, at once (a syntax error, an
    unknown binding, a column missing); the rows are evaluated when the result is
    computed, on the workers."""
    from .frames import evaluate_frame

    names = None if wrt is None else list(wrt)
    meta = evaluate_frame(_program(source, output), ddf._meta, defaults, wrt=names)
    return ddf.map_partitions(_partition, source, output, names, dict(defaults), meta=meta)


@dataclass
class DaskSummary:
    """What a Dask run wrote: rows, failed rows, files."""

    rows: int = 0
    failed: int = 0
    files: int = 0
    first_failed: list[int] = field(default_factory=list)


def _connect(distributed: Any, scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """A client of the scheduler at ``scheduler``, or of a new local cluster."""
    if scheduler is None:
        count = workers or max(1, min(os.cpu_count() or 1, 8))
        cluster = distributed.LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=logging.ERROR,
        )
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(scheduler, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = _reason(exc) or type(exc).__name__
        raise GradError(
            "usage",
            f"cannot reach the Dask scheduler at {shorten(scheduler, 80)} within {CONNECT_SECONDS} s"
            f" ({reason}): is `dask scheduler` running there, and its port open to this host?",
        ) from None


def _reason(exc: BaseException) -> str:
    """An exception's first line, short (Dask's messages run over several)."""
    text = str(exc).strip().splitlines()
    return shorten(text[0], 160) if text else type(exc).__name__


def _wait(distributed: Any, client: Any, future: Any) -> Any:
    """The future's result; a usage error when every worker has been gone for
    :data:`NO_WORKER_SECONDS` (a scheduler waits for new workers for ever)."""
    alone_since: float | None = None
    while True:
        try:
            distributed.wait(future, timeout=1)
        except (TimeoutError, distributed.TimeoutError):
            workers = client.scheduler_info().get("workers", {})
            if workers:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > NO_WORKER_SECONDS:
                future.cancel()
                raise GradError(
                    "usage",
                    f"the Dask cluster has had no worker for {NO_WORKER_SECONDS} s (did they die?):"
                    " the run was stopped",
                ) from None
            continue
        return future.result()


def run(
    source: str,
    bindings: dict[str, Any],
    pattern: str,
    out: str,
    *,
    scheduler: str | None = None,
    output: str | None = None,
    wrt: list[str] | None = None,
    workers: int | None = None,
) -> DaskSummary:
    """``eval --batch PATTERN --engine dask --out DIR``: see the module's doc."""
    _, dd, distributed = _load()
    from .columnar import load_pyarrow, parquet_paths

    pa = load_pyarrow("--engine dask")
    paths = [pattern] if "://" in pattern else parquet_paths(pattern)
    if "://" not in pattern:  # the columns checked as a run on one machine checks them
        from .batch import check_defaults
        from .columnar import ParquetSource
        from .vectorised import load_numpy

        graph = _program(source, output)
        ParquetSource(load_numpy(), graph, paths[:1], check_defaults(graph, bindings), (), 1)
    target = os.path.abspath(out)
    if os.path.exists(target) and not (os.path.isdir(target) and not os.listdir(target)):
        raise GradError(
            "usage", f"--out {shorten(out, 80)} exists: remove it or name another folder (a run never"
            " writes into one)",
        )
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise GradError("usage", f"--out {shorten(out, 80)}: the folder {shorten(folder, 80)} does not exist")
    try:
        ddf = dd.read_parquet(paths)
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = _reason(exc)
        raise GradError("usage", f"cannot read --batch {shorten(pattern, 80)}: {reason}") from None
    result = evaluate(ddf, source, output=output, wrt=wrt, **bindings)  # checks before a cluster starts
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its own warnings; what went wrong is said below
    with warnings.catch_warnings():  # ("Port 8787 is already in use": not the user's business)
        warnings.simplefilter("ignore")
        try:
            return _run(distributed, pa, result, scheduler, workers, out)
        finally:
            quiet.setLevel(level)


def _run(distributed: Any, pa: Any, result: Any, scheduler: str | None, workers: int | None,
         out: str) -> DaskSummary:
    from .files import cannot_write, staged_folder

    try:
        with staged_folder(out) as temp:  # renamed into place, or removed, once the cluster is closed
            client, cluster = _connect(distributed, scheduler, workers)
            try:
                return _write(distributed, pa, result, client, temp)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    except OSError as exc:
        raise cannot_write("--out", out, exc) from None


def _write(distributed: Any, pa: Any, result: Any, client: Any, temp: str) -> DaskSummary:
    """The dataset into the folder ``temp``, with ``_SUCCESS`` once it is all there."""
    write = result.to_parquet(temp, write_index=False, compute=False)
    future = client.compute(write)
    try:
        _wait(distributed, client, future)
    except distributed.client.FutureCancelledError:
        message = "the Dask run was cancelled (the scheduler restarted or went away)"
        raise GradError("usage", message) from None
    except (OSError, distributed.comm.CommClosedError) as exc:
        raise GradError("usage", f"the Dask run failed: {_reason(exc)}") from None
    except GradError:
        raise
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise GradError(
                "usage", f"a Dask worker died while running the batch ({_reason(exc)})"
            ) from None
        raise GradError(
            "usage", f"the Dask run failed: {type(exc).__name__}: {_reason(exc)}"
        ) from None
    summary = _summary(pa, temp)
    with open(os.path.join(temp, "_SUCCESS"), "wb"):
        pass
    return summary


def _summary(pa: Any, folder: str) -> DaskSummary:
    """Rows and failed rows, from the files' ``error`` columns (read alone)."""
    summary = DaskSummary()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".parquet"):
            table = pa.parquet.read_table(os.path.join(folder, name), columns=["error"])
            summary.rows += table.num_rows
            summary.failed += table.num_rows - table.column("error").null_count
            summary.files += 1
    return summary
