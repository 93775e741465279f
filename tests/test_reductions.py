"""n-ary max/min/sum/mean/logsumexp/hypot, clip and the comparisons: values and
gradients through the whole pipeline, against high-precision references (mpmath)
at generated points, at kinks and at ties."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gradcli
from gradcli.errors import GradError
from gradcli.ops import function

mpmath = pytest.importorskip("mpmath")
mp = mpmath.mp
mp.dps = 50

NAMES = "abcdfghk"  # not e: a constant


def _close(got: float, want: object, rel: float = 1e-13) -> bool:
    want_f = float(want)  # type: ignore[arg-type]
    return got == pytest.approx(want_f, rel=rel, abs=1e-300)


def _run(call: str, args: list[float]) -> gradcli.Result:
    names = NAMES[: len(args)]
    return gradcli.evaluate(f"{call}({', '.join(names)})", dict(zip(names, args, strict=True)))


# --- references: value and gradient, in 50 digits ----------------------------------------


def _ref_logsumexp(xs: list[float]) -> tuple[object, list[object]]:
    # From the largest, with log1p: 1 + e^-89 in 50 digits would keep 11 of e^-89's.
    top = xs.index(max(xs))
    m = mp.mpf(xs[top])
    rest = mpmath.fsum(mpmath.exp(mp.mpf(v) - m) for i, v in enumerate(xs) if i != top)
    return m + mpmath.log1p(rest), [mpmath.exp(mp.mpf(v) - m) / (1 + rest) for v in xs]


def _ref_hypot(xs: list[float]) -> tuple[object, list[object]]:
    m = [mp.mpf(x) for x in xs]
    out = mpmath.sqrt(mpmath.fsum(v * v for v in m))
    return out, [v / out if out else mp.mpf(0) for v in m]


def _ref_sum(xs: list[float]) -> tuple[object, list[object]]:
    # exact: 50 digits would lose 1e-303 beside 2
    return sum(map(Fraction, xs)), [mp.mpf(1)] * len(xs)


def _ref_mean(xs: list[float]) -> tuple[object, list[object]]:
    return sum(map(Fraction, xs)) / len(xs), [mp.mpf(1) / len(xs)] * len(xs)


def _ref_extreme(pick: object) -> object:
    def ref(xs: list[float]) -> tuple[object, list[object]]:
        out = pick(xs)  # type: ignore[operator]
        ties = xs.count(out)
        return mp.mpf(out), [mp.mpf(1) / ties if x == out else mp.mpf(0) for x in xs]

    return ref


REFERENCES = {
    "logsumexp": _ref_logsumexp,
    "hypot": _ref_hypot,
    "sum": _ref_sum,
    "mean": _ref_mean,
    "max": _ref_extreme(max),
    "min": _ref_extreme(min),
}

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
# Ties on purpose: values drawn from a handful, so that equal arguments are common.
tied = st.sampled_from([-2.0, -0.0, 0.0, 1.0, 1.0, 3.5])


@pytest.mark.parametrize("name", sorted(REFERENCES))
@given(st.lists(st.one_of(finite, tied), min_size=2, max_size=7))
def test_n_ary_values_and_gradients_match_high_precision(name: str, xs: list[float]) -> None:
    result = _run(name, xs)
    value, grads = REFERENCES[name](xs)
    scale = max(map(abs, xs)) or 1.0
    if name in ("sum", "mean"):  # rounded once (the mean: twice, the sum then the division)
        assert result.value == pytest.approx(float(value), rel=2.3e-16, abs=0), (name, xs)
    else:
        assert result.value == pytest.approx(float(value), rel=1e-13, abs=1e-300), (name, xs)
    got = [result.gradient[n] for n in NAMES[: len(xs)]]
    # logsumexp's softmax is e^(x − out): out carries |out|·eps of absolute error
    rel = 1e-12 if name != "logsumexp" else 1e-15 * max(1.0, scale) + 1e-12
    for g, want in zip(got, grads, strict=True):
        assert g == pytest.approx(float(want), rel=rel, abs=1e-300), (name, xs, got)


@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp", "hypot"])
@given(finite)
def test_one_argument_reductions_are_the_argument_itself(name: str, x: float) -> None:
    result = _run(name, [x])
    expected = abs(x) if name == "hypot" else x
    assert result.value == expected
    slope = (1.0 if x > 0 else -1.0 if x < 0 else 0.0) if name == "hypot" else 1.0
    assert result.gradient["a"] == slope


@pytest.mark.parametrize(
    ("call", "point", "value", "gradient"),
    [
        ("max(a, b, c)", (2, 2, 1), 2.0, (0.5, 0.5, 0.0)),
        ("max(a, b, c)", (2, 2, 2), 2.0, (1 / 3, 1 / 3, 1 / 3)),
        ("min(a, b, c, d)", (1, 5, 1, 1), 1.0, (1 / 3, 0.0, 1 / 3, 1 / 3)),
        ("max(a, b)", (3, 3), 3.0, (0.5, 0.5)),
        ("max(a, a, b)", (1, 0), 1.0, (1.0, 0.0)),  # one input twice: both halves reach a
        ("min(a, b, c)", (-0.0, 0.0, 1), -0.0, (0.5, 0.5, 0.0)),  # -0 and 0 tie
    ],
)
def test_a_tie_of_k_arguments_gives_each_one_kth(call, point, value, gradient) -> None:
    names = NAMES[: len(point)]
    result = gradcli.evaluate(call, dict(zip(names, point, strict=True)))
    assert result.value == value
    assert tuple(result.gradient.values()) == pytest.approx(gradient, rel=1e-15)


def test_logsumexp_does_not_overflow_where_the_naive_formula_does() -> None:
    result = gradcli.evaluate("logsumexp(a, b, c)", a=1000, b=1000, c=999)
    value, grads = _ref_logsumexp([1000, 1000, 999])
    assert _close(result.value, value)
    assert list(result.gradient.values()) == pytest.approx([float(g) for g in grads], rel=1e-12)
    assert gradcli.evaluate("logsumexp(a, b)", a=-1000, b=-1e300).value == -1000.0
    with pytest.raises(GradError) as naive:
        gradcli.evaluate("log(exp(a) + exp(b))", a=1000, b=1000)
    assert naive.value.kind == "overflow"


def test_hypot_of_many_does_not_overflow() -> None:
    result = gradcli.evaluate("hypot(a, b, c)", a=1e200, b=1e200, c=1e200)
    assert _close(result.value, mpmath.sqrt(3) * mp.mpf(10) ** 200)
    assert result.gradient["a"] == pytest.approx(1 / math.sqrt(3), rel=1e-15)
    assert gradcli.evaluate("hypot(a, b, c)", a=0, b=0, c=0).gradient == {"a": 0.0, "b": 0.0, "c": 0.0}


def test_sum_and_mean_are_rounded_once() -> None:
    assert gradcli.evaluate("sum(a, b, c)", a=1e16, b=1, c=-1e16).value == 1.0
    assert gradcli.evaluate("mean(a, b, c, d)", a=0.1, b=0.2, c=0.3, d=0.4).value == 0.25


# --- clip: PyTorch clamp's gradient ---------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "lo", "hi", "value", "gradient"),
    [
        (0.5, -1, 1, 0.5, (1.0, 0.0, 0.0)),
        (-3, -1, 1, -1.0, (0.0, 1.0, 0.0)),
        (3, -1, 1, 1.0, (0.0, 0.0, 1.0)),
        (-1, -1, 1, -1.0, (1.0, 0.0, 0.0)),  # at a bound, the gradient goes to x (clamp)
        (1, -1, 1, 1.0, (1.0, 0.0, 0.0)),
        (2, 2, 2, 2.0, (1.0, 0.0, 0.0)),
        (1, 2, 2, 2.0, (0.0, 1.0, 0.0)),
    ],
)
def test_clip_passes_the_gradient_as_pytorch_clamp_does(x, lo, hi, value, gradient) -> None:
    result = gradcli.evaluate("clip(x, lo, hi)", x=x, lo=lo, hi=hi)
    assert result.value == value
    assert tuple(result.gradient.values()) == gradient


@given(finite, finite, finite)
@example(1.0, 1.0, 2.0)
def test_clip_is_min_of_max_with_the_clamp_gradient(x: float, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    result = gradcli.evaluate("clip(x, lo, hi)", x=x, lo=lo, hi=hi)
    assert result.value == min(max(x, lo), hi)
    inside = lo <= x <= hi
    assert result.gradient == {"x": float(inside), "lo": float(x < lo), "hi": float(x > hi)}


def test_clip_with_crossed_bounds_is_a_math_error_naming_the_values() -> None:
    with pytest.raises(GradError) as err:
        gradcli.evaluate("clip(x, lo, hi)", x=0, lo=2, hi=1)
    assert err.value.kind == "domain"
    assert err.value.message == "clip(0, 2, 1) is outside the domain of clip(x, lo, hi) (lo ≤ hi)"
    assert err.value.exit_code == 1


# --- comparisons -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "test"),
    [("<", float.__lt__), ("<=", float.__le__), (">", float.__gt__), (">=", float.__ge__),
     ("==", float.__eq__), ("!=", float.__ne__)],
)
@given(st.one_of(finite, tied), st.one_of(finite, tied))
def test_a_comparison_is_one_or_zero_with_gradient_zero(symbol, test, x: float, y: float) -> None:
    result = gradcli.evaluate(f"x {symbol} y", x=x, y=y)
    assert result.value == (1.0 if test(x, y) else 0.0)
    assert result.gradient == {"x": 0.0, "y": 0.0}


@pytest.mark.parametrize(
    ("source", "point", "value"),
    [
        ("x + 1 > 2x", {"x": 0.5}, 1.0),  # (x + 1) > (2x): looser than + - * /
        ("x - 1 == -1", {"x": 0}, 1.0),
        ("2^-x < 1", {"x": 1}, 1.0),
        ("-x^2 <= -4", {"x": 2}, 1.0),
        ("(x < 1) < 1", {"x": 0}, 0.0),  # parentheses compare the 1 or 0 itself
        ("(x < 1) * (1 < 2)", {"x": 0}, 1.0),
        ("q = x >= 1; q + q", {"x": 1}, 2.0),
        ("max(x < 1, x > 2)", {"x": 3}, 1.0),
    ],
)
def test_comparisons_bind_looser_than_arithmetic(source: str, point: dict, value: float) -> None:
    assert gradcli.evaluate(source, point).value == value


def test_a_comparison_as_a_step_makes_relu() -> None:
    for x in (-2.0, 0.0, 3.0):
        step = gradcli.evaluate("(x > 0) * x", x=x)
        relu = gradcli.evaluate("relu(x)", x=x)
        assert (step.value, step.gradient) == (relu.value, relu.gradient)


@pytest.mark.parametrize("source", ["x < y < z", "x <= y == z", "x != y > z", "max(x, y < z >= 1)"])
def test_chained_comparisons_are_refused_with_a_caret(source: str) -> None:
    with pytest.raises(GradError) as err:
        gradcli.evaluate(source, x=1, y=2, z=3)
    assert err.value.kind == "syntax"
    assert err.value.message.startswith("comparisons do not chain")
    second = [i for i, ch in enumerate(source) if ch in "<>=!"]
    assert err.value.span.start > second[0] + 1


def test_every_n_ary_row_is_found_for_any_count() -> None:
    for name in ("max", "min"):
        assert function(name, 1) is None
        assert all(function(name, n) is function(name, 2) for n in range(2, 40))
    for name in ("sum", "mean", "logsumexp", "hypot"):
        assert function(name, 0) is None
        assert all(function(name, n) is function(name, 1) for n in range(1, 40))


def test_a_sixteen_class_logsumexp_is_one_call() -> None:
    names = [f"z{i}" for i in range(16)]
    point = {n: float(i) for i, n in enumerate(names)}
    result = gradcli.evaluate(f"logsumexp({', '.join(names)})", point)
    value, grads = _ref_logsumexp(list(point.values()))
    assert _close(result.value, value)
    assert sum(result.gradient.values()) == pytest.approx(1.0, rel=1e-15)
    assert list(result.gradient.values()) == pytest.approx([float(g) for g in grads], rel=1e-13)


# --- the same over arrays (--batch) -------------------------------------------------------

BATCH_PROGRAMS = [
    "max(x, y, 0) + min(x, -y, 1, x)",
    "sum(x, y, x) * mean(x, y, 2) + logsumexp(x, 2y, 700) - logsumexp(x)",
    "hypot(x, y, 1) + hypot(x) + hypot(x, y)",
    "clip(x, -1, y + 2) + (x < y) + (x <= y) - (x > y) * (x >= y) + (x == y) + 2 * (x != y)",
]


@pytest.mark.parametrize("source", BATCH_PROGRAMS)
def test_batch_gives_what_eval_gives_row_by_row(source: str) -> None:
    import numpy as np

    from gradcli.batch import evaluate_arrays

    grid = [-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0]  # ties between x and y on the diagonal
    xs = np.array([x for x in grid for _ in grid])
    ys = np.array([y for _ in grid for y in grid])
    graph = gradcli.compile(source)
    arrays = evaluate_arrays(graph, {"x": xs, "y": ys})
    assert not arrays.errors
    for r, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):
        one = gradcli.evaluate(source, x=x, y=y)
        assert arrays.value[r] == pytest.approx(one.value, rel=1e-14, abs=1e-300), (x, y)
        for name in ("x", "y"):
            want = pytest.approx(one.gradient[name], rel=1e-14, abs=1e-300)
            assert arrays.gradient[name][r] == want, (x, y)
