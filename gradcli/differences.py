"""Finite differences along one input, and how far to trust them.

What ``check`` compares the reverse mode with: f evaluated again along one input
(only the nodes downstream of it), central and one-sided differences, a ladder of
steps combined by Richardson's extrapolation, a bound on the rounding in f from the
evaluated graph, and the two one-sided slopes at a kink. The verdicts, and the
words that explain them, are in :mod:`gradcli.gradcheck`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .api import run
from .errors import GradError
from .evaluate import Result, forward
from .graph import Graph

EPS = math.ulp(1.0)
CBRT_EPS = EPS ** (1.0 / 3.0)  # ∛ε ≈ 6.06e-6
#: A library function may be off by a few units in the last place, not half of one.
ROUNDING_SAFETY = 4.0
#: A disagreement counts only beyond this many times the estimate's own error.
MARGIN = 4.0
RATIO = 4.0  # the ladder's step ratio
LADDER = [RATIO**k for k in (2, 1)] + [RATIO**-k for k in range(0, 19)]


def downstream(consumers: list[list[int]], start: int | None, seen: list[int]) -> list[int]:
    """The ids of the nodes that depend on node ``start``, in topological order.
    ``seen`` is scratch space, one slot per node, left marked with ``start``."""
    if start is None:  # an input the output does not use
        return []
    stack = [start]
    ids: list[int] = []
    while stack:
        for c in consumers[stack.pop()]:
            if seen[c] != start:
                seen[c] = start
                ids.append(c)
                stack.append(c)
    ids.sort()
    return ids


def node_plan(graph: Graph) -> list[tuple[int, Callable[..., float], int, int, tuple[int, ...] | None]]:
    """Per node, what the loop needs: (id, forward, first operand, second operand or -1,
    all operands when more than two). Leaves get a placeholder."""
    out: list[tuple[int, Callable[..., float], int, int, tuple[int, ...] | None]] = []
    for node in graph.nodes:
        ins = node.inputs
        if node.op is None:
            out.append((node.id, float, -1, -1, None))
            continue
        second = ins[1] if len(ins) == 2 else -1
        out.append((node.id, node.op.forward, ins[0], second, ins if len(ins) > 2 else None))
    return out


class Along:
    """f as a function of one input, the others held: evaluates only the nodes
    downstream of that input, in ``values`` (shared by every row: each evaluation puts
    back what it changed), from the values at the point; memoised."""

    def __init__(
        self, graph: Graph, result: Result, name: str, down: list[int], spent: list[int],
        shared: tuple[list[float], list[Any]],
    ) -> None:
        values, plan = shared
        self.spent = spent
        self.graph = graph
        self.point = result.inputs
        self.name = name
        self.id = graph.inputs[name]
        self.x = result.inputs[name]
        self.values = values
        self.base = result.values
        self.down = down
        self.plan = [plan[i] for i in down]
        self.out = len(graph.nodes) - 1
        self.memo: dict[float, float | GradError] = {self.x: result.value}
        self.first_error: GradError | None = None

    def __call__(self, at: float) -> float | None:
        """f at ``at``, or None (the first failure kept in ``first_error``)."""
        got = self.memo.get(at)
        if got is None:
            if math.isfinite(at):
                got = self.memo[at] = self._evaluate(at)
            else:
                got = GradError("overflow", f"{self.name} ± h is beyond the largest float")
        if isinstance(got, GradError):
            if self.first_error is None:
                self.first_error = got
            return None
        return got

    def _evaluate(self, at: float) -> float | GradError:
        self.spent[0] += len(self.plan) + 1
        values = self.values
        values[self.id] = at
        isfinite = math.isfinite
        try:
            for i, fn, a, b, many in self.plan:
                if many is not None:
                    value = fn(*[values[k] for k in many])
                elif b < 0:
                    value = fn(values[a])
                else:
                    value = fn(values[a], values[b])
                if not isfinite(value):
                    raise ValueError
                values[i] = value
            return values[self.out]
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            # Rare: let the full evaluator word the error.
            try:
                forward(self.graph, {**self.point, self.name: at})
            except GradError as err:
                return err.kept()
            return GradError("domain", f"f cannot be evaluated at {self.name} = {at!r}")
        finally:
            values[self.id] = self.x
            base = self.base
            for i in self.down:
                values[i] = base[i]


def rounding_noise(graph: Graph, result: Result, down: list[int]) -> tuple[float, int | None]:
    """How far rounding can move f (absolute), counting the nodes that depend on the
    input (the others are the same on both sides of a step), and the node that
    contributes most."""
    total, worst, worst_id = 0.0, 0.0, None
    values, grads = result.values, result.grads
    for i in down:
        g = grads[i]
        if not g:
            continue
        amount = abs(values[i] * g)
        total += amount
        if amount > worst:
            worst, worst_id = amount, i
    return ROUNDING_SAFETY * EPS * total, worst_id


def exact_step(x: float, h: float) -> float:
    """The step as the floats see it: (x + h) − x, so that the divisor is the true distance."""
    return (x + h) - x


def central_difference(f: Along, x: float, h: float) -> float | None:
    a, b = f(x + h), f(x - h)
    if a is None or b is None:
        return None
    d = (a - b) / (2 * h)
    return d if math.isfinite(d) else None


def one_sided_difference(f: Along, x: float, h: float, f0: float) -> float | None:
    """(−3f(x) + 4f(x + h) − f(x + 2h)) / 2h, h of either sign."""
    a, b = f(x + h), f(x + 2 * h)
    if a is None or b is None:
        return None
    d = (-3 * f0 + 4 * a - b) / (2 * h)
    return d if math.isfinite(d) else None


@dataclass
class Estimate:
    """Richardson's extrapolation over four neighbouring rungs of the ladder."""

    value: float  # extrapolated from the two smallest steps
    error: float  # how far the extrapolation moved from the rung before, plus rounding
    rounding: float  # how far rounding in f can move it
    step: float  # the smallest step
    method: str
    spread: tuple[float, float]  # (D at the largest step of the four, D at the smallest)
    settled: bool  # the four close in on a value, as for a smooth f


def ladder(f: Along, x: float, f0: float, h0: float, noise: float, method: str) -> list[Estimate]:
    """Differences over steps h0·4^k (largest first), neighbours combined by
    Richardson's extrapolation, every four neighbours summed up as an estimate."""
    sign = -1.0 if method == "backward" else 1.0
    # Rounding in each evaluation of f is at most ``noise``; the central formula
    # divides two of them by 2h, the one-sided two and six of them by 2h.
    per_step = 1.0 if method == "central" else 4.0
    rungs: list[tuple[float, float] | None] = []
    for factor in LADDER:
        h = exact_step(x, sign * h0 * factor)
        d = None
        if h != 0:
            d = central_difference(f, x, h) if method == "central" else one_sided_difference(f, x, h, f0)
        rungs.append(None if d is None else (abs(h), d))
    name = "richardson" if method == "central" else method
    out: list[Estimate] = []
    for quad in zip(rungs, rungs[1:], rungs[2:], rungs[3:], strict=False):
        if any(r is None for r in quad):
            continue
        (h0_, d0), (h1, d1), (h2, d2), (h3, d3) = quad  # type: ignore[misc]
        if not h0_ > h1 > h2 > h3:  # steps that rounded to the same float
            continue
        # The floats round x ± h, so the ratio of two rungs is near 4, not exactly 4.
        r12 = d2 + (d2 - d1) / ((h1 / h2) ** 2 - 1)
        r23 = d3 + (d3 - d2) / ((h2 / h3) ** 2 - 1)
        rounding = 2 * per_step * noise / h3  # the extrapolation weighs D(h/4) by 16/15
        error = abs(r23 - r12) + rounding
        if not (math.isfinite(r23) and math.isfinite(error)):
            continue
        # Settled: either the four differences agree to within rounding (f is linear
        # at this scale, or has a kink here), or they close in as a smooth f's do,
        # each change (h/h')² times the next, with the same sign. Differences that
        # grow as the step shrinks (cbrt near 0) or jump about (a step wider than the
        # wiggles of sin at 1e17) are not settled, however small one change looks.
        spread = max(d0, d1, d2, d3) - min(d0, d1, d2, d3)
        flat = spread <= 2 * rounding + 1e-12 * max(abs(d0), abs(d1), abs(d2), abs(d3))
        settled = flat or all(
            _shrinks(big, small, (ha / hb) ** 2)
            for big, small, ha, hb in ((d0 - d1, d1 - d2, h0_, h1), (d1 - d2, d2 - d3, h1, h2))
        )
        out.append(Estimate(r23, error, rounding, h3, name, (d0, d3), settled))
    return out


def _shrinks(big: float, small: float, expected: float) -> bool:
    """``big / small`` near ``expected`` (within a factor 2.5), same sign."""
    if small == 0 or big == 0 or (big > 0) != (small > 0):
        return False
    return expected / 2.5 <= big / small <= expected * 2.5


def authority(estimates: list[Estimate], scale: Callable[[float], float]) -> Estimate:
    """The estimate to trust: the derivative is the limit of small steps, so the one at
    the smallest steps whose rounding is well under the tolerance; when rounding is
    never that small, the one with the smallest error."""
    safe = [e for e in estimates if e.rounding <= 0.1 * scale(e.value)]
    if safe:
        return min(safe, key=lambda e: e.step)
    return min(estimates, key=lambda e: e.error / max(1.0, abs(e.value)))


def gradients_near(
    graph: Graph, result: Result, name: str, step: float, signs: tuple[float, ...] = (-1.0, 1.0)
) -> list[float] | None:
    """The reverse-mode gradient at x − step·4^k and x + step·4^k, k = 0..3 (that order,
    alternating sides); None when one cannot be computed."""
    x = result.inputs[name]
    out: list[float] = []
    for at in (x + sign * step * RATIO**k for k in range(4) for sign in signs):
        try:
            out.append(run(graph, {**result.inputs, name: at}, [name]).gradient[name])
        except GradError:
            return None
    return out


def kink_sides(graph: Graph, result: Result, name: str, step: float) -> list[tuple[float, float]] | None:
    """(spread, largest size) of the gradient on each side of a kink, over the steps
    used: a kink has a steady gradient on each side, a singularity does not."""
    near = gradients_near(graph, result, name, step)
    if near is None:
        return None
    return [(max(side) - min(side), max(abs(g) for g in side)) for side in (near[0::2], near[1::2])]


def kink_slopes(f: Along, x: float, f0: float, step: float, noise: float) -> tuple[float, float] | None:
    """(left slope, right slope) when they differ and the gap does not close as the
    step shrinks (as it would from mere curvature, in proportion to the step)."""

    def slopes(h: float) -> tuple[float, float, float] | None:
        h = exact_step(x, h)
        if not h:
            return None
        a, b = f(x + h), f(x - h)
        if a is None or b is None:
            return None
        right, left = (a - f0) / h, (f0 - b) / h
        return left, right, 2 * noise / h

    big, small = slopes(step), slopes(step / 16)
    if big is None or small is None:
        return None
    gap, gap_small = abs(big[1] - big[0]), abs(small[1] - small[0])
    if not math.isfinite(gap_small) or gap_small < 0.5 * gap or gap_small <= MARGIN * small[2]:
        return None
    if gap_small <= 1e-9 * max(1.0, abs(small[0]), abs(small[1])):
        return None
    return small[0], small[1]
