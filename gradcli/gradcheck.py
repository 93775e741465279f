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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .api import compile, run
from .bindings import chosen_inputs
from .differences import (
    CBRT_EPS,
    LADDER,
    MARGIN,
    RATIO,
    Along,
    Estimate,
    authority,
    central_difference,
    downstream,
    exact_step,
    gradients_near,
    kink_sides,
    kink_slopes,
    ladder,
    node_plan,
    rounding_noise,
)
from .errors import GradError
from .evaluate import Result
from .graph import Graph

#: The default tolerance: well above the ~1e-10 error of a central difference with
#: the default step on a smooth function, well below any real mistake.
DEFAULT_TOL = 1e-6

#: The most node evaluations the first central difference of every input may take
#: together (two evaluations of the nodes downstream of each input); about a second.
WORK_LIMIT = 6_000_000
#: The most node evaluations a whole check may take, the closer looks included (a few seconds).
TOTAL_LIMIT = 15_000_000

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


def check_tolerance(tol: float) -> None:
    """``--tol``: a usage error unless it is a finite number ≥ 0 (marking answers uses
    it too)."""
    if not (math.isfinite(tol) and tol >= 0):
        raise GradError("usage", f"--tol {tol}: the tolerance must be a number ≥ 0")


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
    check_tolerance(tol)
    graph = source if isinstance(source, Graph) else compile(source, output)
    point = dict(bindings or {})
    point.update(kw_bindings)
    names = _check_names(graph, wrt)
    result = run(graph, point, names)  # validates the bindings; a math error here is exit 1
    _check_cost(graph, names)
    consumers = graph.consumers()
    plan = node_plan(graph)
    seen = [-1] * len(graph.nodes)
    spent = [0]  # node evaluations so far, shared by the rows
    values = list(result.values)
    rows = []
    for name in names:
        down = downstream(consumers, graph.inputs[name], seen)
        rows.append(_row(graph, result, name, down, eps, tol, spent, (values, plan)))
    return CheckResult(graph.source, graph.output_name, result.value, tol, eps, rows, result)


def _check_names(graph: Graph, wrt: Iterable[str] | None) -> list[str]:
    """The inputs check perturbs: every input (none at all is fine: nothing to check)."""
    return list(graph.inputs) if wrt is None else chosen_inputs(graph, wrt)


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


def _row(
    graph: Graph, result: Result, name: str, down: list[int], eps: float | None, tol: float,
    spent: list[int], shared: tuple[list[float], list[Any]],
) -> CheckRow:
    x = result.inputs[name]
    reverse = result.gradient[name]
    f0 = result.value
    h0 = eps if eps is not None else CBRT_EPS * max(1.0, abs(x))
    if graph.inputs[name] is None:  # the output does not use it: f is flat along it
        return CheckRow(name, x, reverse, 0.0, abs(reverse), 1.0 if reverse else 0.0,
                        exact_step(x, h0), "central", OK if reverse == 0 else DIFFERS, None)
    f = Along(graph, result, name, down, spent, shared)

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
    h = exact_step(x, h0)
    first = central_difference(f, x, h) if h else None
    if first is not None and abs(reverse - first) <= tolerance(first):
        return row(first, h, "central", OK, None)

    # The closer look: at most two ladders of central and one-sided differences, and
    # the gradient at eight points nearby. Not past the limit.
    closer = (len(down) + 1) * 12 * len(LADDER) + 16 * len(graph.nodes)
    if spent[0] + closer > TOTAL_LIMIT:
        return row(first, h, "central", UNJUDGED, (
            f"the first difference does not agree, and looking closer would take check past its"
            f" limit of {TOTAL_LIMIT:,} node evaluations: check {name} alone with --wrt {name}"
        ))
    spent[0] += 16 * len(graph.nodes)  # the gradients nearby, if needed, counted up front
    noise, worst = rounding_noise(graph, result, down)
    # The steps scale with max(1, |x|); for a tiny x (log(x) at 1e-170) the ladder
    # goes on from |x|·∛ε too, steps that see the function at x's own scale.
    starts = [h0] + ([abs(x) * CBRT_EPS] if eps is None and 0 < abs(x) < h0 * 1e-6 else [])
    estimates = [e for start in starts for e in ladder(f, x, f0, start, noise, "central")]
    note: str | None = None
    if first is None:
        note = f"f cannot be evaluated at {name} ± {abs(h0):.2g} ({_reason(f.first_error)})"
    if not estimates:
        one_sided = [
            e
            for start in starts
            for side in ("forward", "backward")
            for e in ladder(f, x, f0, start, noise, side)
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
    best = authority(estimates, tolerance)
    if abs(reverse - best.value) <= tolerance(best.value):
        agreeing.append(best)
    if agreeing:
        chosen = min(agreeing, key=lambda e: e.step) if best not in agreeing else best
        return row(chosen.value, chosen.step, chosen.method, OK, _settled_note(note, chosen, first))
    gap = abs(reverse - best.value)
    if not best.settled or gap <= MARGIN * best.error + tolerance(best.value):
        why = _unsettled(best, worst, graph, name)
        return row(best.value, best.step, best.method, UNJUDGED, _join(note, why))
    central = best.method in ("central", "richardson")
    kink = kink_slopes(f, x, f0, best.step, noise) if central else None
    if kink is None:
        signs = (-1.0, 1.0) if central else (1.0,) if best.method == "forward" else (-1.0,)
        wobble = _wobble(graph, result, name, best.step, gap, signs)
        if wobble is not None:
            return row(best.value, best.step, best.method, UNJUDGED, _join(note, wobble))
    else:
            left, right = kink
            low, high = min(left, right), max(left, right)
            slack = MARGIN * best.error + tolerance(best.value)
            slopes = f"the slopes on the two sides differ ({_g(left)} and {_g(right)}): a kink"
            if low - slack <= reverse <= high + slack:
                return row(best.value, best.step, best.method, UNJUDGED, _join(note, (
                    f"{slopes}, where the derivative does not exist; the central difference is"
                    f" their average and the reverse mode gives a value between them (a convention)"
                )))
            if x != 0 and abs(x) < best.step:  # 1e-66: the steps straddle 0, not x's kink
                return row(best.value, best.step, best.method, UNJUDGED, _join(note, (
                    f"{slopes} within the steps, which reach across 0 from {name} = {_g(x)}:"
                    f" a kink between cannot be told from one at {name}, and smaller steps"
                    f" drown in rounding"
                )))
            outside = max(low - reverse, reverse - high)
            sides = kink_sides(graph, result, name, best.step)
            if sides is None or any(spread * MARGIN > min(outside, size) for spread, size in sides):
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


def _wobble(
    graph: Graph, result: Result, name: str, step: float, gap: float, signs: tuple[float, ...]
) -> str | None:
    """Before calling a gradient wrong, ask whether f is smooth at the scale of the
    steps: the reverse-mode gradient at x ± the four steps used should differ from the one at x by
    much less than the disagreement. When it does not (sin at 1e30, where the float
    grid is coarser than a period), the difference measures something else. A wrong
    rule is wrong on both sides alike, so this does not excuse it. None when smooth."""
    reverse = result.gradient[name]
    seen = gradients_near(graph, result, name, step, signs)
    if seen is None:
        return (
            "the reverse-mode gradient cannot be computed within the steps used,"
            " so whether f is smooth there is unknown"
        )
    change = max(abs(g - reverse) for g in seen)
    if change * MARGIN <= gap:
        return None
    return (
        f"the gradient itself changes by up to {_small(change)} within the steps used"
        f" ({_small(step)} to {_small(step * RATIO**3)}): f varies on a finer scale than a finite"
        " difference can sample here"
    )


def _settled_note(note: str | None, chosen: Estimate, first: float | None) -> str | None:
    if chosen.method == "richardson":
        start = "the central difference"
        if first is not None:
            start += f" {_g(first)} at the first step"
        return _join(note, f"{start} refined over smaller steps by Richardson's extrapolation")
    return note


def _unsettled(best: Estimate, worst: int | None, graph: Graph, name: str) -> str:
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
        f" {_small(best.step * RATIO**3)}, {_g(small)} at {_small(best.step)}):"
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
