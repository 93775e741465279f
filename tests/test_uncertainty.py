"""eval --sigma: first-order uncertainty propagation, checked against the
`uncertainties` package (which does the same by its own automatic differentiation)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import VARIABLES, points, programs

import gradcli
from gradcli.errors import ExitStatus
from gradcli.uncertainty import propagate

uncertainties = pytest.importorskip("uncertainties")
from uncertainties import ufloat, umath  # noqa: E402

# The generated programs' functions, written with what `uncertainties` has.
_NAMESPACE = {
    "sin": umath.sin, "cos": umath.cos, "tanh": umath.tanh, "atan": umath.atan, "exp": umath.exp,
    "sqrt": umath.sqrt, "asinh": umath.asinh, "erf": umath.erf, "hypot": umath.hypot,
    "atan2": umath.atan2, "pi": math.pi, "e": math.e,
    "sigmoid": lambda u: 1 / (1 + umath.exp(-u)),
    "softplus": lambda u: umath.log(1 + umath.exp(u)),
    "cbrt": lambda u: u ** (1 / 3),
    "log": lambda u, b=None: umath.log(u) if b is None else umath.log(u) / umath.log(b),
}


def _reference(source: str, point: dict[str, float], sigmas: dict[str, float]) -> object:
    # The programs are made by the test's own strategy, never typed by a user; their
    # operands are parenthesised, so ^ may become ** as it stands.
    names = {n: ufloat(v, sigmas[n], tag=n) for n, v in point.items()}
    return eval(source.replace("^", "**"), {"__builtins__": {}}, {**_NAMESPACE, **names})  # noqa: S307


_SIGMA = st.floats(0.001, 0.5, allow_nan=False).map(lambda v: round(v, 4))


@given(programs(), points(), st.fixed_dictionaries({n: _SIGMA for n in VARIABLES}))
# 1.88^1178: past the largest float, a math error for both.
@example(
    "(1 + sigmoid(2))^((2+2)*((1 + sigmoid(2))^(3*3)))",
    {"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.1, "b": 0.1, "c": 0.1},
)
def test_sigma_and_shares_agree_with_the_uncertainties_package(
    source: str, point: dict[str, float], sigmas: dict[str, float]
) -> None:
    program = f"({source}) + 0*a*b*c"  # every input is an input
    try:
        unc = propagate(gradcli.evaluate(program, point), sigmas)
    except gradcli.GradError as err:
        # A legitimate math error (an overflow, a domain edge): a clean one, and one
        # the reference meets too, as an exception or a value that is not finite.
        assert err.exit_code == ExitStatus.MATH, err
        assert err.message and "\n" not in err.message and "Traceback" not in err.message
        try:
            ref = _reference(source, point, sigmas)
        except (OverflowError, ValueError, ZeroDivisionError):
            return
        nominal, std = getattr(ref, "nominal_value", ref), getattr(ref, "std_dev", 0.0)
        assert err.kind == "gradient" or not (math.isfinite(nominal) and math.isfinite(std)), (err, ref)
        return
    ref = _reference(source, point, sigmas)
    std_dev = getattr(ref, "std_dev", 0.0)  # a program of constants gives a plain float
    components = ref.error_components() if hasattr(ref, "error_components") else {}
    scale = max(1.0, std_dev)
    assert unc.sigma == pytest.approx(std_dev, rel=1e-9, abs=1e-12 * scale)
    parts = {var.tag: abs(c) for var, c in components.items()}
    for name in VARIABLES:
        assert abs(unc.terms[name]) == pytest.approx(parts.get(name, 0.0), rel=1e-9, abs=1e-12 * scale)
    if unc.sigma > 0:
        assert math.fsum(s for s in unc.shares.values() if s is not None) == pytest.approx(1.0)


def test_the_pendulum_period_with_its_sigma_and_shares(run_cli) -> None:
    args = ("eval", "T = 2*pi*sqrt(L/g)", "-L", "1", "-g", "9.81", "--sigma", "L=0.01,g=0.05")
    code, out, err = run_cli(*args, "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)["uncertainty"]
    L, g = ufloat(1, 0.01), ufloat(9.81, 0.05)
    ref = 2 * math.pi * umath.sqrt(L / g)
    assert doc["sigma"] == pytest.approx(ref.std_dev, rel=1e-12)
    assert doc["sigmas"] == {"L": 0.01, "g": 0.05}
    assert doc["shares"]["L"] == pytest.approx((ref.error_components()[L] / ref.std_dev) ** 2)
    code, out, err = run_cli(*args)
    assert code == 0
    assert "uncertainty (first order): T = 2.00607 ± 0.011258" in out
    assert "| L    | 0.01 |    0.0100303 |             79.4% |" in out


def test_sigma_keeps_the_wrt_columns_and_treats_inputs_without_sigma_as_exact(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*y", "-x", "1", "-y", "2", "--sigma", "x=1", "--wrt", "y", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["gradient"] == {"y": 1.0}
    assert doc["uncertainty"] == {"sigma": 2.0, "sigmas": {"x": 1.0}, "shares": {"x": 1.0}}


def test_zero_sigmas_have_no_shares(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*y", "-x", "1", "-y", "2", "--sigma", "x=0,y=0", "--json")
    assert code == 0
    assert json.loads(out)["uncertainty"] == {"sigma": 0.0, "sigmas": {"x": 0.0, "y": 0.0},
                                              "shares": {"x": None, "y": None}}


@pytest.mark.parametrize(
    ("sigma", "message"),
    [
        ("x=-1", "error: --sigma x=-1: σ is a standard deviation and cannot be negative"),
        ("x=nan", "error: --sigma x=nan: σ must be a finite number"),
        ("x=inf", "error: --sigma x=inf: σ must be a finite number"),
        ("x=big", "error: --sigma x=big: σ must be a number, as in x=0.1"),
        ("z=1", "error: --sigma z: the program has no input z; its inputs are x, y"),
        ("q=1", "error: --sigma q: q is computed by the program, not measured: give a σ for the inputs"
                " it comes from (x, y)"),
        ("x", "error: --sigma 'x': give name=σ pairs separated by commas, as in --sigma x=0.1,y=0.2"),
        ("x=1,x=2", "error: --sigma: x is given twice"),
        ("x=1,", "error: --sigma 'x=1,': give name=σ pairs separated by commas, as in --sigma x=0.1,y=0.2"),
    ],
)
def test_a_bad_sigma_is_a_clear_usage_error(run_cli, sigma: str, message: str) -> None:
    code, out, err = run_cli("eval", "q = x*y; q + 1", "-x", "1", "-y", "2", "--sigma", sigma)
    assert (code, out, err) == (2, "", message + "\n")


def test_sigma_is_for_one_point(run_cli) -> None:
    code, _, err = run_cli("eval", "x*y", "-y", "2", "--grid", "x=0:1:2", "--sigma", "x=1")
    assert code == 2 and "--sigma are for one point" in err


def test_a_sigma_too_large_for_a_float_is_an_overflow_error(run_cli) -> None:
    code, _, err = run_cli("eval", "exp(x)", "-x", "700", "--sigma", "x=1e300")
    assert (code, err) == (1, "error: overflow: a gradient times its σ is too large for a float\n")
