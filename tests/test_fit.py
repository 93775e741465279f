"""gradcli fit: the training loop over data, against closed forms and scikit-learn,
deterministic by seed, and every bad input refused before any step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.fit import FitInterrupted, fit

LINEAR = "(w0*x0 + w1*x1 + b - y)^2"
LOGISTIC = "p = sigmoid(w0*x0 + w1*x1 + b); -(y*log(p) + (1-y)*log(1-p))"


def linear_data(n: int = 200, seed: int = 1, noise: float = 0.3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, x1 = rng.normal(size=n), rng.normal(size=n)
    return {"x0": x0, "x1": x1, "y": 1.5 * x0 - 2.0 * x1 + 0.5 + noise * rng.normal(size=n)}


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> str:
    names = list(columns)
    rows = zip(*columns.values(), strict=True)
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_linear_least_squares_equals_the_closed_form() -> None:
    data = linear_data()
    r = fit(LINEAR, data, params=["w0", "w1", "b"], w0=0, w1=0, b=0, lr=0.2, epochs=5000, tol=1e-12)
    assert r.converged and r.error is None
    design = np.c_[data["x0"], data["x1"], np.ones(len(data["y"]))]
    exact = np.linalg.lstsq(design, data["y"], rcond=None)[0]
    got = [r.params["w0"], r.params["w1"], r.params["b"]]
    assert np.allclose(got, exact, rtol=0, atol=1e-6)


def test_logistic_regression_equals_scikit_learns_unpenalised_solution() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(2)
    n = 400
    x0, x1 = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * x0 - x1 + 0.3)))).astype(float)
    r = fit(LOGISTIC, {"x0": x0, "x1": x1, "y": y}, params=["w0", "w1", "b"], w0=0, w1=0, b=0,
            lr=1.0, epochs=20000, tol=1e-10)
    assert r.converged
    model = sklearn.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(np.c_[x0, x1], y)
    want = [*model.coef_[0], model.intercept_[0]]
    assert np.allclose([r.params["w0"], r.params["w1"], r.params["b"]], want, rtol=0, atol=1e-4)


def test_the_same_seed_gives_bit_identical_json(run_cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", linear_data())
    args = ("fit", LINEAR, "--data", path, "--params", "w0,w1,b", "--w0", "0", "--w1", "0", "-b", "0",
            "--batch-size", "16", "--epochs", "7", "--method", "adam", "--lr", "0.05", "--json")
    first = run_cli(*args, "--seed", "3")
    again = run_cli(*args, "--seed", "3")
    other = run_cli(*args, "--seed", "4")
    assert first[0] == again[0] == other[0] == 0
    assert first[1] == again[1]
    assert first[1] != other[1]


def test_shuffling_changes_the_path_but_not_the_optimum() -> None:
    # No noise: every minibatch has the same minimum, so stochastic steps reach it exactly.
    data = linear_data(noise=0.0)
    runs = [
        fit(LINEAR, data, params=["w0", "w1", "b"], w0=0, w1=0, b=0, lr=0.05, batch_size=10, epochs=400,
            seed=seed, tol=1e-9)
        for seed in (0, 1)
    ]
    assert runs[0].history[1].point != runs[1].history[1].point
    for r in runs:
        assert r.converged
        assert np.allclose([r.params["w0"], r.params["w1"], r.params["b"]], [1.5, -2.0, 0.5], atol=1e-6)


def test_no_shuffle_takes_the_rows_in_order_whatever_the_seed() -> None:
    data = linear_data()
    a, b = (fit(LINEAR, data, params=["w0", "w1", "b"], w0=0, w1=0, b=0, batch_size=7, epochs=3, seed=s,
                shuffle=False) for s in (0, 9))
    assert a.params == b.params
    # In order, by hand: each minibatch's mean gradient, one gd step each.
    w = np.zeros(3)
    design = np.c_[data["x0"], data["x1"], np.ones(200)]
    for _ in range(3):
        for start in range(0, 200, 7):
            rows = design[start:start + 7]
            residual = rows @ w - data["y"][start:start + 7]
            w = w - 0.01 * (2 * rows.T @ residual / len(rows))
    assert np.allclose([a.params["w0"], a.params["w1"], a.params["b"]], w, rtol=1e-12, atol=1e-12)


def test_a_minibatch_size_that_does_not_divide_the_rows_takes_a_short_last_step() -> None:
    data = {name: col[:10] for name, col in linear_data().items()}
    r = fit(LINEAR, data, params=["w0", "w1", "b"], w0=0, w1=0, b=0, batch_size=3, epochs=5, tol=0)
    assert (r.epochs, r.steps, r.batch_size, r.rows) == (5, 20, 3, 10)


def test_python_api_takes_lists_arrays_and_paths(tmp_path: Path) -> None:
    data = linear_data(20)
    path = write_csv(tmp_path / "d.csv", data)
    kwargs = {"params": ["w0", "w1", "b"], "w0": 0, "w1": 0, "b": 0, "epochs": 5}
    from_arrays = gradcli.fit(LINEAR, data, **kwargs)
    from_lists = gradcli.fit(LINEAR, {k: v.tolist() for k, v in data.items()}, **kwargs)
    from_path = gradcli.fit(LINEAR, path, **kwargs)
    assert from_arrays.params == from_lists.params == from_path.params


def test_fit_save_then_eval_batch_with_the_saved_bindings(run_cli, tmp_path: Path) -> None:
    data = linear_data(50)
    path = write_csv(tmp_path / "d.csv", data)
    saved = tmp_path / "params.json"
    code, _, err = run_cli("fit", LINEAR, "--data", path, "--params", "w0,w1,b", "--w0", "0", "--w1", "0",
                           "-b", "0", "--lr", "0.2", "--epochs", "2000", "--save", str(saved))
    assert code == 0, err
    params = json.loads(saved.read_text(encoding="utf-8"))
    assert list(params) == ["w0", "w1", "b"]
    code, out, err = run_cli("eval", "w0*x0 + w1*x1 + b", "--bindings", str(saved), "--batch", path)
    assert code == 0, err
    predictions = [json.loads(line)["value"] for line in out.splitlines()]
    want = params["w0"] * data["x0"] + params["w1"] * data["x1"] + params["b"]
    assert np.allclose(predictions, want, rtol=1e-12)


@pytest.mark.parametrize("where", ["missing/params.json", "."])
def test_an_unwritable_save_is_refused_before_any_step(run_cli, tmp_path: Path, where: str) -> None:
    path = write_csv(tmp_path / "d.csv", linear_data(30))
    code, out, err = run_cli("fit", LINEAR, "--data", path, "--params", "w0,w1,b", "--w0", "0", "--w1", "0",
                             "-b", "0", "--epochs", "3", "--save", str(tmp_path / where))
    assert code == 2
    assert out == ""  # refused up front: no fit ran, nothing printed
    assert err.startswith("error: cannot write --save ") and err.count("\n") == 1


def test_save_replaces_a_file_whole_and_keeps_its_permissions(run_cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", linear_data(30))
    saved = tmp_path / "params.json"
    saved.write_text("old and much longer than the parameters will be " * 20, encoding="utf-8")
    saved.chmod(0o604)
    code, _, err = run_cli("fit", LINEAR, "--data", path, "--params", "w0,w1,b", "--w0", "0", "--w1", "0",
                           "-b", "0", "--epochs", "3", "--save", str(saved))
    assert code == 0, err
    assert list(json.loads(saved.read_text(encoding="utf-8"))) == ["w0", "w1", "b"]
    assert saved.stat().st_mode & 0o777 == 0o604
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_json_has_every_key(run_cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", linear_data(30))
    code, out, _ = run_cli("fit", LINEAR, "--data", path, "--params", "w0,w1,b", "--w0", "0", "--w1", "0",
                           "-b", "0", "--epochs", "3", "--json")
    assert code == 0
    obj = json.loads(out)
    for key in ("source", "params", "loss", "rows", "epochs", "steps", "converged", "method", "lr",
                "batch_size", "seed", "history", "error"):
        assert key in obj
    assert obj["rows"] == 30 and obj["epochs"] == 3 and obj["error"] is None
    assert [row["epoch"] for row in obj["history"]] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("csv", "args", "message"),
    [
        ("x,y\n1,2\n", ("--params", "a", "-a", "0", "(a*x - z)^2"), "no column z"),
        ("x,y\n1,2\n3,abc\n", ("--params", "a", "-a", "0"), "line 3: the value of y is not a number: abc"),
        ("x,y\n1,2\n3,\n", ("--params", "a", "-a", "0"), "line 3: missing a value for y"),
        ("x,y\n", ("--params", "a", "-a", "0"), "a header but no rows"),
        ("", ("--params", "a", "-a", "0"), "no rows"),
        ("x,y,a\n1,2,3\n", ("--params", "a", "-a", "0"), "is fitted (--params) and is also a column"),
        ("x,y\n1,2\n", ("--params", "a"), "a parameter needs a starting value"),
        ("x,y\n1,2\n", ("--params", "a", "-a", "0", "--batch-size", "0"), "--batch-size 0: at least 1"),
        ("x,y\n1,2\n", ("--params", "a", "-a", "0", "--epochs", "-1"), "--epochs -1: at least 0"),
        ("x,y\n1,2\n", ("--params", "q", "-a", "0"), "the program has no input q"),
        ("x,y\n1,2\n", ("--params", "a,a", "-a", "0"), "a is named twice"),
    ],
)
def test_bad_input_is_a_usage_error_before_any_step(
    run_cli, tmp_path: Path, csv: str, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "d.csv"
    path.write_text(csv, encoding="utf-8")
    source = args[-1] if not args[-1].startswith("-") and "(" in args[-1] else "(a*x - y)^2"
    rest = args[:-1] if source == args[-1] else args
    code, out, err = run_cli("fit", source, "--data", str(path), *rest)
    assert code == 2, err
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_a_jsonl_row_that_is_not_json_names_its_line(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"x": 1, "y": 2}\n\n{"x": 2, "y": oops}\n', encoding="utf-8")
    code, _, err = run_cli("fit", "(a*x - y)^2", "--data", str(path), "--params", "a", "-a", "0")
    assert code == 2
    assert "d.jsonl line 3" in err and "not JSON" in err


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ('{"x": 2, "y": oops}', "d.jsonl line 3 is not JSON: "),
        ('{"x": 2, "y": NaN}', "d.jsonl line 3: NaN is not JSON (JSON has no NaN or Infinity)"),
        ("[2, 3]", "d.jsonl line 3 is not a JSON object of bindings"),
        ('{"x": 2, "y": "\\ud800"}', "d.jsonl line 3 holds a lone surrogate"),
    ],
)
def test_a_jsonl_row_error_says_its_line_once(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, said: str
) -> None:
    # the reader's own "line 3 ..." after the fit's "d.jsonl line 3: " said it twice
    monkeypatch.chdir(tmp_path)
    Path("d.jsonl").write_text('{"x": 1, "y": 2}\n\n' + row + "\n", encoding="utf-8")
    code, _, err = run_cli("fit", "(a*x - y)^2", "--data", "d.jsonl", "--params", "a", "-a", "0")
    assert code == 2
    assert err.startswith(f"error: {said}") and err.count("line 3") == 1, err


def test_a_math_error_mid_way_names_the_step_and_the_line_and_saves_nothing(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,-5\n2,-4\n", encoding="utf-8")
    saved = tmp_path / "p.json"
    code, out, err = run_cli("fit", "(log(a*x) - y)^2", "--data", str(path), "--params", "a", "-a", "1",
                             "--lr", "1", "--json", "--save", str(saved))
    assert code == 1
    obj = json.loads(out)
    assert obj["params"] == {"a": -8.693147180559945}  # the parameters reached, printed
    assert obj["steps"] == 1 and obj["loss"] is None
    assert obj["error"]["step"] == 2 and obj["error"]["data_line"] == 2 and obj["error"]["kind"] == "domain"
    assert "step 2:" in err and "d.csv line 2" in err
    assert not saved.exists()


def test_ctrl_c_keeps_the_last_good_parameters() -> None:
    calls = []

    def progress(epoch: int, loss: float, norm: float) -> None:
        calls.append(epoch)
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(FitInterrupted) as stop:
        fit(LINEAR, linear_data(), params=["w0", "w1", "b"], w0=0, w1=0, b=0, progress=progress)
    result = stop.value.result
    assert result.epochs == 3 and result.steps == 3
    assert result.error is not None and result.error.kind == "interrupted"
    assert result.good and result.loss is not None
    assert [row.step for row in result.history] == [0, 1, 2, 3]


def test_ctrl_c_part_way_through_an_epoch_keeps_the_history_of_whole_epochs() -> None:
    data = linear_data()
    calls = 0

    class Stop(KeyboardInterrupt):
        pass

    import gradcli.descent as descent

    original = descent.Rule.step

    def step(self, x, g):  # a stand-in that counts, and stops the 30th step
        nonlocal calls
        calls += 1
        if calls == 30:
            raise Stop
        return original(self, x, g)

    descent.Rule.step = step  # type: ignore[method-assign]
    try:
        with pytest.raises(FitInterrupted) as stop:
            fit(LINEAR, data, params=["w0", "w1", "b"], w0=0, w1=0, b=0, batch_size=20, epochs=5)
    finally:
        descent.Rule.step = original  # type: ignore[method-assign]
    result = stop.value.result
    assert (result.steps, result.epochs) == (29, 2)
    assert [row.step for row in result.history] == [0, 1, 2]
    assert result.history[0].point == {"w0": 0.0, "w1": 0.0, "b": 0.0}
    assert result.params != result.history[-1].point


def test_the_compiled_step_agrees_with_the_batch_engine() -> None:
    from gradcli.api import compile
    from gradcli.fit import careful_step
    from gradcli.fitdata import read_data
    from gradcli.fitplan import Plan

    data = linear_data(100)
    data["y"] = (data["y"] > 0).astype(float)
    others = ("abs(w0*x0 - y) + max(w1, x1)^2 + b^2*x1", "tanh(w0*x0 + b)^2 / (1 + w1^2)")
    for source in (LINEAR, LOGISTIC, *others):
        graph = compile(source)
        names = ["w0", "w1", "b"] if "w1" in graph.inputs else ["w0", "b"]
        table = read_data(np, graph, data, names, {})
        plan = Plan(np, graph, list(table.columns), names, table.constants)
        point = [0.3, -0.7, 0.2][: len(names)]
        for rows in (slice(0, 100), np.arange(0, 100, 3)):
            count = 100 if isinstance(rows, slice) else len(rows)
            fast = plan.step(table.columns, rows, count, point)
            slow = careful_step(np, graph, table, names, rows, count, point)
            assert fast is not None
            assert np.allclose(fast[0], slow[0], rtol=1e-12)
            assert np.allclose(fast[1], slow[1], rtol=1e-12, atol=1e-15)


def test_the_readme_shows_the_neurons_real_training(run_cli, tmp_path: Path) -> None:
    """The README's fit of the neuron: the command's output as the README shows it,
    and the saved parameters classifying every point right."""
    import re
    import shlex

    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Training the neuron on data", 1)[1]
    command = re.search(r"```sh\n(gradcli fit .*?)\n```", section, re.S).group(1).replace("\\\n", " ")
    shown = re.search(r"```text\n(.*?)\n```", section, re.S).group(1)
    words = shlex.split(command)[1:]
    words = [str(REPO / w) if w == "docs/neuron.csv" else str(tmp_path / w) if w == "neuron.json" else w
             for w in words]
    code, out, _ = run_cli(*words)
    assert code == 0
    assert "\n".join(line.rstrip() for line in out.rstrip().splitlines()) == shown
    code, out, _ = run_cli("eval", "(sigmoid(w0*x0 + w1*x1 + w2) > 0.5) == y", "--bindings",
                           str(tmp_path / "neuron.json"), "--batch", str(REPO / "docs" / "neuron.csv"))
    values = [json.loads(line)["value"] for line in out.splitlines()]
    assert len(values) == 400 and sum(values) == 400


def test_the_steps_own_rules_are_the_op_tables_bit_for_bit() -> None:
    """The compiled step's sigmoid (which shares exp(-|x|) between the passes) and its
    x^2 give the very bits of the op table's array rules, at ordinary and extreme points."""
    from gradcli.fitplan import dsquare, sigmoid_rules, square
    from gradcli.ops import FUNCTIONS, OPERATORS

    x = np.random.default_rng(0).normal(scale=30, size=10_000)
    x[:8] = [0.0, -0.0, 1e-300, -745.0, 745.0, -36.0, 36.0, 709.8]
    forward, backward = sigmoid_rules({}, 0)
    sigmoid, power = FUNCTIONS["sigmoid"][1], OPERATORS["pow"]
    with np.errstate(all="ignore"):  # the op table's rule for x^2 divides by x
        out = forward(np, x)
        assert np.array_equal(out, sigmoid.vforward(np, x))
        assert np.array_equal(backward(np, x, out), sigmoid.vgrads[0](np, x, out))
        assert np.array_equal(square(np, x, 2.0), power.vforward(np, x, 2.0))
        assert np.array_equal(dsquare(np, x, 2.0, x * x), power.vgrads[0](np, x, 2.0, x * x))


def test_ctrl_c_in_a_real_process_prints_the_last_good_parameters_and_saves_them(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from conftest import gradcli_executable

    path = write_csv(tmp_path / "d.csv", linear_data(20))
    saved = tmp_path / "p.json"
    proc = subprocess.Popen(
        [gradcli_executable(), "fit", LINEAR, "--data", str(path), "--params", "w0,w1,b", "--w0", "0",
         "--w1", "0", "-b", "0", "--batch-size", "1", "--epochs", "10000000", "--tol", "0", "--json",
         "--save", str(saved)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    obj = json.loads(out)
    assert obj["error"]["kind"] == "interrupted" and obj["steps"] > 0
    assert err.startswith(f"error: interrupted at step {obj['steps']:,} ")
    assert json.loads(saved.read_text(encoding="utf-8")) == obj["params"]


@pytest.mark.parametrize("batch_size", [None, 2, 3])
def test_a_loss_that_uses_no_column_is_the_same_at_every_row(batch_size: int | None) -> None:
    r = fit("(w - 3)^2", {"x": [1.0, 2.0, 3.0, 4.0]}, params=["w"], w=0, lr=0.5, epochs=50,
            batch_size=batch_size)
    assert r.converged and r.params["w"] == 3.0


def test_json_lines_from_standard_input_and_a_forced_format(run_cli) -> None:
    rows = "".join(f'{{"x": {x}, "y": {2 * x + 1}}}\n' for x in range(5))
    args = ("fit", "(a*x + b - y)^2", "--data", "-", "--params", "a,b", "-a", "0", "-b", "0", "--lr", "0.1",
            "--epochs", "3000", "--json")
    code, out, err = run_cli(*args, stdin=rows)
    assert code == 0, err
    params = json.loads(out)["params"]
    assert abs(params["a"] - 2) < 1e-5 and abs(params["b"] - 1) < 1e-5
    code, _, err = run_cli(*args, "--input-format", "csv", stdin=rows)
    assert code == 2 and "no column" in err
    code, _, err = run_cli("fit", "-", "--data", "-", "--params", "a", "-a", "0", stdin=rows)
    assert code == 2 and "cannot both be read from standard input" in err


def test_a_json_lines_row_may_not_give_a_parameter(run_cli) -> None:
    code, _, err = run_cli("fit", "(a*x - y)^2", "--data", "-", "--params", "a", "-a", "0",
                           stdin='{"x": 1, "y": 2}\n{"x": 2, "y": 4, "a": 1}\n')
    assert code == 2
    assert "a is fitted (--params) and is also a column of the data (standard input line 2)" in err


def test_newton_fits_least_squares_in_one_step() -> None:
    data = linear_data()
    r = fit(LINEAR, data, params=["w0", "w1", "b"], w0=0, w1=0, b=0, method="newton")
    design = np.c_[data["x0"], data["x1"], np.ones(len(data["y"]))]
    exact = np.linalg.lstsq(design, data["y"], rcond=None)[0]
    assert (r.converged, r.steps, r.lr) == (True, 1, 1.0)
    assert np.allclose([r.params["w0"], r.params["w1"], r.params["b"]], exact, rtol=0, atol=1e-10)


def test_newton_reaches_scikit_learns_logistic_regression_in_a_few_steps() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(5)
    x0, x1 = rng.normal(size=300), rng.normal(size=300)
    y = (rng.random(300) < 1 / (1 + np.exp(-(1.5 * x0 - x1)))).astype(float)
    r = fit(LOGISTIC, {"x0": x0, "x1": x1, "y": y}, params=["w0", "w1", "b"], w0=0, w1=0, b=0,
            method="newton", tol=1e-10)
    assert r.converged and r.steps < 15
    model = sklearn.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(np.c_[x0, x1], y)
    want = [*model.coef_[0], model.intercept_[0]]
    assert np.allclose([r.params["w0"], r.params["w1"], r.params["b"]], want, rtol=0, atol=1e-6)


def test_newton_stops_at_a_singular_hessian_with_the_last_good_parameters(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0,1\n1,3\n2,5\n", encoding="utf-8")
    saved = tmp_path / "p.json"
    code, out, err = run_cli("fit", "((a+b)*x - y)^2", "--data", str(path), "--params", "a,b", "-a", "0",
                             "-b", "0", "--method", "newton", "--json", "--save", str(saved))
    assert code == 1
    obj = json.loads(out)
    assert obj["error"]["kind"] == "singular" and obj["error"]["step"] == 1
    assert obj["params"] == {"a": 0.0, "b": 0.0} and obj["loss"] == 35 / 3
    assert "singular" in err
    assert json.loads(saved.read_text(encoding="utf-8")) == {"a": 0.0, "b": 0.0}  # a good point


def test_columns_are_filled_in_place_and_a_file_that_outgrows_its_count_still_reads_whole() -> None:
    from gradcli.fitdata import ColumnStore

    for capacity in (0, 5, 100):  # unknown, too small (the file grew), enough
        store = ColumnStore(np, capacity)
        for at in range(0, 12, 4):
            store.add("x", np.arange(at, at + 4, dtype=float), at)
        assert store.finish("x", 12).tolist() == list(map(float, range(12)))


# --- at the edge of the floats: a mean whose sum overflows, a norm that does ---------------------


def test_a_mean_whose_sum_is_past_the_floats_is_still_the_mean(run_cli, tmp_path: Path) -> None:
    # two rows of 1.5e308: the sum overflows, the mean does not (it was "the mean gradient is
    # too large for a float", exit 1)
    path = tmp_path / "d.csv"
    path.write_text("x,c\n1.5e308,1\n1.5e308,1\n", encoding="utf-8")
    code, out, err = run_cli("fit", "a*x", "--data", str(path), "--params", "a", "-a", "0",
                             "--epochs", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["grad_norm"] == 1.5e308
    for method in ("gd", "newton"):
        code, out, err = run_cli("fit", "1.7e308*c + (a - 1)^2", "--data", str(path), "--params", "a",
                                 "-a", "0", "--method", method, "--epochs", "1", "--json")
        assert code == 0, err
        assert json.loads(out)["loss"] == 1.7e308


def test_a_gradient_norm_past_the_floats_is_a_math_error_not_an_internal_one(
    run_cli, tmp_path: Path
) -> None:
    # each part of the gradient 1.5e308, its norm 2.1e308: --json was exit 70 (a ValueError
    # writing Infinity), the table said "gradient norm inf"
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n", encoding="utf-8")
    for extra in ((), ("--json",)):
        code, out, err = run_cli("fit", "1.5e308*a*x + 1.5e308*b*x", "--data", str(path), "--params",
                                 "a,b", "-a", "0", "-b", "0", *extra)
        assert (code, out) == (1, "")
        assert err == "error: the gradient norm is too large for a float\n"
