"""Derivative programs (gradcli.derive, gradcli diff): they round-trip through eval,
kinks included, their second derivatives agree with SymPy's at 30 digits, and they
stay small (no expression swell) and work on 10^5-node programs."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.cli import main
from gradcli.derivatives import DerivativeProgram
from gradcli.errors import GradError

VARIABLES = ("a", "b", "c")

#: One operation applied to earlier values: kinks (abs, relu, max, min, clip, sign,
#: comparisons, if) and functions whose gradient can be undefined (sqrt, pow).
_UNARY = (
    "sin({})", "cos({})", "tanh({})", "exp(-({})^2)", "sigmoid({})", "softplus({})", "abs({})",
    "relu({})", "sign({})", "-({})", "atan({})", "erf({})", "sqrt(abs({}))", "({})^2", "({})^3",
    "cbrt({})", "log(1 + ({})^2)", "sqrt(1 + ({})^2)", "asinh({})", "hypot({})", "logsumexp({})",
)
_BINARY = (
    "({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (1 + ({})^2)", "max({}, {})",
    "min({}, {})", "hypot({}, {})", "atan2({}, 1 + ({})^2)", "({}) < ({})", "if(({}) > 0, {}, 0)",
    "sum({}, {})", "mean({}, {})", "logsumexp({}, {})", "clip({}, -1, {})", "({}) * abs({})",
    "max({}, {}, 0)", "if({}, sqrt(abs({})), 1)", "(1 + sigmoid({}))^({})",
)


@st.composite
def kinky_programs(draw: st.DrawFn) -> str:
    """A few statements over a, b, c, each using earlier ones (shared values)."""
    names = list(VARIABLES)
    lines = []
    for k in range(draw(st.integers(1, 4))):
        def operand() -> str:
            if draw(st.integers(0, 5)) == 0:
                return draw(st.sampled_from(["2", "0.5", "0", "1", "pi"]))
            return draw(st.sampled_from(names))

        if draw(st.booleans()):
            text = draw(st.sampled_from(_UNARY)).format(operand())
        else:
            template = draw(st.sampled_from(_BINARY))
            text = template.format(operand(), operand())
        if draw(st.booleans()):
            text = f"({text}) * {draw(st.sampled_from(names))}"
        name = f"s{k}"
        lines.append(f"{name} = {text}")
        names.append(name)
    if draw(st.booleans()):  # a bare output
        last = lines.pop().split(" = ", 1)[1]
        lines.append(f"({last})")
    return "\n".join(lines)


#: Points on the kinks: zeros, ties, ±1, and a few ordinary values.
kink_values = st.sampled_from([0.0, 0.0, 1.0, -1.0, 2.0, -0.5, 0.5, 1.5, -2.0, 0.3])
kink_points = st.fixed_dictionaries({name: kink_values for name in VARIABLES})


def close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)


def _eval_or_none(source: str, point: dict[str, float], **kw: object) -> gradcli.Result | None:
    try:
        return gradcli.evaluate(source, point, **kw)  # type: ignore[arg-type]
    except GradError:
        return None


@given(kinky_programs(), kink_points)
def test_a_derivative_program_gives_evals_gradient_kinks_included(
    source: str, point: dict[str, float]
) -> None:
    try:
        program = gradcli.diff(source)
    except GradError as err:  # a program of constants only
        assert "no inputs" in err.message
        assume(False)
    used = {name: v for name, v in point.items() if name in program.graph.inputs}
    assume(used)
    expected = _eval_or_none(source, used)
    assume(expected is not None)
    text = program.text
    for name in program.wrt:
        out = f"d{program.output_label}_d{name}"
        # the value alone: eval's own gradient of a derivative is a second derivative,
        # which may be undefined where the first is not (cbrt(a)*a at 0)
        got = gradcli.evaluate(text, used, output=out, wrt=[])
        assert close(got.value, expected.gradient[name]), (source, used, name, text)
    # and the program's own evaluation agrees with eval's
    values = program.evaluate(used)
    assert values.value == expected.value
    for name in program.wrt:
        assert close(values.gradient[name], expected.gradient[name]), (source, used, name)


# --- second derivatives against SymPy -------------------------------------------------------


def _sympy_of(graph: gradcli.Graph) -> object:
    """The graph's output as a SymPy expression (one loop over the nodes)."""
    import sympy

    sym: list[object] = []
    for node in graph.nodes:
        if node.kind == "var":
            sym.append(sympy.Symbol(node.name))
            continue
        if node.kind == "const":
            named = {"pi": sympy.pi, "e": sympy.E, "tau": 2 * sympy.pi}
            sym.append(named[node.name] if node.name else sympy.Rational(repr(node.value)))
            continue
        args = [sym[i] for i in node.inputs]
        name = node.op.name
        binary = {
            "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
            "div": lambda a, b: a / b, "pow": lambda a, b: a**b, "atan2": sympy.atan2,
            "log": lambda a, b: sympy.log(a) / sympy.log(b),
        }
        unary = {
            "neg": lambda a: -a, "exp": sympy.exp, "log": sympy.log, "ln": sympy.log,
            "log2": lambda a: sympy.log(a, 2), "log10": lambda a: sympy.log(a, 10), "sqrt": sympy.sqrt,
            "cbrt": lambda a: a ** sympy.Rational(1, 3), "abs": sympy.Abs, "sin": sympy.sin,
            "cos": sympy.cos, "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan,
            "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "asinh": sympy.asinh,
            "acosh": sympy.acosh, "atanh": sympy.atanh, "sigmoid": lambda a: 1 / (1 + sympy.exp(-a)),
            "softplus": lambda a: sympy.log(1 + sympy.exp(a)), "erf": sympy.erf,
        }
        if name in ("hypot",):
            sym.append(sympy.sqrt(sum(a**2 for a in args)))
        elif len(args) == 1 and name in unary:
            sym.append(unary[name](args[0]))
        else:
            sym.append(binary[name](*args))
    return sym[-1]


smooth_points = st.fixed_dictionaries({
    name: st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 3))
    for name in VARIABLES
})


@settings(max_examples=25)  # SymPy's diff takes a while on a generated tree
@given(st.data())
def test_second_derivatives_agree_with_sympy_at_30_digits(data: st.DataObject) -> None:
    import sympy
    from strategies import programs

    source = data.draw(programs(max_depth=2))
    point = data.draw(smooth_points)
    try:
        program = gradcli.diff(source, order=2)
    except GradError:
        assume(False)
    used = {name: point[name] for name in program.wrt}
    try:
        values = program.evaluate(used)
    except GradError:
        assume(False)
    expr = _sympy_of(gradcli.compile(source))
    subs = {sympy.Symbol(n): sympy.Rational(repr(v)) for n, v in used.items()}
    for i, a in enumerate(program.wrt):
        for j, b in enumerate(program.wrt):
            exact = float(sympy.diff(expr, sympy.Symbol(a), sympy.Symbol(b)).evalf(30, subs=subs))
            got = values.hessian[i][j]
            assert math.isclose(got, exact, rel_tol=1e-9, abs_tol=1e-12), (source, used, a, b, got, exact)


@given(kinky_programs(), kink_points)
def test_second_order_is_evals_gradient_of_the_first_derivative_kinks_included(
    source: str, point: dict[str, float]
) -> None:
    """∂²f/∂a∂b from the second-order program is what eval's reverse pass gives for the
    first derivative program's ∂f/∂a toward b: the kink conventions hold at order two
    (abs'' = 0, a tie of max splits, a branch not taken contributes nothing)."""
    try:
        second = gradcli.diff(source, order=2)
    except GradError:
        assume(False)
    first = gradcli.diff(source)
    used = {name: v for name, v in point.items() if name in second.graph.inputs}
    try:
        values = second.evaluate(used)
    except GradError:
        assume(False)
    for i, a in enumerate(second.wrt):
        try:
            row = gradcli.evaluate(first.text, used, output=f"d{first.output_label}_d{a}", wrt=second.wrt)
        except GradError:
            continue
        for j, b in enumerate(second.wrt):
            got = row.gradient[b]
            assert close(values.hessian[i][j], got) or close(values.hessian[j][i], got), (
                source, used, a, b, values.hessian, row.gradient)


def test_abs_relu_and_max_have_the_conventional_second_derivatives_at_their_kinks() -> None:
    h = gradcli.diff("abs(x) + relu(y) + max(x, y)", order=2).evaluate({"x": 0, "y": 0})
    assert h.gradient == {"x": 0.5, "y": 0.5}  # abs'(0) = relu'(0) = 0, the tie splits
    assert h.hessian == [[0.0, 0.0], [0.0, 0.0]]


def test_over_arrays_a_derivative_program_gives_each_points_values_and_errors() -> None:
    import numpy as np

    program = gradcli.diff("sqrt(x) * y + x^3", order=2)
    xs, ys = np.array([4.0, 0.0, -1.0, 0.25]), np.array([1.0, 2.0, 3.0, 0.5])
    out = program.evaluate_arrays({"x": xs, "y": ys})
    assert sorted(out["errors"]) == [1, 2]  # sqrt'(0) and sqrt(-1): the errors evaluate gives
    assert out["errors"][2].kind == "domain"
    for k in (0, 3):
        at = program.evaluate({"x": xs[k], "y": ys[k]})
        assert out["value"][k] == at.value
        assert [out["gradient"][n][k] for n in ("x", "y")] == list(at.gradient.values())
        assert [[h[k] for h in row] for row in out["hessian"]] == at.hessian
    assert np.isnan(out["value"][1]) and np.isnan(out["hessian"][0][0][2])


def test_a_derivative_program_over_arrays_keeps_its_row_errors_without_their_frames() -> None:
    """A row's error holds no traceback and no exception it was raised from (here
    the ValueError of log): each would keep the frames alive, one cycle per failed row."""
    np = pytest.importorskip("numpy")
    import gc

    program = gradcli.diff("log(x) * y")
    gc.collect()
    gc.disable()
    try:
        out = program.evaluate_arrays({"x": np.array([-1.0] * 50 + [2.0]), "y": np.ones(51)})
        assert len(out["errors"]) == 50 and out["errors"][0].kind == "domain"
        del out
        assert gc.collect() == 0
    finally:
        gc.enable()


@given(kinky_programs(), st.sampled_from([1, 2]))
def test_a_derivative_graph_is_well_formed_every_node_used_and_every_constant_one_node(
    source: str, order: int
) -> None:
    """The builder makes a constant a node only when something uses it, and prunes what
    no result needs: every derivative node's inputs come before it, every one of them
    is used by a later node or is a result, and no constant is two nodes."""
    try:
        program = gradcli.diff(source, order=order)
    except GradError:
        assume(False)
    nodes = program.graph.nodes
    used = set(program.outputs())
    for k, node in enumerate(nodes):
        assert node.id == k and all(0 <= j < k for j in node.inputs), (source, node)
        used.update(node.inputs)
    made = range(program.base, len(nodes))
    assert all(i in used for i in made), source
    constants = [(n.value, math.copysign(1.0, n.value)) for n in nodes[program.base:] if n.kind == "const"]
    sources = {(n.value, math.copysign(1.0, n.value)) for n in nodes[: program.base] if n.kind == "const"}
    assert len(constants) == len(set(constants)) and not sources & set(constants), source


def _shared_chain(statements: int) -> str:
    lines = ["q1 = tanh(x*y + x)"]
    lines += [f"q{i} = tanh(q{i - 1}*0.5 + q{i - 1}*x)" for i in range(2, statements + 1)]
    return "\n".join(lines) + "\n"


def test_diff_of_a_large_program_makes_no_node_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The builder, pruning and the text read columns: printing the derivative of a
    10^4-node program makes no node object, for the source or the derivative."""
    from gradcli import columns

    made: list[int] = []
    init = columns.Node.__init__

    def counted(self: columns.Node, id: int, *args: object, **kwargs: object) -> None:
        made.append(id)
        init(self, id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(columns.Node, "__init__", counted)
    path = tmp_path / "chain.txt"
    path.write_text(_shared_chain(2_500), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["diff", "--file", str(path)]) == 0
    assert out.getvalue().endswith("dq2500_dy = t5000 * x\n")
    assert made == []


@given(kinky_programs(), st.sampled_from([1, 2]))
def test_a_derivative_program_prints_the_same_from_its_columns_and_from_its_graph(
    source: str, order: int
) -> None:
    try:
        program = gradcli.diff(source, order=order)
    except GradError:
        assume(False)
    as_graph = DerivativeProgram(
        program.graph, program.base, program.value, program.wrt, program.order, program.first,
        program.second, program.adjoints, program.program, program.label,
    )
    assert as_graph.columns is None and as_graph.size == program.size == len(program.graph.nodes)
    for fmt in ("text", "json", "latex", "python"):
        assert as_graph.format(fmt) == program.format(fmt), (source, fmt)
