"""`check` never calls a right gradient wrong: over random programs built from the
whole language (kinks, domain edges, cancellation, huge and tiny values) at random
points, a row of the correct reverse-mode gradient is ``ok`` or ``cannot judge``
with a reason, never ``differs``; and ``--json`` stays strict JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.gradcheck import DIFFERS, UNJUDGED, check
from gradcli.render import dumps

_UNARY = (
    "exp", "log", "log2", "log10", "sqrt", "cbrt", "abs", "sign", "sin", "cos", "tan",
    "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid",
    "relu", "softplus", "erf", "-",
)
_BINARY = ("+", "-", "*", "/", "^", "pow", "atan2", "hypot", "max", "min", "log")
_LEAVES = ("x", "y", "x", "y", "0", "1", "2", "0.5", "1.5", "3", "1e8", "1e-8", "299792458", "pi")

mpmath = pytest.importorskip("mpmath")  # the [test] extra installs it
mp = mpmath.mp

# The language's operations in high precision, to tell a wrong gradient from a right one.
_MP: dict[tuple[str, int], Callable[..., Any]] = {
    ("add", 2): lambda a, b: a + b, ("sub", 2): lambda a, b: a - b, ("mul", 2): lambda a, b: a * b,
    ("div", 2): lambda a, b: a / b, ("pow", 2): lambda a, b: mp.power(a, b), ("neg", 1): lambda a: -a,
    ("exp", 1): mp.exp, ("log", 1): mp.log, ("ln", 1): mp.log, ("log2", 1): lambda a: mp.log(a, 2),
    ("log10", 1): mp.log10, ("log", 2): lambda a, b: mp.log(a) / mp.log(b), ("sqrt", 1): mp.sqrt,
    ("cbrt", 1): lambda a: mp.sign(a) * mp.cbrt(abs(a)), ("abs", 1): abs, ("sign", 1): mp.sign,
    ("sin", 1): mp.sin, ("cos", 1): mp.cos, ("tan", 1): mp.tan, ("asin", 1): mp.asin,
    ("acos", 1): mp.acos, ("atan", 1): mp.atan, ("atan2", 2): mp.atan2, ("sinh", 1): mp.sinh,
    ("cosh", 1): mp.cosh, ("tanh", 1): mp.tanh, ("asinh", 1): mp.asinh, ("acosh", 1): mp.acosh,
    ("atanh", 1): mp.atanh, ("sigmoid", 1): lambda a: 1 / (1 + mp.exp(-a)),
    ("relu", 1): lambda a: max(a, 0), ("softplus", 1): lambda a: mp.log(1 + mp.exp(a)),
    ("erf", 1): mp.erf, ("max", 2): max, ("min", 2): min,
    # one or more arguments (the table's row says the least number)
    ("hypot", 1): lambda *a: mp.sqrt(mp.fsum([v * v for v in a])),
}


def reference_gradient(graph: Any, point: dict[str, float], name: str) -> float | None:
    """∂f/∂name by high-precision numerical differentiation, None where that fails."""

    def f(at: Any) -> Any:
        values: list[Any] = []
        for node in graph.nodes:
            if node.op is None:
                v = node.value if node.kind == "const" else (at if node.name == name else point[node.name])
                values.append(mp.mpf(v))
            else:
                values.append(_MP[(node.op.name, node.op.arity)](*(values[i] for i in node.inputs)))
        return values[-1]

    # The step is relative to the point (an absolute 1e-35 at x = 1e-300 would cross the
    # kink at 0 that relu, abs, sqrt and log have there); the precision grows so that
    # x ± h still resolves against constants near 1.
    x = mp.mpf(point[name])
    scale = abs(x) if 0 < abs(x) < 1 else max(mp.mpf(1), abs(x))
    extra = 0 if scale >= 1 else int(-mp.log10(scale)) + 1
    with mp.workdps(80 + extra):
        try:
            d = mp.diff(f, x, h=mp.mpf(10) ** -35 * scale)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None
        if not isinstance(d, mp.mpf) or not mp.isfinite(d):
            return None
        return float(d)


_POINTS = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, 1e-10, -1e-10, 1e8, 1000.0, 30000.0, 1e-300, 709.0]),
    st.floats(-50, 50, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def wild_programs(draw: st.DrawFn, max_depth: int = 4) -> str:
    """Any expression of the language over x and y, printed with parentheses."""

    def expr(depth: int) -> str:
        choice = draw(st.integers(0, 2 if depth < max_depth else 0))
        if choice == 0:
            return draw(st.sampled_from(_LEAVES))
        if choice == 1:
            fn = draw(st.sampled_from(_UNARY))
            return f"-({expr(depth + 1)})" if fn == "-" else f"{fn}({expr(depth + 1)})"
        op = draw(st.sampled_from(_BINARY))
        a, b = expr(depth + 1), expr(depth + 1)
        return f"({a}) {op} ({b})" if len(op) == 1 else f"{op}({a}, {b})"

    return expr(0)


# CHECK_EXAMPLES=100000 for a long campaign.
_EXAMPLES = int(os.environ.get("CHECK_EXAMPLES", "300"))


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(wild_programs(), _POINTS, _POINTS)
# 1/relu(1/x) is x for x > 0, but at 1e-300 the float gradient underflows to 0 (-1/u² of
# u = 1e300): check rightly says it differs from 1.
@example("1/relu(1/x)", 1e-300, 0.0)
# At 1e-66 the steps straddle abs's kink at 0, which is not x's: not a verdict of differs.
@example("(abs(x)) ^ (abs(x))", 1.2071456304691897e-66, 0.0)
def test_check_never_reports_a_right_gradient_as_wrong(source: str, x: float, y: float) -> None:
    graph = gradcli.compile(source)
    point = {name: {"x": x, "y": y}[name] for name in graph.inputs}
    try:
        r = check(graph, point)
    except gradcli.GradError:  # a math error at the point itself: nothing to judge
        assume(False)
        return
    for row in r.rows:
        if row.verdict == DIFFERS:  # only for a gradient that is really wrong
            ref = reference_gradient(graph, point, row.name)
            assert ref is not None, (source, point, row)
            assert abs(row.reverse - ref) > 1e-6 * max(1.0, abs(ref)), (source, point, row, ref)
        if row.verdict == UNJUDGED:
            assert row.note, row
    text = dumps(r.to_json())
    json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


def test_the_reference_covers_every_operation_the_generated_programs_use() -> None:
    import gradcli

    for fn in _UNARY:
        source = "-x" if fn == "-" else f"{fn}(x)"
        for node in gradcli.compile(source).nodes:
            assert node.op is None or (node.op.name, node.op.arity) in _MP, source
    for fn in _BINARY:
        source = f"{fn}(x, y)" if fn[0].isalpha() else f"x {fn} y"
        for node in gradcli.compile(source).nodes:
            assert node.op is None or (node.op.name, node.op.arity) in _MP, source
