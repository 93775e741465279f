"""`check`: every reverse-mode gradient beside a finite difference, a verdict per row
(ok, differs, cannot judge), exit 3 when one differs and 4 when one cannot be judged;
honest at kinks, at the edge of a domain, for large x and under rounding."""

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


def test_relu_at_its_kink_cannot_be_judged_and_says_so_not_hidden_nor_failed() -> None:
    r = check("relu(x)", x=0)
    (row,) = r.rows
    assert (row.reverse, row.numeric, row.verdict) == (0.0, 0.5, "cannot judge")
    assert row.note is not None
    assert row.note.startswith("the slopes on the two sides differ (0 and 1): a kink")
    assert "a convention" in row.note
    assert not r.ok and r.failures == [] and r.unjudged == [row]
    err = r.error()
    assert err is not None and err.kind == "unjudged" and err.exit_code == 4


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
    assert row.verdict == "ok" and row.method == "richardson"
    assert row.step is not None and row.step < 1e-6 * max(1.0, abs(x))
    assert row.note is not None and row.note.startswith("f cannot be evaluated at x ± 6.1e-06")


def test_overflow_beside_the_point_shrinks_the_step_too() -> None:
    (row,) = check("exp(x)", x=709.78).rows
    assert row.verdict == "ok" and row.method == "richardson"
    assert row.note is not None and "overflow" in row.note


def test_a_large_x_whose_step_is_too_coarse_is_refined_by_richardson() -> None:
    # h = 6e-6 · 709.7 ≈ 4e-3: the central difference of exp is off by h²/6 ≈ 3e-6.
    (row,) = check("exp(x)", x=709.7).rows
    assert row.verdict == "ok" and row.method == "richardson"
    assert row.rel_error is not None and row.rel_error < 1e-9


def test_richardson_does_not_rescue_a_kink() -> None:
    (row,) = check("relu(x)", x=0).rows
    assert row.verdict == "cannot judge" and row.numeric == 0.5


def test_at_the_edge_of_the_domain_a_one_sided_ladder_confirms_x_to_the_1_5_at_0() -> None:
    # x^1.5 is defined for x >= 0 only: at 0 only the forward side exists. Its one-sided
    # difference is 0.59·√h, so at the first step (0.0014) it looked wrong; smaller steps
    # close in on 0, the right gradient.
    (row,) = check("x^1.5", x=0).rows
    assert (row.method, row.reverse, row.verdict) == ("forward", 0.0, "ok")
    assert row.note is not None and row.note.startswith("one-sided: f cannot be evaluated at x − h")


def test_sin_at_a_large_x_is_confirmed_although_the_first_step_is_coarse() -> None:
    # h = 6e-6 · 30000 = 0.18: the central difference is off by 0.5%; extrapolation fixes it.
    (row,) = check("sin(x)", x=30000).rows
    assert row.verdict == "ok" and row.method == "richardson"
    assert row.rel_error is not None and row.rel_error < 1e-9


def test_rounding_inside_a_subexpression_cannot_be_judged_and_names_the_subexpression() -> None:
    # Relativistic kinetic energy at 1000 m/s: 1 - v^2/c^2 keeps 5 of 16 digits, so f is
    # known to about ±30 and no finite difference resolves ∂f/∂v to 1e-6. Never "differs".
    ke = "m*c^2*(1/sqrt(1 - v^2/c^2) - 1)"
    r = check(ke, m=1, c=299792458, v=1000)
    verdicts = {row.name: row.verdict for row in r.rows}
    assert verdicts == {"m": "ok", "c": "cannot judge", "v": "cannot judge"}
    v = r.rows[2]
    assert v.note is not None and v.note.startswith("rounding inside the program (most of it in")
    assert r.error() is not None and r.error().exit_code == 4  # type: ignore[union-attr]


def test_a_fixed_eps_that_leaves_the_domain_is_shrunk() -> None:
    (row,) = check("log(x)", x=1, eps=1.5).rows
    assert row.verdict == "ok" and row.step is not None and row.step < 1.5
    assert row.note is not None and row.note.startswith("f cannot be evaluated at x ± 1.5")


def test_no_possible_difference_cannot_be_judged_with_the_reason() -> None:
    r = check("x + 0*sqrt(x) + 0*sqrt(-x)", x=0)
    (row,) = r.rows
    assert (row.verdict, row.numeric, row.method) == ("cannot judge", None, None)
    assert row.note is not None and "outside the domain of sqrt" in row.note
    err = r.error()
    assert err is not None and err.exit_code == 4 and "cannot be judged" in err.message


def test_a_large_value_beside_a_small_change_says_rounding_is_to_blame() -> None:
    (row,) = check("1e8 + x", x=1).rows
    assert row.verdict == "cannot judge"
    assert row.note is not None and "a larger --eps may help" in row.note
    assert check("1e8 + x", x=1, eps=1.0).ok


def test_a_tiny_x_is_also_stepped_at_its_own_scale() -> None:
    # cbrt bends on a scale far below the default step at 1e-300 (the difference there
    # is 3010, the gradient 3.3e199): steps relative to |x| confirm it.
    (row,) = check("cbrt(x)", x=1e-300).rows
    assert row.verdict == "ok" and row.rel_error is not None and row.rel_error < 1e-6


def test_a_jump_cannot_be_judged_and_the_note_says_the_difference_does_not_settle() -> None:
    (row,) = check("sign(x)", x=0).rows
    assert row.verdict == "cannot judge"
    assert row.note is not None and "does not settle as the step shrinks" in row.note


@pytest.mark.parametrize(("source", "x"), [("sin(x)", 1.8e17), ("cos(x)", 1e30), ("sign(x)", 0.0)])
def test_a_function_finer_than_the_float_grid_is_not_called_wrong(source: str, x: float) -> None:
    (row,) = check(source, x=x).rows
    assert row.verdict in ("ok", "cannot judge") and row.note


def test_a_really_wrong_gradient_differs() -> None:
    # 1/(1/x) at 1e-300: -1/u² underflows to 0 in the reverse loop, so the gradient is 0,
    # not 1; the finite difference settles on 1.
    (row,) = check("1/(1/x)", x=1e-300).rows
    assert (row.reverse, row.verdict) == (0.0, "differs")
    assert row.numeric == pytest.approx(1.0)


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


def test_check_json_at_a_kink_still_prints_and_exits_4(run_cli) -> None:
    code, out, err = run_cli("check", "relu(x)", "-x", "0", "--json")
    assert code == 4
    assert json.loads(out)["gradients"]["x"]["verdict"] == "cannot judge"
    assert err.startswith("error: 1 of 1 gradients cannot be judged by finite differences (x)")


def test_check_table_prints_on_stdout_even_when_it_fails(run_cli) -> None:
    code, out, err = run_cli("check", "1/(1/x) * y", "-x", "1e-300", "-y", "2")
    assert code == 3
    assert "| x     | 1e-300 |" in out and "differs" in out and "| ok      |" in out
    assert "FAILED: 1 of 2 gradients agree" in out
    assert err.startswith("error: 1 of 2 gradients do not agree")


def test_check_table_shows_cannot_judge_and_the_summary_says_not_confirmed(run_cli) -> None:
    code, out, err = run_cli("check", "relu(x) + y", "-x", "0", "-y", "1")
    assert code == 4
    assert "cannot judge" in out and "x: the slopes on the two sides differ" in out
    assert "not confirmed: 1 of 2 gradients agree with finite differences within tol 1e-06;" \
        " 1 cannot be judged" in out
    assert err.startswith("error: 1 of 2 gradients cannot be judged")


def test_check_notes_go_under_the_table(run_cli) -> None:
    code, out, _ = run_cli("check", "sqrt(x)", "-x", "1e-10")
    assert code == 0
    assert "x: f cannot be evaluated at x ± 6.1e-06" in out
    assert out.rstrip().endswith("ok: 1 of 1 gradients agree with finite differences within tol 1e-06")


def test_the_installed_command_exits_0_3_or_4_for_ci_scripts(run_exe) -> None:
    bindings = ["--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3"]
    code, out, err = run_exe("check", NEURON, *bindings)
    assert (code, err) == (0, "")
    assert "ok: 5 of 5 gradients agree" in out
    code, out, err = run_exe("check", "1/(1/x)", "-x", "1e-300")
    assert code == 3 and "differs" in out and err.startswith("error:")
    code, out, err = run_exe("check", "relu(x)", "-x", "0")
    assert code == 4 and "cannot judge" in out and err.startswith("error:")
    code, out, err = run_exe("check", "log(x)", "-x", "-1")
    assert code == 1 and out == "" and "outside the domain of log" in err


def test_a_wrong_derivative_rule_differs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The classic mistake: a rule off by a factor. Smooth on both sides, so it differs.
    from gradcli.ops import ALL_OPS

    cosh = next(op for op in ALL_OPS if op.name == "cosh")
    right = cosh.grads[0]
    monkeypatch.setattr(cosh, "grads", (lambda x, out: 1.5 * right(x, out),))
    (row,) = check("cosh(x)", x=0.7).rows
    assert row.verdict == "differs" and row.numeric == pytest.approx(math.sinh(0.7))


def test_check_json_is_strict_when_an_error_overflows(run_cli) -> None:
    # |reverse − numeric| of two opposite numbers near the float limit is inf: JSON
    # has no infinity, so it is null, never Infinity (nor an internal error).
    from gradcli.gradcheck import CheckRow

    row = CheckRow("x", 1.0, 1.5e308, -1.5e308, math.inf, math.inf, 1e-5, "central", "differs")
    assert row.to_json()["abs_error"] is None and row.to_json()["rel_error"] is None
    code, out, _ = run_cli("check", "x", "-x", "1.7976822490793367e+308", "--json")
    data = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert code == 0 and data["gradients"]["x"]["verdict"] == "ok"
    assert "x ± h is beyond the largest float" in data["gradients"]["x"]["note"]


def test_check_wrt_checks_only_the_named_inputs(run_cli) -> None:
    r = check("x*y + z", x=1, y=2, z=3, wrt=["z", "x"])
    assert [row.name for row in r.rows] == ["z", "x"]
    code, out, _ = run_cli("check", "x*y", "-x", "1", "-y", "2", "--wrt", "y", "--json")
    assert code == 0 and list(json.loads(out)["gradients"]) == ["y"]
    with pytest.raises(gradcli.GradError, match="--wrt q: q is computed by the program"):
        check("q = x*2; q + 1", x=1, wrt=["q"])


def test_a_flat_sum_too_costly_to_check_is_refused_up_front_naming_the_limit(run_cli) -> None:
    # 10,000 inputs, each feeding a chain of adds: 10^8 node evaluations. Refused at once.
    import time

    source = "+".join(f"x{i}" for i in range(10_000))
    point = {f"x{i}": 1.0 for i in range(10_000)}
    start = time.perf_counter()
    with pytest.raises(gradcli.GradError) as info:
        check(source, point)
    assert time.perf_counter() - start < 2.0
    assert info.value.exit_code == 2
    assert "more than 6,000,000 nodes" in info.value.message and "--wrt" in info.value.message
    assert check(source, point, wrt=["x0", "x9999"]).ok


def test_checking_many_inputs_costs_the_nodes_downstream_of_each_not_the_whole_graph() -> None:
    # A balanced tree over 4,096 inputs: each input has 13 nodes below the output.
    import time

    terms = [f"sin(x{i})" for i in range(4096)]
    while len(terms) > 1:
        terms = [f"({a} + {b})" for a, b in zip(terms[::2], terms[1::2], strict=True)]
    point = {f"x{i}": 0.1 * i for i in range(4096)}
    graph = gradcli.compile(terms[0])
    start = time.perf_counter()
    r = check(graph, point)
    assert r.ok and len(r.rows) == 4096
    assert time.perf_counter() - start < 5.0


def test_rows_past_the_total_limit_cannot_be_judged_and_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcli import gradcheck

    monkeypatch.setattr(gradcheck, "TOTAL_LIMIT", 100_000)  # the real one takes seconds to reach
    source = "+".join(f"relu(x{i})" for i in range(100))
    r = check(source, {f"x{i}": 0.0 for i in range(100)})
    assert {row.verdict for row in r.rows} == {"cannot judge"}
    assert "looking closer would take check past its limit of 100,000 node evaluations:" \
        " check x99 alone with --wrt x99" in (r.rows[-1].note or "")


def test_check_wrt_needs_no_gradient_toward_the_other_inputs() -> None:
    # sqrt'(0) is infinite: checking w alone does not compute it.
    (row,) = check("w*sqrt(x)", w=2, x=0, wrt=["w"]).rows
    assert (row.name, row.reverse, row.verdict) == ("w", 0.0, "ok")
