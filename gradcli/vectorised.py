"""The array evaluator: one program at many points, over NumPy arrays.

The forward loop and the reverse loop of :mod:`gradcli.evaluate`, with every
operation's ``vforward``/``vgrads`` from :mod:`gradcli.ops`. Where an array rule
gives NaN or ±inf on a row, that row is handed to the scalar rules, which either
give the value after all or the error ``gradcli eval`` gives at that point (same
kind, same message; an operand in it may differ in its last digit, as NumPy's log
or sin may from the math module's); the other rows go on.

NumPy is imported only by :func:`load_numpy`, when a batch runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bindings import resolve_wrt
from .errors import GradError, shorten
from .evaluate import backward, forward, wanted_nodes
from .graph import Graph
from .math_errors import math_error, non_finite_error

#: Floats held per chunk at most (node values), which bounds memory for big programs.
CHUNK_FLOATS = 1 << 22
#: A finite stand-in for the values of rows that already failed, so that the
#: finiteness checks of later nodes stay cheap; those rows are never reported.
FILLER = 0.5

#: NumPy is a dependency: missing, it means a broken install.
INSTALL_HINT = "pip install numpy"


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


@dataclass(eq=False)
class ArrayResult:
    """Values and gradients of a program at ``n`` points.

    ``value`` and each ``gradient[name]`` are float arrays of length ``n``;
    ``errors`` maps the index of each row that failed to its error, and in the
    arrays that row holds NaN (from :func:`evaluate_arrays`), never a number.
    """

    value: Any
    gradient: dict[str, Any]
    errors: dict[int, GradError] = field(default_factory=dict)

    @property
    def failed(self) -> Any:
        """A boolean array of length ``n``: True where the row failed (see ``errors``)."""
        mask = load_numpy().zeros(len(self.value), dtype=bool)
        mask[list(self.errors)] = True
        return mask


#: Rows evaluated at once: measured fastest (the arrays of a node stay in the CPU's
#: cache between its forward rule, its check and its consumers).
COMPUTE_ROWS = 32_768


def _compute_rows(graph: Graph) -> int:
    return max(64, min(COMPUTE_ROWS, CHUNK_FLOATS // max(1, len(graph.nodes))))


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
    listed in ``errors`` failed earlier and are skipped.

    A row that fails (here or in ``errors``) is NaN in ``value`` and in every
    gradient, and ``result.errors[row]`` says why (``result.failed`` is the mask).
    The arrays returned are the result's own: never one of ``columns``."""
    from .rows import Columns, array_floats

    np = load_numpy()
    failed = dict(errors or {})
    # Numbers as they are (NaN and None too: their error is eval's, below); a cell that
    # is no number (a bool, "1_000") is its row's error.
    floats = {
        name: array_floats(np, columns[name], Columns(np, name, math.nan), failed, as_they_are=True)
        for name in graph.inputs
    }
    # Overflow and the like are found and reported row by row: never a NumPy warning.
    with np.errstate(all="ignore"):
        result = evaluate_columns(np, graph, floats, wrt, failed, size, check_inputs=True)
    given = list(columns.values())

    def own(array: Any) -> Any:
        if any(np.may_share_memory(array, column) for column in given):
            return np.array(array, dtype=np.float64)
        return array

    result.value = own(result.value)
    result.gradient = {name: own(g) for name, g in result.gradient.items()}
    if result.errors:
        rows = list(result.errors)
        # One gradient array may serve two names (x + y): copies, then NaN.
        result.value = np.array(result.value, dtype=np.float64)
        result.value[rows] = np.nan
        result.gradient = {name: np.array(g, dtype=np.float64) for name, g in result.gradient.items()}
        for g in result.gradient.values():
            g[rows] = np.nan
    return result


def evaluate_columns(
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
    columns are finite already: every value went through :func:`~gradcli.bindings.coerce_value`)."""
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


def all_finite(value: Any) -> bool:
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
        if not all_finite(col):  # NaN or ±inf given from Python: the error `evaluate` gives
            bad = ~np.isfinite(col)
            for r in np.flatnonzero(bad).tolist():
                errors.setdefault(r, GradError(
                    "binding", f"the value of {shorten(name)} must be a finite number, not {float(col[r])!r}"
                ))
            cols = {**cols, name: np.where(bad, FILLER, col)}
    alive = np.ones(n, dtype=bool)
    for r in errors:
        alive[r] = False

    def node_of(name: str) -> int | None:
        return graph.inputs[name] if name in graph.inputs else graph.names[name]

    extra = [i for i in (node_of(name) for name in names) if i is not None]
    wanted = wanted_nodes(graph, extra)
    if graph.branches:  # each row evaluates only the branches it takes
        from .vbranches import evaluate_taken

        with np.errstate(all="ignore"):
            value, gradient, recheck = evaluate_taken(np, graph, cols, n, wanted, node_of, names)
        for r in np.flatnonzero(recheck & alive).tolist():
            _scalar_row(graph, cols, r, names, node_of, wanted, value, gradient, errors)
        return ArrayResult(value, gradient, errors)
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
                    value = FILLER
                values[node.id] = np.float64(value)
                continue
            varying[node.id] = True
            result = op.vforward(np, *args)  # type: ignore[misc]
            if not all_finite(result):
                bad = ~np.isfinite(result)
                result = np.where(bad, FILLER, result)
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
            if not sure[node.id] and not all_finite(g):  # a sum of finite parts that is not
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
                if not checked and not all_finite(contribution):
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
            if not sure[i] and not all_finite(g):  # type: ignore[index]
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
        errors[r] = err.kept()
        return
    value[r] = values[-1]
    for name in names:
        i = node_of(name)
        g = grads[i] if i is not None else None
        gradient[name][r] = 0.0 if g is None else g
