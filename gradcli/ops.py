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

from .numerics import (
    LN2,
    LN10,
    cbrt,
    clip,
    dacos,
    dacosh,
    dasin,
    dasinh,
    datan2_dx,
    datan2_dy,
    datanh,
    dcbrt,
    derf,
    dextreme,
    dhypot,
    div,
    dlog_base_db,
    dlog_base_dx,
    dlogsumexp,
    dpow_dx,
    dpow_dy,
    dsigmoid,
    dsqrt,
    dtanh,
    exact_sum,
    log,
    log_base,
    logsumexp,
    mean,
    power,
    row_by_row,
    sigmoid,
    sign,
    softplus,
    vcbrt,
    vclip,
    vdatan2,
    vderf,
    vdextreme,
    vdhypot,
    vdpow_dx,
    vdpow_dy,
    vdsigmoid,
    vdtanh,
    verf,
    vhypot,
    vlog_base,
    vreduce,
    vsigmoid,
    vsoftplus,
)
from .numerics import Undefined as Undefined  # the evaluators catch it from here


class Op:
    """One operation. ``name`` is what JSON's ``op`` says; ``symbol`` is set for
    infix operators (``+ - * / ^``) and the unary minus. Read-only by convention.

    (A plain class with slots rather than a frozen dataclass: building a dataclass
    costs every command about half a millisecond at start-up.)"""

    __slots__ = ("arity", "defined", "dgraph", "domain", "forward", "grads", "name", "params", "rule",
                 "symbol", "variadic", "vforward", "vgrads")

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
        # The same rule once more, written with the operations themselves, so that a
        # derivative is a graph (``gradcli diff``, second order): ``dgraph(G, out, *args)``
        # takes node ids and returns one node id per argument, the local gradient, or
        # None where it is a literal 0. ``G`` is :class:`gradcli.builder.Builder`: ``G.mul``,
        # ``G.div``, ... and ``G("cos", x)`` build (and simplify) nodes, ``G.num(2.0)`` a
        # constant. Each rule computes what the number rule above computes, operation for
        # operation where that is cheap, so that a derivative program gives eval's gradient.
        dgraph: Callable[..., tuple[int | None, ...]] | None = None,
        # Where the local gradients are defined, for a rule that can be undefined where
        # the forward value is not (sqrt'(0)): ``defined(G, out, *args)`` gives one node
        # per argument, 1 where that local gradient exists and 0 where it does not (None:
        # everywhere). A derivative program computes a local gradient outside it only
        # where the gradient flowing in is not 0, as the reverse loop does.
        defined: Callable[..., tuple[int | None, ...]] | None = None,
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
        self.dgraph = dgraph
        self.defined = defined

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


def _compare(test: Callable[[float, float], bool]) -> Callable[[float, float], float]:
    return lambda x, y: 1.0 if test(x, y) else 0.0


_ZERO2 = (lambda x, y, out: 0.0, lambda x, y, out: 0.0)
_VZERO2 = (lambda np, x, y, out: 0.0, lambda np, x, y, out: 0.0)


# --- the graph rules that take more than a line (see Op's ``dgraph``) ------------------

_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/√π, correctly rounded
_TINY = 2.2250738585072014e-308  # the smallest normal float
_WHOLE = 2.0**53  # from here on every float is even, and y − 1 rounds


def _GZERO(G: Any, out: int, x: int, y: int) -> tuple[None, None]:
    return (None, None)  # a step: flat on either side


def _one_minus_square(G: Any, x: int) -> int:
    return G.mul(G.sub(G.one, x), G.add(G.one, x))  # (1 − x)(1 + x): exact near ±1


def _gpow_dx(G: Any, out: int, x: int, y: int) -> int | None:
    c = G.value(y)
    if c is None:  # a varying exponent: y·x^(y−1); x^0 is the constant 1 even at x = 0
        # (only there: elsewhere y·x^(y−1) itself, whose derivative toward y is right at y = 0)
        away = G("max", G("ne", x, G.zero), G("ne", y, G.zero))
        return G("if", away, G.mul(y, G.pow(x, G.sub(y, G.one))), G.zero)
    if c == 0:
        return None
    if c == 1:
        return G.one
    if 0.5 <= c < _WHOLE:  # y − 1 is exact here
        return G.mul(y, G.pow(x, G.num(c - 1.0)))
    return G.mul(y, G.div(out, x))  # y − 1 would round: y·x^y/x


def _gpow_dy(G: Any, out: int, x: int, y: int) -> int | None:
    c = G.value(x)
    if c is not None:  # a constant base: x^y·ln x (ln of a negative base is the domain error)
        return None if c == 0 else G.mul(out, G("log", x))
    # x > 0: x^y·ln x; 0^y is 0 for y > 0 (out = 0 there); x < 0: undefined (log(x) fails)
    inner = G("if", G("ne", out, G.zero), G.mul(out, G("log", x)), G.zero)
    return G("if", G("ge", x, G.zero), inner, G("log", x))


def _gpow_defined(G: Any, out: int, x: int, y: int) -> tuple[int | None, int | None]:
    c, b = G.value(y), G.value(x)
    if c is not None:  # x^c: defined everywhere for c ≥ 1 (and c = 0), else away from x = 0
        toward_x = None if c >= 1 or c == 0 else G("ne", x, G.zero)
    else:  # undefined at x = 0 with y < 1
        toward_x = G("max", G("ne", x, G.zero), G("ge", y, G.one))
    # c^y for c > 0 everywhere; else x > 0, or 0^y = 0 (y > 0): x^y = 0 with x ≥ 0 (a
    # negative x whose x^y underflowed to 0, (-0.5)^100000, has no derivative toward y)
    toward_y = None if b is not None and b > 0 else G(
        "max", G("gt", x, G.zero), G.mul(G("eq", out, G.zero), G("ge", x, G.zero)))
    return toward_x, toward_y


def _gtanh(G: Any, out: int, x: int) -> tuple[int]:
    # 1 − tanh(x)² = (1 − tanh x)(1 + tanh x) = 4·σ(2x)·σ(−2x): as accurate as dtanh's two
    # forms everywhere (1 − t² loses every digit as |t| nears 1), and small
    u = G.mul(G.num(2.0), x)
    return (G.mul(G.mul(G.num(4.0), G("sigmoid", u)), G("sigmoid", G.neg(u))),)


def _gsigmoid(G: Any, out: int, x: int) -> tuple[int]:
    # σ(x)·σ(−x) = σ(x)(1 − σ(x)), with no 1 − σ that cancels as σ nears 1
    return (G.mul(out, G("sigmoid", G.neg(x))),)


def _gatan2(G: Any, out: int, y: int, x: int) -> tuple[int, int]:
    h = G("hypot", x, y)  # 0 at (0, 0): the division is the error there
    return G.div(G.div(x, h), h), G.div(G.div(G.neg(y), h), h)


def _gatan2_defined(G: Any, out: int, y: int, x: int) -> tuple[int, int]:
    away = G("ne", G("hypot", x, y), G.zero)  # everywhere but (0, 0)
    return away, away


def _gextreme(G: Any, out: int, *xs: int) -> tuple[int, ...]:
    # 1 toward the argument that is the result, 1/k each at a tie of k
    hits = [G("eq", x, out) for x in xs]
    count = hits[0]
    for hit in hits[1:]:
        count = G.add(count, hit)
    return tuple(G.div(hit, count) for hit in hits)


def _ghypot(G: Any, out: int, *xs: int) -> tuple[int, ...]:
    nonzero = G("ne", out, G.zero)  # 0 at the origin, as abs'(0) = 0
    return tuple(G("if", nonzero, G.div(x, out), G.zero) for x in xs)


# --- the table ------------------------------------------------------------------

_ROWS: tuple[Op, ...] = (
    # operators
    Op("add", 2, lambda x, y: x + y,
       (lambda x, y, out: 1.0, lambda x, y, out: 1.0),
       dgraph=lambda G, out, x, y: (G.one, G.one),
       rule="∂/∂x = 1, ∂/∂y = 1", symbol="+", params=("x", "y"),
       vforward=lambda np, x, y: x + y,
       vgrads=(lambda np, x, y, out: 1.0, lambda np, x, y, out: 1.0)),
    Op("sub", 2, lambda x, y: x - y,
       (lambda x, y, out: 1.0, lambda x, y, out: -1.0),
       dgraph=lambda G, out, x, y: (G.one, G.num(-1.0)),
       rule="∂/∂x = 1, ∂/∂y = −1", symbol="-", params=("x", "y"),
       vforward=lambda np, x, y: x - y,
       vgrads=(lambda np, x, y, out: 1.0, lambda np, x, y, out: -1.0)),
    Op("mul", 2, lambda x, y: x * y,
       (lambda x, y, out: y, lambda x, y, out: x),
       dgraph=lambda G, out, x, y: (y, x),
       rule="∂/∂x = y, ∂/∂y = x", symbol="*", params=("x", "y"),
       vforward=lambda np, x, y: x * y,
       vgrads=(lambda np, x, y, out: y, lambda np, x, y, out: x)),
    Op("div", 2, div,
       (lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y),
       dgraph=lambda G, out, x, y: (G.div(G.one, y), G.div(G.neg(out), y)),
       rule="∂/∂x = 1/y, ∂/∂y = −x/y²", domain="y ≠ 0", symbol="/", params=("x", "y"),
       vforward=lambda np, x, y: x / y,
       vgrads=(lambda np, x, y, out: 1.0 / y, lambda np, x, y, out: -out / y)),
    Op("pow", 2, power, (dpow_dx, dpow_dy),
       dgraph=lambda G, out, x, y: (_gpow_dx(G, out, x, y), _gpow_dy(G, out, x, y)),
       defined=_gpow_defined,
       rule="∂/∂x = y·x^(y−1), ∂/∂y = x^y·ln x",
       domain="x > 0, or x = 0 with y ≥ 0, or x < 0 with y whole; ∂/∂y needs x > 0",
       symbol="^", params=("x", "y"),
       vforward=lambda np, x, y: np.power(x, y),
       vgrads=(vdpow_dx, vdpow_dy)),
    Op("neg", 1, lambda x: -x, (lambda x, out: -1.0,),
       dgraph=lambda G, out, x: (G.num(-1.0),),
       rule="−1", symbol="-",
       vforward=lambda np, x: -x,
       vgrads=(lambda np, x, out: -1.0,)),
    # comparisons: 1 or 0, flat on either side of the step
    Op("lt", 2, _compare(lambda x, y: x < y), _ZERO2,
       dgraph=_GZERO,
       rule="0 (1 where x < y holds, else 0: a step)", symbol="<", params=("x", "y"),
       vforward=lambda np, x, y: (x < y) + 0.0, vgrads=_VZERO2),
    Op("le", 2, _compare(lambda x, y: x <= y), _ZERO2,
       dgraph=_GZERO,
       rule="0 (1 where x <= y holds, else 0: a step)", symbol="<=", params=("x", "y"),
       vforward=lambda np, x, y: (x <= y) + 0.0, vgrads=_VZERO2),
    Op("gt", 2, _compare(lambda x, y: x > y), _ZERO2,
       dgraph=_GZERO,
       rule="0 (1 where x > y holds, else 0: a step)", symbol=">", params=("x", "y"),
       vforward=lambda np, x, y: (x > y) + 0.0, vgrads=_VZERO2),
    Op("ge", 2, _compare(lambda x, y: x >= y), _ZERO2,
       dgraph=_GZERO,
       rule="0 (1 where x >= y holds, else 0: a step)", symbol=">=", params=("x", "y"),
       vforward=lambda np, x, y: (x >= y) + 0.0, vgrads=_VZERO2),
    Op("eq", 2, _compare(lambda x, y: x == y), _ZERO2,
       dgraph=_GZERO,
       rule="0 (1 where x == y holds, else 0: a step)", symbol="==", params=("x", "y"),
       vforward=lambda np, x, y: (x == y) + 0.0, vgrads=_VZERO2),
    Op("ne", 2, _compare(lambda x, y: x != y), _ZERO2,
       dgraph=_GZERO,
       rule="0 (1 where x != y holds, else 0: a step)", symbol="!=", params=("x", "y"),
       vforward=lambda np, x, y: (x != y) + 0.0, vgrads=_VZERO2),
    # exponentials and logarithms
    Op("exp", 1, math.exp, (lambda x, out: out,),
       dgraph=lambda G, out, x: (out,),
       rule="exp(x)",
       vforward=lambda np, x: np.exp(x),
       vgrads=(lambda np, x, out: out,)),
    Op("log", 1, log, (lambda x, out: 1.0 / x,),
       dgraph=lambda G, out, x: (G.div(G.one, x),),
       rule="1/x", domain="x > 0",
       vforward=lambda np, x: np.log(x),
       vgrads=(lambda np, x, out: 1.0 / x,)),
    Op("ln", 1, log, (lambda x, out: 1.0 / x,),
       dgraph=lambda G, out, x: (G.div(G.one, x),),
       rule="1/x", domain="x > 0",
       vforward=lambda np, x: np.log(x),
       vgrads=(lambda np, x, out: 1.0 / x,)),
    Op("log2", 1, math.log2, (lambda x, out: 1.0 / x / LN2,),
       dgraph=lambda G, out, x: (G.div(G.div(G.one, x), G.num(LN2)),),
       rule="1/(x·ln 2)", domain="x > 0",
       vforward=lambda np, x: np.log2(x),
       vgrads=(lambda np, x, out: 1.0 / x / LN2,)),
    Op("log10", 1, math.log10, (lambda x, out: 1.0 / x / LN10,),
       dgraph=lambda G, out, x: (G.div(G.div(G.one, x), G.num(LN10)),),
       rule="1/(x·ln 10)", domain="x > 0",
       vforward=lambda np, x: np.log10(x),
       vgrads=(lambda np, x, out: 1.0 / x / LN10,)),
    Op("log", 2, log_base, (dlog_base_dx, dlog_base_db),
       dgraph=lambda G, out, x, b: (G.div(G.div(G.one, x), G("log", b)),
                                    G.div(G.div(G.neg(out), b), G("log", b))),
       rule="∂/∂x = 1/(x·ln b), ∂/∂b = −log(x, b)/(b·ln b)", domain="x > 0, b > 0, b ≠ 1",
       params=("x", "b"),
       vforward=vlog_base,
       vgrads=(lambda np, x, b, out: 1.0 / x / np.log(b),
               lambda np, x, b, out: -out / b / np.log(b))),
    # roots and pieces
    Op("sqrt", 1, math.sqrt, (dsqrt,),
       dgraph=lambda G, out, x: (G.div(G.num(0.5), out),),
       defined=lambda G, out, x: (G("gt", x, G.zero),),
       rule="1/(2·sqrt(x)); undefined at 0", domain="x ≥ 0",
       vforward=lambda np, x: np.sqrt(x),
       vgrads=(lambda np, x, out: 0.5 / out,)),
    Op("cbrt", 1, cbrt, (dcbrt,),
       dgraph=lambda G, out, x: (G.div(G.one, G.mul(G.mul(G.num(3.0), out), out)),),
       defined=lambda G, out, x: (G("ne", x, G.zero),),
       rule="1/(3·cbrt(x)²); undefined at 0",
       vforward=vcbrt,
       vgrads=(lambda np, x, out: 1.0 / (3.0 * out * out),)),
    Op("abs", 1, abs, (lambda x, out: sign(x),),
       dgraph=lambda G, out, x: (G("sign", x),),
       rule="sign(x); abs'(0) = 0",
       vforward=lambda np, x: np.abs(x),
       vgrads=(lambda np, x, out: np.sign(x),)),
    Op("sign", 1, sign, (lambda x, out: 0.0,),
       dgraph=lambda G, out, x: (None,),
       rule="0",
       vforward=lambda np, x: np.sign(x) + 0.0,
       vgrads=(lambda np, x, out: 0.0,)),
    # trigonometry
    Op("sin", 1, math.sin, (lambda x, out: math.cos(x),),
       dgraph=lambda G, out, x: (G("cos", x),),
       rule="cos(x)",
       vforward=lambda np, x: np.sin(x),
       vgrads=(lambda np, x, out: np.cos(x),)),
    Op("cos", 1, math.cos, (lambda x, out: -math.sin(x),),
       dgraph=lambda G, out, x: (G.neg(G("sin", x)),),
       rule="−sin(x)",
       vforward=lambda np, x: np.cos(x),
       vgrads=(lambda np, x, out: -np.sin(x),)),
    Op("tan", 1, math.tan, (lambda x, out: 1.0 + out * out,),
       dgraph=lambda G, out, x: (G.add(G.one, G.mul(out, out)),),
       rule="1 + tan(x)²",
       vforward=lambda np, x: np.tan(x),
       vgrads=(lambda np, x, out: 1.0 + out * out,)),
    Op("asin", 1, math.asin, (dasin,),
       dgraph=lambda G, out, x: (G.div(G.one, G("sqrt", _one_minus_square(G, x))),),
       defined=lambda G, out, x: (G("lt", G("abs", x), G.one),),
       rule="1/sqrt(1 − x²); undefined at ±1", domain="−1 ≤ x ≤ 1",
       vforward=lambda np, x: np.arcsin(x),
       vgrads=(lambda np, x, out: 1.0 / np.sqrt((1.0 - x) * (1.0 + x)),)),
    Op("acos", 1, math.acos, (dacos,),
       dgraph=lambda G, out, x: (G.neg(G.div(G.one, G("sqrt", _one_minus_square(G, x)))),),
       defined=lambda G, out, x: (G("lt", G("abs", x), G.one),),
       rule="−1/sqrt(1 − x²); undefined at ±1", domain="−1 ≤ x ≤ 1",
       vforward=lambda np, x: np.arccos(x),
       vgrads=(lambda np, x, out: -1.0 / np.sqrt((1.0 - x) * (1.0 + x)),)),
    Op("atan", 1, math.atan, (lambda x, out: 1.0 / (1.0 + x * x),),
       dgraph=lambda G, out, x: (G.div(G.one, G.add(G.one, G.mul(x, x))),),
       rule="1/(1 + x²)",
       vforward=lambda np, x: np.arctan(x),
       vgrads=(lambda np, x, out: 1.0 / (1.0 + x * x),)),
    Op("atan2", 2, math.atan2, (datan2_dy, datan2_dx),
       dgraph=_gatan2, defined=_gatan2_defined,
       rule="∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²); undefined at (0, 0)", params=("y", "x"),
       vforward=lambda np, y, x: np.arctan2(y, x),
       vgrads=(lambda np, y, x, out: vdatan2(np, x, y, x),
               lambda np, y, x, out: vdatan2(np, -y, y, x))),
    # hyperbolic
    Op("sinh", 1, math.sinh, (lambda x, out: math.cosh(x),),
       dgraph=lambda G, out, x: (G("cosh", x),),
       rule="cosh(x)",
       vforward=lambda np, x: np.sinh(x),
       vgrads=(lambda np, x, out: np.cosh(x),)),
    Op("cosh", 1, math.cosh, (lambda x, out: math.sinh(x),),
       dgraph=lambda G, out, x: (G("sinh", x),),
       rule="sinh(x)",
       vforward=lambda np, x: np.cosh(x),
       vgrads=(lambda np, x, out: np.sinh(x),)),
    Op("tanh", 1, math.tanh, (dtanh,),
       dgraph=_gtanh,
       rule="1 − tanh(x)²",
       vforward=lambda np, x: np.tanh(x),
       vgrads=(vdtanh,)),
    Op("asinh", 1, math.asinh, (dasinh,),
       dgraph=lambda G, out, x: (G.div(G.one, G("hypot", x, G.one)),),
       rule="1/sqrt(x² + 1)",
       vforward=lambda np, x: np.arcsinh(x),
       vgrads=(lambda np, x, out: 1.0 / np.hypot(x, 1.0),)),
    Op("acosh", 1, math.acosh, (dacosh,),
       dgraph=lambda G, out, x: (G.div(G.one, G.mul(G("sqrt", G.sub(x, G.one)),
                                                     G("sqrt", G.add(x, G.one)))),),
       defined=lambda G, out, x: (G("gt", x, G.one),),
       rule="1/sqrt(x² − 1); undefined at 1", domain="x ≥ 1",
       vforward=lambda np, x: np.arccosh(x),
       vgrads=(lambda np, x, out: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),)),
    Op("atanh", 1, math.atanh, (datanh,),
       dgraph=lambda G, out, x: (G.div(G.one, _one_minus_square(G, x)),),
       rule="1/(1 − x²)", domain="−1 < x < 1",
       vforward=lambda np, x: np.arctanh(x),
       vgrads=(lambda np, x, out: 1.0 / ((1.0 - x) * (1.0 + x)),)),
    # neural-network activations
    Op("sigmoid", 1, sigmoid, (dsigmoid,),
       dgraph=_gsigmoid,
       rule="sigmoid(x)·(1 − sigmoid(x))",
       vforward=vsigmoid,
       vgrads=(vdsigmoid,)),
    Op("relu", 1, lambda x: x if x > 0 else 0.0, (lambda x, out: 1.0 if x > 0 else 0.0,),
       dgraph=lambda G, out, x: (G("gt", x, G.zero),),
       rule="1 for x > 0, else 0; relu'(0) = 0",
       vforward=lambda np, x: np.where(x > 0, x, 0.0),
       vgrads=(lambda np, x, out: np.where(x > 0, 1.0, 0.0),)),
    Op("softplus", 1, softplus, (lambda x, out: sigmoid(x),),
       dgraph=lambda G, out, x: (G("sigmoid", x),),
       rule="sigmoid(x)",
       vforward=vsoftplus,
       vgrads=(lambda np, x, out: vsigmoid(np, x),)),
    Op("erf", 1, math.erf, (derf,),
       dgraph=lambda G, out, x: (G.mul(G.num(_TWO_OVER_SQRT_PI), G("exp", G.neg(G.mul(x, x)))),),
       rule="2/sqrt(π)·exp(−x²)",
       vforward=verf,
       vgrads=(vderf,)),
    # two arguments
    # pieces
    Op("clip", 3, clip,
       (lambda x, lo, hi, out: 1.0 if lo <= x <= hi else 0.0,
        lambda x, lo, hi, out: 1.0 if x < lo else 0.0,
        lambda x, lo, hi, out: 1.0 if x > hi else 0.0),
       dgraph=lambda G, out, x, lo, hi: (G.mul(G("le", lo, x), G("le", x, hi)),
                                         G("lt", x, lo), G("gt", x, hi)),
       rule="∂/∂x = 1 where lo ≤ x ≤ hi (PyTorch's clamp); else 1 toward the bound taken",
       domain="lo ≤ hi", params=("x", "lo", "hi"),
       vforward=vclip,
       vgrads=(lambda np, x, lo, hi, out: np.where((lo <= x) & (x <= hi), 1.0, 0.0),
               lambda np, x, lo, hi, out: np.where(x < lo, 1.0, 0.0),
               lambda np, x, lo, hi, out: np.where(x > hi, 1.0, 0.0))),
    # the lazy conditional: the evaluators compute only the branch taken (its forward
    # here is for a point where both are known); see gradcli/branches.py
    Op("if", 3, lambda c, a, b: a if c != 0 else b,
       (lambda c, a, b, out: 0.0,
        lambda c, a, b, out: 1.0 if c != 0 else 0.0,
        lambda c, a, b, out: 0.0 if c != 0 else 1.0),
       dgraph=lambda G, out, c, a, b: (None, G("ne", c, G.zero), G("eq", c, G.zero)),
       rule="1 toward the branch taken, which alone is evaluated; ∂/∂c = 0",
       params=("c", "a", "b"),
       vforward=lambda np, c, a, b: np.where(c != 0, a, b),
       vgrads=(lambda np, c, a, b, out: 0.0,
               lambda np, c, a, b, out: np.where(c != 0, 1.0, 0.0),
               lambda np, c, a, b, out: np.where(c != 0, 0.0, 1.0))),
    # any number of arguments
    Op("max", 2, max, Positional(dextreme, 2),
       dgraph=_gextreme,
       rule="1 toward the largest argument, else 0; 1/k each at a tie of k",
       params=("x", "y"), variadic=True,
       vforward=lambda np, *xs: vreduce(lambda a, b: np.where(b > a, b, a), xs),  # as max()
       vgrads=Positional(vdextreme, 2)),
    Op("min", 2, min, Positional(dextreme, 2),
       dgraph=_gextreme,
       rule="1 toward the smallest argument, else 0; 1/k each at a tie of k",
       params=("x", "y"), variadic=True,
       vforward=lambda np, *xs: vreduce(lambda a, b: np.where(b < a, b, a), xs),  # as min()
       vgrads=Positional(vdextreme, 2)),
    Op("sum", 1, exact_sum, Positional(lambda k, *args: 1.0, 1),
       dgraph=lambda G, out, *xs: (G.one,) * len(xs),
       rule="1 toward each argument", params=("x",), variadic=True,
       vforward=lambda np, *xs: row_by_row(np, exact_sum, xs),
       vgrads=Positional(lambda k, np, *args: 1.0, 1)),
    Op("mean", 1, mean,
       Positional(lambda k, *args: 1.0 / (len(args) - 1), 1),
       dgraph=lambda G, out, *xs: (G.num(1.0 / len(xs)),) * len(xs),
       rule="1/n toward each of the n arguments", params=("x",), variadic=True,
       vforward=lambda np, *xs: row_by_row(np, mean, xs),
       vgrads=Positional(lambda k, np, *args: 1.0 / (len(args) - 1), 1)),
    Op("logsumexp", 1, logsumexp, Positional(dlogsumexp, 1),
       dgraph=lambda G, out, *xs: tuple(G("exp", G.sub(x, out)) for x in xs),
       rule="∂/∂x_k = exp(x_k − logsumexp(...)), the softmax",
       params=("x",), variadic=True,
       vforward=lambda np, *xs: row_by_row(np, logsumexp, xs),
       vgrads=Positional(lambda k, np, *args: np.exp(args[k] - args[-1]), 1)),
    Op("hypot", 1, math.hypot, Positional(dhypot, 1),
       dgraph=_ghypot,
       rule="∂/∂x_k = x_k/hypot(...); 0 at the origin, as abs'(0) = 0",
       params=("x",), variadic=True,
       vforward=vhypot,
       vgrads=Positional(vdhypot, 1)),
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
