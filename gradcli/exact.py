"""``--exact``: the value and gradient as exact fractions, where the program is rational.

``+ - * /``, whole powers, ``abs``, ``sign``, ``relu``, ``max``, ``min``, ``sum`` and
``mean`` of rational numbers are rational, and so are decimal literals (``0.1`` is
1/10, not the float nearest to it) and bindings written as decimals or as constant
expressions of them (``1/3``). Everything else (``sqrt(2)``, ``exp(1)``, ``pi``, a
binding like ``pi/4``) is not: such a node, and every value computed from it, keeps
its floating-point value and is marked inexact (None here).

A gradient is exact when every term of its chain-rule sum is: ``x + sqrt(2)`` has
the exact gradient 1 toward x, ``x * sqrt(2)`` does not.

The exact pass runs after the float evaluation has succeeded (so every domain and
division error has been reported already), over the same graph: a forward loop and
a reverse loop, no recursion. Exact arithmetic can still meet what the floats
rounded past: ``x - 0.3`` at ``x = 0.1 + 0.2`` is exactly 0 (the floats give
5.6e-17), so ``1/(x - 0.3)`` divides by zero, and ``if(x - 0.3 == 0, a, b)`` takes
the branch the floats did not. Such a node keeps its float value too, and a note
names it and says why. Numbers are bounded: a fraction whose numerator or
denominator would pass :data:`MAX_DIGITS` decimal digits (``x^100000``, a long chain
of products) is not computed; that node falls back to floats, and a note says so.

The rules here are the rational rows of the op table written for fractions; a test
holds every one of them to the float rule of :mod:`gradcli.ops` at many points.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from .evaluate import Result

#: The largest fraction computed exactly: this many decimal digits in its numerator
#: or its denominator.
MAX_DIGITS = 1000
_MAX_BITS = math.ceil(MAX_DIGITS * math.log2(10))

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?")

Q = Fraction | None  # an exact number, or None where there is none


def decimal_fraction(text: str) -> Fraction | None:
    """``0.1`` -> 1/10: a decimal numeral read exactly; None for anything else (and
    for a numeral whose exponent would pass the size limit, such as ``1e-99999``)."""
    m = _DECIMAL.fullmatch(text.strip())
    if m is None:
        return None
    if m.group(1) is not None and abs(int(m.group(1))) > MAX_DIGITS:
        return None
    return Fraction(text.strip())


def _fits(q: Fraction) -> bool:
    return q.numerator.bit_length() <= _MAX_BITS and q.denominator.bit_length() <= _MAX_BITS


def _whole(q: Q) -> int | None:
    return q.numerator if q is not None and q.denominator == 1 else None


def _power(x: Q, y: Q) -> Q:
    n = _whole(y)
    if x is None or n is None:
        return None
    if x == 0 or abs(x) == 1:
        return x**n  # 0^-1: ZeroDivisionError, which the caller reports
    size = max(x.numerator.bit_length(), x.denominator.bit_length())
    if size * abs(n) > _MAX_BITS + size:  # before computing it: x^100000 never starts
        raise _TooLarge
    return x**n


def _dpow_dx(x: Q, y: Q, out: Q) -> Q:
    n = _whole(y)
    if n == 0:
        return Fraction(0)
    if n == 1:
        return Fraction(1)
    p = _power(x, None if n is None else Fraction(n - 1))
    return None if p is None or n is None else n * p


def _dpow_dy(x: Q, y: Q, out: Q) -> Q:
    # x^y · ln x is rational only where ln x is 0 (x = 1), or 0^y for y > 0 (the float rule's 0)
    if x == 1 or (x == 0 and y is not None and y > 0):
        return Fraction(0)
    return None


def _sign(x: Q) -> Q:
    return None if x is None else Fraction((x > 0) - (x < 0))


def _extreme(pick: Callable[..., Any]) -> Callable[..., Q]:
    def forward(*xs: Q) -> Q:
        return None if any(v is None for v in xs) else pick(xs)

    return forward


def _dextreme(k: int) -> Callable[..., Q]:
    def rule(*args: Q) -> Q:
        *xs, out = args
        if out is None or any(v is None for v in xs):
            return None
        if xs[k] != out:
            return Fraction(0)
        return Fraction(1, sum(1 for v in xs if v == out))

    return rule


def _all(f: Callable[..., Fraction]) -> Callable[..., Q]:
    """A rule that needs every operand exact."""

    def rule(*args: Q) -> Q:
        return None if any(a is None for a in args) else f(*args)

    return rule


_ONE = Fraction(1)
_ZERO = Fraction(0)


def _constant(q: Fraction) -> Callable[..., Q]:
    return lambda *args: q


def _dif(k: int) -> Callable[..., Q]:
    """if(c, a, b): 0 toward c; 1 toward the branch taken, 0 toward the other."""
    if k == 0:
        return _constant(_ZERO)
    return lambda c, a, b, out: None if c is None else (_ONE if (c != 0) == (k == 1) else _ZERO)


#: op name -> (forward, local gradient rules): the rational rows of the op table.
# A local rule takes the operands and the node's value and returns ∂node/∂operand.
RULES: dict[str, tuple[Callable[..., Q], Callable[[int], Callable[..., Q]]]] = {
    "add": (_all(lambda x, y: x + y), lambda k: _constant(_ONE)),
    "sub": (_all(lambda x, y: x - y), lambda k: _constant(_ONE if k == 0 else -_ONE)),
    "mul": (_all(lambda x, y: x * y), lambda k: (lambda x, y, out: y) if k == 0 else (lambda x, y, out: x)),
    "div": (
        _all(lambda x, y: x / y),
        lambda k: (
            (lambda x, y, out: None if y is None else 1 / y)
            if k == 0
            else (lambda x, y, out: None if y is None or out is None else -out / y)
        ),
    ),
    "neg": (_all(lambda x: -x), lambda k: _constant(-_ONE)),
    "pow": (_power, lambda k: _dpow_dx if k == 0 else _dpow_dy),
    "abs": (_all(abs), lambda k: lambda x, out: _sign(x)),
    "sign": (_sign, lambda k: _constant(_ZERO)),
    "relu": (_all(lambda x: x if x > 0 else _ZERO),
             lambda k: lambda x, out: None if x is None else (_ONE if x > 0 else _ZERO)),
    "max": (_extreme(max), _dextreme),
    "min": (_extreme(min), _dextreme),
    "sum": (_all(lambda *xs: sum(xs, _ZERO)), lambda k: _constant(_ONE)),
    "mean": (_all(lambda *xs: sum(xs, _ZERO) / len(xs)), lambda k: None),  # 1/n: below
    "if": (lambda c, a, b: None if c is None else (a if c != 0 else b), _dif),
}
for _name, _test in (("lt", "__lt__"), ("le", "__le__"), ("gt", "__gt__"), ("ge", "__ge__"),
                     ("eq", "__eq__"), ("ne", "__ne__")):
    RULES[_name] = (
        _all(lambda x, y, _t=_test: _ONE if getattr(x, _t)(y) else _ZERO),
        lambda k: _constant(_ZERO),
    )


class _TooLarge(Exception):
    """A fraction past MAX_DIGITS."""


def rational_ops() -> list[str]:
    """The operations computed exactly."""
    return list(RULES)


class Exact:
    """The exact side of a result: per node, its value and ∂f/∂node as fractions
    (None where inexact, or where the float result has no gradient), and the notes
    that say why something fell back to floats."""

    __slots__ = ("gradient", "grads", "inputs", "local_grads", "notes", "result", "value", "values")

    def __init__(self, result: Result, values: list[Q], grads: list[Q], local_grads: list[list[Q]],
                 inputs: dict[str, Q], notes: list[str]) -> None:
        self.result = result
        self.values = values
        self.grads = grads
        self.local_grads = local_grads
        self.inputs = inputs
        self.notes = notes
        self.value = values[-1]
        graph = result.graph
        self.gradient: dict[str, Q] = {}
        for name in result.gradient:
            i = graph.inputs[name] if name in graph.inputs else graph.names.get(name)
            self.gradient[name] = _ZERO if i is None else grads[i]

    def __repr__(self) -> str:
        gradient = {k: fraction_text(v) for k, v in self.gradient.items()}
        return f"Exact(value={fraction_text(self.value)}, gradient={gradient})"

    def to_json(self, *, nodes: bool = False) -> dict[str, Any]:
        """``{"value": "1/3", "gradient": {"x": "1/3"}}``: fractions as strings, null
        where a number is not rational (``nodes`` adds each node's, for ``trace``)."""
        out: dict[str, Any] = {
            "value": fraction_text(self.value),
            "gradient": {name: fraction_text(q) for name, q in self.gradient.items()},
        }
        if nodes:
            out["nodes"] = [
                {
                    "value": fraction_text(self.values[i]),
                    "local_grads": [fraction_text(q) for q in self.local_grads[i]],
                    "grad": fraction_text(self.grads[i]),
                }
                for i in range(len(self.values))
            ]
        out["notes"] = list(self.notes)
        return out


def fraction_text(q: Q) -> str | None:
    """``"1/3"``, ``"-4"``; None for None."""
    return None if q is None else str(q)


def exact_binding(raw: Any) -> Q:
    """A binding's exact value: an int, a decimal numeral (``"0.1"``), a float read as
    the decimal it prints as (0.1 -> 1/10), or a constant expression of those (``"1/3"``);
    None when it is not rational (``"pi/4"``). The value was already checked by the
    float evaluation, so nothing here reports an error."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Fraction(raw)
    if isinstance(raw, float):
        return decimal_fraction(repr(raw)) if math.isfinite(raw) else None
    if not isinstance(raw, str):
        return None
    q = decimal_fraction(raw)
    if q is not None:
        return q
    from .api import evaluate

    try:
        constant = evaluate(raw.strip())  # a constant expression: no inputs
    except Exception:  # already reported by the float path; nothing exact to say here
        return None
    return exact(constant, {}).value


def exact_of(result: Result, bindings: Mapping[str, Any]) -> Exact:
    """The exact counterpart of ``result`` (evaluated at ``bindings``)::

        >>> import gradcli
        >>> gradcli.exact_of(gradcli.evaluate("x/3", x="0.1"), {"x": "0.1"}).gradient
        {'x': Fraction(1, 3)}
    """
    return exact(result, bindings)


def exact(result: Result, bindings: Mapping[str, Any]) -> Exact:
    """The exact counterpart of ``result`` (evaluated at ``bindings``)."""
    graph = result.graph
    nodes = graph.nodes
    source = graph.source
    notes: list[str] = []
    labels = graph.labels()
    too_large: list[str] = []
    irrational: list[str] = []
    by_zero: list[str] = []  # exactly a division by zero, where the floats rounded past it
    other_branch: list[str] = []  # an if whose exact condition takes the other branch
    diverted: set[int] = set()  # those ifs' ids: no exact value, no exact local gradient

    inputs: dict[str, Q] = {name: exact_binding(bindings[name]) for name in result.inputs}
    for name, q in inputs.items():
        if q is None:
            notes.append(f"{name} = {bindings[name]} is not rational: it and what depends on it are floats")

    values: list[Q] = [None] * len(nodes)
    for node in nodes:
        if result.values[node.id] != result.values[node.id]:  # NaN: a branch not taken
            continue
        op = node.op
        if op is None:
            if node.kind == "var":
                values[node.id] = inputs.get(node.name)  # type: ignore[arg-type]
            elif node.name is None:  # a number: read from the source as written, (2.5) too
                text = source[node.start:node.end].strip("() \t\r\n")
                q = decimal_fraction(text)
                if q is None:  # 1e-99999: the exponent passes the limit
                    too_large.append(text[:40])
                values[node.id] = q
            else:
                irrational.append(node.name)  # pi, e, tau
            continue
        rule = RULES.get(op.name)
        if rule is None:
            if len(irrational) < 50:
                irrational.append(labels[node.id])
            continue
        args = [values[i] for i in node.inputs]
        if op.name == "if" and args[0] is not None and (args[0] != 0) != (result.values[node.inputs[0]] != 0):
            other_branch.append(labels[node.id])  # the branch exact needs was not evaluated
            diverted.add(node.id)
            continue
        try:
            q = rule[0](*args)
        except _TooLarge:
            q = None
            too_large.append(labels[node.id])
        except ZeroDivisionError:
            q = None
            by_zero.append(labels[node.id])
        if q is not None and not _fits(q):
            too_large.append(labels[node.id])
            q = None
        values[node.id] = q

    local_grads: list[list[Q]] = [[] for _ in nodes]
    for node in nodes:
        op = node.op
        if op is None or (values[node.id] is None and op.name not in RULES) or node.id in diverted:
            local_grads[node.id] = [None] * len(node.inputs)
            continue
        args = [values[i] for i in node.inputs]
        row: list[Q] = []
        for k, i in enumerate(node.inputs):
            if result.grads[i] is None:
                row.append(None)
                continue
            if op.name == "mean":
                row.append(Fraction(1, len(node.inputs)))
                continue
            try:
                local = RULES[op.name][1](k)(*args, values[node.id])
            except _TooLarge:
                local = None
                too_large.append(labels[node.id])
            except ZeroDivisionError:  # ∂(x/y)/∂x = 1/y at an exact y = 0
                local = None
                by_zero.append(labels[node.id])
            row.append(local)
        local_grads[node.id] = row

    grads: list[Q] = [_ZERO if g is not None else None for g in result.grads]
    inexact = [g is None for g in result.grads]
    grads[-1] = _ONE
    for node in reversed(nodes):
        g = grads[node.id]
        if result.grads[node.id] is None:
            continue
        for k, i in enumerate(node.inputs):
            if result.grads[i] is None or inexact[i]:
                continue
            local = local_grads[node.id][k]
            if g is None or local is None:
                inexact[i] = True
                grads[i] = None
                continue
            total = grads[i] + g * local  # type: ignore[operator]
            if not _fits(total):
                too_large.append(labels[i])
                inexact[i] = True
                grads[i] = None
                continue
            grads[i] = total
        if inexact[node.id]:
            grads[node.id] = None

    if irrational:
        shown = ", ".join(dict.fromkeys(irrational[:5]))
        notes.append(f"not rational: {shown}{', ...' if len(irrational) > 5 else ''};"
                     " these and what depends on them are floats (marked ≈)")
    if too_large:
        shown = ", ".join(dict.fromkeys(too_large[:3]))
        notes.append(
            f"past the limit of {MAX_DIGITS} digits for an exact fraction: {shown}"
            f"{', ...' if len(too_large) > 3 else ''}; these and what depends on them are floats (marked ≈)"
        )
    for why, where in (("exactly a division by zero, which the floats rounded past", by_zero),
                       ("the exact condition takes the branch the floats did not", other_branch)):
        if where:
            shown = ", ".join(dict.fromkeys(where[:3]))
            more = ", ..." if len(where) > 3 else ""
            notes.append(f"{why}: {shown}{more}; these and what depends on them are floats (marked ≈)")
    return Exact(result, values, grads, local_grads, inputs, notes)
