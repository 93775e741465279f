"""``check``: every reverse-mode gradient beside a finite difference.

For each input x the finite difference is the central one,
``(f(x + h) − f(x − h)) / 2h``, with the step ``h = ∛ε · max(1, |x|)`` (ε the
float epsilon, about 6e-6 · max(1, |x|)): the step that balances the truncation
error of the formula (∝ h²) against the rounding error of the subtraction
(∝ ε/h). ``eps`` sets h for every input instead.

Near the edge of a function's domain (``sqrt(x)`` at x = 1e-10, ``log`` near 0)
one side of the step can fall outside it. Then, with the default step, the step
shrinks until both sides are inside, then down a ladder of tenfold smaller steps,
and the estimate where two neighbours on the ladder agree best is kept (small
beside the distance to the edge, where the function curves, but not so small
that rounding takes over). With ``eps`` given, or when no step works, a one-sided
three-point difference ``(−3f(x) + 4f(x ± h) − f(x ± 2h)) / ±2h`` is used. Each row says which method
and step it used and why; a row no formula can compute is ``n/a`` with the reason.

A row agrees when ``|reverse − numeric| ≤ tol · max(1, |reverse|, |numeric|)``:
a relative error for gradients larger than 1, an absolute one below. With the
default step, a central difference that does not agree is refined once by
Richardson's extrapolation, ``(4·D(h/2) − D(h)) / 3`` (error ∝ h⁴, not h²: the
step grows with |x|, and so does the truncation error of ``exp(x)`` at 700), and
reported as ``richardson`` when that agrees. At a kink (``relu(x)`` at 0) the
reverse mode gives the convention (0) and the central difference the average of
the two slopes (0.5): that is reported as a disagreement, not hidden, with a note
naming the two slopes. Exit code 3 (kind ``"check"``) when any row is not
``ok``: a row that could not be checked is not a confirmed one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .api import compile, run
from .errors import GradError
from .evaluate import Result, forward
from .graph import Graph

#: The default tolerance: well above the ~1e-10 error of a central difference with
#: the default step on a smooth function, well below any real mistake.
DEFAULT_TOL = 1e-6

_CBRT_EPS = math.ulp(1.0) ** (1.0 / 3.0)  # ∛ε ≈ 6.06e-6

#: Verdicts of a row.
OK, DIFFERS, NOT_AVAILABLE = "ok", "differs", "n/a"


@dataclass(eq=False)
class CheckRow:
    """One input: its value, the reverse-mode gradient, the finite difference and the verdict.

    ``method`` is ``"central"``, ``"richardson"`` (the central difference refined from
    steps h and h/2), ``"forward"`` (one-sided, x + h and x + 2h),
    ``"backward"`` (x − h and x − 2h), or None when no difference could be formed.
    ``note`` says why the step or the method is not the default one, or why
    the row is ``n/a``."""

    name: str
    value: float
    reverse: float
    numeric: float | None
    abs_error: float | None
    rel_error: float | None
    step: float | None
    method: str | None
    verdict: str
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == OK

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "reverse": self.reverse,
            "numeric": self.numeric,
            "abs_error": self.abs_error,
            "rel_error": self.rel_error,
            "step": self.step,
            "method": self.method,
            "verdict": self.verdict,
            "note": self.note,
        }


@dataclass(eq=False)
class CheckResult:
    """The outcome of :func:`check`: one :class:`CheckRow` per input, in order of
    first appearance. ``ok`` is True when every row agrees."""

    source: str
    output: str | None
    value: float
    tol: float
    eps: float | None
    rows: list[CheckRow]
    result: Result = field(repr=False)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> list[CheckRow]:
        return [row for row in self.rows if not row.ok]

    def error(self) -> GradError | None:
        """The ``check`` error (exit 3) to raise when a row does not agree, else None."""
        bad = self.failures
        if not bad:
            return None
        names = ", ".join(row.name for row in bad)
        differ = sum(row.verdict == DIFFERS for row in bad)
        parts = []
        if differ:
            parts.append(f"{differ} differ{'s' if differ == 1 else ''} by more than tol {self.tol:g}")
        if len(bad) - differ:
            parts.append(f"{len(bad) - differ} could not be checked")
        return GradError(
            "check",
            f"{len(bad)} of {len(self.rows)} gradients do not agree with finite differences"
            f" ({names}): {' and '.join(parts)}",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "output": self.output,
            "value": self.value,
            "ok": self.ok,
            "tol": self.tol,
            "eps": self.eps,
            "inputs": dict(self.result.inputs),
            "gradients": {row.name: row.to_json() for row in self.rows},
        }


def check(
    source: str | Graph,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    output: str | None = None,
    eps: float | None = None,
    tol: float = DEFAULT_TOL,
    **kw_bindings: Any,
) -> CheckResult:
    """Compare every reverse-mode gradient of ``source`` at a point with a finite difference::

        >>> r = check("x^2 * y", x=3, y=2)
        >>> r.ok, [(row.name, row.reverse, row.verdict) for row in r.rows]
        (True, [('x', 12.0, 'ok'), ('y', 9.0, 'ok')])

    ``source`` is a program or a compiled :class:`~gradcli.graph.Graph`. ``eps`` fixes
    the step (default: ∛ε · max(1, |x|) per input); ``tol`` is the agreement
    threshold. A math error at the point itself raises :class:`GradError` (exit 1);
    a disagreement does not raise: see :attr:`CheckResult.ok` and :meth:`CheckResult.error`.
    """
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise GradError("usage", f"--eps {eps}: the step must be a positive number")
    if not (math.isfinite(tol) and tol >= 0):
        raise GradError("usage", f"--tol {tol}: the tolerance must be a number ≥ 0")
    graph = source if isinstance(source, Graph) else compile(source, output)
    point = dict(bindings or {})
    point.update(kw_bindings)
    result = run(graph, point)  # validates the bindings; a math error here is exit 1
    rows = [_row(graph, result, name, eps, tol) for name in graph.inputs]
    return CheckResult(graph.source, graph.output_name, result.value, tol, eps, rows, result)


def _row(graph: Graph, result: Result, name: str, eps: float | None, tol: float) -> CheckRow:
    x = result.inputs[name]
    reverse = result.gradient[name]
    base = dict(result.inputs)
    f0 = result.value

    def f(at: float) -> float:
        base[name] = at
        try:
            return forward(graph, base)[-1]
        finally:
            base[name] = x

    numeric, step, method, note = _difference(f, name, x, f0, eps)
    if numeric is None:
        return CheckRow(name, x, reverse, None, None, None, step, None, NOT_AVAILABLE, note)

    def agrees(estimate: float) -> bool:
        return abs(reverse - estimate) <= tol * max(1.0, abs(reverse), abs(estimate))

    if not math.isfinite(numeric):  # f near the float limit: the difference overflowed
        return CheckRow(
            name, x, reverse, None, None, None, step, None, NOT_AVAILABLE,
            "no finite difference: f(x ± h) is too close to the float limit",
        )
    if not agrees(numeric) and method == "central" and eps is None and note is None and step:
        # The default step is relative to |x|: for a large x the truncation error
        # (∝ h²) can reach the tolerance (exp(x) at x = 700). Richardson's extrapolation
        # from h and h/2 cancels that term. It cannot turn a wrong gradient or a kink
        # into a right one, because it only estimates f' better; when it does not
        # agree either, the plain central difference is reported.
        refined = _richardson(f, x, step, numeric)
        if refined is not None and agrees(refined):
            note = f"the central difference {_g(numeric)} refined by Richardson's extrapolation (h and h/2)"
            numeric, method = refined, "richardson"
    abs_error = abs(reverse - numeric)
    scale = max(abs(reverse), abs(numeric))
    rel_error = abs_error / scale if scale else 0.0
    agree = agrees(numeric)
    if not agree and step is not None:
        # Rounding in f alone moves the difference by about ε·|f|/h: say so when that
        # is what stands between the two numbers, rather than blame the gradient.
        noise = 4 * math.ulp(1.0) * max(abs(f0), 1e-300) / step
        if noise > tol * max(1.0, scale):
            extra = (
                f"|f| is large beside its change over the step: rounding alone can move the"
                f" difference by about {noise:.2g}; a larger --eps may help"
            )
            note = f"{note}; {extra}" if note else extra
    if not agree and method in ("central", "richardson"):
        hint = _kink(f, x, f0, step)
        if hint is None and note is None:
            hint = _step_dependence(f, x, step, numeric, tol)
        if hint is not None:
            note = f"{note}; {hint}" if note else hint
    return CheckRow(
        name, x, reverse, numeric, abs_error, rel_error, step, method,
        OK if agree else DIFFERS, note,
    )


def _richardson(f: Callable[[float], float], x: float, h: float, central_h: float) -> float | None:
    """(4·D(h/2) − D(h)) / 3, where D is the central difference: error O(h⁴), not O(h²)."""
    half = _exact_step(x, h / 2)
    if not half:
        return None
    try:
        central_half = (f(x + half) - f(x - half)) / (2 * half)
    except GradError:  # pragma: no cover - inside the interval already evaluated
        return None
    refined = central_half + (central_half - central_h) / 3  # (4·D(h/2) − D(h))/3 without overflow
    return refined if math.isfinite(refined) else None


def _kink(f: Callable[[float], float], x: float, f0: float, step: float | None) -> str | None:
    """When the slopes on the two sides differ, and the gap does not close as the step
    shrinks (as it would from mere curvature), say so: x is at a kink, where the
    central difference averages the slopes and the reverse mode uses a convention."""
    if not step:
        return None

    def slopes(h: float) -> tuple[float, float]:
        return (f(x + h) - f0) / h, (f0 - f(x - h)) / h

    try:
        right, left = slopes(step)
        small = _exact_step(x, step / 16)
        if not small:
            return None
        right_small, left_small = slopes(small)
    except GradError:  # pragma: no cover - the central difference evaluated both sides
        return None
    gap, gap_small = abs(right - left), abs(right_small - left_small)
    if gap <= 1e-3 * max(1.0, abs(right), abs(left)) or gap_small < 0.5 * gap:
        return None
    return (
        f"the slopes on the two sides differ ({_g(left)} and {_g(right)}): a kink, where the"
        " central difference is their average and the reverse mode a convention"
    )


def _step_dependence(
    f: Callable[[float], float], x: float, step: float | None, numeric: float, tol: float
) -> str | None:
    """When a much smaller step gives a different difference, f changes on a scale
    finer than the step (cbrt(x) at x = 1e-300): say so, with both numbers."""
    if not step:
        return None
    small = _exact_step(x, step / 1000)
    if not small:
        return None
    try:
        finer = (f(x + small) - f(x - small)) / (2 * small)
    except GradError:
        return None
    if not math.isfinite(finer) or abs(finer - numeric) <= tol * max(1.0, abs(finer), abs(numeric)):
        return None
    return (
        f"the difference depends on the step ({_g(numeric)} at h, {_g(finer)} at h/1000): f changes"
        " on a scale finer than the step; a smaller --eps may help"
    )


def _g(value: float) -> str:
    return "0" if value == 0 else f"{value:.6g}"


def _exact_step(x: float, h: float) -> float:
    """The step as the floats see it: (x + h) − x, so that the divisor is the true distance."""
    return (x + h) - x


def _difference(
    f: Callable[[float], float], name: str, x: float, f0: float, eps: float | None
) -> tuple[float | None, float | None, str | None, str | None]:
    """(numeric derivative, step, method, note) for f at x; numeric None when impossible."""
    h0 = eps if eps is not None else _CBRT_EPS * max(1.0, abs(x))
    first_error: GradError | None = None

    def central(h: float) -> float | None:
        nonlocal first_error
        h = _exact_step(x, h)
        if h == 0:
            return None
        try:
            return (f(x + h) - f(x - h)) / (2 * h)
        except GradError as err:
            if first_error is None:
                first_error = err
            return None

    numeric = central(h0)
    if numeric is not None:
        return numeric, _exact_step(x, h0), "central", None

    if eps is None:
        # One side left the domain (or overflowed), so the edge is nearer than h0. Find
        # the largest step that stays inside, then walk down a ladder of smaller ones and
        # keep the estimate where two neighbours agree best: small beside the distance
        # to the edge (truncation) but not so small that rounding takes over.
        tries = [h0 / 10**k for k in range(1, 13)]
        if x:
            tries += [abs(x) / 10**k for k in range(17)]
        for h in sorted({h for h in tries if h < h0}, reverse=True):
            if _exact_step(x, h) == 0 or central(h) is None:
                continue
            ladder = []
            for j in range(9):
                step = _exact_step(x, h / 10**j)
                estimate = central(step) if step else None
                if estimate is None:
                    break
                ladder.append((step, estimate))
            if len(ladder) >= 2:
                best = min(range(1, len(ladder)), key=lambda i: abs(ladder[i][1] - ladder[i - 1][1]))
                step, numeric = ladder[best]
                return numeric, step, "central", (
                    f"step reduced: f cannot be evaluated at {name} ± {h0:.2g} ({_reason(first_error)})"
                )
            break

    # One-sided, second order: (−3f(x) + 4f(x ± h) − f(x ± 2h)) / ±2h.
    for sign, method in ((1.0, "forward"), (-1.0, "backward")):
        h = _exact_step(x, sign * h0)
        if h == 0:
            continue
        try:
            numeric = (-3 * f0 + 4 * f(x + h) - f(x + 2 * h)) / (2 * h)
        except GradError as err:
            if first_error is None:
                first_error = err
            continue
        return numeric, abs(h), method, (
            f"one-sided: f cannot be evaluated at {name} {'−' if sign > 0 else '+'} {abs(h):.2g}"
            f" ({_reason(first_error)})"
        )
    return None, abs(h0), None, (
        f"no finite difference: f cannot be evaluated on either side ({_reason(first_error)})"
    )


def _reason(err: GradError | None) -> str:
    return err.message if err is not None else "the step rounds to 0"
