"""The operation table: every local gradient against central differences over the
op's domain, and the table's reach into the manual and `functions`."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli.ops import ALL_OPS, CONSTANTS, FUNCTIONS, OPERATORS, Op, function

LANGUAGE = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text(encoding="utf-8")


def _interval(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _away_from_zero(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.tuples(_interval(lo, hi), st.booleans()).map(lambda p: p[0] if p[1] else -p[0])


# Where each op is smooth: the ranges the finite differences sample.
DOMAINS: dict[tuple[str, int], tuple[st.SearchStrategy[float], ...]] = {
    ("div", 2): (_interval(-5, 5), _away_from_zero(0.5, 5)),
    ("pow", 2): (_interval(0.2, 4), _interval(-3, 3)),
    ("log", 1): (_interval(0.05, 20),),
    ("ln", 1): (_interval(0.05, 20),),
    ("log2", 1): (_interval(0.05, 20),),
    ("log10", 1): (_interval(0.05, 20),),
    ("log", 2): (_interval(0.05, 20), _interval(1.5, 10)),
    ("sqrt", 1): (_interval(0.05, 20),),
    ("cbrt", 1): (_away_from_zero(0.05, 20),),
    ("abs", 1): (_away_from_zero(0.01, 5),),
    ("sign", 1): (_away_from_zero(0.01, 5),),
    ("relu", 1): (_away_from_zero(0.01, 5),),
    ("tan", 1): (_interval(-1.3, 1.3),),
    ("asin", 1): (_interval(-0.9, 0.9),),
    ("acos", 1): (_interval(-0.9, 0.9),),
    ("atanh", 1): (_interval(-0.9, 0.9),),
    ("acosh", 1): (_interval(1.1, 10),),
    ("atan2", 2): (_away_from_zero(0.2, 5), _away_from_zero(0.2, 5)),
    ("hypot", 2): (_away_from_zero(0.2, 5), _away_from_zero(0.2, 5)),
    ("hypot", 1): (_away_from_zero(0.2, 5),),
    ("clip", 3): (_interval(-5, 5), _interval(-5, -1), _interval(1, 5)),
}

#: Steps and kinks the finite differences must not straddle: (op, args) -> too close.
_KINKS = {
    "max": lambda a: min(abs(x - y) for i, x in enumerate(a) for y in a[i + 1:]) < 1e-3,
    "clip": lambda a: min(abs(a[0] - a[1]), abs(a[0] - a[2])) < 1e-3,
    "if": lambda a: abs(a[0]) < 1e-3,
    **{name: (lambda a: abs(a[0] - a[1]) < 1e-3) for name in ("lt", "le", "gt", "ge", "eq", "ne")},
}
_KINKS["min"] = _KINKS["max"]


def _domain(op: Op) -> tuple[st.SearchStrategy[float], ...]:
    return DOMAINS.get((op.name, op.arity), (_interval(-5, 5),) * op.arity)


def _ids(op: Op) -> str:
    return f"{op.name}/{op.arity}"


@pytest.mark.parametrize("op", ALL_OPS, ids=_ids)
def test_each_local_gradient_matches_a_central_difference(op: Op) -> None:
    # n-ary rows also with two more arguments than the least
    extra = st.lists(_domain(op)[-1], min_size=0, max_size=2 if op.variadic else 0)

    @given(st.tuples(*_domain(op)), extra)
    def check(first: tuple[float, ...], more: list[float]) -> None:
        args = (*first, *more)
        if op.name in _KINKS and _KINKS[op.name](args):
            return  # the kink: covered by the tie tests
        out = op.forward(*args)
        for k in range(len(args)):
            h = 1e-6 * max(1.0, abs(args[k]))
            up = list(args)
            down = list(args)
            up[k] += h
            down[k] -= h
            numeric = (op.forward(*up) - op.forward(*down)) / (2 * h)
            analytic = op.grads[k](*args, out)
            assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6), (op.name, args, k)

    check()


def test_every_op_has_one_gradient_per_argument() -> None:
    for op in ALL_OPS:
        assert len(op.grads) == op.arity, op.name


def test_operators_and_functions_cover_the_spec() -> None:
    assert set(OPERATORS) == {"add", "sub", "mul", "div", "pow", "neg", "lt", "le", "gt", "ge", "eq", "ne"}
    spec = (
        "exp log ln log2 log10 sqrt cbrt abs sign sin cos tan asin acos atan sinh cosh tanh "
        "asinh acosh atanh sigmoid relu softplus erf"
    ).split()
    assert all(1 in FUNCTIONS[name] for name in spec)
    assert all(function(name, 2) for name in ("pow", "atan2", "hypot", "max", "min", "log"))
    assert all(function(name, 5) for name in ("hypot", "max", "min", "sum", "mean", "logsumexp"))
    assert all(function(name, 1) for name in ("hypot", "sum", "mean", "logsumexp"))
    assert not function("max", 1) and not function("min", 1)
    assert function("clip", 3) and function("if", 3) and not function("if", 2) and not function("if", 4)
    assert set(CONSTANTS) == {"pi", "e", "tau"}


def _code_spans_of_the_functions_section() -> list[str]:
    section = LANGUAGE.split("\n## Functions\n", 1)[1].split("\n## ", 1)[0]
    section = re.sub(r"```.*?```", "", section, flags=re.S)  # examples: not the list
    return re.findall(r"`([^`]+)`", section)


def test_the_language_page_names_exactly_the_functions_of_the_table() -> None:
    # Word by word: a name counts where a code span calls it (`log(x, b)`) or lists
    # it (`pow atan2`); a name inside another (exp in logsumexp) does not. A row the
    # page does not name fails, and so does a name that is no row.
    named: set[str] = set()
    for span in _code_spans_of_the_functions_section():
        named.update(re.findall(r"\b(\w+)\(", span))
        if re.fullmatch(r"[a-z0-9_]+(\s+[a-z0-9_]+)+", span.strip()) and not span.startswith("gradcli "):
            named.update(span.split())
    assert named == set(FUNCTIONS)


def test_sigmoid_and_softplus_do_not_overflow_far_out() -> None:
    sigmoid = FUNCTIONS["sigmoid"][1]
    softplus = FUNCTIONS["softplus"][1]
    assert sigmoid.forward(-1000.0) == 0.0
    assert sigmoid.forward(1000.0) == 1.0
    assert softplus.forward(1000.0) == 1000.0
    assert softplus.forward(-1000.0) == 0.0


def test_cube_roots_of_cubes_are_exact() -> None:
    cbrt = FUNCTIONS["cbrt"][1]
    assert cbrt.forward(27.0) == 3.0
    assert cbrt.forward(-8.0) == -2.0
    assert cbrt.forward(2.0) == pytest.approx(2 ** (1 / 3))


def test_zero_to_the_zero_is_one() -> None:
    assert OPERATORS["pow"].forward(0.0, 0.0) == 1.0
    assert math.isclose(OPERATORS["pow"].forward(2.0, -1.0), 0.5)


def test_the_gradient_of_a_whole_power_is_exact() -> None:
    # y·x^(y−1) with y − 1 exact: d(x^2)/dx is 2x to the last bit, as the README's examples show
    pow_ = OPERATORS["pow"]
    for x in (1.1, -2.7, 3.3e-5, 12345.678, 1e100):
        assert pow_.grads[0](x, 2.0, pow_.forward(x, 2.0)) == 2 * x
        assert pow_.grads[0](x, 3.0, pow_.forward(x, 3.0)) == 3 * math.pow(x, 2.0)
