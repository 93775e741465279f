"""`descend`: the tutorials' training loop W = W − lr · gradient on the compiled
graph: convergence with each method, held variables, a math error part-way, the JSON."""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import time

import pytest
from conftest import gradcli_executable

import gradcli
import gradcli.parse
from gradcli.descent import DEFAULT_HISTORY, DIVERGING_STEPS, MAX_HISTORY, MAX_STEPS, descend

BOWL = "(x-3)^2 + (y+1)^2"
ROSENBROCK = "(1-x)^2 + 100(y-x^2)^2"
NEURON_LOSS = "(sigmoid(w0*x0+w1*x1+w2) - 0.9)^2"
NEURON_POINT = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}


@pytest.mark.parametrize("method", ["gd", "momentum", "adam"])
def test_the_bowl_converges_to_3_minus_1_from_the_origin_with_each_method(method: str) -> None:
    r = descend(BOWL, x=0, y=0, method=method, steps=5000)
    assert r.converged and r.error is None
    assert r.grad_norm < 1e-6
    assert r.inputs["x"] == pytest.approx(3, abs=1e-6)
    assert r.inputs["y"] == pytest.approx(-1, abs=1e-6)


def test_plain_gradient_descent_is_w_minus_lr_times_gradient() -> None:
    # One step from (0, 0): the gradient is (-6, 2), so lr 0.1 moves to (0.6, -0.2).
    r = descend(BOWL, x=0, y=0, lr=0.1, steps=1, tol=0)
    assert r.steps == 1 and not r.converged
    assert r.inputs == {"x": pytest.approx(0.6), "y": pytest.approx(-0.2)}


def test_rosenbrock_with_adam_ends_within_1e_3_of_1_1_in_the_documented_steps() -> None:
    # docs/commands.md: --method adam --steps 6000 converges (gradient norm < 1e-6) in 5452 steps.
    r = descend(ROSENBROCK, x=-1.2, y=1, method="adam", steps=6000)
    assert r.converged and r.steps == 5452
    assert math.hypot(r.inputs["x"] - 1, r.inputs["y"] - 1) < 1e-3


def test_wrt_descends_on_the_named_inputs_and_holds_the_others_fixed() -> None:
    r = descend(NEURON_LOSS, NEURON_POINT, wrt=["w0", "w1", "w2"], lr=1, steps=2000)
    assert r.converged
    assert r.inputs["x0"] == -1.0 and r.inputs["x1"] == -2.0
    assert list(r.gradient) == ["w0", "w1", "w2"]
    neuron = gradcli.evaluate("sigmoid(w0*x0+w1*x1+w2)", r.inputs)
    assert neuron.value == pytest.approx(0.9, abs=1e-5)
    assert all(set(row.point) == {"w0", "w1", "w2"} for row in r.history)


def test_maximize_climbs_to_the_top() -> None:
    r = descend("-(x-1)^2", x=5, maximize=True, lr=0.1)
    assert r.converged and r.inputs["x"] == pytest.approx(1, abs=1e-6)


def test_a_math_error_part_way_stops_names_the_step_and_keeps_the_last_good_point() -> None:
    # log(x) from 1 with lr 0.5: x = 1 -> 0.5 -> -0.5, and log(-0.5) fails at step 2.
    r = descend("log(x)", x=1, lr=0.5)
    assert r.error is not None and r.error.kind == "domain"
    assert r.error_step == 2 and r.error.message.startswith("step 2: log(-0.5)")
    assert r.steps == 1 and r.inputs == {"x": 0.5} and r.value == pytest.approx(math.log(0.5))
    assert [row.step for row in r.history] == [0, 1]


def test_a_diverging_descent_is_stopped_early_and_says_a_smaller_lr_helps() -> None:
    # x -= 1.5 · 2x makes x = -2x: the value quadruples every step. It used to run 511
    # steps until the value overflowed; ten rising steps in a row are enough to tell.
    r = descend("x^2", x=1, lr=1.5, steps=10_000)
    assert r.diverged and r.steps == 10 and r.error_step == 10 and not r.converged
    assert r.error is not None and r.error.kind == "diverged" and r.error.exit_code == 1
    assert r.error.message == (
        "step 10: the value rose in each of the last 10 steps, with a growing gradient"
        " (1 at the start, 1048576 now): the descent is diverging; a smaller --lr helps (try --lr 0.15)"
    )
    assert r.inputs == {"x": 1024.0} and r.history[-1].step == 10


@pytest.mark.parametrize("method", ["momentum", "adam"])
def test_momentum_and_adam_may_overshoot_longer_before_they_are_called_diverging(method: str) -> None:
    assert not descend("(1-x)^2 + 100(y-x^2)^2", x=-1.2, y=1, method=method, lr=0.001, steps=3000).diverged
    if method == "momentum":  # Adam's steps are bounded by lr: x^2 with lr 10 converges
        r = descend("x^2", x=1, lr=10, method=method, steps=10_000)
        assert r.diverged and r.steps == DIVERGING_STEPS[method]


def test_climbing_that_goes_down_is_diverging_too() -> None:
    r = descend("-(x^2)", x=1, lr=1.5, maximize=True)
    assert r.diverged and r.error is not None and "the value fell" in r.error.message
    assert "the climb is diverging" in r.error.message


def test_a_diverging_descent_in_json_says_so_and_exits_1(run_cli) -> None:
    code, out, err = run_cli("descend", "x^2", "-x", "1", "--lr", "1.5", "--json")
    assert code == 1 and err.startswith("error: step 10: the value rose")
    data = json.loads(out)
    assert data["diverged"] is True and data["steps"] == 10
    assert data["error"]["kind"] == "diverged" and data["error"]["step"] == 10
    code, out, _ = run_cli("descend", "x^2", "-x", "1", "--lr", "0.1", "--json")
    assert code == 0 and json.loads(out)["diverged"] is False


def test_a_huge_history_costs_no_more_than_the_path_has_points() -> None:
    import time

    start = time.perf_counter()
    r = descend("(x-3)^2", x=0, lr=0.1, history=100_000_000)  # converges in about 80 steps
    assert time.perf_counter() - start < 2.0
    assert [row.step for row in r.history] == list(range(r.steps + 1))


def test_more_rows_than_the_limit_are_refused_up_front_naming_it() -> None:
    with pytest.raises(gradcli.GradError) as info:
        descend("x^2", x=1, history=100_000_000, steps=MAX_STEPS)
    assert info.value.exit_code == 2
    assert info.value.message.startswith("--history 100000000: at most 10,000 rows (the limit)")
    assert len(descend("x^2", x=1, history=MAX_HISTORY, steps=20_000, tol=0).history) == MAX_HISTORY


def test_climbing_without_a_top_stops_with_an_overflow_error_and_strict_json(run_cli) -> None:
    args = ["x^2", "-x", "1", "--maximize", "--lr", "1", "--steps", "100000", "--json"]
    code, out, err = run_cli("descend", *args)
    assert code == 1 and err.startswith("error: step ")
    data = json.loads(out)
    assert data["error"]["kind"] == "overflow" and data["steps"] == data["error"]["step"] - 1
    assert all(math.isfinite(row["grad_norm"]) for row in data["history"])


def test_a_math_error_at_the_start_is_raised_like_eval() -> None:
    with pytest.raises(gradcli.GradError) as info:
        descend("log(x)", x=-1)
    assert info.value.kind == "domain"


def test_the_history_is_thinned_to_first_last_and_evenly_spaced_rows() -> None:
    r = descend(BOWL, x=0, y=0, steps=1000, tol=0)
    assert [row.step for row in r.history] == list(range(0, 1001, 100))
    assert len(r.history) == DEFAULT_HISTORY
    r = descend(BOWL, x=0, y=0, steps=50_000, tol=0, history=5)
    assert [row.step for row in r.history] == [0, 12_500, 25_000, 37_500, 50_000]
    # Stopped early (converged), the rows are as even as a thinned record allows.
    r = descend("(x-3)^2", x=0, lr=1e-4, steps=100_000, history=5)
    assert r.converged and r.steps > 10_000
    ideal = [round(i * r.steps / 4) for i in range(5)]
    got = [row.step for row in r.history]
    assert got[0] == 0 and got[-1] == r.steps
    assert all(abs(a - b) <= r.steps / 100 for a, b in zip(got, ideal, strict=True))


def test_the_descent_loop_does_not_parse_or_lower_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"parse": 0, "lower": 0}
    api = importlib.import_module("gradcli.api")
    parse, lower = gradcli.parse.parse, api.lower

    def counting_parse(*args: object, **kwargs: object) -> object:
        calls["parse"] += 1
        return parse(*args, **kwargs)

    def counting_lower(*args: object, **kwargs: object) -> object:
        calls["lower"] += 1
        return lower(*args, **kwargs)

    monkeypatch.setattr(gradcli.parse, "parse", counting_parse)
    monkeypatch.setattr(api, "lower", counting_lower)
    r = descend(BOWL, x=0, y=0, steps=500, tol=0)
    assert r.steps == 500 and r.evaluations == 501
    assert calls == {"parse": 1, "lower": 1}


def test_ten_thousand_steps_on_the_neuron_take_well_under_a_second() -> None:
    graph = gradcli.compile("1/(1+exp(-(w0*x0+w1*x1+w2)))")
    # The CPU time this process spent (not the wall clock, which counts the time other
    # processes held the core), the best of three: a busy machine still slows one run.
    times = []
    for _ in range(3):
        start = time.process_time()
        r = descend(graph, NEURON_POINT, steps=10_000, tol=0)
        times.append(time.process_time() - start)
        assert r.steps == 10_000
    assert min(times) < 1.0, f"{min(times):.3f} s (of {', '.join(f'{t:.3f}' for t in times)})"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": 0.0}, "--lr 0.0: the learning rate must be a positive number"),
        ({"steps": -1}, "--steps -1"),
        ({"method": "sgd"}, "--method sgd: the methods are gd, momentum, adam"),
        ({"wrt": ["z"]}, "--wrt z: the program has no input z"),
        ({"wrt": ["x", "x"]}, "--wrt x: x is named twice"),
        ({"momentum": 1.0}, "--momentum 1.0"),
        ({"history": 1}, "--history 1"),
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(gradcli.GradError) as info:
        descend(BOWL, x=0, y=0, **options)  # type: ignore[arg-type]
    assert info.value.exit_code == 2 and info.value.message.startswith(message)


def test_wrt_a_named_value_is_refused_because_it_is_computed() -> None:
    with pytest.raises(gradcli.GradError) as info:
        descend("q = x + 1; f = q^2", x=0, wrt=["q"])
    assert "q is computed by the program" in info.value.message


def test_descend_json_has_steps_converged_value_inputs_and_history(run_cli) -> None:
    code, out, err = run_cli("descend", BOWL, "-x", "0", "-y", "0", "--lr", "0.1", "--json", "--history", "4")
    assert (code, err) == (0, "")
    data = json.loads(out)
    for key in ("steps", "converged", "value", "inputs", "history"):
        assert key in data
    assert data["steps"] == 71 and data["converged"] is True and data["method"] == "gd"
    assert list(data["inputs"]) == ["x", "y"] and data["error"] is None
    assert len(data["history"]) == 4
    assert data["history"][0] == {"step": 0, "value": 10.0, "grad_norm": math.hypot(6, 2),
                                  "inputs": {"x": 0.0, "y": 0.0}}
    assert data["history"][-1]["step"] == 71


def test_descend_json_reports_the_hyper_parameters_of_the_method(run_cli) -> None:
    _, out, _ = run_cli("descend", BOWL, "-x", "0", "-y", "0", "--method", "adam", "--steps", "3", "--json")
    data = json.loads(out)
    assert (data["beta1"], data["beta2"], data["adam_eps"], data["lr"]) == (0.9, 0.999, 1e-8, 0.01)
    _, out, _ = run_cli(
        "descend", BOWL, "-x", "0", "-y", "0", "--method", "momentum", "--momentum", "0.5", "--json"
    )
    assert json.loads(out)["momentum"] == 0.5


def test_descend_prints_the_last_good_point_and_exits_1_on_a_math_error(run_cli) -> None:
    code, out, err = run_cli("descend", "log(x)", "-x", "1", "--lr", "0.5")
    assert code == 1
    assert out.startswith(
        "stopped by a math error at step 2 (gd, lr 0.5); the last good point, after 1 step:"
    )
    assert "| x          |       0.5 |" in out
    assert err.splitlines()[0] == "error: step 2: log(-0.5) is outside the domain of log(x) (x > 0)"
    code, out, err = run_cli("descend", "log(x)", "-x", "1", "--lr", "0.5", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["inputs"] == {"x": 0.5} and data["error"]["step"] == 2 and data["error"]["kind"] == "domain"


def test_descend_marks_held_inputs_as_fixed(run_cli) -> None:
    code, out, _ = run_cli("descend", "(a*x - 1)^2", "-a", "2", "-x", "3", "--wrt", "x", "--lr", "0.1")
    assert code == 0
    assert "| a (fixed)  |" in out
    assert "step |" in out and "|gradient|" in out


def test_the_installed_command_shows_no_progress_bar_when_stderr_is_piped(run_exe) -> None:
    code, out, err = run_exe("descend", BOWL, "-x", "0", "-y", "0", "--steps", "20000", "--tol", "0")
    assert (code, err) == (0, "")
    assert out.startswith("not converged after 20000 steps (gd, lr 0.01)")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_the_installed_command_draws_a_progress_bar_when_stderr_is_a_terminal() -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [gradcli_executable(), "descend", BOWL, "-x", "0", "-y", "0", "--steps", "3000", "--tol", "0"],
            stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, timeout=120,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
        )
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert b"descending" in drawn
    assert proc.stdout.startswith(b"not converged after 3000 steps")


def test_a_held_input_whose_gradient_is_undefined_does_not_stop_the_descent(run_cli) -> None:
    # x = 0 is held: sqrt'(0) would be infinite, but no gradient toward x is needed.
    r = descend("(w*sqrt(x) + c - 1)^2", w=0.5, c=0, x=0, wrt=["w", "c"], lr=0.1)
    assert r.error is None and r.converged and r.inputs["x"] == 0.0
    code, out, err = run_cli(
        "descend", "(w*sqrt(x) + c - 1)^2", "-w", "0.5", "-c", "0", "-x", "0", "--wrt", "w,c", "--json"
    )
    assert (code, err) == (0, "") and json.loads(out)["error"] is None
