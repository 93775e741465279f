"""``gradcli hessian`` and ``gradcli.hessian``: the matrix of second derivatives,
the first-derivative program differentiated once more. Held to SymPy at 30 digits,
to finite differences of the gradient, and to the order-2 derivative program."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import VARIABLES, points, programs

import gradcli
from gradcli.derive import derivative_program

sympy = pytest.importorskip("sympy")


def _sympy_expr(source: str) -> object:
    names = {name: sympy.Symbol(name) for name in VARIABLES}
    funcs = {
        "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
        "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
        "cbrt": lambda x: x ** sympy.Rational(1, 3),
        "hypot": lambda a, b: sympy.sqrt(a**2 + b**2),
        "atan2": sympy.atan2,
        "log": sympy.log,
        "e": sympy.E,
        "pi": sympy.pi,
    }
    return sympy.sympify(source, locals={**names, **funcs}, convert_xor=True)


def _close(got: float, want: float, rel: float) -> bool:
    return abs(got - want) <= rel * max(1.0, abs(want))


@settings(max_examples=25)
@given(programs(max_depth=3), points())
def test_the_hessian_agrees_with_sympy_at_30_digits(source: str, point: dict[str, float]) -> None:
    h = gradcli.hessian(f"{source} + 0*a + 0*b + 0*c", **point)  # every variable an input
    expr = _sympy_expr(source)
    subs = {sympy.Symbol(n): sympy.Float(repr(v), 30) for n, v in point.items()}
    symbols = [sympy.Symbol(n) for n in h.wrt]
    for i, a in enumerate(symbols):
        da = sympy.diff(expr, a)
        for j, b in enumerate(symbols):
            want = float(sympy.diff(da, b).evalf(30, subs=subs))
            assert _close(h.hessian[i][j], want, 1e-9), (source, point, a, b, h.hessian[i][j], want)


@given(programs(max_depth=3), points())
def test_the_hessian_is_the_finite_difference_of_the_gradient(source: str, point: dict[str, float]) -> None:
    program = f"{source} + 0*a + 0*b + 0*c"
    h = gradcli.hessian(program, **point)
    step = 1e-5
    for j, b in enumerate(h.wrt):
        up = gradcli.evaluate(program, {**point, b: point[b] + step}).gradient
        down = gradcli.evaluate(program, {**point, b: point[b] - step}).gradient
        for i, a in enumerate(h.wrt):
            numeric = (up[a] - down[a]) / (2 * step)
            assert _close(h.hessian[i][j], numeric, 1e-4), (program, point, a, b)


KINKS = [
    ("abs(x)*y + relu(x)*x", {"x": 0, "y": 2}),
    ("max(x, y)^2 + min(x, y)", {"x": 1, "y": 1}),
    ("if(x > 0, log(x), x^3) * y", {"x": -1, "y": 2}),
    ("q = x*y; r = sin(q) + q^2; r*x", {"x": 0.5, "y": -1.5}),
    ("clip(x, 0, 1)^2 * y + sign(x)", {"x": 0.5, "y": 3}),
    ("sum(x, y, x*y) + mean(x^2, y^2) + logsumexp(x, y)", {"x": 0.3, "y": -0.7}),
]


@pytest.mark.parametrize(("source", "point"), KINKS)
def test_the_hessian_is_the_order_2_derivative_program(source: str, point: dict[str, float]) -> None:
    h = gradcli.hessian(source, **point)
    d = derivative_program(gradcli.compile(source), order=2).evaluate(point)
    assert h.value == d.value
    assert h.gradient == d.gradient
    for row, want_row in zip(h.hessian, d.hessian, strict=True):
        for got, want in zip(row, want_row, strict=True):
            assert _close(got, want, 1e-12)


def test_the_hessian_is_symmetric_and_follows_wrt() -> None:
    h = gradcli.hessian("x*y*z + x^2", x=1, y=2, z=3, wrt=["z", "x"])
    assert h.wrt == ["z", "x"]
    assert h.hessian == [[0.0, 2.0], [2.0, 2.0]]
    assert h.gradient == {"z": 2.0, "x": 8.0}


def test_an_unused_input_has_a_zero_row(run_cli) -> None:
    code, out, _ = run_cli("hessian", "a = x*x; b = y", "--output", "a", "-x", "3", "-y", "1", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["unused"] == ["y"]
    assert obj["hessian"] == [[2.0, 0.0], [0.0, 0.0]]


def test_json_is_eval_json_plus_wrt_and_hessian(run_cli) -> None:
    code, out, _ = run_cli("hessian", "(1-x)^2 + 100(y-x^2)^2", "-x", "-1.2", "-y", "1", "--json")
    assert code == 0
    obj = json.loads(out)
    _, eval_out, _ = run_cli("eval", "(1-x)^2 + 100(y-x^2)^2", "-x", "-1.2", "-y", "1", "--json")
    assert {k: obj[k] for k in json.loads(eval_out)} == json.loads(eval_out)
    assert list(obj)[-2:] == ["wrt", "hessian"]
    assert obj["wrt"] == ["x", "y"]
    assert obj["hessian"] == [[1330.0, 480.0], [480.0, 200.0]]


def test_the_table_shows_the_gradient_then_the_matrix(run_cli) -> None:
    code, out, _ = run_cli("hessian", "x^2*y", "-x", "2", "-y", "3")
    assert code == 0
    assert "| x          |     2 |       12 |" in out
    assert "| ∂²f/∂a∂b | x | y |" in out
    assert "| x        | 6 | 4 |" in out
    assert "| y        | 4 | 0 |" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("2 + 3",), 2, "the program has no inputs"),
        (("x*y", "-x", "1", "-y", "2", "--wrt", "q"), 2, "the program has no input q"),
        (("q = x*y; q + x", "-x", "1", "-y", "2", "--wrt", "q"), 2, "q is computed by the program"),
        (("x*y", "-x", "1", "-y", "2", "--wrt", "x,x"), 2, "x is named twice"),
        (("x*y", "-x", "1"), 2, "y"),
        (("x^1.5 + y", "-x", "0", "-y", "1"), 1, "undefined second derivative"),
        (("sqrt(x) * y", "-x", "0", "-y", "1"), 1, "undefined"),
        (("log(x)", "-x", "-1"), 1, "log(-1)"),
    ],
)
def test_bad_input_is_a_clear_error(run_cli, args: tuple[str, ...], code: int, message: str) -> None:
    got, out, err = run_cli("hessian", *args)
    assert got == code
    assert out == ""
    assert err.startswith("error:") and message in err
    assert "Traceback" not in err


def test_an_undefined_second_derivative_points_at_its_operation(run_cli) -> None:
    code, _, err = run_cli("hessian", "y + x^1.5", "-x", "0", "-y", "1")
    assert code == 1
    lines = err.splitlines()
    assert lines[1] == "  y + x^1.5"
    assert lines[2] == "      ^^^^^"


@pytest.mark.parametrize(
    ("source", "bindings"),
    [
        ("sqrt(x)", ["-x", "0"]),  # sqrt'(0)
        ("w*sqrt(x) + x^2", ["-w", "2", "-x", "0"]),
        ("x^y", ["-x", "-1", "-y", "2"]),  # x^y toward y with x < 0
        ("asin(x)*y", ["-x", "1", "-y", "3"]),
    ],
)
def test_an_undefined_first_derivative_is_the_error_eval_gives(
    run_cli, source: str, bindings: list[str]
) -> None:
    # once "undefined derivative: division by zero: 0.5 / 0 ... at node 3", a node of the
    # derivative program that no trace of the source has
    code, _, eval_err = run_cli("eval", source, *bindings)
    assert code == 1
    code, _, err = run_cli("hessian", source, *bindings)
    assert code == 1
    assert err == eval_err
    code, _, err = run_cli("hessian", source, *bindings, "--json")
    assert code == 1 and err == eval_err
    code, _, err = run_cli("descend", source, *bindings, "--method", "newton")
    assert code == 1 and err == eval_err  # at the start point: as --method gd says it


def test_abs_at_zero_follows_the_conventions(run_cli) -> None:
    code, out, _ = run_cli("hessian", "abs(x) + x*abs(y)", "-x", "0", "-y", "0", "--json")
    assert code == 0
    assert json.loads(out)["hessian"] == [[0.0, 0.0], [0.0, 0.0]]


def test_the_api_takes_a_compiled_graph_and_a_mapping() -> None:
    graph = gradcli.compile("x^3 + output*x")
    h = gradcli.hessian(graph, {"x": 2, "output": 1})
    assert h.hessian == [[12.0, 1.0], [1.0, 0.0]]


@given(st.integers(1, 12))
def test_many_inputs(n: int) -> None:
    names = [f"x{i}" for i in range(n)]
    source = " + ".join(f"{a}*{b}" for a in names for b in names)  # (Σx)² : Hessian all 2
    h = gradcli.hessian(source, {name: 0.5 for name in names})
    assert h.hessian == [[2.0] * n for _ in range(n)]


def test_the_mean_over_rows_is_the_mean_of_each_rows_hessian() -> None:
    import numpy as np

    from gradcli.hessian import SecondOrder

    graph = gradcli.compile("(sigmoid(w0*x0 + w1*x1 + b) - t)^2 + if(x0 > 0, w0^2*x0, abs(w1))")
    second = SecondOrder(graph, ["w0", "w1", "b"])
    rng = np.random.default_rng(1)
    columns = {"x0": rng.normal(size=40), "x1": rng.normal(size=40), "t": rng.uniform(size=40)}
    params = {"w0": 0.5, "w1": -0.3, "b": 0.1}
    mean = second.mean_at(params, columns)
    rows = [second.at({**params, **{k: float(v[r]) for k, v in columns.items()}}) for r in range(40)]
    assert _close(mean.value, sum(r.value for r in rows) / 40, 1e-14)
    for name in mean.wrt:
        assert _close(mean.gradient[name], sum(r.gradient[name] for r in rows) / 40, 1e-14)
    want = np.mean([r.hessian for r in rows], axis=0)
    assert np.allclose(mean.hessian, want, rtol=1e-13, atol=1e-15)
    assert mean.inputs == params


def test_the_mean_over_rows_names_the_row_that_fails() -> None:
    from gradcli.hessian import SecondOrder

    second = SecondOrder(gradcli.compile("log(w*x)"), ["w"])
    with pytest.raises(gradcli.GradError) as info:
        second.mean_at({"w": 1.0}, {"x": [1.0, 2.0, -3.0, -4.0]})
    assert info.value.message.startswith("row 3: log(-3)")
    with pytest.raises(gradcli.GradError) as info:
        second.mean_at({"w": 1.0}, {"x": [1.0], "y": [2.0]})
    assert info.value.kind == "binding"
    with pytest.raises(gradcli.GradError):
        second.mean_at({"w": 1.0}, {"x": []})


def test_an_overflowing_second_derivative_is_one_error_line_and_no_numpy_warning() -> None:
    # Found by fuzzing: NumPy's "overflow encountered in multiply" warning, with a file
    # path of the installation, was printed above the error line.
    import subprocess
    import sys
    from pathlib import Path

    gradcli_exe = Path(sys.executable).with_name("gradcli")
    proc = subprocess.run(
        [str(gradcli_exe), "hessian", "1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=-1000", "x0=1e-320",
         "w1=1e300", "x1=-0", "w2=1e-8", "--json"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == "error: overflow: ∂²f/∂x1∂x1 is too large for a float\n"


def test_python_warnings_never_reach_the_user(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever a library warns about, the command line says a result or one error line.
    import importlib
    import sys
    import warnings

    module = importlib.import_module("gradcli.hessian")  # the module, not gradcli.hessian the function

    real = module.hessian

    def warning_hessian(*args: object, **kwargs: object) -> object:
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "hessian", warning_hessian)

    def show(message: object, category: type, filename: str, lineno: int, *rest: object) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))  # as Python would

    with warnings.catch_warnings():  # undo pytest's own capture: warnings printed as in a shell
        warnings.simplefilter("default")
        warnings.showwarning = show
        code, out, err = run_cli("hessian", "x*y", "-x", "1", "-y", "2", "--json")
    assert code == 0
    assert err == ""
    assert json.loads(out)["hessian"] == [[0.0, 1.0], [1.0, 0.0]]
