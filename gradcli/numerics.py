"""The numerically careful functions the op table's rows call.

Forward functions and local gradients that a one-line lambda would get wrong:
no overflow or cancellation where a careful formula avoids it (sigmoid, softplus,
1 − x² as (1 − x)(1 + x), hypot, logsumexp), sums rounded once, a cube root within
one unit in the last place, and :class:`Undefined` for a gradient that does not
exist. The ``v``-prefixed ones are the same over NumPy arrays (``np`` is the numpy
module, passed in so that this module does not import it). :mod:`gradcli.ops` puts
them in its rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class Undefined(ArithmeticError):
    """A local gradient that does not exist at this point (``sqrt'(0)``)."""


def _undefined(why: str) -> float:
    raise Undefined(why)


def sign(x: float) -> float:
    return (x > 0) - (x < 0) + 0.0


def cbrt(x: float) -> float:
    # The C library's cbrt is off by up to 3 units in the last place (cbrt(27) is
    # 3.0000000000000004 with glibc) and NumPy's differs from it, so both paths use
    # this function: one Newton step on the library's root, with the residual r³ − x
    # computed exactly (Dekker's products), lands within one unit of the true root;
    # exact cubes give exact roots.
    if x == 0 or not math.isfinite(x):
        return x
    a = abs(x)
    scale = 1.0  # far from 1, scaled by a power of two so that no step underflows
    if a < 2.0**-900:
        a, scale = a * 2.0**300, 2.0**-100
    elif a > 2.0**900:
        a, scale = a * 2.0**-300, 2.0**100
    r = a ** (1.0 / 3.0)
    r2, r2_err = _two_product(r, r)
    r3, r3_err = _two_product(r2, r)
    residual = (r3 - a) + (r3_err + r2_err * r)
    root = r - residual / (3.0 * r2)
    rounded = float(round(root))
    if rounded > 0 and rounded < 2.0**17 and rounded * rounded * rounded == a:
        root = rounded
    return math.copysign(root * scale, x)


#: Veltkamp's splitter for double precision: 2^27 + 1.
_SPLIT = 134217729.0


def _two_product(a: float, b: float) -> tuple[float, float]:
    """``a*b`` as a rounded product and its exact error (Dekker; |a|, |b| < 1e290)."""
    p = a * b
    c = _SPLIT * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLIT * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def sigmoid(x: float) -> float:
    # Two forms so that exp never overflows: exp(-x) for x >= 0, exp(x) below.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact for large |x|, never overflows.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def log(x: float) -> float:
    if x == 0:
        raise ValueError("log of zero")
    return math.log(x)


def log_base(x: float, b: float) -> float:
    if b == 1:
        raise ValueError("log base 1")
    return log(x) / log(b)


def div(x: float, y: float) -> float:
    return x / y  # ZeroDivisionError for y == 0


def power(x: float, y: float) -> float:
    if x == 0 and y < 0:
        raise ZeroDivisionError("zero to a negative power")
    return math.pow(x, y)  # ValueError for x < 0 and y not whole; OverflowError


def dpow_dx(x: float, y: float, out: float) -> float:
    if y == 0:
        return 0.0  # x^0 is the constant 1
    if y == 1:
        return 1.0
    if x == 0 and y < 1:
        return _undefined("x^y toward x at x = 0 with y < 1")
    if (y < 0.5 or y >= _WHOLE) and abs(out) >= _TINY:
        # y − 1 rounds here, and x^δ turns that into hundreds of units in the last
        # place when x is far from 1 (or the wrong sign, for x < 0 and y ≥ 2^53):
        # y·x^y/x instead, in the order in which no step overflows
        return y * (out / x) if abs(x) >= 1 else (y * out) / x
    return y * math.pow(x, y - 1)  # y − 1 is exact (or x^y underflowed, and then it is)


def dpow_dy(x: float, y: float, out: float) -> float:
    if x > 0:
        if 0 < abs(out) < _TINY:  # x^y is subnormal: x^(y/2)·(x^(y/2)·ln x) keeps its digits
            half = math.pow(x, y / 2)
            return half * (half * math.log(x))
        return out * math.log(x)
    if x == 0 and y > 0:
        return 0.0  # 0^y is 0 for every y > 0 near here
    return _undefined("x^y toward y needs x > 0")


def dsqrt(x: float, out: float) -> float:
    if out == 0:
        return _undefined("sqrt'(0) is infinite")
    return 0.5 / out


def dcbrt(x: float, out: float) -> float:
    if out == 0:
        return _undefined("cbrt'(0) is infinite")
    return 1.0 / (3.0 * out * out)


# The rules below avoid x*x where it loses: 1 − x² is (1 − x)(1 + x) (exact near
# ±1), x² ± 1 and x² + y² go through hypot or a product of square roots (no
# overflow at 1e160, no underflow at 1e-200), and exp(−x²) squares x exactly.


def dasin(x: float, out: float) -> float:
    if abs(x) >= 1:
        return _undefined("asin'(x) is infinite at x = ±1")
    return 1.0 / math.sqrt((1.0 - x) * (1.0 + x))


def dacos(x: float, out: float) -> float:
    if abs(x) >= 1:
        return _undefined("acos'(x) is infinite at x = ±1")
    return -1.0 / math.sqrt((1.0 - x) * (1.0 + x))


def datanh(x: float, out: float) -> float:
    return 1.0 / ((1.0 - x) * (1.0 + x))


def dasinh(x: float, out: float) -> float:
    return 1.0 / math.hypot(x, 1.0)


def dacosh(x: float, out: float) -> float:
    if x <= 1:
        return _undefined("acosh'(1) is infinite")
    return 1.0 / (math.sqrt(x - 1.0) * math.sqrt(x + 1.0))


def datan2_dy(y: float, x: float, out: float) -> float:
    if x == 0 and y == 0:
        return _undefined("atan2 has no gradient at (0, 0)")
    h = math.hypot(x, y)
    return x / h / h


def datan2_dx(y: float, x: float, out: float) -> float:
    if x == 0 and y == 0:
        return _undefined("atan2 has no gradient at (0, 0)")
    h = math.hypot(x, y)
    return -y / h / h


def dtanh(x: float, out: float) -> float:
    if -0.5 < out < 0.5:
        return 1.0 - out * out  # accurate while out² ≤ 1/4 (and the fast case of deep tanh chains)
    # 1 − tanh² as 4z/(1 + z)² with z = e^(−2|x|): 1 − out² loses digits as |out| nears 1
    # (fourteen units in the last place at x = 2) and is 0 from |x| ≈ 19 on
    z = math.exp(-2.0 * abs(x))
    return 4.0 * z / ((1.0 + z) * (1.0 + z))


def dsigmoid(x: float, out: float) -> float:
    if x <= 0:
        return out * (1.0 - out)  # out ≤ 1/2: nothing cancels
    # sigmoid(x)·sigmoid(−x) as z/(1 + z)² with z = e^(−x): 1 − out loses digits as out
    # nears 1, and is 0 from x ≈ 37 on
    z = math.exp(-x)
    return z / ((1.0 + z) * (1.0 + z))


def derf(x: float, out: float) -> float:
    # 2/√π·e^(−x²) with x² split into its rounded value and the rounding error
    # (e^(−x²) would otherwise lose x²·2^-53 relative: hundreds of units at x = 25)
    if abs(x) > 27.0:  # e^(−729) is below the smallest normal float
        return _TWO_OVER_SQRT_PI * math.exp(-x * x)
    square, error = _two_product(x, x)
    return _TWO_OVER_SQRT_PI * math.exp(-square) * (1.0 - error)


def dlog_base_dx(x: float, b: float, out: float) -> float:
    return 1.0 / x / math.log(b)


def dlog_base_db(x: float, b: float, out: float) -> float:
    return -out / b / math.log(b)


_SUBNORMAL_HYPOT = 2.0**-1000
_UP = 2.0**600
_TINY = 2.2250738585072014e-308  # the smallest normal float
_WHOLE = 2.0**53  # from here on every float is even, and y − 1 rounds
LN2 = math.log(2.0)
LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/√π, correctly rounded


def dextreme(k: int, *args: float) -> float:
    """max/min toward argument k: 1 where it alone is the result, 1/k at a tie of k."""
    *xs, out = args
    if xs[k] != out:
        return 0.0
    return 1.0 / sum(1 for v in xs if v == out)


def exact_sum(*xs: float) -> float:
    """The sum rounded once (fsum); fsum refuses an intermediate overflow even where
    the sum itself is finite (1e308 + 1e308 − 1e308), so such sums are taken halved."""
    try:
        return math.fsum(xs)
    except OverflowError:
        total = math.fsum(x * 0.5 for x in xs) * 2.0
        if math.isinf(total):
            raise OverflowError("the sum is too large for a float") from None
        return total


def mean(*xs: float) -> float:
    n = len(xs)
    try:
        return exact_sum(*xs) / n
    except OverflowError:  # the mean of large numbers may be finite where their sum is not
        scale = 2.0 ** n.bit_length()  # a power of two: scaling is exact
        return math.fsum(x / scale for x in xs) / n * scale


def logsumexp(*xs: float) -> float:
    # log(Σ e^x) = m + log1p(Σ_{others} e^(x − m)), m the largest: every exponent ≤ 0,
    # so nothing overflows, and log1p keeps the digits when one term dominates.
    m = max(xs)
    if len(xs) == 1:
        return m
    top = xs.index(m)
    return m + math.log1p(math.fsum(math.exp(v - m) for i, v in enumerate(xs) if i != top))


def dlogsumexp(k: int, *args: float) -> float:
    return math.exp(args[k] - args[-1])  # the softmax: e^(x_k − logsumexp)


def dhypot(k: int, *args: float) -> float:
    *xs, out = args
    if out == 0:
        return 0.0  # at the origin, as abs'(0) = 0
    if out < _SUBNORMAL_HYPOT:  # a subnormal hypot has lost its last digits: scale up first
        return xs[k] * _UP / math.hypot(*(v * _UP for v in xs))
    return xs[k] / out


def clip(x: float, lo: float, hi: float) -> float:
    if lo > hi:
        raise ValueError("clip with lo > hi")
    return min(max(x, lo), hi)


# --- the same helpers over arrays (``np`` is the numpy module) -----------------------


def vsigmoid(np: Any, x: Any) -> Any:
    # exp(-|x|) never overflows; the two forms are sigmoid's two branches.
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def vsoftplus(np: Any, x: Any) -> Any:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _each(np: Any, f: Callable[[float], float], x: Any) -> Any:
    """``f`` per element: the scalar rule itself, for functions NumPy lacks (erf) or
    computes differently (cbrt); still cheap next to reading and writing the rows."""
    if np.ndim(x) == 0:
        return f(float(x))
    return np.fromiter(map(f, x.tolist()), dtype=np.float64, count=len(x))


def verf(np: Any, x: Any) -> Any:
    return _each(np, math.erf, x)


def vcbrt(np: Any, x: Any) -> Any:
    return _each(np, cbrt, x)


def _vdpow_dx_out(np: Any, x: Any, y: Any, out: Any) -> Any:
    return np.where(((y < 0.5) | (y >= _WHOLE)) & (np.abs(out) >= _TINY),
                    np.where(np.abs(x) >= 1, y * (out / x), (y * out) / x),
                    y * np.power(x, y - 1))


def vdtanh(np: Any, x: Any, out: Any) -> Any:
    z = np.exp(-2.0 * np.abs(x))
    return np.where((-0.5 < out) & (out < 0.5), 1.0 - out * out, 4.0 * z / ((1.0 + z) * (1.0 + z)))


def vdsigmoid(np: Any, x: Any, out: Any) -> Any:
    z = np.exp(-np.abs(x))
    return np.where(x <= 0, out * (1.0 - out), z / ((1.0 + z) * (1.0 + z)))


def vderf(np: Any, x: Any, out: Any) -> Any:
    near = np.abs(x) <= 27.0
    xs = np.where(near, x, 0.0)  # the split below overflows far out
    c = _SPLIT * xs
    hi = c - (c - xs)
    lo = xs - hi
    square = x * x
    error = np.where(near, ((hi * hi - square) + hi * lo + lo * hi) + lo * lo, 0.0)
    return _TWO_OVER_SQRT_PI * np.exp(-square) * (1.0 - error)


def vdatan2(np: Any, a: Any, y: Any, x: Any) -> Any:
    h = np.hypot(x, y)
    return a / h / h


def vdpow_dx(np: Any, x: Any, y: Any, out: Any) -> Any:
    # as dpow_dx; x = 0 with y < 1 gives ±inf here, the scalar rule says why
    return np.where(y == 0, 0.0, np.where(y == 1, 1.0, _vdpow_dx_out(np, x, y, out)))


def vdpow_dy(np: Any, x: Any, y: Any, out: Any) -> Any:
    # as dpow_dy; x < 0 gives NaN here, the scalar rule says why
    d = out * np.log(x)
    small = (np.abs(out) < _TINY) & (out != 0) & (x > 0)
    if np.any(small):
        half = np.power(x, y / 2)
        d = np.where(small, half * (half * np.log(x)), d)
    return np.where((x == 0) & (y > 0), 0.0, d)


def vlog_base(np: Any, x: Any, b: Any) -> Any:
    # log(1)/log(0) would be a finite -0.0; log_base refuses b ≤ 0 and x ≤ 0 (NaN here)
    return np.where((x > 0) & (b > 0), np.log(x) / np.log(b), np.nan)


def vdhypot(k: int, np: Any, *args: Any) -> Any:
    # as dhypot: 0 at the origin, scaled where hypot is subnormal
    *xs, out = args
    a = xs[k]
    small = out < _SUBNORMAL_HYPOT
    if np.any(small):
        scaled = vhypot(np, *(v * _UP for v in xs))
        a = np.where(small, a * _UP, a)
        out = np.where(small, scaled, out)
    return np.where(out == 0, 0.0, a / np.where(out != 0, out, 1.0))


def vreduce(ufunc: Any, args: tuple[Any, ...]) -> Any:
    """``ufunc`` over the arguments left to right (each an array or a number)."""
    out = args[0]
    for a in args[1:]:
        out = ufunc(out, a)
    return out


def vdextreme(k: int, np: Any, *args: Any) -> Any:
    *xs, out = args
    ties = vreduce(np.add, tuple((x == out) + 0.0 for x in xs))
    return np.where(xs[k] == out, 1.0 / ties, 0.0)


def row_by_row(np: Any, f: Callable[..., float], xs: tuple[Any, ...]) -> Any:
    """``f`` row by row over the arguments (arrays or numbers): the scalar rule itself,
    for reductions whose NumPy form rounds differently (a sum in sequence, not once);
    NaN where it fails, so that the batch asks the scalar rule for the error."""

    def safe(*row: float) -> float:
        try:
            return f(*row)
        except (ValueError, ArithmeticError):
            return math.nan

    if all(np.ndim(x) == 0 for x in xs):
        return safe(*(float(x) for x in xs))
    shape = np.broadcast_shapes(*(np.shape(x) for x in xs))
    cols = [np.broadcast_to(x, shape).tolist() for x in xs]
    return np.fromiter(map(safe, *cols), dtype=np.float64, count=shape[0])


def vhypot(np: Any, *xs: Any) -> Any:
    return vreduce(np.hypot, xs) if len(xs) > 1 else np.abs(xs[0])


def vclip(np: Any, x: Any, lo: Any, hi: Any) -> Any:
    # lo > hi is NaN here: the scalar rule names the values
    return np.where(lo <= hi, np.minimum(np.maximum(x, lo), hi), np.nan)
