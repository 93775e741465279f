"""``descend --method newton``: x −= lr·H⁻¹g with the program's Hessian; lr is 1 by
default; a singular Hessian stops the descent like a math error, at the last good point."""

from __future__ import annotations

import json

import gradcli

ROSENBROCK = "(1-x)^2 + 100(y-x^2)^2"


def test_newton_solves_a_quadratic_in_one_step() -> None:
    r = gradcli.descend("(x-3)^2 + 2(y+1)^2 + x*y", x=0, y=0, method="newton")
    assert r.converged and r.steps <= 2
    # the stationary point of the quadratic: 2(x-3) + y = 0, 4(y+1) + x = 0
    assert abs(r.inputs["x"] - 4) < 1e-12 and abs(r.inputs["y"] + 2) < 1e-12
    assert r.lr == 1.0


def test_newton_walks_rosenbrock_in_a_handful_of_steps_where_gd_takes_thousands() -> None:
    newton = gradcli.descend(ROSENBROCK, x=-1.2, y=1, method="newton")
    assert newton.converged and newton.steps <= 10
    assert abs(newton.inputs["x"] - 1) < 1e-9 and abs(newton.inputs["y"] - 1) < 1e-9
    gd = gradcli.descend(ROSENBROCK, x=-1.2, y=1, lr=0.001, steps=1000)
    assert not gd.converged


def test_the_learning_rate_scales_newtons_step() -> None:
    r = gradcli.descend("x^2", x=4, method="newton", lr=0.5, steps=1)
    assert r.inputs["x"] == 2.0


def test_newton_descends_only_the_wrt_inputs() -> None:
    r = gradcli.descend("(x-1)^2 + (y-2)^2 + x*y", x=0, y=0, wrt=["x"], method="newton")
    assert r.converged and r.inputs["y"] == 0.0 and abs(r.inputs["x"] - 1) < 1e-12


def test_a_singular_hessian_stops_like_a_math_error(run_cli) -> None:
    code, out, err = run_cli("descend", "x^4 + y", "-x", "0", "-y", "1", "--method", "newton")
    assert code == 1
    assert "stopped by a math error at step 1" in out
    assert "singular" in err and "Traceback" not in err
    code, out, _ = run_cli("descend", "x^4 + y", "-x", "0", "-y", "1", "--method", "newton", "--json")
    assert code == 1
    obj = json.loads(out)
    assert obj["error"]["kind"] == "singular" and obj["error"]["step"] == 1
    assert obj["steps"] == 0 and obj["inputs"] == {"x": 0.0, "y": 1.0}
    assert obj["method"] == "newton" and obj["lr"] == 1.0


def test_a_math_error_part_way_keeps_the_last_good_point(run_cli) -> None:
    # x - log(x) from 3: Newton's step goes to 2x - x^2 = -3, where log fails
    r = gradcli.descend("x - log(x)", x=3, method="newton")
    assert r.error is not None and r.error.exit_code == 1 and r.error_step == 1
    assert r.steps == 0 and r.inputs == {"x": 3.0}
    code, out, err = run_cli("descend", "x - log(x)", "-x", "3", "--method", "newton")
    assert code == 1 and "step 1: log(-3" in err and "| x          |       3 |" in out
    # from 0.5 it converges to 1
    assert gradcli.descend("x - log(x)", x=0.5, method="newton").converged


def test_newton_is_listed_as_a_method(run_cli) -> None:
    code, out, _ = run_cli("descend", "--help")
    assert code == 0 and "newton" in out
