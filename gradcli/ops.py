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
    Op("div", 2, div,
       (lambda x, y, out: 1.0 / y, lambda x, y, out: -out / y),
       rule="∂/∂x = 1/y, ∂/∂y = −x/y²", domain="y ≠ 0", symbol="/", params=("x", "y"),
       vforward=lambda np, x, y: x / y,
       vgrads=(lambda np, x, y, out: 1.0 / y, lambda np, x, y, out: -out / y)),
    Op("pow", 2, power, (dpow_dx, dpow_dy),
       rule="∂/∂x = y·x^(y−1), ∂/∂y = x^y·ln x",
       domain="x > 0, or x = 0 with y ≥ 0, or x < 0 with y whole; ∂/∂y needs x > 0",
       symbol="^", params=("x", "y"),
       vforward=lambda np, x, y: np.power(x, y),
       vgrads=(vdpow_dx, vdpow_dy)),
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
    Op("log", 1, log, (lambda x, out: 1.0 / x,), rule="1/x", domain="x > 0",
       vforward=lambda np, x: np.log(x),
       vgrads=(lambda np, x, out: 1.0 / x,)),
    Op("ln", 1, log, (lambda x, out: 1.0 / x,), rule="1/x", domain="x > 0",
       vforward=lambda np, x: np.log(x),
       vgrads=(lambda np, x, out: 1.0 / x,)),
    Op("log2", 1, math.log2, (lambda x, out: 1.0 / x / LN2,), rule="1/(x·ln 2)", domain="x > 0",
       vforward=lambda np, x: np.log2(x),
       vgrads=(lambda np, x, out: 1.0 / x / LN2,)),
    Op("log10", 1, math.log10, (lambda x, out: 1.0 / x / LN10,),
       rule="1/(x·ln 10)", domain="x > 0",
       vforward=lambda np, x: np.log10(x),
       vgrads=(lambda np, x, out: 1.0 / x / LN10,)),
    Op("log", 2, log_base, (dlog_base_dx, dlog_base_db),
       rule="∂/∂x = 1/(x·ln b), ∂/∂b = −log(x, b)/(b·ln b)", domain="x > 0, b > 0, b ≠ 1",
       params=("x", "b"),
       vforward=vlog_base,
       vgrads=(lambda np, x, b, out: 1.0 / x / np.log(b),
               lambda np, x, b, out: -out / b / np.log(b))),
    # roots and pieces
    Op("sqrt", 1, math.sqrt, (dsqrt,), rule="1/(2·sqrt(x)); undefined at 0", domain="x ≥ 0",
       vforward=lambda np, x: np.sqrt(x),
       vgrads=(lambda np, x, out: 0.5 / out,)),
    Op("cbrt", 1, cbrt, (dcbrt,), rule="1/(3·cbrt(x)²); undefined at 0",
       vforward=vcbrt,
       vgrads=(lambda np, x, out: 1.0 / (3.0 * out * out),)),
    Op("abs", 1, abs, (lambda x, out: sign(x),), rule="sign(x); abs'(0) = 0",
       vforward=lambda np, x: np.abs(x),
       vgrads=(lambda np, x, out: np.sign(x),)),
    Op("sign", 1, sign, (lambda x, out: 0.0,), rule="0",
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
    Op("asin", 1, math.asin, (dasin,), rule="1/sqrt(1 − x²); undefined at ±1", domain="−1 ≤ x ≤ 1",
       vforward=lambda np, x: np.arcsin(x),
       vgrads=(lambda np, x, out: 1.0 / np.sqrt((1.0 - x) * (1.0 + x)),)),
    Op("acos", 1, math.acos, (dacos,), rule="−1/sqrt(1 − x²); undefined at ±1", domain="−1 ≤ x ≤ 1",
       vforward=lambda np, x: np.arccos(x),
       vgrads=(lambda np, x, out: -1.0 / np.sqrt((1.0 - x) * (1.0 + x)),)),
    Op("atan", 1, math.atan, (lambda x, out: 1.0 / (1.0 + x * x),), rule="1/(1 + x²)",
       vforward=lambda np, x: np.arctan(x),
       vgrads=(lambda np, x, out: 1.0 / (1.0 + x * x),)),
    Op("atan2", 2, math.atan2, (datan2_dy, datan2_dx),
       rule="∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²); undefined at (0, 0)", params=("y", "x"),
       vforward=lambda np, y, x: np.arctan2(y, x),
       vgrads=(lambda np, y, x, out: vdatan2(np, x, y, x),
               lambda np, y, x, out: vdatan2(np, -y, y, x))),
    # hyperbolic
    Op("sinh", 1, math.sinh, (lambda x, out: math.cosh(x),), rule="cosh(x)",
       vforward=lambda np, x: np.sinh(x),
       vgrads=(lambda np, x, out: np.cosh(x),)),
    Op("cosh", 1, math.cosh, (lambda x, out: math.sinh(x),), rule="sinh(x)",
       vforward=lambda np, x: np.cosh(x),
       vgrads=(lambda np, x, out: np.sinh(x),)),
    Op("tanh", 1, math.tanh, (dtanh,), rule="1 − tanh(x)²",
       vforward=lambda np, x: np.tanh(x),
       vgrads=(vdtanh,)),
    Op("asinh", 1, math.asinh, (dasinh,), rule="1/sqrt(x² + 1)",
       vforward=lambda np, x: np.arcsinh(x),
       vgrads=(lambda np, x, out: 1.0 / np.hypot(x, 1.0),)),
    Op("acosh", 1, math.acosh, (dacosh,), rule="1/sqrt(x² − 1); undefined at 1", domain="x ≥ 1",
       vforward=lambda np, x: np.arccosh(x),
       vgrads=(lambda np, x, out: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),)),
    Op("atanh", 1, math.atanh, (datanh,), rule="1/(1 − x²)", domain="−1 < x < 1",
       vforward=lambda np, x: np.arctanh(x),
       vgrads=(lambda np, x, out: 1.0 / ((1.0 - x) * (1.0 + x)),)),
    # neural-network activations
    Op("sigmoid", 1, sigmoid, (dsigmoid,), rule="sigmoid(x)·(1 − sigmoid(x))",
       vforward=vsigmoid,
       vgrads=(vdsigmoid,)),
    Op("relu", 1, lambda x: x if x > 0 else 0.0, (lambda x, out: 1.0 if x > 0 else 0.0,),
       rule="1 for x > 0, else 0; relu'(0) = 0",
       vforward=lambda np, x: np.where(x > 0, x, 0.0),
       vgrads=(lambda np, x, out: np.where(x > 0, 1.0, 0.0),)),
    Op("softplus", 1, softplus, (lambda x, out: sigmoid(x),), rule="sigmoid(x)",
       vforward=vsoftplus,
       vgrads=(lambda np, x, out: vsigmoid(np, x),)),
    Op("erf", 1, math.erf, (derf,), rule="2/sqrt(π)·exp(−x²)",
       vforward=verf,
       vgrads=(vderf,)),
    # two arguments
    # pieces
    Op("clip", 3, clip,
       (lambda x, lo, hi, out: 1.0 if lo <= x <= hi else 0.0,
        lambda x, lo, hi, out: 1.0 if x < lo else 0.0,
        lambda x, lo, hi, out: 1.0 if x > hi else 0.0),
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
       rule="1 toward the branch taken, which alone is evaluated; ∂/∂c = 0",
       params=("c", "a", "b"),
       vforward=lambda np, c, a, b: np.where(c != 0, a, b),
       vgrads=(lambda np, c, a, b, out: 0.0,
               lambda np, c, a, b, out: np.where(c != 0, 1.0, 0.0),
               lambda np, c, a, b, out: np.where(c != 0, 0.0, 1.0))),
    # any number of arguments
    Op("max", 2, max, Positional(dextreme, 2),
       rule="1 toward the largest argument, else 0; 1/k each at a tie of k",
       params=("x", "y"), variadic=True,
       vforward=lambda np, *xs: vreduce(lambda a, b: np.where(b > a, b, a), xs),  # as max()
       vgrads=Positional(vdextreme, 2)),
    Op("min", 2, min, Positional(dextreme, 2),
       rule="1 toward the smallest argument, else 0; 1/k each at a tie of k",
       params=("x", "y"), variadic=True,
       vforward=lambda np, *xs: vreduce(lambda a, b: np.where(b < a, b, a), xs),  # as min()
       vgrads=Positional(vdextreme, 2)),
    Op("sum", 1, exact_sum, Positional(lambda k, *args: 1.0, 1),
       rule="1 toward each argument", params=("x",), variadic=True,
       vforward=lambda np, *xs: row_by_row(np, exact_sum, xs),
       vgrads=Positional(lambda k, np, *args: 1.0, 1)),
    Op("mean", 1, mean,
       Positional(lambda k, *args: 1.0 / (len(args) - 1), 1),
       rule="1/n toward each of the n arguments", params=("x",), variadic=True,
       vforward=lambda np, *xs: row_by_row(np, mean, xs),
       vgrads=Positional(lambda k, np, *args: 1.0 / (len(args) - 1), 1)),
    Op("logsumexp", 1, logsumexp, Positional(dlogsumexp, 1),
       rule="∂/∂x_k = exp(x_k − logsumexp(...)), the softmax",
       params=("x",), variadic=True,
       vforward=lambda np, *xs: row_by_row(np, logsumexp, xs),
       vgrads=Positional(lambda k, np, *args: np.exp(args[k] - args[-1]), 1)),
    Op("hypot", 1, math.hypot, Positional(dhypot, 1),
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
