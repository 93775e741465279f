"""The lazy `if(c, a, b)`: only the branch taken is evaluated, forward and backward;
a node shared by a taken and an untaken branch is evaluated once; trace, explain and
pictures show what was not taken; nothing recurses on depth."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcli
from gradcli.errors import GradError
from gradcli.ops import FUNCTIONS, IF


def test_a_guarded_log_below_zero_is_zero_with_gradient_zero_never_nan() -> None:
    # JAX's where and torch.where give a NaN gradient here: both branches are differentiated.
    result = gradcli.evaluate("if(x > 0, log(x), 0)", x=-1)
    assert (result.value, result.gradient) == (0.0, {"x": 0.0})
    above = gradcli.evaluate("if(x > 0, log(x), 0)", x=2)
    assert (above.value, above.gradient) == (math.log(2), {"x": 0.5})


@pytest.mark.parametrize(
    ("source", "point", "value", "gradient"),
    [
        ("if(x, 1/x, 0)", {"x": 0}, 0.0, {"x": 0.0}),  # 1/0 is never computed
        ("if(x, 1/x, 0)", {"x": -2}, -0.5, {"x": -0.25}),  # any c ≠ 0 takes a
        ("if(x >= 0, sqrt(x), -x)", {"x": -4}, 4.0, {"x": -1.0}),
        ("if(x >= 0, sqrt(x), -x)", {"x": 4}, 2.0, {"x": 0.25}),
        ("if(x < 1, x^2, 2^x)", {"x": 3}, 8.0, {"x": 8 * math.log(2)}),
        ("if(y, x, x^2)", {"x": 3, "y": 0}, 9.0, {"x": 6.0, "y": 0.0}),  # ∂/∂c = 0
        ("if(if(x > 0, x, 0), log(x), asin(x))", {"x": 0.5}, math.log(0.5), {"x": 2.0}),
        ("if(x > 0, if(x > 1, log(x - 1), sqrt(1 - x)), acosh(1 - x))", {"x": 0.75}, 0.5, {"x": -1.0}),
    ],
)
def test_only_the_branch_taken_is_evaluated_and_differentiated(source, point, value, gradient) -> None:
    result = gradcli.evaluate(source, point)
    assert result.value == pytest.approx(value, rel=1e-15)
    assert result.gradient == pytest.approx(gradient, rel=1e-15)


def test_a_math_error_in_the_branch_taken_is_reported_with_its_caret() -> None:
    with pytest.raises(GradError) as err:
        gradcli.evaluate("if(x < 0, log(x), 0)", x=-1)
    assert err.value.kind == "domain"
    assert err.value.message.startswith("log(-1)")
    assert (err.value.span.start, err.value.span.end) == (10, 16)


def test_a_node_used_outside_the_if_is_evaluated_whatever_the_branch() -> None:
    with pytest.raises(GradError):
        gradcli.evaluate("q = log(x); if(x > 0, q, 0) + q", x=-1)


def _counting(monkeypatch, name: str, arity: int) -> list[float]:
    op = FUNCTIONS[name][arity]
    calls: list[float] = []
    real = op.forward

    def counted(*args: float) -> float:
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(op, "forward", counted)
    return calls


def test_a_node_shared_by_both_branches_is_evaluated_once(monkeypatch) -> None:
    calls = _counting(monkeypatch, "exp", 1)
    result = gradcli.evaluate("q = exp(x); if(x > 0, q, q + 1) * q", x=-1)
    assert calls == [-1.0]
    e = math.exp(-1)
    assert result.value == pytest.approx((e + 1) * e)
    assert result.gradient["x"] == pytest.approx(e * e + (e + 1) * e)


def test_nodes_used_only_by_a_branch_not_taken_are_never_evaluated(monkeypatch) -> None:
    calls = _counting(monkeypatch, "sin", 1)
    gradcli.evaluate("if(x > 0, sin(x) + sin(2x), 1)", x=-1)
    assert calls == []
    gradcli.evaluate("if(x > 0, sin(x) + sin(2x), 1)", x=1)
    assert calls == [1.0, 2.0]


def test_the_gradient_toward_a_name_in_a_branch_not_taken_is_zero() -> None:
    result = gradcli.evaluate("q = log(x); r = x^2; if(x > 0, q, r)", x=-2, wrt=["x", "q", "r"])
    assert result.gradient == {"x": -4.0, "q": 0.0, "r": 1.0}


def test_trace_json_marks_the_nodes_not_evaluated() -> None:
    result = gradcli.evaluate("if(x > 0, log(x), 0)", x=-1)
    nodes = result.to_json(nodes=True)["nodes"]
    by_label = {n["label"]: n for n in nodes}
    assert by_label["log(x)"] == {
        "id": 3, "op": "log", "label": "log(x)", "inputs": [0], "value": None,
        "local_grads": [None], "grad": None, "evaluated": False,
    }
    assert all(n["evaluated"] for n in nodes if n["label"] != "log(x)")
    assert by_label["if(x > 0, log(x), 0)"]["local_grads"] == [0.0, None, None]
    json.dumps(result.to_json(nodes=True), allow_nan=False)  # strict JSON: no NaN anywhere


def test_a_program_without_if_has_no_evaluated_field() -> None:
    nodes = gradcli.evaluate("x * 2", x=1).to_json(nodes=True)["nodes"]
    assert all("evaluated" not in n for n in nodes)


def test_the_trace_table_says_not_taken(run_cli) -> None:
    code, out, _ = run_cli("trace", "if(x > 0, log(x), 0)", "-x", "-1")
    assert code == 0
    row = next(line for line in out.splitlines() if "log(x)" in line and "log " in line)
    assert "not taken" in row and "nan" not in out


def test_explain_skips_what_was_not_taken(run_cli) -> None:
    code, out, _ = run_cli("eval", "if(x > 0, log(x), 0)", "-x", "-1", "--explain")
    assert code == 0
    assert "n3 = log(x): not evaluated (a branch of if not taken)" in out
    assert "∂f/∂x = ∂f/∂n2 · ∂n2/∂x = (0)·(0) = 0" in out
    assert "nan" not in out


@pytest.mark.parametrize("fmt", ["dot", "mermaid", "tree"])
def test_pictures_grey_out_the_branch_not_taken(run_cli, fmt: str) -> None:
    code, out, _ = run_cli("graph", "if(x > 0, log(x), 0)", "-x", "-1", "--format", fmt)
    assert code == 0
    assert "nan" not in out
    if fmt == "dot":
        assert 'n3 [label=<log>, shape=circle, margin=0.04, style=dashed, color="#999999"' in out
        assert 'n0 -> n3 [style=dashed, color="#999999"];' in out
        assert 'n3 -> n4 [style=dashed, color="#999999"];' in out
    elif fmt == "mermaid":
        assert "n0 -.-> n3" in out and "class n3 skipped" in out
    else:
        assert "log(x)  log  not taken" in out


def test_check_and_descend_work_through_an_if(run_cli) -> None:
    code, out, _ = run_cli("check", "if(x > 0, x^2, -x)", "-x", "1.5", "--json")
    assert code == 0, out
    code, out, _ = run_cli(
        "descend", "if(x > 1, (x - 3)^2, 4 - x)", "-x", "0", "--lr", "0.4", "--steps", "100", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["inputs"]["x"] == pytest.approx(3.0, abs=1e-3)


@given(st.floats(-5, 5, allow_nan=False), st.floats(-5, 5, allow_nan=False))
def test_if_equals_the_branch_it_picks(x: float, y: float) -> None:
    guarded = gradcli.evaluate("if(x - y, sin(x) * y, exp(y) - x)", x=x, y=y)
    picked = "sin(x) * y" if x - y != 0 else "exp(y) - x"
    plain = gradcli.evaluate(f"{picked} + 0 * (x + y)", x=x, y=y)
    assert guarded.value == plain.value
    assert guarded.gradient == plain.gradient


def test_a_hundred_thousand_nested_ifs_need_no_recursion() -> None:
    import numpy as np

    from gradcli.batch import evaluate_arrays

    depth = 100_000
    source = "if(x > 0, " * depth + "log(x)" + ", 0)" * depth
    graph = gradcli.compile(source)
    below = gradcli.run(graph, {"x": -1})
    assert below.gradient == {"x": 0.0}
    nodes = below.to_json(nodes=True)["nodes"]  # trace --json
    assert sum(not n["evaluated"] for n in nodes) == depth  # log(x) and every inner if
    result = gradcli.run(graph, {"x": 2})
    assert (result.value, result.gradient) == (math.log(2), {"x": 0.5})
    arrays = evaluate_arrays(graph, {"x": np.array([-1.0, 2.0])})  # batch: the same, row by row
    assert arrays.value.tolist() == [0.0, math.log(2)] and arrays.gradient["x"].tolist() == [0.0, 0.5]


def test_a_long_chain_of_guarded_statements_needs_no_recursion() -> None:
    lines = ["q0 = x"] + [f"q{i} = if(q{i - 1} > 1000, q{i - 1} - 1, q{i - 1} + 1)" for i in range(1, 20_000)]
    result = gradcli.evaluate("\n".join(lines), x=0)
    assert result.value == 1000.0 or result.value == 1001.0
    assert result.gradient == {"x": 1.0}


def test_if_is_the_ops_table_row() -> None:
    assert FUNCTIONS["if"] == {3: IF}
    assert IF.params == ("c", "a", "b")


# --- batch: each row its own branch, vectorised with masks ---------------------------------

BATCH_PROGRAMS = [
    "if(x > 0, log(x), 0)",
    "q = exp(x); if(x > 0, sqrt(x - 1), q) + if(x, 1/x, 0)",
    "if(if(x > 0, y, 0), log(x) * y, asin(y / 4)) + if(y >= 1, x, y)",
    "if(1, x * y, log(-1))",  # a constant condition: the other side is never computed
    "if(0, log(-1), x) + if(x < y, max(x, y, 0), clip(x, -1, 1))",
    "if(x > 0, log(-1), x)",  # a constant branch that fails, on the rows that take it only
    "d = x - y; if(abs(d) <= 1, d^2/2, abs(d) - 1/2)",
    "if(x > 0, if(y > 0, x * y, x), if(y > 0, y, 1/(x - y)))",
    "if(x > y, x, x) + if(y, y, y) + if(x < 100, x, x)",  # one node on both sides
]
GRID = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 3.0]


def _grid_columns():
    import numpy as np

    xs = np.array([x for x in GRID for _ in GRID])
    ys = np.array([y for _ in GRID for y in GRID])
    return xs, ys


@pytest.mark.parametrize("source", BATCH_PROGRAMS)
def test_batch_gives_what_eval_gives_row_by_row(source: str) -> None:
    from gradcli.batch import evaluate_arrays

    xs, ys = _grid_columns()
    graph = gradcli.compile(source)
    columns = {name: {"x": xs, "y": ys}[name] for name in graph.inputs}
    arrays = evaluate_arrays(graph, columns)
    for r in range(len(xs)):
        point = {name: float(col[r]) for name, col in columns.items()}
        try:
            one = gradcli.evaluate(source, point)
        except GradError as err:
            assert r in arrays.errors, (point, err.message)
            assert (arrays.errors[r].kind, arrays.errors[r].message) == (err.kind, err.message)
            continue
        assert r not in arrays.errors, (point, arrays.errors[r].message)
        assert arrays.value[r] == pytest.approx(one.value, rel=1e-14, abs=1e-300), point
        for name in columns:
            want = pytest.approx(one.gradient[name], rel=1e-14, abs=1e-300)
            assert arrays.gradient[name][r] == want, (point, name)


def _recording(monkeypatch, name: str, arity: int) -> list[list[float]]:
    op = FUNCTIONS[name][arity]
    seen: list[list[float]] = []
    real = op.vforward

    def recorded(np, *args):
        seen.append([float(v) for v in np.atleast_1d(args[0])])
        return real(np, *args)

    monkeypatch.setattr(op, "vforward", recorded)
    return seen


def test_batch_never_evaluates_a_branch_on_the_rows_that_do_not_take_it(monkeypatch, run_cli) -> None:
    seen = _recording(monkeypatch, "log", 1)
    code, out, err = run_cli("eval", "if(x > 0, log(x), 0)", "--grid", "x=-2:2:401")
    assert code == 0 and err == ""
    assert "error" not in out
    assert seen and all(v > 0 for chunk in seen for v in chunk)
    assert sum(len(chunk) for chunk in seen) == 200


def test_batch_evaluates_a_node_both_branches_share_once_per_row(monkeypatch) -> None:
    import numpy as np

    from gradcli.batch import evaluate_arrays

    seen = _recording(monkeypatch, "exp", 1)
    xs = np.linspace(-3, 3, 1001)
    graph = gradcli.compile("q = exp(x); if(x > 0, q, q + 1) * q")
    arrays = evaluate_arrays(graph, {"x": xs})
    assert sum(len(chunk) for chunk in seen) == len(xs)
    e = np.exp(xs)
    assert np.allclose(arrays.value, np.where(xs > 0, e, e + 1) * e, rtol=1e-15)


def test_batch_with_branches_raises_no_numpy_warning() -> None:
    import warnings

    import numpy as np

    from gradcli.batch import evaluate_arrays

    graph = gradcli.compile("if(x > 0, log(x) + sqrt(x) + 1/x, if(x < -1, acosh(-x), exp(1000 * x)))")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arrays = evaluate_arrays(graph, {"x": np.linspace(-3, 3, 60_001)})
    assert not arrays.errors


def test_batch_rows_failing_in_their_own_branch_report_the_eval_error(run_cli) -> None:
    code, out, _ = run_cli("eval", "if(x > 0, log(x - 1), 0)", "--grid", "x=-1:1:3")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["value"] == 0.0 and records[1]["value"] == 0.0
    assert records[2] == {  # rows are counted from 1
        "row": 3, "error": {"kind": "domain", "message": "log(0) is outside the domain of log(x) (x > 0)",
                            "pass": "forward", "node": 5, "span": [10, 20]},
    }


def test_batch_over_many_chunks_with_branches_matches_numpy() -> None:
    import numpy as np

    from gradcli.batch import evaluate_arrays

    xs = np.linspace(-5, 5, 200_001)
    graph = gradcli.compile("if(x > 0, log(x), x^2)")
    arrays = evaluate_arrays(graph, {"x": xs})
    assert not arrays.errors
    with np.errstate(all="ignore"):
        assert np.array_equal(arrays.value, np.where(xs > 0, np.log(xs), xs * xs))
        assert np.allclose(arrays.gradient["x"], np.where(xs > 0, 1 / xs, 2 * xs), rtol=1e-15)
