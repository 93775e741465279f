"""Provenance: every math error names the pass and the node where it was born, with
the caret under that node; batch error records carry the same."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import programs

import gradcli
from gradcli.errors import ExitStatus, GradError


def _error(source: str, **point: float) -> GradError:
    with pytest.raises(GradError) as info:
        gradcli.evaluate(source, **point)
    return info.value


@pytest.mark.parametrize(
    ("source", "point", "stage", "label"),
    [
        ("y = log(x - 3); y * 2", {"x": 1}, "forward", "y"),
        ("1/x + x", {"x": 0}, "forward", "1 / x"),
        ("exp(x)*exp(x)", {"x": 400}, "forward", "exp(x) * exp(x)"),
        ("sqrt(x)", {"x": 0}, "backward toward x", "sqrt(x)"),
        ("q = x*2; sqrt(q) + 1", {"x": 0}, "backward toward q", "sqrt(q)"),
        ("x^y", {"x": -2, "y": 2}, "backward toward y", "x^y"),
        ("x*1e308 + 1e308*x", {"x": 0}, "backward toward x", "x"),
        ("if(x > 0, log(x - 1), 0)", {"x": 1}, "forward", "log(x - 1)"),
    ],
)
def test_a_math_error_names_its_pass_and_the_trace_id_of_its_node(
    source: str, point: dict[str, float], stage: str, label: str
) -> None:
    err = _error(source, **point)
    assert err.stage == stage
    graph = gradcli.compile(source)
    assert graph.labels()[err.node] == label  # the id trace shows for that node
    assert err.span == graph.nodes[err.node].span
    assert err.to_json()["pass"] == stage
    assert err.to_json()["span"] == list(err.span)


def test_the_error_line_says_where_under_the_caret(run_cli) -> None:
    code, out, err = run_cli("eval", "q = x*2; sqrt(q) + 1", "-x", "0")
    assert (code, out) == (1, "")
    assert err == (
        "error: undefined gradient of sqrt(0): sqrt'(0) is infinite\n"
        "  q = x*2; sqrt(q) + 1\n"
        "           ^^^^^^^\n"
        "  in the backward pass toward q, at node 3\n"
    )


def test_usage_errors_have_no_pass() -> None:
    err = _error("sni(x)", x=1)
    assert err.stage is None and "pass" not in err.to_json()


_RISKY = st.sampled_from([0.0, -1.0, 1.0, -0.0, 1e-320, 710.0, -710.0, 1e308, -1e308, 2.0])
_WRAPS = ("log({})", "sqrt({})", "1/({})", "asin({})", "({})^0.5", "exp(exp({}))", "acosh({})", "({})^({})")


@given(programs(max_depth=3), st.sampled_from(_WRAPS), st.fixed_dictionaries({v: _RISKY for v in "abc"}))
def test_every_math_error_has_a_pass_and_a_node_whose_span_is_the_caret(
    body: str, wrap: str, point: dict[str, float]
) -> None:
    source = f"out = {wrap.format(body, body)} + a*b*c"
    try:
        gradcli.evaluate(source, point)
    except GradError as err:
        assert err.exit_code == ExitStatus.MATH
        assert err.stage == "forward" or (err.stage or "").startswith("backward toward ")
        node = gradcli.compile(source).nodes[err.node]
        assert err.span == node.span


def test_batch_error_records_carry_pass_node_and_span(run_cli) -> None:
    code, out, _ = run_cli("eval", "sqrt(x) * y", "--grid", "x=0:1:2", "-y", "1")
    assert code == 1
    first = json.loads(out.splitlines()[0])
    assert first == {"row": 1, "error": {
        "kind": "gradient", "message": "undefined gradient of sqrt(0): sqrt'(0) is infinite",
        "pass": "backward toward x", "node": 1, "span": [0, 7],
    }}


def test_a_descent_that_walks_into_an_error_keeps_its_provenance(run_cli) -> None:
    code, out, _ = run_cli("descend", "sqrt(x)", "-x", "1", "--lr", "10", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert (error["pass"], error["node"], error["span"]) == ("forward", 1, [0, 7])
