"""--exact: exact fractions through rational programs, floats (marked) elsewhere."""

from __future__ import annotations

import json
import math
import time
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.exact import MAX_DIGITS, RULES, exact
from gradcli.ops import ALL_OPS

sympy = pytest.importorskip("sympy")

NAMES = ("x", "y", "z")
POINT = {"x": "0.3", "y": "-1.25", "z": "7/3"}
EXACT_POINT = {"x": Fraction(3, 10), "y": Fraction(-5, 4), "z": Fraction(7, 3)}


def _exact_of(source: str, **bindings: object):
    result = gradcli.evaluate(source, **bindings)
    return result, exact(result, bindings)


def test_a_third_is_a_third(run_cli) -> None:
    code, out, _ = run_cli("eval", "x/3", "-x", "1", "--exact", "--json")
    assert code == 0
    assert json.loads(out)["exact"] == {"value": "1/3", "gradient": {"x": "1/3"}, "notes": []}
    code, out, _ = run_cli("eval", "x/3", "-x", "1", "--exact")
    assert "1/3" in out


def test_decimal_literals_are_read_as_written() -> None:
    _, ex = _exact_of("0.1 + 0.2")
    assert ex.value == Fraction(3, 10)


def test_bindings_are_exact_decimals_and_constant_expressions() -> None:
    _, ex = _exact_of("x*y", x="0.1", y="1/3")
    assert ex.value == Fraction(1, 30)
    assert ex.gradient == {"x": Fraction(1, 3), "y": Fraction(1, 10)}
    _, ex = _exact_of("x*y", x=0.1, y=3)  # API floats: the decimal they print as
    assert ex.value == Fraction(3, 10)


def test_an_irrational_binding_falls_back_and_is_marked(run_cli) -> None:
    code, out, _ = run_cli("eval", "x + y", "-x", "pi/4", "-y", "0.5", "--exact", "--json")
    assert code == 0
    got = json.loads(out)["exact"]
    assert got["value"] is None
    assert got["gradient"] == {"x": "1", "y": "1"}  # x + y: the gradient is exact all the same
    assert any("pi/4" in note for note in got["notes"])
    code, out, _ = run_cli("eval", "x + y", "-x", "pi/4", "-y", "0.5", "--exact")
    assert "≈1.2854" in out and "note:" in out


def test_an_irrational_node_and_what_depends_on_it_fall_back() -> None:
    result, ex = _exact_of("sqrt(2)*x + x/4", x="1")
    assert ex.value is None
    assert ex.gradient["x"] is None  # sqrt(2) + 1/4
    labels = [n.label for n in result.nodes]
    assert ex.values[labels.index("x / 4")] == Fraction(1, 4)
    assert ex.values[labels.index("sqrt(2)")] is None
    assert any("sqrt(2)" in note for note in ex.notes)


@pytest.mark.parametrize("source", ["exp(1)*x", "x*pi", "sin(x)"])
def test_functions_that_are_not_rational_fall_back(source: str) -> None:
    _, ex = _exact_of(source, x="1")
    assert ex.value is None and ex.notes


def test_huge_powers_stay_bounded_and_say_the_limit(run_cli) -> None:
    start = time.perf_counter()
    code, out, _ = run_cli("eval", "x^100000", "-x", "1.0001", "--exact")
    assert time.perf_counter() - start < 2
    assert code == 0
    assert f"limit of {MAX_DIGITS} digits" in out
    assert "≈22015.5" in out


def test_a_long_chain_of_products_stays_bounded() -> None:
    source = "x" + "*x" * 5000
    start = time.perf_counter()
    _, ex = _exact_of(source, x="1.0001")
    assert time.perf_counter() - start < 5
    assert ex.value is None and any("limit" in n for n in ex.notes)


def test_deep_programs_do_not_recurse() -> None:
    source = "(" * 20000 + "x" + "+1)" * 20000
    _, ex = _exact_of(source, x="1/3")
    assert ex.value == Fraction(1, 3) + 20000
    assert ex.gradient == {"x": 1}


def test_trace_exact_json_has_every_node(run_cli) -> None:
    code, out, _ = run_cli("trace", "q = x/3; f = q*q", "-x", "1", "--exact", "--json")
    assert code == 0
    obj = json.loads(out)
    nodes = obj["exact"]["nodes"]
    assert len(nodes) == len(obj["nodes"])
    assert nodes[-1] == {"value": "1/9", "local_grads": ["1/3", "1/3"], "grad": "1"}  # q*q: q twice
    assert obj["exact"]["gradient"] == {"x": "2/9"}


def test_a_branch_not_taken_has_no_exact_value() -> None:
    _, ex = _exact_of("if(x > 0, sqrt(x), x/3)", x="-0.5")
    assert ex.value == Fraction(-1, 6)
    assert ex.gradient == {"x": Fraction(1, 3)}


def test_exact_rules_agree_with_the_float_rules() -> None:
    """The exact table and the op table are two rule sets: held to each other here."""
    points = [Fraction(n, d) for n in range(-7, 8) for d in (1, 2, 3, 5)]
    for name, (forward, local) in RULES.items():
        op = next(o for o in ALL_OPS if o.name == name)
        arity = op.arity if not op.variadic else 3
        for i in range(0, len(points) - arity, 7):
            args = [points[(i + 5 * k) % len(points)] for k in range(arity)]
            try:
                want = op.forward(*map(float, args))
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
            got = forward(*args)
            if got is None:
                continue
            assert float(got) == pytest.approx(want, rel=1e-12, abs=1e-12), (name, args)
            for k in range(arity):
                rule = local(k)
                if rule is None:  # mean: 1/n
                    continue
                try:
                    want_local = op.grads[k](*map(float, args), want)
                except Exception:
                    continue
                got_local = rule(*args, got)
                if got_local is not None:
                    want_close = pytest.approx(want_local, rel=1e-12, abs=1e-12)
                    assert float(got_local) == want_close, (name, k, args)


# --- generated rational programs, against fractions.Fraction and SymPy's Rational -------


@st.composite
def rational_programs(draw: st.DrawFn, depth: int = 5) -> tuple[str, Fraction, object]:
    """A program of + - * / and whole powers: its text, its value (Fraction) and the
    same expression in SymPy (built bottom-up with a stack: no recursion needed)."""
    leaves = st.one_of(
        st.sampled_from(NAMES).map(lambda n: (n, EXACT_POINT[n], sympy.Symbol(n))),
        st.sampled_from(["0.1", "2", "0.25", "3", "1.5", "10"]).map(
            lambda t: (t, Fraction(t), sympy.Rational(t))
        ),
    )
    stack = [draw(leaves) for _ in range(draw(st.integers(1, depth)) + 1)]
    while len(stack) > 1:
        b, a = stack.pop(), stack.pop()
        op = draw(st.sampled_from(["+", "-", "*", "/", "^"]))
        if op == "^":
            n = draw(st.integers(-3, 3))
            power = None if a[1] is None or (a[1] == 0 and n < 0) else a[1] ** n
            stack.append((f"({a[0]})^({n})", power, a[2] ** n))
            stack.append(b)
            continue
        if op == "/" and (a[1] is None or b[1] in (None, 0)):
            op = "+"
        value = None
        if a[1] is not None and b[1] is not None:
            x, y = a[1], b[1]
            value = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else None}[op]
        sym = {"+": a[2] + b[2], "-": a[2] - b[2], "*": a[2] * b[2], "/": a[2] / b[2]}[op]
        stack.append((f"({a[0]}) {op} ({b[0]})", value, sym))
    return stack[0]


@settings(max_examples=150, deadline=None)
@given(rational_programs())
def test_generated_rational_programs_match_fraction_and_sympy(program: tuple[str, Fraction, object]) -> None:
    source, value, sym = program
    assume(value is not None)
    used = {n: POINT[n] for n in NAMES if n in source}
    try:
        result = gradcli.evaluate(source, **used)
    except gradcli.GradError:
        assume(False)  # division by zero, overflow: the float path refuses, as it should
    ex = exact(result, used)
    assert ex.value == value
    subs = {sympy.Symbol(n): sympy.Rational(str(EXACT_POINT[n])) for n in used}
    assert sympy.Rational(ex.value.numerator, ex.value.denominator) == sym.subs(subs)  # type: ignore[attr-defined]
    for name in used:
        want = sympy.diff(sym, sympy.Symbol(name)).subs(subs)  # type: ignore[attr-defined]
        got = ex.gradient[name]
        assert got is not None
        assert sympy.Rational(got.numerator, got.denominator) == want, (source, name)
        # the floats' rounding leaves a residue where the exact gradient is 0: x/(x - x - x·0.01)
        # is the constant -100, with a float gradient of -3e-12 at x = 0.3
        scale = max(1.0, abs(float(value)))
        assert math.isclose(float(got), result.gradient[name], rel_tol=1e-9, abs_tol=1e-9 * scale)


@pytest.mark.parametrize(
    ("source", "bindings", "node"),
    [
        # 0.1 + 0.2 is 3/10 exactly, 0.30000000000000004 in floats: y - 0.3 is exactly 0
        ("x/(y - 0.3)", {"x": "1", "y": "0.1+0.2"}, "x / (y - 0.3)"),  # ∂/∂x = 1/0 too
        ("1/(y - 0.3)", {"y": "0.1+0.2"}, "1 / (y - 0.3)"),
        ("(y - 0.3)^-2", {"y": "0.1+0.2"}, "(y - 0.3)^(-2)"),
        # 1e16 + 1 rounds to 1e16 in floats: the floats divide by -1, exact arithmetic by 0
        ("x/((y + 1e16) - 1e16 - 1)", {"x": "1", "y": "1"}, "x / (y + 1e+16 - 1e+16 - 1)"),
    ],
)
def test_an_exact_division_by_zero_the_floats_rounded_past_falls_back_with_a_note(
    run_cli, source: str, bindings: dict[str, str], node: str
) -> None:
    args = [f"{k}={v}" for k, v in bindings.items()]
    code, out, err = run_cli("eval", source, *args, "--exact", "--json")
    assert code == 0, err
    got = json.loads(out)["exact"]
    assert got["value"] is None
    assert all(g is None for g in got["gradient"].values())
    assert any("division by zero" in note and node in note for note in got["notes"]), got["notes"]
    code, out, err = run_cli("trace", source, *args, "--exact")
    assert code == 0, err
    assert "≈" in out and "note: exactly a division by zero" in out


def test_an_if_whose_exact_condition_takes_the_other_branch_falls_back_with_a_note() -> None:
    # floats: y - 0.3 is 5.6e-17, so the second branch (2y, gradient 2); exactly it is 0
    result, ex = _exact_of("if(y - 0.3 == 0, 1, 2*y)", y="0.1+0.2")
    assert result.gradient == {"y": 2.0}
    assert ex.value is None and ex.gradient == {"y": None}  # never the first branch's 0
    assert any("takes the branch the floats did not" in note for note in ex.notes)
    # where they agree, exact as ever
    _, ex = _exact_of("if(y - 0.3 == 0, 1, 2*y)", y="0.3")
    assert ex.value == 1 and ex.gradient == {"y": 0} and not ex.notes


@pytest.mark.parametrize("command", ["eval", "trace"])
def test_the_explanation_writes_the_tables_fractions(run_cli, command: str) -> None:
    # the table said 1/3 and the chain rule under it 0.333333
    point = ["-w", "0.5", "-x", "2", "-y", "1"]
    code, out, _ = run_cli(command, "w*sqrt(x) + y/3", *point, "--exact", "--explain")
    assert code == 0
    chain = out[out.index("forward pass"):]
    assert "n6 = y / 3 = 1/3" in chain
    assert "∂f/∂y = ∂f/∂n6 · ∂n6/∂y = (1)·(1/3) = 1/3" in chain
    assert "∂f/∂n2 = ∂f/∂n3 · ∂n3/∂n2 = (1)·(1/2) = 1/2" in chain
    assert "(1/2)·(≈0.353553) = ≈0.176777" in chain  # sqrt(2) is no fraction: marked as the table marks it
    assert "0.333333" not in chain
