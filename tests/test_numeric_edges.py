"""Numbers at the edges: overflow, underflow, subnormals, zeros, kinks and poles.

Each case gives the correct number, or a math error (exit 1) that names the
operation, its operand values and the place in the source. Nothing hangs and
nothing allocates without bound: every value is a float, so `10^10^10` is one
`math.pow` that overflows at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

import gradcli
from gradcli.errors import GradError

CliResult = tuple[int, str, str]
TINY = 5e-324  # the smallest subnormal


@pytest.mark.parametrize(
    ("source", "bindings", "value", "gradient"),
    [
        # underflow to zero is an honest result, not an error
        ("exp(-1000)", {}, 0.0, {}),
        ("exp(x)", {"x": -1000}, 0.0, {"x": 0.0}),
        ("x*x", {"x": 1e-200}, 0.0, {"x": 2e-200}),
        ("x*1e-300", {"x": 1e-300}, 0.0, {"x": 1e-300}),
        ("sigmoid(x)", {"x": -1000}, 0.0, {"x": 0.0}),
        ("tanh(x)", {"x": 1000}, 1.0, {"x": 0.0}),
        ("softplus(x)", {"x": 1000}, 1000.0, {"x": 1.0}),
        ("softplus(x)", {"x": -1000}, 0.0, {"x": 0.0}),
        # subnormals survive the trip
        ("x*2", {"x": TINY}, 2 * TINY, {"x": 2.0}),
        ("x", {"x": "1e-320"}, 1e-320, {"x": 1.0}),
        ("x/2", {"x": TINY}, 0.0, {"x": 0.5}),
        # the largest floats
        ("x", {"x": "1e308"}, 1e308, {"x": 1.0}),
        ("x/10", {"x": 1.7976931348623157e308}, 1.7976931348623158e307, {"x": 0.1}),
        ("x - 1e308", {"x": 1e308}, 0.0, {"x": 1.0}),
        # zeros and powers
        ("0^0", {}, 1.0, {}),
        ("x^0", {"x": 0}, 1.0, {"x": 0.0}),
        ("x^y", {"x": 0, "y": 2}, 0.0, {"x": 0.0, "y": 0.0}),
        ("x^2", {"x": -3}, 9.0, {"x": -6.0}),
        ("x^3", {"x": -2}, -8.0, {"x": 12.0}),
        ("x^-1", {"x": -2}, -0.5, {"x": -0.25}),
        ("cbrt(x)", {"x": -8}, -2.0, {"x": 1 / 12}),
        ("2^-1074", {}, TINY, {}),
        ("2^-1080", {}, 0.0, {}),
        # kinks follow the documented conventions
        ("abs(x)", {"x": 0}, 0.0, {"x": 0.0}),
        ("relu(x)", {"x": 0}, 0.0, {"x": 0.0}),
        ("max(x, y)", {"x": 1, "y": 1}, 1.0, {"x": 0.5, "y": 0.5}),
        ("0*sqrt(x)", {"x": 0}, 0.0, {"x": 0.0}),
        # constants need no gradient: asin(1) itself is fine
        ("asin(1)", {}, math.pi / 2, {}),
        ("sqrt(0)", {}, 0.0, {}),
        # a zero gradient with a sign is still 0
        ("x*-0", {"x": 3}, -0.0, {"x": -0.0}),
    ],
)
def test_edge_values_are_computed_exactly(
    source: str, bindings: dict[str, object], value: float, gradient: dict[str, float]
) -> None:
    r = gradcli.evaluate(source, bindings)
    assert r.value == value
    assert r.gradient == gradient
    for number in [r.value, *r.gradient.values(), *r.inputs.values()]:
        assert math.isfinite(number)
        assert float(repr(number)) == number


@pytest.mark.parametrize(
    ("source", "bindings", "kind", "names"),
    [
        # overflow: a value that is not a finite float
        ("exp(1000)", {}, "overflow", "exp(1000)"),
        ("exp(x)", {"x": 710}, "overflow", "exp(710)"),
        ("10^10^10", {}, "overflow", "10 ^ 10000000000"),
        ("2^2^2^2^2^2", {}, "overflow", "2 ^ 65536"),
        ("x^y", {"x": 10, "y": 1e10}, "overflow", "10 ^ 10000000000"),
        ("x^y", {"x": 1e308, "y": 1e308}, "overflow", "1e+308 ^ 1e+308"),
        ("1e308*10", {}, "overflow", "1e+308 * 10"),
        ("x*10", {"x": 1e308}, "overflow", "1e+308 * 10"),
        ("1/x", {"x": 1e-320}, "overflow", "1 / 1e-320"),
        ("sinh(x)", {"x": 1000}, "overflow", "sinh(1000)"),
        ("exp(exp(exp(x)))", {"x": 2}, "overflow", "exp(1618.1779919126539)"),
        ("1e999", {}, "overflow", "1e999"),
        # division by zero
        ("1/x", {"x": 0}, "division_by_zero", "1 / 0"),
        ("0^-1", {}, "division_by_zero", "0 ^ (-1)"),
        ("x^y", {"x": 0, "y": -1}, "division_by_zero", "0 ^ (-1)"),
        # outside the domain
        ("log(0)", {}, "domain", "log(0)"),
        ("log(x)", {"x": -1}, "domain", "log(-1)"),
        ("sqrt(x)", {"x": -2}, "domain", "sqrt(-2)"),
        ("asin(x)", {"x": 2}, "domain", "asin(2)"),
        ("acosh(x)", {"x": 0.5}, "domain", "acosh(0.5)"),
        ("atanh(x)", {"x": 1}, "domain", "atanh(1)"),
        ("log(x, 1)", {"x": 8}, "domain", "log(8, 1)"),
        ("(-8)^(1/3)", {}, "domain", "(-8) ^ 0.3333333333333333"),
        ("x^y", {"x": -1, "y": 0.5}, "domain", "(-1) ^ 0.5"),
        # a gradient that does not exist
        ("sqrt(x)", {"x": 0}, "gradient", "sqrt(0)"),
        ("cbrt(x)", {"x": 0}, "gradient", "cbrt(0)"),
        ("asin(x)", {"x": 1}, "gradient", "asin(1)"),
        ("acos(x)", {"x": -1}, "gradient", "acos(-1)"),
        ("x^y", {"x": -2, "y": 2}, "gradient", "(-2) ^ 2"),
        ("x^y", {"x": 0, "y": 0}, "gradient", "0 ^ 0"),
        ("x^0.5", {"x": 0}, "gradient", "0 ^ 0.5"),
        ("atan2(y, x)", {"x": 0, "y": 0}, "gradient", "atan2(0, 0)"),
        # a gradient that is not a finite float
        ("log(x)", {"x": 1e-320}, "overflow", "log(1e-320)"),
        ("x*1e308 + x*1e308", {"x": 0}, "overflow", "0 * 1e+308"),
        ("x*1e308 + 1e308*x", {"x": 0}, "overflow", "∂f/∂x"),
        ("exp(x)*exp(x)", {"x": 400}, "overflow", "5.221469689764144e+173 * 5.221469689764144e+173"),
    ],
)
def test_edge_errors_name_the_operation_its_operands_and_the_place(
    source: str, bindings: dict[str, object], kind: str, names: str
) -> None:
    with pytest.raises(GradError) as info:
        gradcli.evaluate(source, bindings)
    err = info.value
    assert err.kind == kind
    assert err.exit_code == 1
    assert names in err.message
    assert err.span is not None and err.source == source


def test_a_tower_of_powers_neither_hangs_nor_allocates() -> None:
    for source in ("10^10^10^10^10", "9^9^9^9", "(1+1e-16)^1e300", "2^2^2^2^2^2^2"):
        start = time.perf_counter()
        try:
            gradcli.evaluate(source)
        except GradError as err:
            assert err.kind == "overflow"
        assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inf", "the value of x must be a finite number, not inf"),
        ("-Infinity", "the value of x must be a finite number, not -Infinity"),
        ("nan", "the value of x must be a finite number, not nan"),
        ("1e999", "the value of x is too large for a float: 1e999"),
        ("-1e999", "the value of x is too large for a float: -1e999"),
        ("0x10", "the value of x is not a decimal number: 0x10 (write 16)"),
        ("1_000", "the value of x is not a number: 1_000 (write 1000, without '_')"),
        (float("inf"), "the value of x must be a finite number, not inf"),
        (float("nan"), "the value of x must be a finite number, not nan"),
        (10**400, "the value of x must be a finite number, not " + "1" + "0" * 25 + "…" + "0" * 13),
        (True, "the value of x is not a number: True"),
        ([1], "the value of x is not a number: [1]"),
        ("10^400", "the value of x cannot be computed: overflow: 10 ^ 400 is too large for a float"),
    ],
)
def test_non_finite_and_foreign_bindings_are_refused_by_name(value: object, message: str) -> None:
    with pytest.raises(GradError) as info:
        gradcli.evaluate("x + 1", x=value)
    assert (info.value.kind, info.value.message) == ("binding", message)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-320", 1e-320), ("-1e308", -1e308), ("1e-400", 0.0), ("  2.5 ", 2.5), ("+3", 3.0),
     ("-0", -0.0), ("2.", 2.0), (".5", 0.5), ("6.02E+23", 6.02e23), ("pi/4", math.pi / 4),
     ("-2^0.5", -(2**0.5)), ("tau", math.tau)],
)
def test_bindings_written_as_numbers_or_constant_expressions_are_read_exactly(
    text: str, value: float
) -> None:
    assert gradcli.evaluate("x", x=text).inputs["x"] == value


def test_human_output_never_shows_minus_zero(run_cli: Callable[..., CliResult]) -> None:
    for args in (["eval", "x*-0", "-x", "3"], ["trace", "-x*0", "-x", "3"], ["eval", "x", "-x", "-0.0"]):
        code, out, err = run_cli(*args)
        assert (code, err) == (0, "")
        table = out.split("\n", 1)[1]  # below the title, which repeats the source
        for cell in table.replace("|", " ").replace(",", " ").split():
            assert cell not in ("-0", "-0.0")


def test_a_hundred_thousand_minus_signs_in_a_row() -> None:
    r = gradcli.evaluate("-" * 100_000 + "x", x=2)
    assert (r.value, r.gradient) == (2.0, {"x": 1.0})
    r = gradcli.evaluate("-" * 99_999 + "x", x=2)
    assert (r.value, r.gradient) == (-2.0, {"x": -1.0})


def test_a_million_character_name() -> None:
    name = "n" * 1_000_000
    r = gradcli.evaluate(f"{name} * {name}", {name: 3})
    assert (r.value, r.gradient[name]) == (9.0, 6.0)


def test_exp_of_exp_of_exp_is_exact_where_it_fits() -> None:
    r = gradcli.evaluate("exp(exp(exp(x)))", x=1)
    inner = math.exp(math.e)
    assert r.value == math.exp(inner)
    assert r.gradient["x"] == pytest.approx(math.exp(inner) * inner * math.e, rel=1e-15)
