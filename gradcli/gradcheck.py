"""``check``: every reverse-mode gradient beside a finite difference, and a verdict.

For each input x the first estimate is the central difference
``D(h) = (f(x + h) − f(x − h)) / 2h`` with ``h = ∛ε · max(1, |x|)`` (ε the float
epsilon: about 6e-6 · max(1, |x|)), or ``--eps``. When it agrees with the
reverse-mode gradient the row is ``ok`` and nothing more is computed.

When it does not, the difference is not trusted blindly, because a finite
difference has errors of its own:

- truncation (the step is too coarse for how f curves: ``sin(x)`` at 30000, where
  h ≈ 0.18). A ladder of steps, each a quarter of the last, is walked and every
  neighbouring pair combined by Richardson's extrapolation
  ``R = D(h/4) + (D(h/4) − D(h)) / 15``; how much R moves from one rung to the
  next estimates its error;
- rounding (f is computed with rounding errors, and they are divided by h). Its
  size is bounded from the evaluated graph itself: each operation rounds its result
  by at most about ε·|value|, and that error reaches the output multiplied by the
  node's gradient, so f is known to within ``4ε · Σ |value · ∂f/∂node|`` over the
  nodes that depend on x (``1 − v^2/c^2`` with v ≪ c loses 11 digits, and this
  says so);
- the edge of a domain (``x^1.5`` at 0): steps that leave it are skipped, and where
  no central difference is possible a one-sided one ``(−3f(x) + 4f(x ± h) −
  f(x ± 2h)) / ±2h`` is used (and extrapolated the same way);
- a kink (``relu(x)`` at 0): the two one-sided slopes differ however small the
  step, so the derivative does not exist and the reverse mode gives a convention.

The estimate with the smallest error is reported. A row is ``ok`` when it agrees:
``|reverse − numeric| ≤ tol · max(1, |reverse|, |numeric|)``. It ``differs`` only
when the disagreement is also well beyond the estimate's own error (and, at a
kink, outside the range of the two slopes). Otherwise the row is ``cannot judge``
with a note that says why: the finite difference cannot resolve the gradient to
the tolerance, so it neither confirms nor refutes it.

Exit code 3 (kind ``"check"``) when a row differs; otherwise 4 (kind
``"unjudged"``) when a row cannot be judged; 0 when every row is ok.

Cost: only the nodes downstream of the perturbed input are evaluated again. The
first difference of every input must fit in :data:`WORK_LIMIT` node evaluations;
a larger program is refused up front (check fewer inputs with ``wrt``). The
closer look at rows that do not agree at once stops at :data:`TOTAL_LIMIT`: rows
past it cannot be judged, and say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .api import compile, run
from .errors import GradError
from .evaluate import Result, forward
from .graph import Graph

#: The default tolerance: well above the ~1e-10 error of a central difference with
#: the default step on a smooth function, well below any real mistake.
DEFAULT_TOL = 1e-6

#: The most node evaluations the first central difference of every input may take
#: together (two evaluations of the nodes downstream of each input); about a second.
WORK_LIMIT = 6_000_000
#: The most node evaluations a whole check may take, the closer looks included (a few seconds).
TOTAL_LIMIT = 15_000_000

_EPS = math.ulp(1.0)
_CBRT_EPS = _EPS ** (1.0 / 3.0)  # ∛ε ≈ 6.06e-6
#: A library function may be off by a few units in the last place, not half of one.
_ROUNDING_SAFETY = 4.0
#: A disagreement counts only beyond this many times the estimate's own error.
_MARGIN = 4.0
_RATIO = 4.0  # the ladder's step ratio
_LADDER = [_RATIO**k for k in (2, 1)] + [_RATIO**-k for k in range(0, 19)]

#: Verdicts of a row.
OK, DIFFERS, UNJUDGED = "ok", "differs", "cannot judge"


@dataclass(eq=False)
class CheckRow:
    """One input: its value, the reverse-mode gradient, the finite difference and the verdict.

    ``method`` is ``"central"``, ``"richardson"`` (central differences extrapolated
    from steps h and h/4), ``"forward"`` (one-sided, x + h and x + 2h),
    ``"backward"`` (x − h and x − 2h), or None when no difference could be formed.
    ``note`` says why the step or the method is not the default one, and why a
    row cannot be judged. Every number is finite or None."""

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
            "numeric": _finite(self.numeric),
            "abs_error": _finite(self.abs_error),
            "rel_error": _finite(self.rel_error),
            "step": _finite(self.step),
            "method": self.method,
            "verdict": self.verdict,
            "note": self.note,
        }


@dataclass(eq=False)
class CheckResult:
    """The outcome of :func:`check`: one :class:`CheckRow` per checked input, in order
    of first appearance. ``ok`` is True when every row agrees."""

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
        """The rows that differ: gradients the finite differences refute."""
        return [row for row in self.rows if row.verdict == DIFFERS]

    @property
    def unjudged(self) -> list[CheckRow]:
        """The rows the finite differences can neither confirm nor refute."""
        return [row for row in self.rows if row.verdict == UNJUDGED]

    def error(self) -> GradError | None:
        """The error to raise when a row is not ok: ``check`` (exit 3) when one differs,
        else ``unjudged`` (exit 4) when one cannot be judged; None when all agree."""
        bad, unsure = self.failures, self.unjudged
        if bad:
            names = ", ".join(row.name for row in bad)
            message = (
                f"{len(bad)} of {len(self.rows)} gradients do not agree with finite differences"
                f" ({names}): {'it differs' if len(bad) == 1 else 'they differ'} by more than"
                f" tol {self.tol:g} and than the differences' own error"
            )
            if unsure:
                message += f"; {len(unsure)} cannot be judged"
            return GradError("check", message)
        if unsure:
            names = ", ".join(row.name for row in unsure)
            return GradError(
                "unjudged",
                f"{len(unsure)} of {len(self.rows)} gradients cannot be judged by finite differences"
                f" ({names}): none disagrees, but these are not confirmed (the notes say why)",
            )
        return None

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
    wrt: Iterable[str] | None = None,
    **kw_bindings: Any,
) -> CheckResult:
    """Compare every reverse-mode gradient of ``source`` at a point with a finite difference::

        >>> r = check("x^2 * y", x=3, y=2)
        >>> r.ok, [(row.name, row.reverse, row.verdict) for row in r.rows]
        (True, [('x', 12.0, 'ok'), ('y', 9.0, 'ok')])

    ``source`` is a program or a compiled :class:`~gradcli.graph.Graph`. ``eps`` fixes
    the first step (default: ∛ε · max(1, |x|) per input); ``tol`` is the agreement
    threshold; ``wrt`` names the inputs to check (default: all). A math error at the
    point itself raises :class:`GradError` (exit 1); a disagreement does not raise:
    see :attr:`CheckResult.ok` and :meth:`CheckResult.error`.
    """
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise GradError("usage", f"--eps {eps}: the step must be a positive number")
    if not (math.isfinite(tol) and tol >= 0):
        raise GradError("usage", f"--tol {tol}: the tolerance must be a number ≥ 0")
    graph = source if isinstance(source, Graph) else compile(source, output)
    point = dict(bindings or {})
    point.update(kw_bindings)
    names = _check_names(graph, wrt)
    result = run(graph, point, names)  # validates the bindings; a math error here is exit 1
    _check_cost(graph, names)
    consumers = graph.consumers()
    plan = _plan(graph)
    seen = [-1] * len(graph.nodes)
    spent = [0]  # node evaluations so far, shared by the rows
    values = list(result.values)
    rows = []
    for name in names:
        down = _downstream(consumers, graph.inputs[name], seen)
        rows.append(_row(graph, result, name, down, eps, tol, spent, (values, plan)))
    return CheckResult(graph.source, graph.output_name, result.value, tol, eps, rows, result)


def _check_names(graph: Graph, wrt: Iterable[str] | None) -> list[str]:
    if wrt is None:
        return list(graph.inputs)
    names: list[str] = []
    for name in wrt:
        if name not in graph.inputs:
            what = "is computed by the program" if name in graph.names else "is not an input"
            raise GradError(
                "usage",
                f"--wrt {name}: {name} {what}; check perturbs inputs"
                f" ({', '.join(graph.inputs) or 'none'})",
            )
        if name not in names:
            names.append(name)
    return names


def _check_cost(graph: Graph, names: list[str]) -> None:
    """Refuse up front when the first difference of every input would take more than
    :data:`WORK_LIMIT` node evaluations: two per node downstream of each input.

    The sum over inputs of their downstream nodes is the sum over nodes of the inputs
    they depend on; counted up the graph (a node's count is the sum of its operands',
    at most the number of inputs), it is exact for a tree and an upper bound where
    nodes are shared. Over the limit by that count, the exact count decides."""
    checked = {graph.inputs[name] for name in names}
    counts = [0] * len(graph.nodes)
    used = [False] * len(graph.nodes)
    bound = 0
    exact = True  # no node that depends on a checked input is used twice
    cap = len(checked)
    for node in graph.nodes:
        if node.op is None:
            counts[node.id] = 1 if node.id in checked else 0
            continue
        c = 0
        for i in node.inputs:
            if counts[i]:
                c += counts[i]
                if used[i]:
                    exact = False
                used[i] = True
        counts[node.id] = c = min(c, cap)
        bound += c
    if 2 * bound <= WORK_LIMIT:
        return
    if exact:
        raise _too_costly(names)
    consumers = graph.consumers()
    total = 0
    seen = [-1] * len(graph.nodes)
    for k, start in enumerate(i for i in checked if i is not None):
        stack = [start]
        while stack and 2 * total <= WORK_LIMIT:
            for c in consumers[stack.pop()]:
                if seen[c] != k:
                    seen[c] = k
                    total += 1
                    stack.append(c)
        if 2 * total > WORK_LIMIT:
            raise _too_costly(names)


def _too_costly(names: list[str]) -> GradError:
    return GradError(
        "usage",
        f"check would evaluate more than {WORK_LIMIT:,} nodes for the finite differences of"
        f" its {len(names):,} inputs (the limit): check fewer inputs at a time with --wrt",
    )


def _downstream(consumers: list[list[int]], start: int | None, seen: list[int]) -> list[int]:
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


def _plan(graph: Graph) -> list[tuple[int, Callable[..., float], int, int, tuple[int, ...] | None]]:
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


class _Along:
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
                return err
            return GradError("domain", f"f cannot be evaluated at {self.name} = {at!r}")
        finally:
            values[self.id] = self.x
            base = self.base
            for i in self.down:
                values[i] = base[i]


def _rounding(graph: Graph, result: Result, down: list[int]) -> tuple[float, int | None]:
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
    return _ROUNDING_SAFETY * _EPS * total, worst_id


def _exact_step(x: float, h: float) -> float:
    """The step as the floats see it: (x + h) − x, so that the divisor is the true distance."""
    return (x + h) - x


def _central(f: _Along, x: float, h: float) -> float | None:
    a, b = f(x + h), f(x - h)
    if a is None or b is None:
        return None
    d = (a - b) / (2 * h)
    return d if math.isfinite(d) else None


def _one_sided(f: _Along, x: float, h: float, f0: float) -> float | None:
    """(−3f(x) + 4f(x + h) − f(x + 2h)) / 2h, h of either sign."""
    a, b = f(x + h), f(x + 2 * h)
    if a is None or b is None:
        return None
    d = (-3 * f0 + 4 * a - b) / (2 * h)
    return d if math.isfinite(d) else None


@dataclass
class _Estimate:
    """Richardson's extrapolation over four neighbouring rungs of the ladder."""

    value: float  # extrapolated from the two smallest steps
    error: float  # how far the extrapolation moved from the rung before, plus rounding
    rounding: float  # how far rounding in f can move it
    step: float  # the smallest step
    method: str
    spread: tuple[float, float]  # (D at the largest step of the four, D at the smallest)
    settled: bool  # the four close in on a value, as for a smooth f


def _ladder(f: _Along, x: float, f0: float, h0: float, noise: float, method: str) -> list[_Estimate]:
    """Differences over steps h0·4^k (largest first), neighbours combined by
    Richardson's extrapolation, every four neighbours summed up as an estimate."""
    sign = -1.0 if method == "backward" else 1.0
    # Rounding in each evaluation of f is at most ``noise``; the central formula
    # divides two of them by 2h, the one-sided two and six of them by 2h.
    per_step = 1.0 if method == "central" else 4.0
    rungs: list[tuple[float, float] | None] = []
    for factor in _LADDER:
        h = _exact_step(x, sign * h0 * factor)
        d = None
        if h != 0:
            d = _central(f, x, h) if method == "central" else _one_sided(f, x, h, f0)
        rungs.append(None if d is None else (abs(h), d))
    name = "richardson" if method == "central" else method
    out: list[_Estimate] = []
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
        out.append(_Estimate(r23, error, rounding, h3, name, (d0, d3), settled))
    return out


def _shrinks(big: float, small: float, expected: float) -> bool:
    """``big / small`` near ``expected`` (within a factor 2.5), same sign."""
    if small == 0 or big == 0 or (big > 0) != (small > 0):
        return False
    return expected / 2.5 <= big / small <= expected * 2.5


def _authority(estimates: list[_Estimate], scale: Callable[[float], float]) -> _Estimate:
    """The estimate to trust: the derivative is the limit of small steps, so the one at
    the smallest steps whose rounding is well under the tolerance; when rounding is
    never that small, the one with the smallest error."""
    safe = [e for e in estimates if e.rounding <= 0.1 * scale(e.value)]
    if safe:
        return min(safe, key=lambda e: e.step)
    return min(estimates, key=lambda e: e.error / max(1.0, abs(e.value)))


def _row(
    graph: Graph, result: Result, name: str, down: list[int], eps: float | None, tol: float,
    spent: list[int], shared: tuple[list[float], list[Any]],
) -> CheckRow:
    x = result.inputs[name]
    reverse = result.gradient[name]
    f0 = result.value
    h0 = eps if eps is not None else _CBRT_EPS * max(1.0, abs(x))
    if graph.inputs[name] is None:  # the output does not use it: f is flat along it
        return CheckRow(name, x, reverse, 0.0, abs(reverse), 1.0 if reverse else 0.0,
                        _exact_step(x, h0), "central", OK if reverse == 0 else DIFFERS, None)
    f = _Along(graph, result, name, down, spent, shared)

    def tolerance(estimate: float) -> float:
        return tol * max(1.0, abs(reverse), abs(estimate))

    def row(
        numeric: float | None, step: float | None, method: str | None, verdict: str, note: str | None
    ) -> CheckRow:
        if numeric is None:
            return CheckRow(name, x, reverse, None, None, None, step, method, verdict, note)
        abs_error = abs(reverse - numeric)
        scale = max(abs(reverse), abs(numeric))
        rel_error = abs_error / scale if scale else 0.0
        return CheckRow(
            name, x, reverse, numeric, _finite(abs_error), _finite(rel_error), step, method, verdict, note
        )

    # The common case: the first central difference agrees. Nothing more to compute.
    h = _exact_step(x, h0)
    first = _central(f, x, h) if h else None
    if first is not None and abs(reverse - first) <= tolerance(first):
        return row(first, h, "central", OK, None)

    # The closer look: at most two ladders of central and one-sided differences, and
    # the gradient at eight points nearby. Not past the limit.
    closer = (len(down) + 1) * 12 * len(_LADDER) + 16 * len(graph.nodes)
    if spent[0] + closer > TOTAL_LIMIT:
        return row(first, h, "central", UNJUDGED, (
            f"the first difference does not agree, and looking closer would take check past its"
            f" limit of {TOTAL_LIMIT:,} node evaluations: check {name} alone with --wrt {name}"
        ))
    spent[0] += 16 * len(graph.nodes)  # the gradients nearby, if needed, counted up front
    noise, worst = _rounding(graph, result, down)
    # The steps scale with max(1, |x|); for a tiny x (log(x) at 1e-170) the ladder
    # goes on from |x|·∛ε too, steps that see the function at x's own scale.
    starts = [h0] + ([abs(x) * _CBRT_EPS] if eps is None and 0 < abs(x) < h0 * 1e-6 else [])
    estimates = [e for start in starts for e in _ladder(f, x, f0, start, noise, "central")]
    note: str | None = None
    if first is None:
        note = f"f cannot be evaluated at {name} ± {abs(h0):.2g} ({_reason(f.first_error)})"
    if not estimates:
        one_sided = [
            e
            for start in starts
            for side in ("forward", "backward")
            for e in _ladder(f, x, f0, start, noise, side)
        ]
        if one_sided:
            estimates = one_sided
            side = estimates[0].method
            where = f"{name} {'−' if side == 'forward' else '+'} h"
            note = f"one-sided: f cannot be evaluated at {where} ({_reason(f.first_error)})"
    if not estimates:
        if first is not None:
            return row(first, h, "central", UNJUDGED, _join(note, (
                "too few steps could be evaluated to tell the difference's own error"
            )))
        reason = f"no finite difference: f cannot be evaluated on either side ({_reason(f.first_error)})"
        return row(None, abs(h0), None, UNJUDGED, reason)

    # An estimate that has settled to within the tolerance and agrees confirms it.
    agreeing = [
        e for e in estimates
        if abs(reverse - e.value) <= tolerance(e.value) and e.error <= tolerance(e.value)
    ]
    best = _authority(estimates, tolerance)
    if abs(reverse - best.value) <= tolerance(best.value):
        agreeing.append(best)
    if agreeing:
        chosen = min(agreeing, key=lambda e: e.step) if best not in agreeing else best
        return row(chosen.value, chosen.step, chosen.method, OK, _settled_note(note, chosen, first))
    gap = abs(reverse - best.value)
    if not best.settled or gap <= _MARGIN * best.error + tolerance(best.value):
        why = _unsettled(best, worst, graph, name)
        return row(best.value, best.step, best.method, UNJUDGED, _join(note, why))
    central = best.method in ("central", "richardson")
    kink = _kink(f, x, f0, best.step, noise) if central else None
    if kink is None:
        signs = (-1.0, 1.0) if central else (1.0,) if best.method == "forward" else (-1.0,)
        wobble = _wobble(graph, result, name, best.step, gap, signs)
        if wobble is not None:
            return row(best.value, best.step, best.method, UNJUDGED, _join(note, wobble))
    else:
            left, right = kink
            low, high = min(left, right), max(left, right)
            slack = _MARGIN * best.error + tolerance(best.value)
            slopes = f"the slopes on the two sides differ ({_g(left)} and {_g(right)}): a kink"
            if low - slack <= reverse <= high + slack:
                return row(best.value, best.step, best.method, UNJUDGED, _join(note, (
                    f"{slopes}, where the derivative does not exist; the central difference is"
                    f" their average and the reverse mode gives a value between them (a convention)"
                )))
            outside = max(low - reverse, reverse - high)
            sides = _sides(graph, result, name, best.step)
            if sides is None or any(spread * _MARGIN > min(outside, size) for spread, size in sides):
                return row(best.value, best.step, best.method, UNJUDGED, _join(note, (
                    f"{slopes}, or a singularity: the gradient is not steady on either side"
                )))
            return row(best.value, best.step, best.method, DIFFERS, _join(note, (
                f"{slopes}, and the reverse mode's {_g(reverse)} lies outside them"
            )))
    return row(best.value, best.step, best.method, DIFFERS, _join(note, (
        f"the finite difference has settled to within {_small(best.error)} (rounding included)"
        f" and disagrees by {_small(gap)}"
    )))


def _gradients_near(
    graph: Graph, result: Result, name: str, step: float, signs: tuple[float, ...] = (-1.0, 1.0)
) -> list[float] | None:
    """The reverse-mode gradient at x − step·4^k and x + step·4^k, k = 0..3 (that order,
    alternating sides); None when one cannot be computed."""
    x = result.inputs[name]
    out: list[float] = []
    for at in (x + sign * step * _RATIO**k for k in range(4) for sign in signs):
        try:
            out.append(run(graph, {**result.inputs, name: at}, [name]).gradient[name])
        except GradError:
            return None
    return out


def _sides(graph: Graph, result: Result, name: str, step: float) -> list[tuple[float, float]] | None:
    """(spread, largest size) of the gradient on each side of a kink, over the steps
    used: a kink has a steady gradient on each side, a singularity does not."""
    near = _gradients_near(graph, result, name, step)
    if near is None:
        return None
    return [(max(side) - min(side), max(abs(g) for g in side)) for side in (near[0::2], near[1::2])]


def _wobble(
    graph: Graph, result: Result, name: str, step: float, gap: float, signs: tuple[float, ...]
) -> str | None:
    """Before calling a gradient wrong, ask whether f is smooth at the scale of the
    steps: the reverse-mode gradient at x ± the four steps used should differ from the one at x by
    much less than the disagreement. When it does not (sin at 1e30, where the float
    grid is coarser than a period), the difference measures something else. A wrong
    rule is wrong on both sides alike, so this does not excuse it. None when smooth."""
    reverse = result.gradient[name]
    seen = _gradients_near(graph, result, name, step, signs)
    if seen is None:
        return (
            "the reverse-mode gradient cannot be computed within the steps used,"
            " so whether f is smooth there is unknown"
        )
    change = max(abs(g - reverse) for g in seen)
    if change * _MARGIN <= gap:
        return None
    return (
        f"the gradient itself changes by up to {_small(change)} within the steps used"
        f" ({_small(step)} to {_small(step * _RATIO**3)}): f varies on a finer scale than a finite"
        " difference can sample here"
    )


def _kink(f: _Along, x: float, f0: float, step: float, noise: float) -> tuple[float, float] | None:
    """(left slope, right slope) when they differ and the gap does not close as the
    step shrinks (as it would from mere curvature, in proportion to the step)."""

    def slopes(h: float) -> tuple[float, float, float] | None:
        h = _exact_step(x, h)
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
    if not math.isfinite(gap_small) or gap_small < 0.5 * gap or gap_small <= _MARGIN * small[2]:
        return None
    if gap_small <= 1e-9 * max(1.0, abs(small[0]), abs(small[1])):
        return None
    return small[0], small[1]


def _settled_note(note: str | None, chosen: _Estimate, first: float | None) -> str | None:
    if chosen.method == "richardson":
        start = "the central difference"
        if first is not None:
            start += f" {_g(first)} at the first step"
        return _join(note, f"{start} refined over smaller steps by Richardson's extrapolation")
    return note


def _unsettled(best: _Estimate, worst: int | None, graph: Graph, name: str) -> str:
    """Why the best estimate cannot decide: rounding in f, or a difference that does
    not settle as the step shrinks."""
    if best.rounding >= 0.5 * best.error and worst is not None:
        labels = graph.labels()
        return (
            f"rounding inside the program (most of it in {_short(labels[worst])})"
            f" limits the finite difference to about ±{_small(best.rounding)}, coarser than tol"
            " (a larger --eps may help)"
        )
    big, small = best.spread
    return (
        f"the finite difference does not settle as the step shrinks ({_g(big)} at h ="
        f" {_small(best.step * _RATIO**3)}, {_g(small)} at {_small(best.step)}):"
        f" f is not smooth at {name} or changes on a scale finer than the steps tried"
    )


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(note: str | None, extra: str) -> str:
    return f"{note}; {extra}" if note else extra


def _g(value: float | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:.6g}"


def _small(value: float) -> str:
    return "0" if value == 0 else f"{value:.2g}"


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: a number that overflowed is reported as null."""
    return value if value is not None and math.isfinite(value) else None


def _reason(err: GradError | None) -> str:
    return err.message if err is not None else "the step rounds to 0"
