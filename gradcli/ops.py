"""Every operation, its forward function and its local gradients, side by side.

One row per operation. ``grads[k](*args, out)`` is ∂op/∂args[k] at the operands
``args`` and the forward value ``out``. The evaluator calls a local gradient only
toward an operand that depends on a variable, so ``x^2`` at ``x = -3`` never asks
for ∂(x^2)/∂2 = 9·ln(-3). A forward function signals a math error by raising
``ValueError`` (domain), ``ZeroDivisionError`` or ``OverflowError``; a local gradient
that does not exist raises :class:`Undefined`. ``gradcli functions``, the manual
and the tests all read this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class Undefined(ArithmeticError):
    """A local gradient that does not exist at this point (``sqrt'(0)``)."""


class Op:
    """One operation. ``name`` is what JSON's ``op`` says; ``symbol`` is set for
    infix operators (``+ - * / ^``) and the unary minus. Read-only by convention.

    (A plain class with slots rather than a frozen dataclass: building a dataclass
    costs every command about half a millisecond at start-up.)"""

    __slots__ = ("arity", "domain", "forward", "grads", "name", "params", "rule", "symbol",
                 "variadic", "vforward", "vgrads")

    def __init__(
        self,
        name: str,
        arity: int,
        forward: Callable[..., float],
        grads: tuple[Callable[..., float], ...],
        *,  # the rest by keyword, so that a row reads as what each string is
        rule: str,  # the derivative, in words a reader checks by hand
        domain: str = "all real numbers",
        symbol: str | None = None,
        params: tuple[str, ...] = ("x",),
        # The same rule over arrays, for --batch: ``vforward(np, *args)`` and
        # ``vgrads[k](np, *args, out)`` take the numpy module as their first argument
        # (so this module never imports it) and return NaN or ±inf where the scalar
        # rule raises; the batch evaluator finds those rows and asks the scalar rule
        # for the error, so kinds and messages match row by row.
        vforward: Callable[..., Any] | None = None,
        vgrads: tuple[Callable[..., Any], ...] = (),
        # ``arity`` or more arguments (max, sum, ...): ``grads`` and ``vgrads`` are then
        # :class:`Positional` rules, indexed by the argument's position like a tuple.
        variadic: bool = False,
    ) -> None:
        self.name = name
        self.arity = arity
        self.forward = forward
        self.grads = grads
        self.rule = rule
        self.domain = domain
        self.symbol = symbol
        self.params = params
        self.vforward = vforward
        self.vgrads = vgrads
        self.variadic = variadic

    def accepts(self, count: int) -> bool:
        """Whether a call with ``count`` arguments is this row's."""
        return count >= self.arity if self.variadic else count == self.arity

    def __repr__(self) -> str:
        return f"Op({self.name!r}, {self.arity})"

    @property
    def signature(self) -> str:
        if self.symbol is not None:
            if self.arity == 1:
                return f"{self.symbol}x"
            return f"x {self.symbol} y"
        if self.variadic:
            return f"{self.name}({', '.join(self.params)}, ...)"
        return f"{self.name}({', '.join(self.params)})"


class Positional:
    """The local gradients of an n-ary op as one rule that takes the position first:
    ``grads[k](*args, out)`` is ``rule(k, *args, out)``, for any ``k``. ``len`` is the
    op's least number of arguments, as a tuple of rules has one per argument."""

    __slots__ = ("count", "rule")

    def __init__(self, rule: Callable[..., Any], count: int) -> None:
        self.rule = rule
        self.count = count

    def __getitem__(self, k: int) -> Callable[..., Any]:
        rule = self.rule
        return lambda *args: rule(k, *args)

    def __len__(self) -> int:
        return self.count


# --- helpers for the rows below -------------------------------------------------


def _undefined(why: str) -> float:
    raise Undefined(why)


def _sign(x: float) -> float:
    return (x > 0) - (x < 0) + 0.0


def _cbrt(x: float) -> float:
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


def _sigmoid(x: float) -> float:
    # Two forms so that exp never overflows: exp(-x) for x >= 0, exp(x) below.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): exact for large |x|, never overflows.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _log(x: float) -> float:
    if x == 0:
        raise ValueError("log of zero")
    return math.log(x)


def _log_base(x: float, b: float) -> float:
    if b == 1:
        raise ValueError("log base 1")
    return _log(x) / _log(b)


def _div(x: float, y: float) -> float:
    return x / y  # ZeroDivisionError for y == 0


def _pow(x: float, y: float) -> float:
    if x == 0 and y < 0:
        raise ZeroDivisionError("zero to a negative power")
    return math.pow(x, y)  # ValueError for x < 0 and y not whole; OverflowError


def _dpow_dx(x: float, y: float, out: float) -> float:
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


def _dpow_dy(x: float, y: float, out: float) -> float:
    if x > 0:
        if 0 < abs(out) < _TINY:  # x^y is subnormal: x^(y/2)·(x^(y/2)·ln x) keeps its digits
            half = math.pow(x, y / 2)
            return half * (half * math.log(x))
        return out * math.log(x)
    if x == 0 and y > 0:
        return 0.0  # 0^y is 0 for every y > 0 near here
    return _undefined("x^y toward y needs x > 0")


def _dsqrt(x: float, out: float) -> float:
    if out == 0:
        return _undefined("sqrt'(0) is infinite")
    return 0.5 / out


def _dcbrt(x: float, out: float) -> float:
    if out == 0:
        return _undefined("cbrt'(0) is infinite")
    return 1.0 / (3.0 * out * out)


# The rules below avoid x*x where it loses: 1 − x² is (1 − x)(1 + x) (exact near
# ±1), x² ± 1 and x² + y² go through hypot or a product of square roots (no
# overflow at 1e160, no underflow at 1e-200), and exp(−x²) squares x exactly.


def _dasin(x: float, out: float) -> float:
    if abs(x) >= 1:
        return _undefined("asin'(x) is infinite at x = ±1")
    return 1.0 / math.sqrt((1.0 - x) * (1.0 + x))


def _dacos(x: float, out: float) -> float:
    if abs(x) >= 1:
        return _undefined("acos'(x) is infinite at x = ±1")
    return -1.0 / math.sqrt((1.0 - x) * (1.0 + x))


def _datanh(x: float, out: float) -> float:
    return 1.0 / ((1.0 - x) * (1.0 + x))


def _dasinh(x: float, out: float) -> float:
    return 1.0 / math.hypot(x, 1.0)


def _dacosh(x: float, out: float) -> float:
    if x <= 1:
        return _undefined("acosh'(1) is infinite")
    return 1.0 / (math.sqrt(x - 1.0) * math.sqrt(x + 1.0))


def _datan2_dy(y: float, x: float, out: float) -> float:
    if x == 0 and y == 0:
        return _undefined("atan2 has no gradient at (0, 0)")
    h = math.hypot(x, y)
    return x / h / h


def _datan2_dx(y: float, x: float, out: float) -> float:
    if x == 0 and y == 0:
        return _undefined("atan2 has no gradient at (0, 0)")
    h = math.hypot(x, y)
    return -y / h / h


def _dtanh(x: float, out: float) -> float:
    if -0.5 < out < 0.5:
        return 1.0 - out * out  # accurate while out² ≤ 1/4 (and the fast case of deep tanh chains)
    # 1 − tanh² as 4z/(1 + z)² with z = e^(−2|x|): 1 − out² loses digits as |out| nears 1
    # (fourteen units in the last place at x = 2) and is 0 from |x| ≈ 19 on
    z = math.exp(-2.0 * abs(x))
    return 4.0 * z / ((1.0 + z) * (1.0 + z))


def _dsigmoid(x: float, out: float) -> float:
    if x <= 0:
        return out * (1.0 - out)  # out ≤ 1/2: nothing cancels
    # sigmoid(x)·sigmoid(−x) as z/(1 + z)² with z = e^(−x): 1 − out loses digits as out
    # nears 1, and is 0 from x ≈ 37 on
    z = math.exp(-x)
    return z / ((1.0 + z) * (1.0 + z))


def _derf(x: float, out: float) -> float:
    # 2/√π·e^(−x²) with x² split into its rounded value and the rounding error
    # (e^(−x²) would otherwise lose x²·2^-53 relative: hundreds of units at x = 25)
    if abs(x) > 27.0:  # e^(−729) is below the smallest normal float
        return _TWO_OVER_SQRT_PI * math.exp(-x * x)
    square, error = _two_product(x, x)
    return _TWO_OVER_SQRT_PI * math.exp(-square) * (1.0 - error)


def _dlog_base_dx(x: float, b: float, out: float) -> float:
    return 1.0 / x / math.log(b)


def _dlog_base_db(x: float, b: float, out: float) -> float:
    return -out / b / math.log(b)


_SUBNORMAL_HYPOT = 2.0**-1000
_UP = 2.0**600
_TINY = 2.2250738585072014e-308  # the smallest normal float
_WHOLE = 2.0**53  # from here on every float is even, and y − 1 rounds
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/√π, correctly rounded


def _dextreme(k: int, *args: float) -> float:
    """max/min toward argument k: 1 where it alone is the result, 1/k at a tie of k."""
    *xs, out = args
    if xs[k] != out:
        return 0.0
    return 1.0 / sum(1 for v in xs if v == out)


def _sum(*xs: float) -> float:
    """The sum rounded once (fsum); fsum refuses an intermediate overflow even where
    the sum itself is finite (1e308 + 1e308 − 1e308), so such sums are taken halved."""
    try:
        return math.fsum(xs)
    except OverflowError:
        total = math.fsum(x * 0.5 for x in xs) * 2.0
        if math.isinf(total):
            raise OverflowError("the sum is too large for a float") from None
        return total


def _mean(*xs: float) -> float:
    n = len(xs)
    try:
        return _sum(*xs) / n
    except OverflowError:  # the mean of large numbers may be finite where their sum is not
        scale = 2.0 ** n.bit_length()  # a power of two: scaling is exact
        return math.fsum(x / scale for x in xs) / n * scale


def _logsumexp(*xs: float) -> float:
    # log(Σ e^x) = m + log1p(Σ_{others} e^(x − m)), m the largest: every exponent ≤ 0,
    # so nothing overflows, and log1p keeps the digits when one term dominates.
    m = max(xs)
    if len(xs) == 1:
        return m
    top = xs.index(m)
    return m + math.log1p(math.fsum(math.exp(v - m) for i, v in enumerate(xs) if i != top))


def _dlogsumexp(k: int, *args: float) -> float:
    return math.exp(args[k] - args[-1])  # the softmax: e^(x_k − logsumexp)


def _dhypot(k: int, *args: float) -> float:
    *xs, out = args
    if out == 0:
        return 0.0  # at the origin, as abs'(0) = 0
    if out < _SUBNORMAL_HYPOT:  # a subnormal hypot has lost its last digits: scale up first
        return xs[k] * _UP / math.hypot(*(v * _UP for v in xs))
    return xs[k] / out


def _clip(x: float, lo: float, hi: float) -> float:
    if lo > hi:
        raise ValueError("clip with lo > hi")
    return min(max(x, lo), hi)


# --- the same helpers over arrays (``np`` is the numpy module) -----------------------


def _vsigmoid(np: Any, x: Any) -> Any:
    # exp(-|x|) never overflows; the two forms are _sigmoid's two branches.
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _vsoftplus(np: Any, x: Any) -> Any:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _each(np: Any, f: Callable[[float], float], x: Any) -> Any:
    """``f`` per element: the scalar rule itself, for functions NumPy lacks (erf) or
    computes differently (cbrt); still cheap next to reading and writing the rows."""
    if np.ndim(x) == 0:
        return f(float(x))
    return np.fromiter(map(f, x.tolist()), dtype=np.float64, count=len(x))


def _verf(np: Any, x: Any) -> Any:
    return _each(np, math.erf, x)


def _vcbrt(np: Any, x: Any) -> Any:
    return _each(np, _cbrt, x)


def _vdpow_dx_out(np: Any, x: Any, y: Any, out: Any) -> Any:
    return np.where(((y < 0.5) | (y >= _WHOLE)) & (np.abs(out) >= _TINY),
                    np.where(np.abs(x) >= 1, y * (out / x), (y * out) / x),
                    y * np.power(x, y - 1))


def _vdtanh(np: Any, x: Any, out: Any) -> Any:
    z = np.exp(-2.0 * np.abs(x))
    return np.where((-0.5 < out) & (out < 0.5), 1.0 - out * out, 4.0 * z / ((1.0 + z) * (1.0 + z)))


def _vdsigmoid(np: Any, x: Any, out: Any) -> Any:
    z = np.exp(-np.abs(x))
    return np.where(x <= 0, out * (1.0 - out), z / ((1.0 + z) * (1.0 + z)))


def _vderf(np: Any, x: Any, out: Any) -> Any:
    near = np.abs(x) <= 27.0
    xs = np.where(near, x, 0.0)  # the split below overflows far out
    c = _SPLIT * xs
    hi = c - (c - xs)
    lo = xs - hi
    square = x * x
    error = np.where(near, ((hi * hi - square) + hi * lo + lo * hi) + lo * lo, 0.0)
    return _TWO_OVER_SQRT_PI * np.exp(-square) * (1.0 - error)


def _vdatan2(np: Any, a: Any, y: Any, x: Any) -> Any:
    h = np.hypot(x, y)
    return a / h / h


def _vdpow_dx(np: Any, x: Any, y: Any, out: Any) -> Any:
    # as _dpow_dx; x = 0 with y < 1 gives ±inf here, the scalar rule says why
    return np.where(y == 0, 0.0, np.where(y == 1, 1.0, _vdpow_dx_out(np, x, y, out)))


def _vdpow_dy(np: Any, x: Any, y: Any, out: Any) -> Any:
    # as _dpow_dy; x < 0 gives NaN here, the scalar rule says why
    d = out * np.log(x)
    small = (np.abs(out) < _TINY) & (out != 0) & (x > 0)
    if np.any(small):
        half = np.power(x, y / 2)
        d = np.where(small, half * (half * np.log(x)), d)
    return np.where((x == 0) & (y > 0), 0.0, d)


def _vlog_base(np: Any, x: Any, b: Any) -> Any:
    # log(1)/log(0) would be a finite -0.0; _log_base refuses b ≤ 0 and x ≤ 0 (NaN here)
    return np.where((x > 0) & (b > 0), np.log(x) / np.log(b), np.nan)


def _vdhypot(k: int, np: Any, *args: Any) -> Any:
    # as _dhypot: 0 at the origin, scaled where hypot is subnormal
    *xs, out = args
    a = xs[k]
    small = out < _SUBNORMAL_HYPOT
    if np.any(small):
        scaled = _vhypot(np, *(v * _UP for v in xs))
        a = np.where(small, a * _UP, a)
        out = np.where(small, scaled, out)
    return np.where(out == 0, 0.0, a / np.where(out != 0, out, 1.0))


def _vreduce(ufunc: Any, args: tuple[Any, ...]) -> Any:
    """``ufunc`` over the arguments left to right (each an array or a number)."""
    out = args[0]
    for a in args[1:]:
        out = ufunc(out, a)
    return out


def _vdextreme(k: int, np: Any, *args: Any) -> Any:
    *xs, out = args
    ties = _vreduce(np.add, tuple((x == out) + 0.0 for x in xs))
    return np.where(xs[k] == out, 1.0 / ties, 0.0)


def _rows(np: Any, f: Callable[..., float], xs: tuple[Any, ...]) -> Any:
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


def _vhypot(np: Any, *xs: Any) -> Any:
    return _vreduce(np.hypot, xs) if len(xs) > 1 else np.abs(xs[0])


def _vclip(np: Any, x: Any, lo: Any, hi: Any) -> Any:
    # lo > hi is NaN here: the scalar rule names the values
    return np.where(lo <= hi, np.minimum(np.maximum(x, lo), hi), np.nan)


def _compare(test: Callable[[float, float], bool]) -> Callable[[float, float], float]:
    return lambda x, y: 1.0 if test(x, y) else 0.0


_ZERO2 = (lambda x, y, out: 0.0, lambda x, y, out: 0.0)
_VZERO2 = (lambda np, x, y, out: 0.0, lambda np, x, y, out: 0.0)


# --- the table ------------------------------------------------------------------

_ROWS: tuple[Op, ...] = (
    # operators
    Op("add", 2, lambda x, y: x + y,
       (lambda x, y, out: 1.0, lambda x, y, out: 1.0),
       rule="∂/∂x = 1, ∂/∂y = 1", symbol="+", params=("x", "y"),
       vforward=lambda np, x, y: x + y,
       vgrads=(lambda np, x, y, out: 1.0, lambda np, x, y, out: 1.0)),
    Op("sub", 2, lambda x, y: x - y,
       (lambda x, y, out: 1.0, lambda x, y, out: -1.0),
       rule="∂/∂x = 1, ∂/∂y = −1", symbol="-", params=("x", "y"),
       vforward=lambda np, x, y: x - y,
       vgrads=(lambda np, x, y, out: 1.0, lambda np, x, y, out: -1.0)),
    Op("mul", 2, lambda x, y: x * y,
       (lambda x, y, out: y, lambda x, y, out: x),
       rule="∂/∂x = y, ∂/∂y = x", symbol="*", params=("x", "y"),
       vforward=lambda np, x, y: x * y,
       vgrads=(lambda np, x, y, out: y, lambda np, x, y, out: x)),
    Op("div", 2, _div,
       (lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y),
       rule="∂/∂x = 1/y, ∂/∂y = −x/y²", domain="y ≠ 0", symbol="/", params=("x", "y"),
       vforward=lambda np, x, y: x / y,
       vgrads=(lambda np, x, y, out: 1.0 / y, lambda np, x, y, out: -out / y)),
    Op("pow", 2, _pow, (_dpow_dx, _dpow_dy),
       rule="∂/∂x = y·x^(y−1), ∂/∂y = x^y·ln x",
       domain="x > 0, or x = 0 with y ≥ 0, or x < 0 with y whole; ∂/∂y needs x > 0",
       symbol="^", params=("x", "y"),
       vforward=lambda np, x, y: np.power(x, y),
       vgrads=(_vdpow_dx, _vdpow_dy)),
    Op("neg", 1, lambda x: -x, (lambda x, out: -1.0,), rule="−1", symbol="-",
       vforward=lambda np, x: -x,
       vgrads=(lambda np, x, out: -1.0,)),
    # comparisons: 1 or 0, flat on either side of the step
    Op("lt", 2, _compare(lambda x, y: x < y), _ZERO2,
       rule="0 (1 where x < y holds, else 0: a step)", symbol="<", params=("x", "y"),
       vforward=lambda np, x, y: (x < y) + 0.0, vgrads=_VZERO2),
    Op("le", 2, _compare(lambda x, y: x <= y), _ZERO2,
       rule="0 (1 where x <= y holds, else 0: a step)", symbol="<=", params=("x", "y"),
       vforward=lambda np, x, y: (x <= y) + 0.0, vgrads=_VZERO2),
    Op("gt", 2, _compare(lambda x, y: x > y), _ZERO2,
       rule="0 (1 where x > y holds, else 0: a step)", symbol=">", params=("x", "y"),
       vforward=lambda np, x, y: (x > y) + 0.0, vgrads=_VZERO2),
    Op("ge", 2, _compare(lambda x, y: x >= y), _ZERO2,
       rule="0 (1 where x >= y holds, else 0: a step)", symbol=">=", params=("x", "y"),
       vforward=lambda np, x, y: (x >= y) + 0.0, vgrads=_VZERO2),
    Op("eq", 2, _compare(lambda x, y: x == y), _ZERO2,
       rule="0 (1 where x == y holds, else 0: a step)", symbol="==", params=("x", "y"),
       vforward=lambda np, x, y: (x == y) + 0.0, vgrads=_VZERO2),
    Op("ne", 2, _compare(lambda x, y: x != y), _ZERO2,
       rule="0 (1 where x != y holds, else 0: a step)", symbol="!=", params=("x", "y"),
       vforward=lambda np, x, y: (x != y) + 0.0, vgrads=_VZERO2),
    # exponentials and logarithms
    Op("exp", 1, math.exp, (lambda x, out: out,), rule="exp(x)",
       vforward=lambda np, x: np.exp(x),
       vgrads=(lambda np, x, out: out,)),
    Op("log", 1, _log, (lambda x, out: 1.0 / x,), rule="1/x", domain="x > 0",
       vforward=lambda np, x: np.log(x),
       vgrads=(lambda np, x, out: 1.0 / x,)),
    Op("ln", 1, _log, (lambda x, out: 1.0 / x,), rule="1/x", domain="x > 0",
       vforward=lambda np, x: np.log(x),
       vgrads=(lambda np, x, out: 1.0 / x,)),
    Op("log2", 1, math.log2, (lambda x, out: 1.0 / x / _LN2,), rule="1/(x·ln 2)", domain="x > 0",
       vforward=lambda np, x: np.log2(x),
       vgrads=(lambda np, x, out: 1.0 / x / _LN2,)),
    Op("log10", 1, math.log10, (lambda x, out: 1.0 / x / _LN10,),
       rule="1/(x·ln 10)", domain="x > 0",
       vforward=lambda np, x: np.log10(x),
       vgrads=(lambda np, x, out: 1.0 / x / _LN10,)),
    Op("log", 2, _log_base, (_dlog_base_dx, _dlog_base_db),
       rule="∂/∂x = 1/(x·ln b), ∂/∂b = −log(x, b)/(b·ln b)", domain="x > 0, b > 0, b ≠ 1",
       params=("x", "b"),
       vforward=_vlog_base,
       vgrads=(lambda np, x, b, out: 1.0 / x / np.log(b),
               lambda np, x, b, out: -out / b / np.log(b))),
    # roots and pieces
    Op("sqrt", 1, math.sqrt, (_dsqrt,), rule="1/(2·sqrt(x)); undefined at 0", domain="x ≥ 0",
       vforward=lambda np, x: np.sqrt(x),
       vgrads=(lambda np, x, out: 0.5 / out,)),
    Op("cbrt", 1, _cbrt, (_dcbrt,), rule="1/(3·cbrt(x)²); undefined at 0",
       vforward=_vcbrt,
       vgrads=(lambda np, x, out: 1.0 / (3.0 * out * out),)),
    Op("abs", 1, abs, (lambda x, out: _sign(x),), rule="sign(x); abs'(0) = 0",
       vforward=lambda np, x: np.abs(x),
       vgrads=(lambda np, x, out: np.sign(x),)),
    Op("sign", 1, _sign, (lambda x, out: 0.0,), rule="0",
       vforward=lambda np, x: np.sign(x) + 0.0,
       vgrads=(lambda np, x, out: 0.0,)),
    # trigonometry
    Op("sin", 1, math.sin, (lambda x, out: math.cos(x),), rule="cos(x)",
       vforward=lambda np, x: np.sin(x),
       vgrads=(lambda np, x, out: np.cos(x),)),
    Op("cos", 1, math.cos, (lambda x, out: -math.sin(x),), rule="−sin(x)",
       vforward=lambda np, x: np.cos(x),
       vgrads=(lambda np, x, out: -np.sin(x),)),
    Op("tan", 1, math.tan, (lambda x, out: 1.0 + out * out,), rule="1 + tan(x)²",
       vforward=lambda np, x: np.tan(x),
       vgrads=(lambda np, x, out: 1.0 + out * out,)),
    Op("asin", 1, math.asin, (_dasin,), rule="1/sqrt(1 − x²); undefined at ±1", domain="−1 ≤ x ≤ 1",
       vforward=lambda np, x: np.arcsin(x),
       vgrads=(lambda np, x, out: 1.0 / np.sqrt((1.0 - x) * (1.0 + x)),)),
    Op("acos", 1, math.acos, (_dacos,), rule="−1/sqrt(1 − x²); undefined at ±1", domain="−1 ≤ x ≤ 1",
       vforward=lambda np, x: np.arccos(x),
       vgrads=(lambda np, x, out: -1.0 / np.sqrt((1.0 - x) * (1.0 + x)),)),
    Op("atan", 1, math.atan, (lambda x, out: 1.0 / (1.0 + x * x),), rule="1/(1 + x²)",
       vforward=lambda np, x: np.arctan(x),
       vgrads=(lambda np, x, out: 1.0 / (1.0 + x * x),)),
    Op("atan2", 2, math.atan2, (_datan2_dy, _datan2_dx),
       rule="∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²); undefined at (0, 0)", params=("y", "x"),
       vforward=lambda np, y, x: np.arctan2(y, x),
       vgrads=(lambda np, y, x, out: _vdatan2(np, x, y, x),
               lambda np, y, x, out: _vdatan2(np, -y, y, x))),
    # hyperbolic
    Op("sinh", 1, math.sinh, (lambda x, out: math.cosh(x),), rule="cosh(x)",
       vforward=lambda np, x: np.sinh(x),
       vgrads=(lambda np, x, out: np.cosh(x),)),
    Op("cosh", 1, math.cosh, (lambda x, out: math.sinh(x),), rule="sinh(x)",
       vforward=lambda np, x: np.cosh(x),
       vgrads=(lambda np, x, out: np.sinh(x),)),
    Op("tanh", 1, math.tanh, (_dtanh,), rule="1 − tanh(x)²",
       vforward=lambda np, x: np.tanh(x),
       vgrads=(_vdtanh,)),
    Op("asinh", 1, math.asinh, (_dasinh,), rule="1/sqrt(x² + 1)",
       vforward=lambda np, x: np.arcsinh(x),
       vgrads=(lambda np, x, out: 1.0 / np.hypot(x, 1.0),)),
    Op("acosh", 1, math.acosh, (_dacosh,), rule="1/sqrt(x² − 1); undefined at 1", domain="x ≥ 1",
       vforward=lambda np, x: np.arccosh(x),
       vgrads=(lambda np, x, out: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),)),
    Op("atanh", 1, math.atanh, (_datanh,), rule="1/(1 − x²)", domain="−1 < x < 1",
       vforward=lambda np, x: np.arctanh(x),
       vgrads=(lambda np, x, out: 1.0 / ((1.0 - x) * (1.0 + x)),)),
    # neural-network activations
    Op("sigmoid", 1, _sigmoid, (_dsigmoid,), rule="sigmoid(x)·(1 − sigmoid(x))",
       vforward=_vsigmoid,
       vgrads=(_vdsigmoid,)),
    Op("relu", 1, lambda x: x if x > 0 else 0.0, (lambda x, out: 1.0 if x > 0 else 0.0,),
       rule="1 for x > 0, else 0; relu'(0) = 0",
       vforward=lambda np, x: np.where(x > 0, x, 0.0),
       vgrads=(lambda np, x, out: np.where(x > 0, 1.0, 0.0),)),
    Op("softplus", 1, _softplus, (lambda x, out: _sigmoid(x),), rule="sigmoid(x)",
       vforward=_vsoftplus,
       vgrads=(lambda np, x, out: _vsigmoid(np, x),)),
    Op("erf", 1, math.erf, (_derf,), rule="2/sqrt(π)·exp(−x²)",
       vforward=_verf,
       vgrads=(_vderf,)),
    # two arguments
    # pieces
    Op("clip", 3, _clip,
       (lambda x, lo, hi, out: 1.0 if lo <= x <= hi else 0.0,
        lambda x, lo, hi, out: 1.0 if x < lo else 0.0,
        lambda x, lo, hi, out: 1.0 if x > hi else 0.0),
       rule="∂/∂x = 1 where lo ≤ x ≤ hi (PyTorch's clamp); else 1 toward the bound taken",
       domain="lo ≤ hi", params=("x", "lo", "hi"),
       vforward=_vclip,
       vgrads=(lambda np, x, lo, hi, out: np.where((lo <= x) & (x <= hi), 1.0, 0.0),
               lambda np, x, lo, hi, out: np.where(x < lo, 1.0, 0.0),
               lambda np, x, lo, hi, out: np.where(x > hi, 1.0, 0.0))),
    # the lazy conditional: the evaluators compute only the branch taken (its forward
    # here is for a point where both are known); see gradcli/branches.py
    Op("if", 3, lambda c, a, b: a if c != 0 else b,
       (lambda c, a, b, out: 0.0,
        lambda c, a, b, out: 1.0 if c != 0 else 0.0,
        lambda c, a, b, out: 0.0 if c != 0 else 1.0),
       rule="1 toward the branch taken, which alone is evaluated; ∂/∂c = 0",
       params=("c", "a", "b"),
       vforward=lambda np, c, a, b: np.where(c != 0, a, b),
       vgrads=(lambda np, c, a, b, out: 0.0,
               lambda np, c, a, b, out: np.where(c != 0, 1.0, 0.0),
               lambda np, c, a, b, out: np.where(c != 0, 0.0, 1.0))),
    # any number of arguments
    Op("max", 2, max, Positional(_dextreme, 2),
       rule="1 toward the largest argument, else 0; 1/k each at a tie of k",
       params=("x", "y"), variadic=True,
       vforward=lambda np, *xs: _vreduce(lambda a, b: np.where(b > a, b, a), xs),  # as max()
       vgrads=Positional(_vdextreme, 2)),
    Op("min", 2, min, Positional(_dextreme, 2),
       rule="1 toward the smallest argument, else 0; 1/k each at a tie of k",
       params=("x", "y"), variadic=True,
       vforward=lambda np, *xs: _vreduce(lambda a, b: np.where(b < a, b, a), xs),  # as min()
       vgrads=Positional(_vdextreme, 2)),
    Op("sum", 1, _sum, Positional(lambda k, *args: 1.0, 1),
       rule="1 toward each argument", params=("x",), variadic=True,
       vforward=lambda np, *xs: _rows(np, _sum, xs),
       vgrads=Positional(lambda k, np, *args: 1.0, 1)),
    Op("mean", 1, _mean,
       Positional(lambda k, *args: 1.0 / (len(args) - 1), 1),
       rule="1/n toward each of the n arguments", params=("x",), variadic=True,
       vforward=lambda np, *xs: _rows(np, _mean, xs),
       vgrads=Positional(lambda k, np, *args: 1.0 / (len(args) - 1), 1)),
    Op("logsumexp", 1, _logsumexp, Positional(_dlogsumexp, 1),
       rule="∂/∂x_k = exp(x_k − logsumexp(...)), the softmax",
       params=("x",), variadic=True,
       vforward=lambda np, *xs: _rows(np, _logsumexp, xs),
       vgrads=Positional(lambda k, np, *args: np.exp(args[k] - args[-1]), 1)),
    Op("hypot", 1, math.hypot, Positional(_dhypot, 1),
       rule="∂/∂x_k = x_k/hypot(...); 0 at the origin, as abs'(0) = 0",
       params=("x",), variadic=True,
       vforward=_vhypot,
       vgrads=Positional(_vdhypot, 1)),
)

#: Operators by name: add, sub, mul, div, pow, neg.
OPERATORS: dict[str, Op] = {op.name: op for op in _ROWS if op.symbol is not None}

#: Functions a program may call, by name and arity (the least arity for an n-ary
#: row: use :func:`function` to find the row of a call). ``pow`` is the operator ``^``.
FUNCTIONS: dict[str, dict[int, Op]] = {}
for _op in _ROWS:
    if _op.symbol is None:
        FUNCTIONS.setdefault(_op.name, {})[_op.arity] = _op
FUNCTIONS["pow"] = {2: OPERATORS["pow"]}

#: The lazy conditional: the evaluators take only the branch its condition picks.
IF: Op = FUNCTIONS["if"][3]

#: The comparison operators, by symbol.
COMPARISONS: dict[str, Op] = {
    op.symbol: op for op in _ROWS if op.name in ("lt", "le", "gt", "ge", "eq", "ne")  # type: ignore[misc]
}


def function(name: str, count: int) -> Op | None:
    """The row a call of ``name`` with ``count`` arguments uses, or None."""
    for op in FUNCTIONS.get(name, {}).values():
        if op.accepts(count):
            return op
    return None


def arity_words(name: str) -> str:
    """How many arguments ``name`` takes, in words: "1 or 2", "2 or more"."""
    rows = sorted(FUNCTIONS[name].values(), key=lambda op: op.arity)
    counts = [f"{op.arity} or more" if op.variadic else str(op.arity) for op in rows]
    plural = "" if counts == ["1"] else "s"
    return f"{' or '.join(counts)} argument{plural}"


#: Every row, in the order above (for docs and tests).
ALL_OPS: tuple[Op, ...] = _ROWS

#: Named constants: usable anywhere, never bound or assigned.
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
