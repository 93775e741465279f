"""`check`: every reverse-mode gradient beside a finite difference, a verdict
per row, exit 3 when any does not agree; honest at kinks and at the edge of a domain."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from strategies import points, programs

import gradcli
from gradcli.gradcheck import DEFAULT_TOL, check

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_POINT = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}


def test_check_agrees_on_the_seed_neuron_for_every_input() -> None:
    r = check(NEURON, NEURON_POINT)
    assert r.ok and r.error() is None
    assert [row.name for row in r.rows] == list(NEURON_POINT)
    for row in r.rows:
        assert row.verdict == "ok" and row.method == "central"
        assert row.abs_error is not None and row.abs_error < 1e-9


@given(programs(), points())
def test_check_agrees_on_random_smooth_programs(source: str, point: dict[str, float]) -> None:
    graph = gradcli.compile(source)
    r = check(graph, {name: point[name] for name in graph.inputs})
    assert r.ok, [(row.name, row.reverse, row.numeric, row.note) for row in r.rows]


def test_relu_at_its_kink_is_reported_as_a_disagreement_not_hidden() -> None:
    r = check("relu(x)", x=0)
    (row,) = r.rows
    assert (row.reverse, row.numeric, row.verdict) == (0.0, 0.5, "differs")
    assert row.note is not None
    assert row.note.startswith("the slopes on the two sides differ (0 and 1): a kink")
    assert not r.ok
    err = r.error()
    assert err is not None and err.kind == "check" and err.exit_code == 3


def test_abs_at_zero_agrees_because_its_central_difference_is_symmetric() -> None:
    assert check("abs(x)", x=0).ok


def test_a_looser_tol_accepts_what_the_default_rejects() -> None:
    assert not check("relu(x)", x=0).ok
    assert check("relu(x)", x=0, tol=1.0).ok


def test_the_default_step_scales_with_the_magnitude_of_the_variable() -> None:
    small, large = check("x^2", x=0.5).rows[0], check("x^2", x=1000).rows[0]
    assert small.step == pytest.approx(6.06e-6, rel=1e-2)
    assert large.step == pytest.approx(6.06e-3, rel=1e-2)


def test_eps_sets_the_step_for_every_input() -> None:
    r = check("x * y", x=3, y=2, eps=1e-3)
    assert [row.step for row in r.rows] == pytest.approx([1e-3, 1e-3])
    assert r.eps == 1e-3 and r.ok


@pytest.mark.parametrize(
    ("source", "x"),
    [("sqrt(x)", 1e-10), ("log(x)", 1e-12), ("acos(x)", 0.9999999), ("sqrt(1 - x^2)", 0.99999999)],
)
def test_near_the_edge_of_the_domain_the_step_shrinks_and_still_agrees(source: str, x: float) -> None:
    (row,) = check(source, x=x).rows
    assert row.verdict == "ok" and row.method == "central"
    assert row.step is not None and row.step < 1e-6 * max(1.0, abs(x))
    assert row.note is not None and row.note.startswith("step reduced: f cannot be evaluated at x ± 6.1e-06")


def test_overflow_beside_the_point_shrinks_the_step_too() -> None:
    (row,) = check("exp(x)", x=709.78).rows
    assert row.verdict == "ok" and row.method == "central"
    assert row.note is not None and "overflow" in row.note


def test_a_large_x_whose_step_is_too_coarse_is_refined_by_richardson() -> None:
    # h = 6e-6 · 709.7 ≈ 4e-3: the central difference of exp is off by h²/6 ≈ 3e-6.
    (row,) = check("exp(x)", x=709.7).rows
    assert row.verdict == "ok" and row.method == "richardson"
    assert row.rel_error is not None and row.rel_error < 1e-9


def test_richardson_does_not_rescue_a_kink() -> None:
    (row,) = check("relu(x)", x=0).rows
    assert row.method == "central" and row.verdict == "differs"


def test_at_the_edge_of_the_domain_a_one_sided_difference_is_used_and_named() -> None:
    # x^1.5 is defined for x >= 0 only: at 0 only the forward side exists; its slope is not
    # smooth there (x^0.5 in the error term), so the honest answer is a disagreement.
    (row,) = check("x^1.5", x=0).rows
    assert row.method == "forward" and row.reverse == 0.0
    assert row.note is not None and row.note.startswith("one-sided: f cannot be evaluated at x − 6.1e-06")


def test_a_fixed_eps_that_leaves_the_domain_uses_a_one_sided_difference() -> None:
    (row,) = check("log(x)", x=1, eps=1.5).rows
    assert row.method == "forward" and row.step == 1.5
    assert row.numeric is not None and math.isfinite(row.numeric)


def test_no_possible_difference_is_na_with_the_reason_and_fails_the_check() -> None:
    r = check("log(x) + log(2 - x)", x=1, eps=1.5)
    (row,) = r.rows
    assert (row.verdict, row.numeric, row.method) == ("n/a", None, None)
    assert row.note is not None and "outside the domain of log" in row.note
    assert not r.ok
    err = r.error()
    assert err is not None and "1 could not be checked" in err.message


def test_a_large_value_beside_a_small_change_says_rounding_is_to_blame() -> None:
    (row,) = check("1e8 + x", x=1).rows
    assert row.verdict == "differs"
    assert row.note is not None and "a larger --eps may help" in row.note
    assert check("1e8 + x", x=1, eps=1.0).ok


def test_a_function_steeper_than_the_step_can_see_is_named_as_such() -> None:
    # cbrt is defined on both sides of 1e-300, so the step is not reduced, but it bends
    # on a scale far below h: the difference grows as h shrinks, and the note says so.
    (row,) = check("cbrt(x)", x=1e-300).rows
    assert row.verdict == "differs"
    assert row.note is not None and "the difference depends on the step" in row.note


def test_an_input_the_output_does_not_use_has_gradient_zero_and_agrees() -> None:
    r = check("q = x * 2; f = y", x=1, y=2, output="q")
    assert [(row.name, row.reverse, row.numeric, row.verdict) for row in r.rows] == [
        ("x", 2.0, pytest.approx(2.0), "ok"),
        ("y", 0.0, 0.0, "ok"),
    ]


def test_a_program_without_inputs_has_nothing_to_check_and_passes(run_cli) -> None:
    assert check("2 + 3").rows == []
    message = "ok: the program has no inputs, so there is no gradient to check\n"
    assert run_cli("check", "2 + 3") == (0, message, "")


def test_check_accepts_a_compiled_graph() -> None:
    graph = gradcli.compile("x^2")
    assert check(graph, {"x": 3}).rows[0].reverse == 6.0


def test_a_math_error_at_the_point_itself_is_a_math_error_not_a_check_failure() -> None:
    with pytest.raises(gradcli.GradError) as info:
        check("log(x)", x=-1)
    assert info.value.kind == "domain"


@pytest.mark.parametrize("bad", [{"eps": 0.0}, {"eps": -1.0}, {"eps": math.nan}, {"tol": -1.0}])
def test_bad_eps_or_tol_is_a_usage_error(bad: dict[str, float]) -> None:
    with pytest.raises(gradcli.GradError) as info:
        check("x", {"x": 1}, **bad)
    assert info.value.exit_code == 2


def test_check_json_has_one_entry_per_variable(run_cli) -> None:
    code, out, err = run_cli("check", "x^2 * y", "-x", "3", "-y", "2", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert list(data) == ["source", "output", "value", "ok", "tol", "eps", "inputs", "gradients"]
    assert data["ok"] is True and data["tol"] == DEFAULT_TOL and data["eps"] is None
    assert list(data["gradients"]) == ["x", "y"]
    assert set(data["gradients"]["x"]) == {
        "value", "reverse", "numeric", "abs_error", "rel_error", "step", "method", "verdict", "note",
    }
    assert data["gradients"]["x"]["reverse"] == 12.0


def test_check_json_at_a_kink_still_prints_and_exits_3(run_cli) -> None:
    code, out, err = run_cli("check", "relu(x)", "-x", "0", "--json")
    assert code == 3
    assert json.loads(out)["gradients"]["x"]["verdict"] == "differs"
    assert err.startswith("error: 1 of 1 gradients do not agree with finite differences (x)")


def test_check_table_prints_on_stdout_even_when_it_fails(run_cli) -> None:
    code, out, err = run_cli("check", "relu(x) + y", "-x", "0", "-y", "1")
    assert code == 3
    assert "| x     |     0 |" in out and "differs" in out and "| ok      |" in out
    assert "FAILED: 1 of 2 gradients agree" in out
    assert err.startswith("error: 1 of 2 gradients do not agree")


def test_check_notes_go_under_the_table(run_cli) -> None:
    code, out, _ = run_cli("check", "sqrt(x)", "-x", "1e-10")
    assert code == 0
    assert "x: step reduced: f cannot be evaluated at x ± 6.1e-06" in out
    assert out.rstrip().endswith("ok: 1 of 1 gradients agree with finite differences within tol 1e-06")


def test_the_installed_command_exits_0_or_3_for_ci_scripts(run_exe) -> None:
    bindings = ["--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3"]
    code, out, err = run_exe("check", NEURON, *bindings)
    assert (code, err) == (0, "")
    assert "ok: 5 of 5 gradients agree" in out
    code, out, err = run_exe("check", "relu(x)", "-x", "0")
    assert code == 3 and "differs" in out and err.startswith("error:")
    code, out, err = run_exe("check", "log(x)", "-x", "-1")
    assert code == 1 and out == "" and "outside the domain of log" in err
