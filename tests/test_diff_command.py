"""gradcli diff as a user runs it: the program it prints runs in eval and gives
eval's gradient, every format does what it says (LaTeX compiles, the Python module
imports only math), bad input is one error line with its exit code, and large and
deep programs work."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
from test_latex import compile_latex, needs_tex

import gradcli

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_POINT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
BINDINGS = [f"{k}={v}" for k, v in NEURON_POINT.items()]


def test_the_neurons_derivative_program_runs_in_eval_and_gives_evals_gradient(run_cli) -> None:
    code, text, err = run_cli("diff", NEURON)
    assert code == 0, err
    assert text.splitlines()[0] == f"f = {NEURON}"
    expected = gradcli.evaluate(NEURON, NEURON_POINT).gradient
    for name, value in expected.items():
        code, out, err = run_cli("eval", text, "--output", f"df_d{name}", *BINDINGS, "--json")
        assert code == 0, err
        assert json.loads(out)["value"] == value


@pytest.mark.parametrize(
    ("source", "point"),
    [
        ("abs(x) * y + max(x, y)", {"x": 0.0, "y": 0.0}),
        ("relu(sqrt(x)) + x*y", {"x": 0.0, "y": 2.0}),
        ("if(x > 0, log(x), 0) * y", {"x": -1.0, "y": 3.0}),
        ("clip(x, -1, 1) * y + min(x, 1, y)", {"x": 1.0, "y": 1.0}),
        ("q = x*y; r = q^2 + sin(q); r / (1 + q^2)", {"x": 0.5, "y": -2.0}),
        ("x^y + hypot(x, y) + atan2(y, x)", {"x": 1.5, "y": 0.0}),
        # (-0.5)^100000 underflows to 0; its derivative toward z (undefined) is never
        # asked for, as w = 0: the derivative program once took log(-0.5) there
        ("w*y^z", {"w": 0.0, "y": -0.5, "z": 100000.0}),
    ],
)
def test_the_round_trip_through_eval_holds_at_kinks(run_cli, source: str, point: dict[str, float]) -> None:
    code, text, err = run_cli("diff", source)
    assert code == 0, err
    expected = gradcli.evaluate(source, point)
    label = gradcli.compile(source).output_label()
    for name, value in expected.gradient.items():
        got = gradcli.evaluate(text, point, output=f"d{label}_d{name}", wrt=[])
        assert got.value == pytest.approx(value, rel=1e-12, abs=0), (name, text)


def test_wrt_takes_named_values_and_several_outputs_get_one_program(run_cli) -> None:
    code, out, _ = run_cli("diff", "q = x + y; f = q * z", "--wrt", "q,x")
    assert code == 0
    assert out == "q = x + y\nf = q * z\ndf_dq = z\ndf_dx = z\n"
    code, out, _ = run_cli("diff", "u = x*y; v = x + sin(y)", "--output", "u,v")
    assert code == 0
    assert out == "u = x*y\nv = x + sin(y)\ndu_dx = y\ndu_dy = x\ndv_dx = 1\ndv_dy = cos(y)\n"


def test_a_bare_output_is_assigned_its_display_name_and_introduced_names_never_collide(run_cli) -> None:
    source = "f = x*x; t1 = f*f; df_dx = 3; exp(t1 + df_dx) * exp(t1 + df_dx) * t1"
    code, out, err = run_cli("diff", source, "--wrt", "x")
    assert code == 0, err
    names = [line.split(" = ", 1)[0] for line in out.splitlines()]
    assert len(names) == len(set(names)), out  # nothing assigned twice
    assert "out = exp(t1 + df_dx) * exp(t1 + df_dx) * t1" in out
    assert names[-1] == "dout_dx"
    value = gradcli.evaluate(out, {"x": 0.3}, output="dout_dx", wrt=[]).value
    assert value == pytest.approx(gradcli.evaluate(source, {"x": 0.3}).gradient["x"], rel=1e-12)


def test_json_has_the_listed_keys(run_cli) -> None:
    code, out, _ = run_cli("diff", "x*y + x", "--format", "json", "--order", "2")
    assert code == 0
    obj = json.loads(out)
    assert list(obj) == ["source", "output", "wrt", "order", "program", "derivatives", "nodes",
                         "derivative_nodes"]
    assert obj["derivatives"] == {"x": "df_dx", "y": "df_dy", "x,x": "d2f_dx_dx", "x,y": "d2f_dx_dy",
                                  "y,y": "d2f_dy_dy"}
    assert obj["order"] == 2 and obj["wrt"] == ["x", "y"] and obj["output"] == "f"


@pytest.mark.parametrize("several", [False, True], ids=["one-output", "two-outputs"])
def test_every_format_ends_with_a_newline(run_cli, several: bool) -> None:
    source, more = ("q = x*y; r = q + x", ["--output", "q,r"]) if several else ("x*y", [])
    for fmt in (["json"] if several else ["text", "latex", "python", "numpy", "json"]):
        code, out, _ = run_cli("diff", source, *more, "--format", fmt)
        assert code == 0
        assert out.endswith("\n") and not out.endswith("\n\n"), fmt


def _module(text: str, tmp_path: Path, name: str) -> object:
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Program names the written module must not let shadow its own: the names it refers
#: to inside its functions (abs, max and min are the language's functions, never names),
#: a keyword, a soft keyword, a builtin it does not use.
_SHADOWING = ["shape", "np", "math", "ValueError", "ArithmeticError", "float",
              "value_and_grad", "value_grad_hessian", "lambda", "match", "print"]


@pytest.mark.parametrize("name", _SHADOWING)
@pytest.mark.parametrize("fmt", ["python", "numpy"])
def test_a_program_name_never_shadows_what_the_module_uses(
    run_cli, tmp_path: Path, name: str, fmt: str
) -> None:
    # the name as an input, and as the statement that is the output: NumPy's module once
    # returned np.zeros(shape) + shape after its own shape = np.broadcast(...).shape, and
    # an input named ValueError broke the except of a statement in a branch of if
    cases = [
        (f"q = log(x); {name}*if(x > 0, q, 0) + x", {name: 2.0, "x": -1.0}),
        (f"q = log(x); {name}*if(x > 0, q, 0) + x", {name: 2.0, "x": 3.0}),
        (f"{name} = x*x + 1", {"x": 3.0}),
    ]
    for k, (source, point) in enumerate(cases):
        code, text, err = run_cli("diff", source, "--format", fmt, "--order", "2")
        assert code == 0, err
        module = _module(text, tmp_path, f"shadow_{fmt}_{k}_{name}")
        want = gradcli.evaluate(source, point)
        args = [point[n] for n in want.gradient]  # the inputs in the program's order
        value, grad, hessian = module.value_grad_hessian(*args)  # type: ignore[attr-defined]
        assert float(value) == want.value, (source, text)
        assert [float(g) for g in grad] == list(want.gradient.values()), (source, text)
        assert len(hessian) == len(point)


def test_the_python_module_imports_only_math_and_gives_the_gradient(run_cli, tmp_path: Path) -> None:
    code, text, _ = run_cli("diff", NEURON + " + relu(w0) * sigmoid(x1)", "--format", "python")
    assert code == 0
    imports = [line for line in text.splitlines() if line.startswith(("import", "from"))]
    assert imports == ["import math"]
    module = _module(text, tmp_path, "neuron_grad")
    value, grads = module.value_and_grad(*NEURON_POINT.values())  # type: ignore[attr-defined]
    expected = gradcli.evaluate(NEURON + " + relu(w0) * sigmoid(x1)", NEURON_POINT)
    assert value == pytest.approx(expected.value, rel=1e-12)
    assert list(grads) == pytest.approx(list(expected.gradient.values()), rel=1e-12)


def test_the_numpy_module_works_element_wise_and_order_2_gives_the_hessian(run_cli, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    source = "x^3 + x*y + if(x > 0, sqrt(x), -x)"
    code, text, _ = run_cli("diff", source, "--format", "numpy", "--order", "2")
    assert code == 0
    module = _module(text, tmp_path, "cubic_grad")
    xs, ys = np.array([-1.0, 0.5, 2.0]), np.array([1.0, 2.0, 3.0])
    value, grads = module.value_and_grad(xs, ys)  # type: ignore[attr-defined]
    _, _, hessian = module.value_grad_hessian(xs, ys)  # type: ignore[attr-defined]
    program = gradcli.diff(source, order=2)
    for k in range(3):
        at = program.evaluate({"x": xs[k], "y": ys[k]})
        assert value[k] == pytest.approx(at.value, rel=1e-12)
        assert [g[k] for g in grads] == pytest.approx(list(at.gradient.values()), rel=1e-12)
        got = [h[k] for row in hessian for h in row]
        assert got == pytest.approx([h for row in at.hessian for h in row], rel=1e-12)


def test_the_python_module_of_a_program_without_if_is_straight_line_code(run_cli) -> None:
    code, text, _ = run_cli("diff", "x^3 * y", "--format", "python", "--order", "2")
    assert code == 0
    assert "try:" not in text and "if" not in text.split("def value_grad_hessian", 1)[1].split('"""')[2]


def test_the_python_module_of_a_program_with_if_leaves_the_branch_not_taken(run_cli, tmp_path: Path) -> None:
    code, text, _ = run_cli("diff", "if(x > 0, sqrt(x) * y, -x)", "--format", "python")
    assert code == 0
    module = _module(text, tmp_path, "branch_grad")
    assert module.value_and_grad(-4.0, 2.0) == (4.0, (-1.0, 0.0))  # type: ignore[attr-defined]


@needs_tex
@pytest.mark.parametrize(
    "args",
    [
        (NEURON,),
        ("x^3 + x*y + if(x > 0, sqrt(x), -x) + max(x, y, 1) + clip(x, 0, 1) + atan2(y, x)", "--order", "2"),
        ("θ_1 = w_0*x^2 + café*中; out = if(θ_1 >= 0, θ_1, -θ_1) # a comment",),
        ("x^-2 + tau*y/1e-7 + log(x, 2) + erf(x) + abs(y)^0.5", "--order", "2"),
    ],
    ids=["neuron", "order-2", "awkward", "numbers"],
)
def test_the_latex_compiles(run_cli, tmp_path: Path, args: tuple[str, ...]) -> None:
    code, out, err = run_cli("diff", *args, "--format", "latex")
    assert code == 0, err
    assert out.startswith("\\begin{align*}") and out.rstrip().endswith("\\end{align*}")
    proc = compile_latex(out, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("2 + 3",), 2, "error: the program has no inputs: there is nothing to differentiate toward"),
        (("x^2", "--order", "3"), 2,
         "error: --order 3: the order is 1 (the gradient) or 2 (with the Hessian)"),
        (("x*y", "--wrt", "xx"), 2, "error: --wrt xx: the program has no input or named value xx"),
        (("x*y", "--wrt", "y,x,y"), 2, "error: --wrt y,x,y: y is given twice"),
        (("x*y", "-x", "2"), 2, "error: diff takes no bindings (it prints a program): x given"),
        (("q = x; q*2", "--output", "r"), 2, "error: --output r: no statement assigns r"),
        (("x +* y",), 2, "error: unexpected '*'"),
    ],
)
def test_bad_input_is_one_error_line_with_its_exit_code(run_cli, args: tuple[str, ...], code: int,
                                                        message: str) -> None:
    got, out, err = run_cli("diff", *args)
    assert got == code
    assert out == ""
    assert err.startswith(message), err
    assert "Traceback" not in err


def test_an_undefined_second_derivative_is_a_math_error_where_it_is_evaluated(run_cli) -> None:
    code, text, _ = run_cli("diff", "sqrt(x)", "--order", "2")
    assert code == 0
    code, _out, err = run_cli("eval", text, "--output", "d2f_dx_dx", "-x", "0")
    assert code == 1, err
    assert err.startswith("error: division by zero")
    with pytest.raises(gradcli.GradError) as caught:
        gradcli.diff("sqrt(x)", order=2).evaluate({"x": 0})
    assert caught.value.exit_code == 1
    assert "undefined" in caught.value.message
    # abs at 0 is fine: abs'(0) = 0 by convention, abs'' = 0
    assert gradcli.diff("abs(x)", order=2).evaluate({"x": 0}).hessian == [[0.0]]


@pytest.mark.slow
def test_a_program_of_10_to_the_5_nodes_has_a_derivative_at_most_5_times_its_size() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.programs import shared, wide

    for program in (wide(10**5), shared(25_000)):
        graph = gradcli.compile(program.source)
        d = gradcli.diff(program.source)
        assert len(d.graph.nodes) <= 5 * len(graph.nodes)
        point = {name: program.bindings.get(name, 0.3) for name in graph.inputs}
        got = d.evaluate(point).gradient
        expected = gradcli.evaluate(program.source, point).gradient
        assert all(math.isclose(got[n], expected[n], rel_tol=1e-12, abs_tol=1e-300) for n in expected)


@pytest.mark.slow
def test_a_100000_deep_program_has_a_derivative_program_with_no_recursion() -> None:
    source = "tanh(" * 100_000 + "x" + ")" * 100_000
    d = gradcli.diff(source)
    text = d.text
    got = gradcli.evaluate(text, {"x": 0.1}, output="df_dx", wrt=[]).value
    assert got == pytest.approx(gradcli.evaluate(source, {"x": 0.1}).gradient["x"], rel=1e-12)


def test_a_comment_cannot_send_a_terminal_escape_through_the_printed_program(run_cli) -> None:
    # the statements are printed as written: a comment's OSC (window title), bell, bidi
    # override and lone CR once reached the terminal raw
    source = "q = (x\t# \x1b]0;pwned\x07 \u202eevil\r\t+ 1)\r\nf = q*y  # \x1b[2J\n"
    for fmt in ("text", "json"):
        code, out, err = run_cli("diff", source, "--format", fmt)
        assert code == 0, err
        text = json.loads(out)["program"] if fmt == "json" else out
        assert not [c for c in text if (not c.isprintable() and c not in "\n\t") or c == "\u202e"], text
        assert "\ufffd]0;pwned\ufffd" in text and "\t+ 1)" in text
    code, out, err = run_cli("eval", text, "--output", "df_dx", "-x", "2", "-y", "3", "--json")
    assert code == 0, err
    assert json.loads(out)["value"] == 3.0


def test_the_numpy_module_takes_any_number_of_inputs(run_cli, tmp_path: Path) -> None:
    # its shape came from np.broadcast, which takes at most 64 arrays (32 before NumPy 2)
    np = pytest.importorskip("numpy")
    source = " + ".join(f"x{k}*x{k}" for k in range(70))
    code, text, err = run_cli("diff", source, "--format", "numpy")
    assert code == 0, err
    module = _module(text, tmp_path, "seventy")
    args = [np.arange(3.0) + k for k in range(70)]
    value, grad = module.value_and_grad(*args)  # type: ignore[attr-defined]
    assert value.tolist() == sum(a * a for a in args).tolist()
    assert [g.tolist() for g in grad] == [(2 * a).tolist() for a in args]
    value, grad = module.value_and_grad(*[1.5] * 70)  # type: ignore[attr-defined]
    assert float(value) == 70 * 2.25 and np.shape(grad[0]) == ()


def test_the_python_module_raises_where_eval_fails_outside_the_branches(run_cli, tmp_path: Path) -> None:
    # every statement of a program with an if was wrapped to give NaN: sqrt(-1) outside
    # any branch gave NaN where math (and eval) raise
    source = "q = log(x); if(x > 0, q, 0) + sqrt(y)"
    code, text, err = run_cli("diff", source, "--format", "python")
    assert code == 0, err
    module = _module(text, tmp_path, "outside_branches")
    assert module.value_and_grad(-1.0, 4.0) == (2.0, (0.0, 0.25))  # type: ignore[attr-defined]
    code, _, _ = run_cli("eval", source, "-x", "2", "-y", "-1")
    assert code == 1
    with pytest.raises(ValueError):
        module.value_and_grad(2.0, -1.0)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "source",
    [
        "q = x*y; r = q*2; f = r*q",  # ∂f/∂r is the node q: q was written ∂f/∂r throughout
        "a = x + 1; b = a*a; c = b*a",
        "q = sin(x); r = q*y; r*q + r",
        "q = x*y; r = q*2; f = r*q + sin(r)*r",
    ],
)
def test_latex_writes_each_statement_of_the_source_under_its_own_name(run_cli, source: str) -> None:
    from gradcli.latex import name as tex_name

    code, text, _ = run_cli("diff", source)
    assert code == 0
    code, latex, _ = run_cli("diff", source, "--format", "latex")
    assert code == 0
    lines = latex.splitlines()[1:-1]
    assert len(lines) == len(text.splitlines())
    graph = gradcli.compile(source)
    for name in graph.names:  # each statement the source names, under that name
        assert sum(line.startswith(f"{tex_name(name)} &= ") for line in lines) == 1, (name, latex)
    lhs = {line.split(" &= ")[0] for line in lines}
    assert len(lhs) == len(lines)  # no two statements under one name
