"""``descend``: gradient descent on a program's inputs, the training loop of the tutorials.

    W = W − learning_rate · gradient

from the bound point, on the chosen variables (default: every input), the
others held fixed. Each step evaluates the compiled graph at the current point
(one forward and one reverse loop of :mod:`gradcli.evaluate`; nothing is parsed
or lowered again), stops when the gradient norm over the chosen variables falls
under ``tol`` (converged) or after ``steps`` updates, and otherwise moves the
point by one of three rules:

- ``gd``: ``x −= lr · g``;
- ``momentum`` (heavy ball, as PyTorch's SGD): ``v = μ·v + g``, ``x −= lr · v``
  with ``μ = 0.9``;
- ``adam`` (Kingma & Ba 2015): ``m = β1·m + (1−β1)·g``, ``v = β2·v + (1−β2)·g²``,
  ``x −= lr · m̂ / (√v̂ + ε)`` with bias-corrected ``m̂, v̂``, ``β1 = 0.9``,
  ``β2 = 0.999``, ``ε = 1e-8``;
- ``newton``: ``x −= lr · H⁻¹g`` with the Hessian H of :mod:`gradcli.hessian`
  (``lr`` = 1 by default): a singular or non-finite Hessian stops the descent like a
  math error, at the last good point.

``maximize`` climbs instead (the same rules on −f). A math error part-way (the
path walks into ``log`` of a negative number) stops the descent: the result keeps
the last good point and carries the error, naming the step.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .api import compile
from .bindings import chosen_inputs, resolve_point
from .errors import GradError, shorten
from .evaluate import backward, forward, wanted_nodes
from .graph import Graph, format_literal

METHODS = ("gd", "momentum", "adam", "newton")

DEFAULT_LR = 0.01
#: Newton's step is a whole step to the stationary point of the local quadratic.
DEFAULT_NEWTON_LR = 1.0
DEFAULT_STEPS = 1000
DEFAULT_TOL = 1e-6
DEFAULT_HISTORY = 11  # first, last, and every tenth of the way between
#: The most rows of the path a descent keeps: memory stays bounded whatever --history says.
MAX_HISTORY = 10_000
#: The most steps a descent takes: about a minute for a small program. More is
#: refused up front, never a run that does not end (Ctrl-C shows the point so far).
MAX_STEPS = 10_000_000
#: Steps in a row whose value rises (and gradient grows) before a descent is called
#: diverging: gradient descent with a small enough rate never rises; momentum and Adam
#: may overshoot for a while, so they get longer.
DIVERGING_STEPS = {"gd": 10, "momentum": 50, "adam": 50, "newton": 10}
DEFAULT_MOMENTUM = 0.9
DEFAULT_BETA1 = 0.9
DEFAULT_BETA2 = 0.999
DEFAULT_ADAM_EPS = 1e-8

#: Called as progress(step, value, grad_norm) after every evaluation.
Progress = Callable[[int, float, float], None]


@dataclass(eq=False)
class Step:
    """One row of the path: the point after ``step`` updates (the variables being
    descended), the value there and the gradient norm over those variables."""

    step: int
    value: float
    grad_norm: float
    point: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "value": self.value, "grad_norm": self.grad_norm, "inputs": self.point}


class DescentInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`descend`: still a KeyboardInterrupt, and ``result`` holds
    the last good point (its ``error`` of kind ``interrupted`` says at which step)."""

    def __init__(self, result: DescentResult) -> None:
        super().__init__()
        self.result = result


@dataclass(eq=False)
class DescentResult:
    """The outcome of :func:`descend`.

    ``inputs`` is the final point (every input, the fixed ones included), ``value``
    the output there, ``gradient`` its gradient toward the descended variables
    (``wrt``), ``steps`` the number of updates taken, ``converged`` whether the
    gradient norm fell under ``tol``. ``history`` is the thinned path: the first
    row, the last, and rows evenly spaced between. ``error`` is the math error
    that stopped the descent part-way (the result is then the last good point),
    and ``error_step`` the step that walked into it."""

    source: str
    output: str | None
    method: str
    lr: float
    maximize: bool
    tol: float
    max_steps: int
    wrt: list[str]
    steps: int
    converged: bool
    value: float
    grad_norm: float
    inputs: dict[str, float]
    gradient: dict[str, float]
    history: list[Step]
    evaluations: int
    hyper: dict[str, float] = field(default_factory=dict)
    error: GradError | None = None
    error_step: int | None = None
    #: The output's name in human output (Graph.output_label): never a name of the program.
    output_label: str = "f"
    diverged: bool = False

    def to_json(self) -> dict[str, Any]:
        err = None
        if self.error is not None:
            err = {**self.error.to_json(), "step": self.error_step}
        return {
            "source": self.source,
            "output": self.output,
            "method": self.method,
            "lr": self.lr,
            **self.hyper,
            "maximize": self.maximize,
            "wrt": list(self.wrt),
            "steps": self.steps,
            "converged": self.converged,
            "value": self.value,
            "grad_norm": self.grad_norm,
            "inputs": dict(self.inputs),
            "gradient": dict(self.gradient),
            "history": [row.to_json() for row in self.history],
            "diverged": self.diverged,
            "error": err,
        }

    def _repr_html_(self) -> str | None:  # Jupyter: the outcome and the thinned path
        try:
            from .display import descent_html

            return descent_html(self)
        except Exception:  # a repr never raises: the plain repr stays
            return None


class Rule:
    """One of the update rules (``gd``, ``momentum``, ``adam``) with its state: the
    one place they are written, for ``descend`` and ``fit`` alike. :meth:`step`
    returns the new point and leaves ``x`` as it was (the last good point)."""

    def __init__(
        self, method: str, lr: float, n: int, *, sign: float = 1.0, momentum: float = DEFAULT_MOMENTUM,
        beta1: float = DEFAULT_BETA1, beta2: float = DEFAULT_BETA2, adam_eps: float = DEFAULT_ADAM_EPS,
    ) -> None:
        self.method = method
        self.lr = lr
        self.sign = sign  # -1: climb (the same rules on −f)
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.adam_eps = adam_eps
        self.vel = [0.0] * n  # momentum's velocity, Adam's first moment
        self.sq = [0.0] * n  # Adam's second moment
        self.b1t = self.b2t = 1.0

    def hyper(self) -> dict[str, float]:
        """The rule's own settings, as the JSON output lists them."""
        if self.method == "momentum":
            return {"momentum": self.momentum}
        if self.method == "adam":
            return {"beta1": self.beta1, "beta2": self.beta2, "adam_eps": self.adam_eps}
        return {}

    def step(self, x: list[float], g: list[float]) -> list[float]:
        lr, sign = self.lr, self.sign
        if self.method == "gd":
            return [xi - sign * lr * gi for xi, gi in zip(x, g, strict=True)]
        if self.method == "momentum":
            momentum = self.momentum
            self.vel = [momentum * vi + sign * gi for vi, gi in zip(self.vel, g, strict=True)]
            return [xi - lr * vi for xi, vi in zip(x, self.vel, strict=True)]
        beta1, beta2 = self.beta1, self.beta2
        self.b1t *= beta1
        self.b2t *= beta2
        b1t, b2t, eps = self.b1t, self.b2t, self.adam_eps
        self.vel = [beta1 * mi + (1 - beta1) * sign * gi for mi, gi in zip(self.vel, g, strict=True)]
        self.sq = [beta2 * si + (1 - beta2) * gi * gi for si, gi in zip(self.sq, g, strict=True)]
        return [
            xi - lr * (mi / (1 - b1t)) / (math.sqrt(si / (1 - b2t)) + eps)
            for xi, mi, si in zip(x, self.vel, self.sq, strict=True)
        ]


class Thinned:
    """The rows of a path of unknown length, thinned as it grows: rows at multiples of
    a stride that doubles whenever the buffer holds more than ``capacity`` (memory
    stays flat for any number of steps; the stride stays small beside the spacing of
    the rows finally picked, so they come out evenly spaced or nearly)."""

    def __init__(self, limit: int, steps: int) -> None:
        # A path has steps + 1 points: more rows than that cannot be shown, and the
        # planned rows below are a set of at most that many.
        limit = max(2, min(limit, steps + 1))
        self.limit = limit
        self.capacity = max(4 * limit, 1024)
        self.stride = 1
        self.rows: list[Step] = []
        # A descent that runs all its steps gets exactly evenly spaced rows: those are
        # known in advance and always kept.
        self.planned = {round(i * steps / (limit - 1)) for i in range(limit)}
        self.kept: dict[int, Step] = {}

    def wants(self, step: int) -> bool:
        return step % self.stride == 0 or step in self.planned

    def add(self, row: Step) -> None:
        if row.step in self.planned:
            self.kept[row.step] = row
        if row.step % self.stride:
            return
        self.rows.append(row)
        if len(self.rows) > self.capacity:
            self.stride *= 2
            self.rows = [r for r in self.rows if r.step % self.stride == 0]

    def pick(self, last: Step) -> list[Step]:
        """At most ``limit`` rows: the first, ``last``, and those nearest to evenly
        spaced steps between."""
        if self.planned <= self.kept.keys() | {last.step}:
            return [self.kept.get(step, last) for step in sorted(self.planned)]
        rows = [r for r in self.rows if r.step < last.step] + [last]
        if len(rows) <= self.limit:
            return rows
        steps = [r.step for r in rows]
        chosen: list[int] = []
        for i in range(self.limit):
            target = i * last.step / (self.limit - 1)
            k = bisect.bisect_left(steps, target)
            if k > 0 and (k == len(steps) or target - steps[k - 1] <= steps[k] - target):
                k -= 1
            if not chosen or k > chosen[-1]:
                chosen.append(k)
        return [rows[k] for k in chosen]


def descend(
    source: str | Graph,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    output: str | None = None,
    wrt: Iterable[str] | None = None,
    lr: float | None = None,
    steps: int = DEFAULT_STEPS,
    tol: float = DEFAULT_TOL,
    method: str = "gd",
    maximize: bool = False,
    history: int = DEFAULT_HISTORY,
    momentum: float = DEFAULT_MOMENTUM,
    beta1: float = DEFAULT_BETA1,
    beta2: float = DEFAULT_BETA2,
    adam_eps: float = DEFAULT_ADAM_EPS,
    progress: Progress | None = None,
    **kw_bindings: Any,
) -> DescentResult:
    """Gradient descent on ``source`` from the bound point::

        >>> r = descend("(x-3)^2 + (y+1)^2", x=0, y=0, lr=0.1)
        >>> r.converged, round(r.inputs["x"], 4), round(r.inputs["y"], 4)
        (True, 3.0, -1.0)

    ``source`` is a program or a compiled :class:`~gradcli.graph.Graph`. Descends on
    the inputs named by ``wrt`` (default: all), the others held fixed. A math error
    at the starting point raises :class:`GradError`; one part-way is returned in
    :attr:`DescentResult.error` with the last good point. ``lr`` defaults to 0.01,
    and to 1 for ``method="newton"``.
    """
    if lr is None:
        lr = DEFAULT_NEWTON_LR if method == "newton" else DEFAULT_LR
    check_options(lr, steps, tol, method, history, momentum, beta1, beta2, adam_eps)
    graph = source if isinstance(source, Graph) else compile(source, output)
    raw = dict(bindings or {})
    raw.update(kw_bindings)
    point = resolve_point(graph, raw)
    names = chosen_inputs(graph, wrt)

    # Everything per step is prepared once: which nodes need a gradient, and where
    # each descended variable's gradient lands (None: the output does not use it).
    ids = [graph.inputs[name] for name in names]
    # Only gradients toward the descended inputs: one toward an input held fixed is
    # never computed, so it cannot stop the descent (sqrt'(0) for a fixed x = 0).
    wanted = wanted_nodes(graph, [i for i in ids if i is not None])
    second = None
    if method == "newton":  # the first-derivative program, built once for every step
        from .hessian import SecondOrder

        second = SecondOrder(graph, names)
    x = [point[name] for name in names]
    sign = -1.0 if maximize else 1.0  # climbing is descending on −f
    rule = Rule(method, lr, len(names), sign=sign, momentum=momentum, beta1=beta1, beta2=beta2,
                adam_eps=adam_eps)
    path = Thinned(history, steps)

    def finish(
        step: int, value: float, norm: float, x: list[float], g: list[float],
        error: GradError | None, error_step: int | None, diverged: bool,
    ) -> DescentResult:
        last = Step(step, value, norm, dict(zip(names, x, strict=True)))
        hyper = rule.hyper()
        return DescentResult(
            source=graph.source,
            output=graph.output_name,
            method=method,
            lr=lr,
            maximize=maximize,
            tol=tol,
            max_steps=steps,
            wrt=names,
            steps=step,
            converged=norm < tol,
            value=value,
            grad_norm=norm,
            inputs=dict(point),
            gradient=dict(zip(names, g, strict=True)),
            history=path.pick(last),
            evaluations=step + 1 + (error is not None and error.kind not in ("diverged", "interrupted")),
            hyper=hyper,
            error=error,
            error_step=error_step,
            output_label=graph.output_label(),
            diverged=diverged,
        )

    def gradient_at(values: list[float]) -> list[float]:
        grads = backward(graph, values, wanted)
        return [0.0 if i is None else (grads[i] or 0.0) for i in ids]

    def evaluate_at() -> tuple[list[float], list[float], Any]:
        """The values (the output last), the gradient and, for Newton, the Hessian."""
        if second is None:
            values = forward(graph, point)
            return values, gradient_at(values), None
        at = second.at(point)
        return [at.value], [at.gradient[name] for name in names], at.hessian

    def norm_of(g: list[float]) -> float:
        norm = math.hypot(*g)  # hypot, not sqrt(sum of squares): no overflow on the way
        if not math.isfinite(norm):
            raise GradError("overflow", "the gradient norm is too large for a float")
        return norm

    values, g, hess = evaluate_at()  # a math error at the start is the user's point: exit 1
    norm = norm_of(g)
    step = 0
    error: GradError | None = None
    error_step: int | None = None
    rising = 0  # steps in a row that went the wrong way with a growing gradient
    window = DIVERGING_STEPS[method]
    start_value = values[-1]
    diverged = False
    try:
        while True:
            value = values[-1]
            if progress is not None:
                progress(step, value, norm)
            if path.wants(step):
                path.add(Step(step, value, norm, dict(zip(names, x, strict=True))))
            if norm < tol or step >= steps:
                break
            # One update of the chosen rule, on a copy: the current point stays the last good one.
            # (Newton's step is solved below, where a singular Hessian stops the descent.)
            new = x if method == "newton" else rule.step(x, g)
            try:
                if method == "newton":  # the same step up or down: to where the gradient is 0
                    from .hessian import newton_step

                    new = [xi - lr * di for xi, di in zip(x, newton_step(hess, g, names), strict=True)]
                for name, xi in zip(names, new, strict=True):
                    if not math.isfinite(xi):
                        raise GradError(
                            "overflow",
                            f"{name} is no longer a finite number: the descent diverged (try a smaller --lr)",
                        )
                    point[name] = xi
                new_values, new_g, new_hess = evaluate_at()
                new_norm = norm_of(new_g)
            except GradError as err:
                error, error_step = at_step(err, step + 1, graph.source), step + 1
                for name, xi in zip(names, x, strict=True):  # back to the last good point
                    point[name] = xi
                break
            rising = rising + 1 if sign * (new_values[-1] - values[-1]) > 0 and new_norm > norm else 0
            # One assignment: Ctrl-C lands before it or after it, never half-way.
            x, values, g, hess, norm, step = new, new_values, new_g, new_hess, new_norm, step + 1
            if rising >= window:
                diverged = True
                value = values[-1]
                error, error_step = _diverging(window, start_value, value, lr, maximize, step), step
                if progress is not None:
                    progress(step, value, norm)
                if path.wants(step):
                    path.add(Step(step, value, norm, dict(zip(names, x, strict=True))))
                break
    except KeyboardInterrupt:
        for name, xi in zip(names, x, strict=True):  # the last good point, whole
            point[name] = xi
        stopped = GradError(
            "interrupted",
            f"interrupted at step {step:,} of {steps:,}: the point shown is the last good one",
        )
        partial = finish(step, values[-1], norm, x, g, stopped, step, False)
        raise DescentInterrupted(partial) from None
    return finish(step, values[-1], norm, x, g, error, error_step, diverged)


def _diverging(window: int, start: float, now: float, lr: float, maximize: bool, step: int) -> GradError:
    """The message that stops a descent going the wrong way."""
    way, goal = ("fell", "climb") if maximize else ("rose", "descent")
    return GradError(
        "diverged",
        f"step {step}: the value {way} in each of the last {window} steps, with a growing gradient"
        f" ({format_literal(start)} at the start, {format_literal(now)} now): the {goal} is diverging;"
        f" a smaller --lr helps (try --lr {lr / 10:g})",
    )


def at_step(err: GradError, step: int, source: str) -> GradError:
    """The same error, its message prefixed with the step that walked into it."""
    stepped = GradError(err.kind, f"step {step}: {err.message}", err.span, err.source or source)
    if err.stage is not None and err.node is not None:  # where it was born, kept
        stepped.at(err.stage, err.node)
    return stepped


def check_options(
    lr: float, steps: int, tol: float, method: str, history: int,
    momentum: float, beta1: float, beta2: float, adam_eps: float,
) -> None:
    def bad(option: str, value: object, why: str) -> GradError:
        return GradError("usage", f"--{option} {value}: {why}")

    if method not in METHODS:
        raise bad("method", method, f"the methods are {', '.join(METHODS)}")
    if not (math.isfinite(lr) and lr > 0):
        raise bad("lr", lr, "the learning rate must be a positive number")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise bad("steps", steps, "the number of steps must be a whole number ≥ 0")
    if steps > MAX_STEPS:
        raise bad("steps", shorten(str(steps)) if steps < 10**100 else "10^100 or more",
                  f"at most {MAX_STEPS:,} steps (the limit)")
    if not (math.isfinite(tol) and tol >= 0):
        raise bad("tol", tol, "the tolerance must be a number ≥ 0")
    if isinstance(history, bool) or not isinstance(history, int) or history < 2:
        raise bad("history", history, "keep at least 2 rows (the first and the last)")
    if min(history, steps + 1) > MAX_HISTORY:
        raise bad(
            "history", history,
            f"at most {MAX_HISTORY:,} rows (the limit): the path is thinned to --history rows,"
            f" so give {MAX_HISTORY:,} or fewer",
        )
    if not (0 <= momentum < 1):
        raise bad("momentum", momentum, "momentum must be in [0, 1)")
    if not (0 <= beta1 < 1):
        raise bad("beta1", beta1, "beta1 must be in [0, 1)")
    if not (0 <= beta2 < 1):
        raise bad("beta2", beta2, "beta2 must be in [0, 1)")
    if not (math.isfinite(adam_eps) and adam_eps > 0):
        raise bad("adam-eps", adam_eps, "Adam's epsilon must be a positive number")
