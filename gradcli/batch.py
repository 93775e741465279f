"""Batch and sweeps (SPEC §4): one program, many points, vectorised and streamed.

Points come from a file of rows (JSON Lines or CSV, ``--batch``), from grids
(``--grid x=a:b:n``, their product), or both (every row times every grid point);
bindings from the command line are defaults that a row may override. The points
are read, evaluated and written in chunks of at most :data:`CHUNK` rows, so memory
does not grow with the number of rows.

Each chunk is evaluated once over NumPy arrays: the forward loop and the reverse
loop of :mod:`gradcli.evaluate`, with every operation's ``vforward``/``vgrads``
from :mod:`gradcli.ops`. Where an array rule gives NaN or ±inf on a row, that row
is handed to the scalar rules, which either give the value after all or the error
``gradcli eval`` gives at that point (same kind, same message; an operand in it may
differ in its last digit, as NumPy's log or sin may from the math module's); the
other rows go on. A row that fails becomes an error record and the exit code is 1.

NumPy is imported here only, and only when a batch runs; orjson, when installed
(extra ``fast``), writes the floats about twenty times faster than ``repr``, which is
the fallback, and the text is the same either way.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .bindings import coerce_value, constant_value, option_flag, unknown_binding
from .errors import GradError, shorten
from .evaluate import (
    backward,
    forward,
    math_error,
    non_finite_error,
    resolve_wrt,
    wanted_nodes,
)
from .graph import Graph

#: Rows read and written per chunk: big enough that the per-chunk work in Python
#: vanishes, small enough that memory stays flat. Programs of many nodes get fewer.
CHUNK = 65_536
#: Floats held per chunk at most (node values), which bounds memory for big programs.
_CHUNK_FLOATS = 1 << 22
#: A finite stand-in for the values of rows that already failed, so that the
#: finiteness checks of later nodes stay cheap; those rows are never reported.
_FILLER = 0.5

#: NumPy is a dependency: missing, it means a broken install.
INSTALL_HINT = "pip install numpy"

#: Keys of an output record: a pass-through column may not take these names.
RESERVED = ("output", "value", "inputs", "gradient", "row", "error")


def load_numpy() -> Any:
    """The numpy module, or a usage error that says how to install it (a dependency
    of gradcli, so missing only from a broken install)."""
    global _add_reduce
    try:
        import numpy
    except ImportError:
        raise GradError(
            "usage", f"--batch and --grid need NumPy, which is missing from this install: {INSTALL_HINT}"
        ) from None
    _add_reduce = numpy.add.reduce
    return numpy


def _load_orjson() -> Any:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


# --- the vectorised evaluator ----------------------------------------------------------


@dataclass(eq=False)
class ArrayResult:
    """Values and gradients of a program at ``n`` points.

    ``value`` and each ``gradient[name]`` are float arrays of length ``n``;
    ``errors`` maps a row index to the error of that row (its entries in the
    arrays mean nothing).
    """

    value: Any
    gradient: dict[str, Any]
    errors: dict[int, GradError] = field(default_factory=dict)


def chunk_rows(graph: Graph) -> int:
    """Rows read and written per chunk for ``graph``: fewer for programs with many nodes."""
    return max(64, min(CHUNK, _CHUNK_FLOATS // max(1, len(graph.nodes))))


#: Rows evaluated at once: measured fastest (the arrays of a node stay in the CPU's
#: cache between its forward rule, its check and its consumers).
_COMPUTE_ROWS = 32_768


def _compute_rows(graph: Graph) -> int:
    return max(64, min(_COMPUTE_ROWS, _CHUNK_FLOATS // max(1, len(graph.nodes))))


def evaluate_arrays(
    graph: Graph,
    columns: Mapping[str, Any],
    wrt: Iterable[str] | None = None,
    *,
    errors: Mapping[int, GradError] | None = None,
    size: int | None = None,
) -> ArrayResult:
    """Evaluate ``graph`` at many points at once: ``columns`` maps every input to an
    array (all of one length; ``size`` says it for a program without inputs). Rows
    listed in ``errors`` failed earlier and are skipped. Large inputs are evaluated
    in chunks of :func:`chunk_rows` rows."""
    np = load_numpy()
    # Overflow and the like are found and reported row by row: never a NumPy warning.
    with np.errstate(all="ignore"):
        return _evaluate_arrays(np, graph, columns, wrt, errors, size, check_inputs=True)


def _evaluate_arrays(
    np: Any,
    graph: Graph,
    columns: Mapping[str, Any],
    wrt: Iterable[str] | None,
    errors: Mapping[int, GradError] | None,
    size: int | None,
    *,
    check_inputs: bool,
) -> ArrayResult:
    """``check_inputs``: give NaN and ±inf inputs their binding error (run_batch's
    columns are finite already: every value went through :func:`_binding`)."""
    names = resolve_wrt(graph, wrt)
    cols = {name: np.ascontiguousarray(columns[name], dtype=np.float64) for name in graph.inputs}
    n = len(next(iter(cols.values()))) if cols else (1 if size is None else size)
    step = _compute_rows(graph)
    if n <= step:
        return _evaluate_chunk(np, graph, cols, n, names, dict(errors or {}), check_inputs=check_inputs)
    # Chunks that fit in the cache, results copied into arrays of the full length.
    result = ArrayResult(np.empty(n), {name: np.empty(n) for name in names}, {})
    for start in range(0, n, step):
        stop = min(n, start + step)
        part_errors = {r - start: e for r, e in (errors or {}).items() if start <= r < stop}
        dest = {name: result.gradient[name][start:stop] for name in names}
        part = _evaluate_chunk(np, graph, {k: v[start:stop] for k, v in cols.items()}, stop - start,
                               names, part_errors, dest, check_inputs=check_inputs)
        result.value[start:stop] = part.value
        for name in names:
            if part.gradient[name] is not dest[name]:  # most are written in place already
                result.gradient[name][start:stop] = part.gradient[name]
        result.errors.update({r + start: e for r, e in part.errors.items()})
    return result


def _is_array(value: Any) -> bool:
    return getattr(value, "ndim", 0) > 0


def _all_finite(value: Any) -> bool:
    # One reduction instead of isfinite + all: a sum is finite only if every term is
    # (a false alarm from a sum that overflows just takes the careful path).
    if getattr(value, "ndim", 0) > 0:
        return math.isfinite(_add_reduce(value))
    return math.isfinite(value)


def _add_reduce(array: Any) -> Any:
    return array.sum()  # load_numpy() puts numpy.add.reduce here: the same, a little faster


def _evaluate_chunk(
    np: Any,
    graph: Graph,
    cols: dict[str, Any],
    n: int,
    names: list[str],
    errors: dict[int, GradError],
    dest: dict[str, Any] | None = None,
    *,
    check_inputs: bool = True,
) -> ArrayResult:
    """One chunk. ``dest`` (optional) maps a name to the array its gradient is to be
    written into: the last operation toward that node writes there directly, which
    spares a copy of every gradient when a long input is evaluated in chunks."""
    nodes = graph.nodes
    source = graph.source
    for name, col in cols.items() if check_inputs else ():
        if not _all_finite(col):  # NaN or ±inf given from Python: the error `evaluate` gives
            bad = ~np.isfinite(col)
            for r in np.flatnonzero(bad).tolist():
                errors.setdefault(r, GradError(
                    "binding", f"the value of {shorten(name)} must be a finite number, not {float(col[r])!r}"
                ))
            cols = {**cols, name: np.where(bad, _FILLER, col)}
    alive = np.ones(n, dtype=bool)
    for r in errors:
        alive[r] = False

    def node_of(name: str) -> int | None:
        return graph.inputs[name] if name in graph.inputs else graph.names[name]

    extra = [i for i in (node_of(name) for name in names) if i is not None]
    wanted = wanted_nodes(graph, extra)
    values: list[Any] = [0.0] * len(nodes)
    varying = [False] * len(nodes)

    def row_args(node_inputs: Sequence[int], r: int) -> list[float]:
        return [float(values[i][r]) if varying[i] else float(values[i]) for i in node_inputs]

    with np.errstate(all="ignore"):
        # Forward, in topological order, as evaluate.forward.
        for node in nodes:
            op = node.op
            if op is None:
                if node.kind == "var":
                    values[node.id] = cols[node.name]  # type: ignore[index]
                    varying[node.id] = True
                else:
                    # NumPy scalars, so that 1 / 0 toward a constant gives inf, not an exception
                    values[node.id] = np.float64(node.value)
                continue
            args = [values[i] for i in node.inputs]
            if not any(varying[i] for i in node.inputs):
                # A constant subexpression: the scalar rule once, for every row.
                args = [float(a) for a in args]
                try:
                    value = op.forward(*args)
                    error = None if math.isfinite(value) else non_finite_error(node, args, value, source)
                except (ValueError, ZeroDivisionError, OverflowError) as exc:
                    error = math_error(node, args, exc, source)
                if error is not None:
                    for r in np.flatnonzero(alive).tolist():
                        errors[r] = error
                    alive[:] = False
                    value = _FILLER
                values[node.id] = np.float64(value)
                continue
            varying[node.id] = True
            result = op.vforward(np, *args)  # type: ignore[misc]
            if not _all_finite(result):
                bad = ~np.isfinite(result)
                result = np.where(bad, _FILLER, result)
                for r in np.flatnonzero(bad & alive).tolist():
                    # The scalar rule says what went wrong, exactly as `eval` would.
                    scalar_args = row_args(node.inputs, r)
                    try:
                        value = op.forward(*scalar_args)
                        error = (
                            None if math.isfinite(value)
                            else non_finite_error(node, scalar_args, value, source)
                        )
                    except (ValueError, ZeroDivisionError, OverflowError) as exc:
                        error = math_error(node, scalar_args, exc, source)
                    if error is None:
                        result[r] = value  # NumPy and the scalar rule disagree: trust the latter
                    else:
                        errors[r] = error
                        alive[r] = False
            values[node.id] = result

        # Reverse, as evaluate.backward. Rows where anything is not finite are set
        # aside and evaluated by the scalar loops at the end, which give their
        # gradient or the very error `eval` gives.
        recheck = np.zeros(n, dtype=bool)
        grads: list[Any] = [None] * len(nodes)
        grads[-1] = 1.0
        # sure[i]: grads[i] is known to be finite (one checked contribution so far),
        # which spares a check where a gradient is passed on unchanged (x + y).
        sure = [False] * len(nodes)
        sure[-1] = True
        # The node's last incoming edge in reverse order (its first consumer, and
        # there its last operand), where its gradient is final.
        last_edge: dict[int, tuple[int, int]] = {}
        for node in nodes:
            for k, i in enumerate(node.inputs):
                seen = last_edge.get(i)
                if seen is None or seen[0] == node.id:
                    last_edge[i] = (node.id, k)
        target: dict[int, Any] = {}
        if dest is not None:
            for name in names:
                i = node_of(name)
                if i is not None and i not in target and i in last_edge:
                    target[i] = dest[name]
        for node in reversed(nodes):
            g = grads[node.id]
            if g is None or node.op is None:
                continue
            if not sure[node.id] and not _all_finite(g):  # a sum of finite parts that is not
                recheck |= ~np.isfinite(g) & alive
                g = np.where(np.isfinite(g), g, 0.0)
            args = [values[i] for i in node.inputs]
            out = values[node.id]
            for k, i in enumerate(node.inputs):
                if not wanted[i]:
                    continue
                local = node.op.vgrads[k](np, *args, out)
                checked = False
                # The only edge into a reported node: its product goes straight to dest.
                direct = (
                    grads[i] is None and i in target and last_edge[i] == (node.id, k)
                    and (_is_array(g) or _is_array(local))
                )
                if not _is_array(local) and (local == 1.0 or local == -1.0):
                    contribution = g if local == 1.0 else -g
                    checked = True
                elif not _is_array(g) and g == 1.0:
                    contribution = local  # the seed: no need to multiply by 1
                elif direct:
                    contribution = np.multiply(g, local, out=target[i])
                else:
                    contribution = g * local
                if not checked and not _all_finite(contribution):
                    contribution = np.broadcast_to(contribution, (n,))
                    bad = ~np.isfinite(contribution)
                    # A node whose gradient is 0 passes 0 on without its local gradient.
                    recheck |= bad & alive & (np.broadcast_to(g, (n,)) != 0)
                    contribution = np.where(bad, 0.0, contribution)
                if i in target and last_edge[i] == (node.id, k) and _is_array(contribution):
                    if grads[i] is None:
                        if contribution is not target[i]:
                            np.copyto(target[i], contribution)
                    else:
                        np.add(grads[i], contribution, out=target[i])
                    sure[i] = grads[i] is None
                    grads[i] = target[i]
                elif grads[i] is None:
                    grads[i] = contribution
                    sure[i] = True
                else:
                    grads[i] = grads[i] + contribution
                    sure[i] = False

    value = values[-1] if varying[-1] else np.full(n, float(values[-1]))
    gradient: dict[str, Any] = {}
    for name in names:
        i = node_of(name)
        g = grads[i] if i is not None else None
        if g is None:
            gradient[name] = np.zeros(n)
        elif _is_array(g):
            gradient[name] = g
            if not sure[i] and not _all_finite(g):  # type: ignore[index]
                recheck |= ~np.isfinite(g) & alive
        else:
            if not math.isfinite(g):  # the same for every row (a sum of constants that overflows)
                recheck |= alive
            gradient[name] = np.full(n, float(g))
    rows = np.flatnonzero(recheck & alive).tolist() if recheck.any() else []
    if rows:
        # Arrays may be shared (x + y gives x and y one gradient): write into copies.
        value = np.array(value)
        gradient = {name: np.array(g) for name, g in gradient.items()}
    for r in rows:
        _scalar_row(graph, cols, r, names, node_of, wanted, value, gradient, errors)
    return ArrayResult(value, gradient, errors)


def _scalar_row(
    graph: Graph,
    cols: Mapping[str, Any],
    r: int,
    names: list[str],
    node_of: Any,
    wanted: list[bool],
    value: Any,
    gradient: dict[str, Any],
    errors: dict[int, GradError],
) -> None:
    """Row ``r`` through the scalar loops: its value and gradient, or its error."""
    point = {name: float(col[r]) for name, col in cols.items()}
    try:
        values = forward(graph, point)
        grads = backward(graph, values, wanted)
    except GradError as err:
        errors[r] = err
        return
    value[r] = values[-1]
    for name in names:
        i = node_of(name)
        g = grads[i] if i is not None else None
        gradient[name][r] = 0.0 if g is None else g


# --- bindings, rows and grids ------------------------------------------------------------


#: Points of one grid at most: every index is then exact as a float (and a product of
#: grids, taken apart into indices chunk by chunk, never needs more than 64 bits).
MAX_GRID_POINTS = 2**53


@dataclass(frozen=True)
class Grid:
    """``--grid NAME=START:STOP:COUNT``: COUNT evenly spaced points, both ends included."""

    name: str
    start: float
    stop: float
    count: int

    def points(self, np: Any, index: Any) -> Any:
        """The points at ``index`` (an integer array), as ``numpy.linspace`` gives them
        (a + i·(b − a)/(n − 1), both ends exact). Where b − a overflows, the same at a
        quarter of the scale, kept between the ends and scaled back (exact): finite."""
        a, b, n = self.start, self.stop, self.count
        lo, hi = min(a, b), max(a, b)
        if n == 1:
            return np.full(len(index), a)
        delta = b - a
        with np.errstate(all="ignore"):  # i·step may round past the float limit: clipped
            if math.isinf(delta):
                x = np.clip(index * ((b / 4 - a / 4) / (n - 1)) + a / 4, lo / 4, hi / 4) * 4
            elif delta / (n - 1) == 0:  # a step that underflows, as numpy.linspace does it
                x = index / (n - 1) * delta + a
            else:
                x = index * (delta / (n - 1)) + a
            x = np.clip(x, lo, hi)
        x[index == 0] = a
        x[index == n - 1] = b
        return x


def parse_grid(graph: Graph, text: str) -> tuple[str, float, float, int]:
    """``x=a:b:n`` -> (x, a, b, n): n evenly spaced values from a to b, both included."""
    name, eq, spec = text.partition("=")
    name = name.strip().lstrip("-")
    parts = spec.split(":")
    if not eq or len(parts) != 3 or not name:
        raise GradError(
            "usage", f"--grid {text}: write NAME=START:STOP:COUNT, as in --grid x=-2:2:101"
        )
    if name not in graph.inputs:
        raise GradError("usage", f"--grid {text}: {unknown_binding(graph, name)}")
    start = constant_value(parts[0], name)
    stop = constant_value(parts[1], name)
    try:
        count = int(parts[2].strip())
    except ValueError:
        count = 0
    if count < 1:
        raise GradError(
            "usage", f"--grid {text}: the number of points must be a whole number ≥ 1, not {parts[2]!r}"
        )
    if count > MAX_GRID_POINTS:
        raise GradError("usage", f"--grid {text}: the number of points may be at most 2^53, not {count}")
    return name, start, stop, count


def _defaults(graph: Graph, bindings: Mapping[str, Any]) -> dict[str, float]:
    """Command-line bindings: checked against the program, each turned into a float."""
    out: dict[str, float] = {}
    for name, raw in bindings.items():
        if name not in graph.inputs:
            raise GradError("binding", unknown_binding(graph, name))
        out[name] = coerce_value(name, raw)
    return out


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
                column[r] = _FILLER
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
    if flat.size != n * k or not _all_finite(flat):
        return None
    return flat.reshape(n, k)


def _sniff(stream: Any) -> str:
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


class _Source:
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
                lead = [",".join(map(_csv_cell, row)) for row in rows]
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

        orjson = _load_orjson()
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
        raw = {r: {name: _csv_text(objects[r].get(name)) for name in self.inputs} for r in errors}
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


def _single(np: Any, graph: Graph, defaults: dict[str, float], grid_names: Sequence[str]) -> Iterator[Chunk]:
    """No --batch: one row made of the defaults (the grids do the rest)."""
    missing = [name for name in graph.inputs if name not in defaults and name not in grid_names]
    if missing:
        name = missing[0]
        flag = option_flag(name)
        raise GradError(
            "binding",
            f"missing a value for {', '.join(missing)}: bind {flag} VALUE or sweep it with"
            f" --grid {name}=START:STOP:COUNT",
        )
    columns = {name: np.full(1, defaults[name]) for name in graph.inputs if name not in grid_names}
    yield Chunk(1, columns, {})


def _take(items: list[Any] | None, index: list[int]) -> list[Any] | None:
    return None if items is None else [items[i] for i in index]


def _with_grid(np: Any, chunks: Iterable[Chunk], grid: list[Grid], step: int) -> Iterator[Chunk]:
    """Every row times every grid point (the first --grid varies slowest), in chunks.

    Nothing the size of the grid is ever made: a chunk's points come from its own
    range of indices, taken apart into one index per grid (:func:`_digits`)."""
    if not grid:
        for chunk in chunks:
            for start in range(0, chunk.size, step):  # keep chunks within the row budget
                yield _slice(np, chunk, np.arange(start, min(chunk.size, start + step)))
        return
    shape = [g.count for g in grid]
    points = math.prod(shape)
    # A grid that fits in a chunk is computed once; a longer one, chunk by chunk.
    tables = [g.points(np, np.arange(g.count)) if g.count <= step else None for g in grid]
    for chunk in chunks:
        total = chunk.size * points
        for start in range(0, total, step):
            rows, *indices = _digits(np, start, min(step, total - start), [chunk.size, *shape])
            part = _slice(np, chunk, rows)
            for g, table, index in zip(grid, tables, indices, strict=True):
                part.columns[g.name] = g.points(np, index) if table is None else table[index]
            yield part


def _digits(np: Any, start: int, size: int, radices: Sequence[int]) -> list[Any]:
    """The numbers start, ..., start + size - 1 in mixed radix (the last digit varies
    fastest): one integer array per radix. The digits of ``start`` come from Python's
    exact divmod and the rest from a carry, so no array entry exceeds a radix plus
    ``size``, however large the product of the radices."""
    first: list[int] = []
    rest = start
    for radix in reversed(radices):
        rest, digit = divmod(rest, radix)
        first.append(digit)
    first.reverse()
    carry = np.arange(size, dtype=np.int64)
    digits: list[Any] = [None] * len(radices)
    for k in range(len(radices) - 1, -1, -1):
        carry, digits[k] = np.divmod(carry + first[k], radices[k])
    return digits


def _slice(np: Any, chunk: Chunk, rows: Any) -> Chunk:
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


# --- writing -----------------------------------------------------------------------------


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _json_value(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or Infinity passed through from a lenient reader
        return "null"


def _json_head(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """``{"id": 7, `` : the start of a JSON record with its pass-through keys."""
    return ("{" + "".join(f"{_json_value(k)}: {_json_value(v)}, " for k, v in pairs)).encode()


def _csv_head(names: list[str], extra: dict[str, Any] | None) -> bytes:
    """A CSV row's pass-through cells (from JSON Lines input) and a comma."""
    return "".join(_csv_value(None if extra is None else extra.get(name)) + "," for name in names).encode()


def _csv_text(value: Any) -> str:
    """A JSON value as a CSV cell's text: strings as they are, null as nothing."""
    if value is None:
        return ""
    return value if isinstance(value, str) else _json_value(value)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _csv_cell(value)
    return _csv_cell(_json_value(value))


def _orjson_as_repr(np: Any, orjson: Any, block: Any) -> bytes:
    """orjson's text of a block of finite floats, each number as ``repr`` writes it.

    orjson writes the same digits but, in two ranges, another form: 1e-5 ≤ |x| < 1e-4
    as ``0.0000ddd`` (repr: ``d.dde-05``), and exponents -6 to -9 with one digit
    (``1e-7``; repr: ``1e-07``). The numbers around those ranges are written apart
    (the second kind by orjson with the exponent's 0 put back, the first by ``repr``)
    and put in place of the NaNs that stood for them, so the text is the same, byte
    for byte, as without orjson."""
    option = orjson.OPT_SERIALIZE_NUMPY
    size = np.abs(block)
    other = (size >= 1e-10) & (size < 1e-4)  # from 1e-4 up, orjson's text is repr's
    if not other.any():
        return orjson.dumps(block, option=option)
    values = block[other]
    tiny = np.abs(values) < 9e-6  # exponents -10 to -6: orjson's form but for the 0
    texts = np.empty(len(values), dtype=object)
    if tiny.any():
        text = orjson.dumps(values[tiny], option=option)
        for digit in b"6789":
            for end in b",]":
                text = text.replace(b"e-%c%c" % (digit, end), b"e-0%c%c" % (digit, end))
        texts[tiny] = text[1:-1].split(b",")
    if not tiny.all():
        texts[~tiny] = str(values[~tiny].tolist())[1:-1].encode().split(b", ")
    block[other] = np.nan  # written "null": a marker (the block is finite otherwise)
    parts = orjson.dumps(block, option=option).split(b"null")
    pieces = [b""] * (2 * len(values) + 1)
    pieces[0::2] = parts
    pieces[1::2] = texts.tolist()
    return b"".join(pieces)


class _Writer:
    """Records out, a chunk at a time: JSON Lines (the ``eval --json`` object less
    ``source``) or CSV (the input's own columns as they were, the other inputs,
    ``value``, ``grad_NAME``, ``error``).

    A chunk's numbers are formatted in one call (orjson, or ``str`` of a list) as
    one text; records are put together from its fields and the fixed text between
    them by slice assignment, so no Python code runs per number."""

    def __init__(self, np: Any, out: IO[str], graph: Graph, names: list[str], fmt: str) -> None:
        self.np = np
        self.graph = graph
        self.inputs = list(graph.inputs)
        self.names = names
        self.fmt = fmt
        self.orjson = _load_orjson()
        self.lead_names: list[str] = []
        self.numeric_inputs = list(self.inputs)
        self.started = False
        out.flush()
        self._binary = getattr(out, "buffer", None)  # bytes straight through, where possible
        self._text = out

    def _write(self, data: bytes) -> None:
        if self._binary is not None:
            self._binary.write(data)
        else:
            self._text.write(data.decode())

    def start(self, lead_names: list[str]) -> None:
        """``lead_names``: the columns each CSV row starts with (the CSV input's own
        header, or the pass-through keys of JSON Lines input)."""
        self.started = True
        self.lead_names = lead_names
        if self.fmt == "csv":
            self.numeric_inputs = [name for name in self.inputs if name not in lead_names]
            m = len(self.numeric_inputs) + 1 + len(self.names)
            self.glue = [b""] + [b","] * (m - 1) + [b",\n"]  # the error column stays empty
            header = [*lead_names, *self.numeric_inputs, "value", *(f"grad_{n}" for n in self.names), "error"]
            self._write((",".join(map(_csv_cell, header)) + "\n").encode())
        else:
            keys = [json.dumps(name, ensure_ascii=False) for name in self.inputs]
            grad_keys = [json.dumps(name, ensure_ascii=False) for name in self.names]
            template = (
                f'"output": {json.dumps(self.graph.output_name, ensure_ascii=False)}, "value": %s, '
                f'"inputs": {{{", ".join(f"{key}: %s" for key in keys)}}}, '
                f'"gradient": {{{", ".join(f"{key}: %s" for key in grad_keys)}}}}}\n'
            )
            self.glue = [part.encode() for part in template.split("%s")]

    def _block(self, columns: list[Any]) -> bytes:
        """The numbers of a chunk, row by row: ``[[a,b],[c,d]]`` in shortest round-trip
        form, ``-0.0`` written ``0.0`` as ``eval --json`` does."""
        np = self.np
        block = np.ascontiguousarray(np.column_stack(columns), dtype=np.float64) + 0.0
        if self.orjson is not None and _all_finite(block.reshape(-1)):  # (non-finite: only in failed rows)
            return _orjson_as_repr(np, self.orjson, block)
        return str(block.tolist()).replace(", ", ",").encode()

    def write(self, chunk: Chunk, result: ArrayResult, first_row: int) -> None:
        n = chunk.size
        grads = [result.gradient[name] for name in self.names]
        if self.fmt == "csv":
            numbers = [*(chunk.columns[name] for name in self.numeric_inputs), result.value, *grads]
        else:
            numbers = [result.value, *(chunk.columns[name] for name in self.inputs), *grads]
        block = self._block(numbers)
        heads = self._heads(chunk)
        if self.fmt == "csv" and not result.errors:  # the common case, mostly in C
            body = block[2:-2].replace(b"],[", b",\n") + b",\n"
            if heads is None:
                self._write(body)
                return
            rows = body.split(b"\n")
            pieces = [b"\n"] * (2 * n)
            pieces[0::2] = [head + row for head, row in zip(heads, rows, strict=False)]
            self._write(b"".join(pieces))
            return
        fields = block[1:-1].translate(None, b"[]").split(b",")
        glue = self.glue
        m = len(glue) - 1  # numbers per row
        step = 2 * m + 2  # per row: head, glue, number, glue, number, ..., glue
        pieces: list[bytes] = [b""] * (step * n)
        if heads is not None:
            pieces[0::step] = heads
        elif self.fmt == "jsonl":
            pieces[0::step] = [b"{"] * n
        for j, text in enumerate(glue):
            pieces[2 * j + 1 :: step] = [text] * n
        for j in range(m):
            pieces[2 * j + 2 :: step] = fields[j::m]
        for r, err in result.errors.items():
            line = self._error_line(chunk, r, err, first_row + r, fields[r * m : (r + 1) * m])
            pieces[r * step : (r + 1) * step] = [line] + [b""] * (step - 1)
        self._write(b"".join(pieces))

    def _heads(self, chunk: Chunk) -> list[bytes] | None:
        """Per row, the text that starts its record (CSV: its own cells and a comma;
        JSON: "{" and the pass-through keys), or None when there is none."""
        if self.fmt == "csv":
            if not self.lead_names:
                return None
            if chunk.lead is not None:
                return [(line + ",").encode() for line in chunk.lead]
            rows = chunk.extra_rows or [None] * chunk.size
            return [_csv_head(self.lead_names, extra) for extra in rows]
        if chunk.extra_rows is not None:
            return [b"{" if not extra else _json_head(extra.items()) for extra in chunk.extra_rows]
        if chunk.extra_cols:
            names = [name for name in self.lead_names if name not in self.inputs]
            rows = zip(*chunk.extra_cols, strict=True)
            return [_json_head(zip(names, cells, strict=True)) for cells in rows]
        return None

    def _error_line(self, chunk: Chunk, r: int, err: GradError, row: int, fields: list[bytes]) -> bytes:
        heads = self._heads(_slice(self.np, chunk, self.np.array([r])))
        head = b"" if heads is None else heads[0]
        if self.fmt == "csv":
            given = chunk.raw.get(r)
            cells = [
                _csv_cell(given.get(name, "")) if given is not None else fields[j].decode()
                for j, name in enumerate(self.numeric_inputs)
            ]
            cells += [""] * (len(fields) - len(cells))
            cells.append(_csv_cell(f"{err.kind}: {err.message}"))
            return head + (",".join(cells) + "\n").encode()
        record = json.dumps({"kind": err.kind, "message": err.message}, ensure_ascii=False)
        return (head or b"{") + f'"row": {row}, "error": {record}}}\n'.encode()


# --- the command -----------------------------------------------------------------------------


@dataclass
class BatchSummary:
    """What a batch did: how many records it wrote and which rows failed (the first few)."""

    rows: int = 0
    failed: int = 0
    first_failed: list[int] = field(default_factory=list)


def _open(path: str, stdin: Any) -> tuple[Any, bool]:
    if path == "-":
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
) -> BatchSummary:
    """Evaluate ``graph`` at every row of ``batch`` (a path, or ``-``) times every
    point of ``grids``, writing one record per point to ``out`` in ``fmt``."""
    np = load_numpy()
    out = out if out is not None else sys.stdout
    names = resolve_wrt(graph, wrt)
    defaults = _defaults(graph, bindings)
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
    writer = _Writer(np, out, graph, names, fmt)
    summary = BatchSummary()

    stream, owned = (None, False)
    source: _Source | None = None
    # Rows that overflow become error records: never a NumPy warning on standard error.
    with np.errstate(all="ignore"):
        try:
            if batch is not None:
                stream, owned = _open(batch, stdin if stdin is not None else sys.stdin.buffer)
                kind = input_format or _sniff(stream)
                source = _Source(np, graph, stream, kind, defaults, grid_names, step)
                chunks: Iterator[Chunk] = source.chunks()
            else:
                chunks = _single(np, graph, defaults, grid_names)
            first_row = 1
            for chunk in _with_grid(np, chunks, grid, step):
                if not writer.started:
                    writer.start(_extra_names(source, chunk))
                result = _evaluate_arrays(
                    np, graph, chunk.columns, names, chunk.errors, chunk.size, check_inputs=False
                )
                writer.write(chunk, result, first_row)
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
        finally:
            if source is not None:
                source.close()
            if owned and stream is not None:
                stream.close()
    return summary


def _extra_names(source: _Source | None, chunk: Chunk | None) -> list[str]:
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
