"""Every rule of the operation table against a high-precision reference (mpmath at
256 bits): the value and each local gradient, scalar rules and array rules, at the
edges and at generated points from 1e-300 to 1e300 of both signs.

Where the true value is a normal float, the rule gives it within a few units in the
last place and raises nothing; where it underflows, the rule gives a number below the
smallest normal float (no error); where it overflows, the rule may fail or give ±inf;
where the function or its gradient does not exist, the scalar rule fails and the
array rule gives NaN or ±inf. A new row of the table needs its reference here."""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from op_points import HUGE, TINY, case_id, cases, points

from gradcli.ops import ALL_OPS, Op

mp = mpmath.mp
mp.prec = 256
mpf = mpmath.mpf

#: Units in the last place a rule may be off, where the true value is a normal float.
ULPS = 4

#: What a reference returns where the function (or the gradient) does not exist.
NONE = None
#: Where the reference cannot speak (atan2's signed zeros): the point is not checked.
SKIP = "skip"

Ref = Callable[..., object]


def _pow(x: mpf, y: mpf) -> object:
    if x < 0:
        if y != mpmath.floor(y):
            return NONE
        # the sign from y's parity, exactly (y − 1 at 1e160 is not exact even at 256 bits)
        return mpmath.power(-x, y) * (-1 if int(y) % 2 else 1)
    if x == 0 and y < 0:
        return NONE
    return mpmath.power(x, y)


def _dpow_dx(x: mpf, y: mpf) -> object:
    if y == 0:
        return mpf(0)
    if x == 0:
        return mpf(1) if y == 1 else mpf(0) if y > 1 else NONE
    p = _pow(x, y)
    return NONE if p is NONE else y * p / x


def _dpow_dy(x: mpf, y: mpf) -> object:
    if x == 0 and y > 0:
        return mpf(0)
    if x <= 0:
        return NONE
    return mpmath.power(x, y) * mpmath.log(x)


def _log_base(x: mpf, b: mpf) -> object:
    return mpmath.log(x) / mpmath.log(b) if x > 0 and b > 0 and b != 1 else NONE


def _atan2(y: mpf, x: mpf, y_negative: bool) -> object:
    if y == 0:
        if x == 0:
            return SKIP  # atan2(±0, ±0): the signs of the zeros decide, mpmath has none
        return (-mp.pi if y_negative else mp.pi) if x < 0 else mpf(0)
    return mpmath.atan2(y, x)


def _sign(x: mpf) -> mpf:
    return mpf((x > 0) - (x < 0))


def _extreme(k: int, *xs: mpf) -> mpf:
    """max/min toward argument k, given the result last: 1/(size of the tie) where it is taken."""
    *xs, out = xs  # type: ignore[assignment]
    return mpf(1) / sum(1 for v in xs if v == out) if xs[k] == out else mpf(0)


def _logsumexp(*xs: mpf) -> mpf:
    # m + log1p(Σ over the others): 1 + e^-607 is 1 even at 256 bits
    top = xs.index(max(xs))
    return xs[top] + mpmath.log1p(mpmath.fsum(mpmath.exp(x - xs[top]) for i, x in enumerate(xs) if i != top))


def _z_over_1pz_squared(z: mpf) -> mpf:
    return z / (1 + z) ** 2


def _inside(test: Callable[..., bool], f: Ref) -> Ref:
    return lambda *a: f(*a) if test(*a) else NONE


#: (name, arity) -> (value, (∂/∂ each argument)), in mpmath; NONE outside the domain.
REFERENCE: dict[tuple[str, int], tuple[Ref, tuple[Ref, ...]]] = {
    ("add", 2): (lambda x, y: x + y, (lambda x, y: mpf(1), lambda x, y: mpf(1))),
    ("sub", 2): (lambda x, y: x - y, (lambda x, y: mpf(1), lambda x, y: mpf(-1))),
    ("mul", 2): (lambda x, y: x * y, (lambda x, y: y, lambda x, y: x)),
    ("div", 2): (_inside(lambda x, y: y != 0, lambda x, y: x / y),
                 (_inside(lambda x, y: y != 0, lambda x, y: 1 / y),
                  _inside(lambda x, y: y != 0, lambda x, y: -x / y**2))),
    ("pow", 2): (_pow, (_dpow_dx, _dpow_dy)),
    ("neg", 1): (lambda x: -x, (lambda x: mpf(-1),)),
    ("exp", 1): (mpmath.exp, (mpmath.exp,)),
    ("log", 1): (_inside(lambda x: x > 0, mpmath.log), (_inside(lambda x: x > 0, lambda x: 1 / x),)),
    ("ln", 1): (_inside(lambda x: x > 0, mpmath.log), (_inside(lambda x: x > 0, lambda x: 1 / x),)),
    ("log2", 1): (_inside(lambda x: x > 0, lambda x: mpmath.log(x, 2)),
                  (_inside(lambda x: x > 0, lambda x: 1 / (x * mpmath.log(2))),)),
    ("log10", 1): (_inside(lambda x: x > 0, mpmath.log10),
                   (_inside(lambda x: x > 0, lambda x: 1 / (x * mpmath.log(10))),)),
    ("log", 2): (_log_base,
                 (_inside(lambda x, b: _log_base(x, b) is not NONE, lambda x, b: 1 / (x * mpmath.log(b))),
                  _inside(lambda x, b: _log_base(x, b) is not NONE,
                          lambda x, b: -mpmath.log(x) / (b * mpmath.log(b) ** 2)))),
    ("sqrt", 1): (_inside(lambda x: x >= 0, mpmath.sqrt),
                  (_inside(lambda x: x > 0, lambda x: 1 / (2 * mpmath.sqrt(x))),)),
    ("cbrt", 1): (lambda x: _sign(x) * mpmath.cbrt(abs(x)),
                  (_inside(lambda x: x != 0, lambda x: 1 / (3 * mpmath.cbrt(abs(x)) ** 2)),)),
    ("abs", 1): (abs, (_sign,)),
    ("sign", 1): (_sign, (lambda x: mpf(0),)),
    ("sin", 1): (mpmath.sin, (mpmath.cos,)),
    ("cos", 1): (mpmath.cos, (lambda x: -mpmath.sin(x),)),
    ("tan", 1): (mpmath.tan, (lambda x: 1 / mpmath.cos(x) ** 2,)),
    ("asin", 1): (_inside(lambda x: abs(x) <= 1, mpmath.asin),
                  (_inside(lambda x: abs(x) < 1, lambda x: 1 / mpmath.sqrt(1 - x * x)),)),
    ("acos", 1): (_inside(lambda x: abs(x) <= 1, mpmath.acos),
                  (_inside(lambda x: abs(x) < 1, lambda x: -1 / mpmath.sqrt(1 - x * x)),)),
    ("atan", 1): (mpmath.atan, (lambda x: 1 / (1 + x * x),)),
    ("atan2", 2): (None,  # by _atan2, which needs y's sign
                   (_inside(lambda y, x: x != 0 or y != 0, lambda y, x: x / (x * x + y * y)),
                    _inside(lambda y, x: x != 0 or y != 0, lambda y, x: -y / (x * x + y * y)))),
    ("sinh", 1): (mpmath.sinh, (mpmath.cosh,)),
    ("cosh", 1): (mpmath.cosh, (mpmath.sinh,)),
    ("tanh", 1): (mpmath.tanh, (lambda x: 1 / mpmath.cosh(x) ** 2,)),
    ("asinh", 1): (mpmath.asinh, (lambda x: 1 / mpmath.sqrt(x * x + 1),)),
    ("acosh", 1): (_inside(lambda x: x >= 1, mpmath.acosh),
                   (_inside(lambda x: x > 1, lambda x: 1 / mpmath.sqrt(x * x - 1)),)),
    ("atanh", 1): (_inside(lambda x: abs(x) < 1, mpmath.atanh),
                   (_inside(lambda x: abs(x) < 1, lambda x: 1 / (1 - x * x)),)),
    ("sigmoid", 1): (lambda x: 1 / (1 + mpmath.exp(-x)),
                     (lambda x: _z_over_1pz_squared(mpmath.exp(-abs(x))),)),
    ("relu", 1): (lambda x: max(x, mpf(0)), (lambda x: mpf(1) if x > 0 else mpf(0),)),
    ("softplus", 1): (lambda x: mpmath.log1p(mpmath.exp(x)), (lambda x: 1 / (1 + mpmath.exp(-x)),)),
    ("erf", 1): (mpmath.erf, (lambda x: 2 / mpmath.sqrt(mp.pi) * mpmath.exp(-x * x),)),
    ("clip", 3): (_inside(lambda x, lo, hi: lo <= hi, lambda x, lo, hi: min(max(x, lo), hi)),
                  (_inside(lambda x, lo, hi: lo <= hi, lambda x, lo, hi: mpf(lo <= x <= hi)),
                   _inside(lambda x, lo, hi: lo <= hi, lambda x, lo, hi: mpf(x < lo)),
                   _inside(lambda x, lo, hi: lo <= hi, lambda x, lo, hi: mpf(x > hi)))),
    ("if", 3): (lambda c, a, b: a if c != 0 else b,
                (lambda c, a, b: mpf(0), lambda c, a, b: mpf(c != 0), lambda c, a, b: mpf(c == 0))),
    **{(name, 2): (lambda x, y, test=test: mpf(test(x, y)), (lambda x, y: mpf(0),) * 2)
       for name, test in (("lt", lambda x, y: x < y), ("le", lambda x, y: x <= y),
                          ("gt", lambda x, y: x > y), ("ge", lambda x, y: x >= y),
                          ("eq", lambda x, y: x == y), ("ne", lambda x, y: x != y))},
    # any number of arguments: the k-th gradient takes k first
    ("max", 2): (max, (_extreme,)),
    ("min", 2): (min, (_extreme,)),
    ("sum", 1): (lambda *xs: mpmath.fsum(xs), (lambda k, *xs: mpf(1),)),
    ("mean", 1): (lambda *xs: mpmath.fsum(xs) / len(xs), (lambda k, *xs: mpf(1) / len(xs),)),
    ("logsumexp", 1): (_logsumexp, (lambda k, *xs: mpmath.exp(xs[k] - _logsumexp(*xs)),)),
    ("hypot", 1): (lambda *xs: mpmath.sqrt(mpmath.fsum(x * x for x in xs)),
                   (lambda k, *xs: xs[k] / mpmath.sqrt(mpmath.fsum(x * x for x in xs)) if any(xs) else 0,)),
}

#: The rows whose gradient rule takes the argument's position first (any number of arguments).
N_ARY = {("max", 2), ("min", 2), ("sum", 1), ("mean", 1), ("logsumexp", 1), ("hypot", 1)}


def _ulp(t: mpf) -> mpf:
    return mpf(2) ** (mpmath.floor(mpmath.log(abs(t), 2)) - 52)


def _logsumexp_slack(p: tuple[float, ...], value: mpf, softmax: list[mpf]) -> tuple[mpf, list[mpf]]:
    """What ULPS ulps of error in each input cause: Σ_j |x_j·∂f/∂x_j|·ULPS·2^-53, for the
    value (∂/∂x_j = s_j) and for each softmax s_k (∂s_k/∂x_j = s_k(δ_kj − s_j)); and
    for s_k = e^(x_k − out), what rounding out to a float causes: s_k·|out|·ULPS·2^-53."""
    eps = ULPS * mpf(2) ** -53
    x = [abs(mpf(v)) for v in p]
    weighted = mpmath.fsum(xj * sj for xj, sj in zip(x, softmax, strict=True))
    return eps * weighted, [eps * sk * (xk * (1 - sk) + weighted - xk * sk + abs(value))
                            for xk, sk in zip(x, softmax, strict=True)]


#: Rows that are compositions of several roundings (m + log1p(Σ e^(x − m)), and the
#: softmax e^(x_k − out)): where the result cancels (logsumexp(−1, −0.5) ≈ −0.026) or
#: the inputs are large, they are held to what a few ulps of error in each input would
#: cause (backward stability), on top of ULPS ulps.
CONDITIONED = {"logsumexp": _logsumexp_slack}


def judge(got: float | None, true: object, slack: object = 0) -> str | None:
    """Why ``got`` (None or NaN: the rule failed) is wrong for the true value, or None if it
    is right. ``slack``: an absolute error allowed on top of ULPS ulps."""
    if true is SKIP:
        return None
    if true is NONE:
        return None if got is None or not math.isfinite(got) else f"gives {got!r} where none exists"
    t = abs(true)  # type: ignore[arg-type]
    if t > HUGE:  # overflows: an error or ±inf is right, and so is a finite number that rounds to it
        if got is None or not math.isfinite(got):
            return None
        t = mpf(HUGE)
    if got is None or not math.isfinite(got):
        return f"fails ({got!r}) where the true value is {mpmath.nstr(true, 17)}"
    if t < TINY:  # underflows to a subnormal or zero: any number that small, no error
        return None if abs(got) < 2 * TINY else f"gives {got!r} for {mpmath.nstr(true, 17)}"
    error = max(abs(mpf(got) - true) - slack, 0) / _ulp(true)  # type: ignore[operator]
    return None if error <= ULPS else f"gives {got!r}, {float(error):.3g} ulps from {mpmath.nstr(true, 17)}"


def _scalar(f: Callable[..., float], *args: float) -> float | None:
    try:
        return f(*args)
    except (ArithmeticError, ValueError):
        return None


def _reference(op: Op, p: tuple[float, ...]) -> tuple[object, list[object]]:
    value_ref, grad_refs = REFERENCE[(op.name, op.arity)]
    args = [mpf(v) for v in p]
    if op.name == "atan2":
        value = _atan2(args[0], args[1], math.copysign(1.0, p[0]) < 0)
    else:
        value = value_ref(*args)
    if (op.name, op.arity) in N_ARY:
        rule = grad_refs[0]
        extra = [value] if op.name in ("max", "min") else []  # the tie needs the result
        return value, [rule(k, *args, *extra) for k in range(len(p))]
    return value, [g(*args) for g in grad_refs]


def wrong_rules(op: Op, pts: list[tuple[float, ...]]) -> list[str]:
    found: list[str] = []
    n = len(pts)
    arity = len(pts[0])
    cols = [np.array([p[k] for p in pts], dtype=np.float64) for k in range(arity)]
    with np.errstate(all="ignore"):
        vout = np.broadcast_to(np.asarray(op.vforward(np, *cols), dtype=np.float64), (n,))
        vgrads = [np.broadcast_to(np.asarray(op.vgrads[k](np, *cols, vout), dtype=np.float64), (n,)).tolist()
                  for k in range(arity)]
    array_values = vout.tolist()
    for i, p in enumerate(pts):
        value, grads = _reference(op, p)
        out = _scalar(op.forward, *p)
        slack, grad_slack = 0, [0] * arity
        if op.name in CONDITIONED and value is not NONE:
            slack, grad_slack = CONDITIONED[op.name](p, value, grads)
        for path, got in (("scalar", out), ("array", array_values[i])):
            why = judge(got, value, slack)
            if why:
                found.append(f"{op.name}{p} ({path}) {why}")
        for k in range(arity):
            name = f"∂{op.name}/∂#{k}{p}"
            if out is not None and math.isfinite(out):
                why = judge(_scalar(op.grads[k], *p, out), grads[k], grad_slack[k])
                if why:
                    found.append(f"{name} (scalar) {why}")
            if math.isfinite(array_values[i]):
                why = judge(vgrads[k][i], grads[k], grad_slack[k])
                if why:
                    found.append(f"{name} (array) {why}")
    return found


def test_every_row_has_a_reference() -> None:
    assert {(op.name, op.arity) for op in ALL_OPS} == set(REFERENCE)


@pytest.mark.parametrize("case", cases(ALL_OPS), ids=case_id)
def test_every_rule_is_accurate_over_the_whole_float_range(case: tuple[Op, int]) -> None:
    op, n = case
    found = wrong_rules(op, points(op, 300, n=n))
    assert not found, f"{len(found)} wrong, the first: " + "; ".join(found[:5])


@pytest.mark.slow
@pytest.mark.parametrize("case", cases(ALL_OPS), ids=case_id)
def test_every_rule_is_accurate_at_many_more_points(case: tuple[Op, int]) -> None:
    op, n = case
    found = wrong_rules(op, points(op, 20_000, seed=1, n=n))
    assert not found, f"{len(found)} wrong, the first: " + "; ".join(found[:5])


@pytest.mark.parametrize(
    ("call", "k", "expected"),
    [
        # issue 12: x*x inside the rule overflowed (→ 0) or underflowed (→ division by zero)
        (("atan2", 1e160, 1e160), 0, 0.5e-160),
        (("atan2", 1e160, 1e160), 1, -0.5e-160),
        (("atan2", 1e-200, 1e-200), 0, 0.5e200),
        (("asinh", 1e160), 0, 1e-160),
        (("acosh", 1e160), 0, 1e-160),
    ],
)
def test_gradients_far_from_one_neither_overflow_nor_vanish(call: tuple, k: int, expected: float) -> None:
    name, *args = call
    op = next(o for o in ALL_OPS if o.name == name and o.arity == len(args))
    got = op.grads[k](*args, op.forward(*args))
    assert got == pytest.approx(expected, rel=1e-15, abs=0)
    arrays = [np.array([a]) for a in args]
    with np.errstate(all="ignore"):
        array = op.vgrads[k](np, *arrays, op.vforward(np, *arrays))
    assert float(np.asarray(array).ravel()[0]) == pytest.approx(expected, rel=1e-15, abs=0)
