"""``fit``: the tutorials' training loop on data.

The program is the loss of one row. Its inputs that are columns of the data take
each row's values, the parameters (``params``) are fitted from their bound
starting values, and every other input keeps its binding. Each step moves the
parameters by one of ``descend``'s update rules (:class:`~gradcli.descent.Rule`)
along the gradient of the mean loss over one minibatch of rows; an epoch is one
pass over the rows, in an order shuffled by ``seed`` (NumPy's ``default_rng``)
unless ``shuffle`` is False. After each epoch the mean loss and the gradient
over all rows are computed: the fit has converged when that gradient's norm is
under ``tol``, and those epochs, thinned, are the history.

The data is read once into float64 columns (:mod:`gradcli.fitdata`) and every
step is vectorised over its minibatch (:mod:`gradcli.fitplan`, with the batch
engine :mod:`gradcli.vectorised` for a minibatch that fails or a program with a
lazy ``if``). The same data, options and seed give bit-identical results.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .api import compile
from .bindings import chosen_inputs, coerce_value, unknown_binding
from .descent import (
    DEFAULT_ADAM_EPS,
    DEFAULT_BETA1,
    DEFAULT_BETA2,
    DEFAULT_HISTORY,
    DEFAULT_LR,
    DEFAULT_MOMENTUM,
    DEFAULT_NEWTON_LR,
    DEFAULT_TOL,
    METHODS,
    Rule,
    Step,
    Thinned,
    at_step,
    check_options,
)
from .errors import GradError, shorten
from .graph import Graph

DEFAULT_EPOCHS = 100
#: The most epochs a fit may ask for; more is refused up front.
MAX_EPOCHS = 10_000_000

#: Called as progress(epoch, loss, grad_norm) after every epoch.
FitProgress = Callable[[int, float, float], None]


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`: still a KeyboardInterrupt; ``result`` holds the last
    good parameters (its ``error`` of kind ``interrupted`` says at which step)."""

    def __init__(self, result: FitResult) -> None:
        super().__init__()
        self.result = result


@dataclass(eq=False)
class FitResult:
    """The outcome of :func:`fit`: the fitted ``params``, the mean ``loss`` over all
    rows there (None when a math error leaves it undefined) and its gradient norm,
    the epochs and steps taken, whether it ``converged``, the thinned ``history``
    (one row per epoch kept: epoch, loss, gradient norm, parameters) and the
    ``error`` that stopped it, if any (``error_step`` is the step, ``error_row``
    the data's row, from 0, and ``error_line`` its line in the file)."""

    source: str
    output: str | None
    params: dict[str, float]
    loss: float | None
    grad_norm: float | None
    gradient: dict[str, float]
    rows: int
    epochs: int
    steps: int
    converged: bool
    method: str
    lr: float
    batch_size: int
    seed: int
    shuffle: bool
    tol: float
    max_epochs: int
    history: list[Step]
    hyper: dict[str, float]
    output_label: str = "f"
    error: GradError | None = None
    error_step: int | None = None
    error_row: int | None = None
    error_line: int | None = None

    @property
    def good(self) -> bool:
        """Whether the parameters are a good point, which ``--save`` may write: the fit
        finished, or it stopped (Ctrl-C, a singular Hessian, a step too far) where the
        mean loss over every row is still a number."""
        return self.error is None or self.loss is not None

    def to_json(self) -> dict[str, Any]:
        err = None
        if self.error is not None:
            err = {**self.error.to_json(), "step": self.error_step}
            if self.error_row is not None:
                err["row"] = self.error_row + 1
                err["data_line"] = self.error_line
        return {
            "source": self.source,
            "params": dict(self.params),
            "loss": self.loss,
            "grad_norm": self.grad_norm,
            "rows": self.rows,
            "epochs": self.epochs,
            "steps": self.steps,
            "converged": self.converged,
            "method": self.method,
            "lr": self.lr,
            **self.hyper,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "tol": self.tol,
            "history": [
                {"epoch": row.step, "loss": row.value, "grad_norm": row.grad_norm, "params": row.point}
                for row in self.history
            ],
            "error": err,
        }

    def _repr_html_(self) -> str | None:  # Jupyter: the outcome and the thinned history
        try:
            from .display import fit_html

            return fit_html(self)
        except Exception:  # a repr never raises: the plain repr stays
            return None


class _Failed(Exception):
    """A minibatch whose loss or gradient is not a number: the error and the row."""

    def __init__(self, error: GradError, row: int | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.row = row


def fit(
    source: str | Graph,
    data: Any,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    params: Sequence[str],
    output: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int | None = None,
    lr: float | None = None,
    method: str = "gd",
    seed: int = 0,
    shuffle: bool = True,
    tol: float = DEFAULT_TOL,
    history: int = DEFAULT_HISTORY,
    momentum: float = DEFAULT_MOMENTUM,
    beta1: float = DEFAULT_BETA1,
    beta2: float = DEFAULT_BETA2,
    adam_eps: float = DEFAULT_ADAM_EPS,
    input_format: str | None = None,
    progress: FitProgress | None = None,
    stdin: Any = None,
    **kw_bindings: Any,
) -> FitResult:
    """Fit ``params`` of the per-row loss ``source`` to ``data``::

        >>> r = fit("(a*x + b - y)^2", {"x": [0, 1, 2, 3], "y": [1, 3, 5, 7]},
        ...         params=["a", "b"], a=0, b=0, lr=0.1, epochs=2000)
        >>> r.converged, round(r.params["a"], 4), round(r.params["b"], 4)
        (True, 2.0, 1.0)

    ``data`` is a mapping of columns (lists or NumPy arrays) or a path to CSV or
    JSON Lines (``-``: standard input). Bad data or options raise
    :class:`GradError` before any step; a math error part-way is returned in
    :attr:`FitResult.error` with the last parameters reached.
    """
    from .fitdata import read_data
    from .vectorised import load_numpy

    np = load_numpy()
    if method not in METHODS:
        raise GradError("usage", f"--method {method}: the methods are {', '.join(METHODS)}")
    if lr is None:
        lr = DEFAULT_NEWTON_LR if method == "newton" else DEFAULT_LR
    check_options(lr, 0, tol, method, history, momentum, beta1, beta2, adam_eps)  # descend's checks
    _check_counts(epochs, batch_size, seed)
    graph = source if isinstance(source, Graph) else compile(source, output)
    names = _param_names(graph, params)
    raw = dict(bindings or {})
    raw.update(kw_bindings)
    values: dict[str, float] = {}
    for name, value in raw.items():
        if name not in graph.inputs:
            raise GradError("binding", unknown_binding(graph, name))
        values[name] = coerce_value(name, value)
    missing = [name for name in names if name not in values]
    if missing:
        listed = ", ".join(shorten(n) for n in missing)
        raise GradError(
            "binding",
            f"--params {listed}: a parameter needs a starting value; bind it as"
            f" {' '.join(f'--{shorten(n)} VALUE' if len(n) > 1 else f'-{n} VALUE' for n in missing[:5])}",
        )
    with np.errstate(all="ignore"):
        table = read_data(np, graph, data, names, values, input_format=input_format, stdin=stdin)
        return _train(
            np, graph, table, names, [values[n] for n in names],
            epochs=epochs, batch_size=batch_size, lr=lr, method=method, seed=seed, shuffle=shuffle,
            tol=tol, history=history,
            rule=Rule(method, lr, len(names), momentum=momentum, beta1=beta1, beta2=beta2, adam_eps=adam_eps),
            progress=progress,
        )


def _train(
    np: Any, graph: Graph, table: Any, names: list[str], x: list[float], *, epochs: int,
    batch_size: int | None, lr: float, method: str, seed: int, shuffle: bool, tol: float, history: int,
    rule: Rule, progress: FitProgress | None,
) -> FitResult:
    from .fitplan import Plan

    n = table.rows
    size = n if batch_size is None else min(batch_size, n)
    plan = Plan(np, graph, list(table.columns), names, table.constants)
    columns = table.columns

    def evaluate(rows: Any, point: list[float]) -> tuple[float, list[float]]:
        """Mean loss and gradient over ``rows`` (an index array or a slice) at ``point``."""
        count = len(rows) if not isinstance(rows, slice) else min(rows.stop, n) - rows.start
        if plan.usable:
            fast = plan.step(columns, rows, count, point)
            if fast is not None:
                return fast
        return careful_step(np, graph, table, names, rows, count, point)

    def norm_of(g: list[float]) -> float:
        norm = math.hypot(*g)  # hypot: no overflow on the way, only where the norm itself is past
        if not math.isfinite(norm):  # the floats (each part finite): a math error, as in descend
            raise _Failed(GradError("overflow", "the gradient norm is too large for a float"), None)
        return norm

    newton = _Newton(np, graph, table, names) if method == "newton" else None

    path = Thinned(history, epochs)
    step = 0
    epoch = 0
    error: GradError | None = None
    error_step: int | None = None
    error_row: int | None = None
    everything = slice(0, n)
    loss: float | None
    try:
        loss, g = evaluate(everything, x)
        norm = norm_of(g)
    except _Failed as failed:  # the starting point itself: nothing to report but the error
        raise _located(failed.error, table, failed.row) from None
    last_row = Step(0, loss, norm, dict(zip(names, x, strict=True)))
    path.add(last_row)
    rng = np.random.default_rng(seed) if shuffle and size < n else None
    full = size >= n  # one step per epoch, over every row: its gradient is the epoch's own
    try:
        while norm >= tol and epoch < epochs:
            order = rng.permutation(n) if rng is not None else None
            for start in range(0, n, size):
                if newton is not None:
                    rows = (order[start:start + size] if order is not None else slice(start, start + size))
                    try:
                        new = newton.step(rows, x, lr)
                    except _Failed as failed:
                        row = failed.row
                        if row is not None and order is not None:
                            row = int(order[start + row])
                        elif row is not None:
                            row = start + row
                        raise _Failed(failed.error, row) from None
                    x, step = new, step + 1
                    continue
                if full:
                    batch_g = g
                else:
                    rows = order[start:start + size] if order is not None else slice(start, start + size)
                    try:
                        _, batch_g = evaluate(rows, x)
                    except _Failed as failed:
                        row = failed.row
                        if row is not None:
                            row = int(order[start + row]) if order is not None else start + row
                        raise _Failed(failed.error, row) from None
                new = rule.step(x, batch_g)
                for name, xi in zip(names, new, strict=True):
                    if not math.isfinite(xi):
                        raise _Failed(GradError(
                            "overflow",
                            f"{name} is no longer a finite number: the fit diverged (try a smaller --lr)",
                        ), None)
                # One assignment: Ctrl-C lands before it or after it, never half-way.
                x, step = new, step + 1
            loss, g = evaluate(everything, x)
            norm = norm_of(g)
            epoch += 1
            last_row = Step(epoch, loss, norm, dict(zip(names, x, strict=True)))
            if path.wants(epoch):
                path.add(last_row)
            if progress is not None:
                progress(epoch, loss, norm)
    except _Failed as failed:
        # The parameters after `step` steps are the last reached; the next step, or
        # the pass over every row after them, met the error.
        error_step, error_row = step + 1, failed.row
        error = at_step(_located(failed.error, table, error_row), error_step, graph.source)
        try:  # a singular Hessian or a step too far stops at a point that is still good
            loss, g = evaluate(everything, x)
            norm = norm_of(g)
        except _Failed:
            loss = norm = None
    except KeyboardInterrupt:
        error = GradError(
            "interrupted",
            f"interrupted at step {step:,} (epoch {epoch + 1:,} of {epochs:,}): the parameters shown"
            " are the last good ones",
        )
        error_step = step
        try:
            loss, g = evaluate(everything, x)
            norm = norm_of(g)
        except (_Failed, KeyboardInterrupt):
            loss = norm = None
        # The history keeps whole epochs: the point reached part-way is the result's own.
        result = _result(graph, table, names, x, loss, norm, g, step, epoch, size, seed, shuffle, tol,
                         epochs, method, lr, rule, path.pick(last_row), error, error_step, None)
        raise FitInterrupted(result) from None
    return _result(graph, table, names, x, loss, norm, g, step, epoch, size, seed, shuffle, tol, epochs,
                   method, lr, rule, path.pick(last_row), error, error_step, error_row)


def _result(
    graph: Graph, table: Any, names: list[str], x: list[float], loss: float | None, norm: float | None,
    g: list[float], step: int, epoch: int, size: int, seed: int, shuffle: bool, tol: float, epochs: int,
    method: str, lr: float, rule: Rule, history: list[Step], error: GradError | None, error_step: int | None,
    error_row: int | None,
) -> FitResult:
    return FitResult(
        source=graph.source,
        output=graph.output_name,
        params=dict(zip(names, x, strict=True)),
        loss=loss,
        grad_norm=norm,
        gradient=dict(zip(names, g, strict=True)) if loss is not None else {},
        rows=table.rows,
        epochs=epoch,
        steps=step,
        converged=norm is not None and norm < tol,
        method=method,
        lr=lr,
        batch_size=size,
        seed=seed,
        shuffle=shuffle,
        tol=tol,
        max_epochs=epochs,
        history=history,
        hyper=rule.hyper(),
        output_label=graph.output_label(),
        error=error,
        error_step=error_step,
        error_row=error_row,
        error_line=table.line_of(error_row) if error_row is not None else None,
    )


class _Newton:
    """``--method newton``: each step moves by −lr·H⁻¹g, with g and H the gradient
    and the Hessian of the mean loss over the minibatch, from the second-order
    derivative program (:func:`gradcli.derive.derivative_program`) evaluated over
    the minibatch's rows."""

    def __init__(self, np: Any, graph: Graph, table: Any, names: list[str]) -> None:
        from .derive import derivative_program

        self.np = np
        self.table = table
        self.names = names
        self.program = derivative_program(graph, names, 2)

    def step(self, rows: Any, x: list[float], lr: float) -> list[float]:
        from .hessian import newton_step

        np, table, names = self.np, self.table, self.names
        cols = {name: col[rows] for name, col in table.columns.items()}
        count = len(next(iter(cols.values()))) if cols else (
            len(rows) if not isinstance(rows, slice) else min(rows.stop, table.rows) - rows.start
        )
        for name, value in zip(names, x, strict=True):
            cols[name] = np.full(count, value)
        for name, value in table.constants.items():
            cols[name] = np.full(count, value)
        out = self.program.evaluate_arrays(cols)
        if out["errors"]:
            r = min(out["errors"])
            raise _Failed(out["errors"][r], r)
        g = np.array([mean_of(np, out["gradient"][name], count) for name in names])
        h = np.array([[mean_of(np, cell, count) for cell in row] for row in out["hessian"]])
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            too_large = GradError("overflow", "the mean gradient or Hessian is too large for a float")
            raise _Failed(too_large, None)
        try:  # descend's Newton step: H⁻¹g, a singular Hessian refused by its condition number
            direction = newton_step(h.tolist(), g.tolist(), names)
        except GradError as err:
            raise _Failed(err, None) from None
        new = [xi - lr * di for xi, di in zip(x, direction, strict=True)]
        for name, xi in zip(names, new, strict=True):
            if not math.isfinite(xi):
                raise _Failed(GradError(
                    "overflow", f"{name} is no longer a finite number: the fit diverged (try a smaller --lr)"
                ), None)
        return new


def mean_of(np: Any, values: Any, count: int) -> float:
    """The mean of ``count`` rows' values: their sum over ``count``, or, where the sum
    alone is past the floats (two rows of 1e308), the sum of each over ``count``."""
    if not getattr(values, "ndim", 0):  # one value for every row
        total = float(values) * count
        return total / count if math.isfinite(total) else float(values)
    total = float(np.add.reduce(values))
    if math.isfinite(total):
        return total / count
    return float(np.add.reduce(np.asarray(values, dtype=np.float64) / count))


def careful_step(
    np: Any, graph: Graph, table: Any, names: list[str], rows: Any, count: int, x: list[float]
) -> tuple[float, list[float]]:
    """The minibatch through the batch engine: its mean loss and gradient, or the
    error of its first failing row (as ``eval`` would give it at that row)."""
    from .vectorised import evaluate_columns

    cols = {name: col[rows] for name, col in table.columns.items()}
    for name, value in zip(names, x, strict=True):
        cols[name] = np.full(count, value)
    for name, value in table.constants.items():
        cols[name] = np.full(count, value)
    result = evaluate_columns(np, graph, cols, names, None, count, check_inputs=False)
    if result.errors:
        r = min(result.errors)
        raise _Failed(result.errors[r], r)
    loss = mean_of(np, result.value, count)
    grad = [mean_of(np, result.gradient[name], count) for name in names]
    if not math.isfinite(loss):
        raise _Failed(GradError("overflow", "the mean loss is too large for a float"), None)
    if not all(map(math.isfinite, grad)):
        raise _Failed(GradError("overflow", "the mean gradient is too large for a float"), None)
    return loss, grad


def _located(error: GradError, table: Any, row: int | None) -> GradError:
    """The error, its message followed by the data's row that caused it."""
    if row is None:
        return error
    located = GradError(error.kind, f"{error.message} (at {table.where(row)})", error.span,
                        error.source)
    if error.stage is not None and error.node is not None:
        located.at(error.stage, error.node)
    return located


def _param_names(graph: Graph, params: Sequence[str]) -> list[str]:
    if isinstance(params, str):
        params = [p.strip() for p in params.split(",")]
    names = chosen_inputs(graph, params, "--params")
    for name in names:
        if graph.inputs[name] is None:
            raise GradError("usage", f"--params {shorten(name)}: the loss does not depend on {shorten(name)}")
    return names


def _check_counts(epochs: int, batch_size: int | None, seed: int) -> None:
    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(epochs) or epochs < 0:
        raise GradError("usage", f"--epochs {epochs}: the number of epochs must be a whole number ≥ 0")
    if epochs > MAX_EPOCHS:
        raise GradError("usage", f"--epochs {epochs}: at most {MAX_EPOCHS:,} epochs (the limit)")
    if batch_size is not None and (not whole(batch_size) or batch_size < 1):
        raise GradError("usage", f"--batch-size {batch_size}: a minibatch holds at least 1 row")
    if not whole(seed) or seed < 0:
        raise GradError("usage", f"--seed {seed}: the seed must be a whole number ≥ 0")
