"""Several outputs (``--output a,b``): one gradient per output, the rows of the
Jacobian, from one forward pass and one reverse pass per output."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradcli
from gradcli.errors import GradError

SOURCE = "q = x*y; a = q + z; b = sin(x) * z; c = w"


def test_each_row_is_the_gradient_of_that_output_alone() -> None:
    j = gradcli.jacobian(SOURCE, outputs=["b", "a"], x=0.5, y=3, z=-2, w=1)
    assert j.outputs == ["b", "a"]
    for name in ("b", "a"):
        alone = gradcli.evaluate(SOURCE, output=name, x=0.5, y=3, z=-2, w=1)
        assert j.values[name] == alone.value
        assert j.jacobian[name] == {k: alone.gradient.get(k, 0.0) for k in ("x", "y", "z", "w")}
    assert list(j.jacobian) == ["b", "a"]


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3))
def test_rows_agree_with_one_output_at_a_time(x: float, y: float, z: float) -> None:
    source = "u = x*y + exp(z); v = u*u - tanh(x); w = max(v, z)"
    j = gradcli.jacobian(source, outputs="w,u,v", x=x, y=y, z=z)
    for name in ("w", "u", "v"):
        alone = gradcli.evaluate(source, output=name, x=x, y=y, z=z)
        assert j.values[name] == alone.value
        for k, g in j.jacobian[name].items():
            assert g == alone.gradient.get(k, 0.0)


def test_eval_json_keeps_value_and_gradient_of_the_first_output(run_cli) -> None:
    code, out, _ = run_cli("eval", "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", "b,a", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["output"] == "b"
    assert obj["value"] == 5.0
    assert obj["gradient"] == {"x": 1.0, "y": 1.0}
    assert obj["values"] == {"b": 5.0, "a": 6.0}
    assert list(obj["jacobian"]) == ["b", "a"]
    assert obj["jacobian"]["a"] == {"x": 3.0, "y": 2.0}


def test_eval_json_with_wrt_reports_those_names_in_every_row(run_cli) -> None:
    code, out, _ = run_cli("eval", "q = x*y; a = q + 1; b = q*x", "-x", "2", "-y", "3",
                           "--output", "a,b", "--wrt", "q,x", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["jacobian"] == {"a": {"q": 1.0, "x": 3.0}, "b": {"q": 2.0, "x": 12.0}}


def test_eval_table_has_a_gradient_column_per_output(run_cli) -> None:
    code, out, _ = run_cli("eval", "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", "a,b")
    assert code == 0
    assert "| name       | value | ∂a/∂name | ∂b/∂name |" in out
    assert "| a (output) |     6 |          |          |" in out
    assert "| x          |     2 |        3 |        1 |" in out


def test_trace_shows_a_gradient_column_per_output_and_json_grads(run_cli) -> None:
    code, out, _ = run_cli("trace", "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", "a,b")
    assert code == 0
    assert "∂a/∂node | ∂b/∂node" in out
    code, out, _ = run_cli("trace", "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", "a,b", "--json")
    nodes = json.loads(out)["nodes"]
    x = nodes[0]
    assert x["label"] == "x" and x["grad"] == 3.0 and x["grads"] == {"a": 3.0, "b": 1.0}
    b = next(n for n in nodes if n["label"] == "b")
    assert b["grads"] == {"a": 0.0, "b": 1.0}  # a does not depend on b


def test_an_input_no_output_uses_is_unused(run_cli) -> None:
    code, out, _ = run_cli("eval", SOURCE, "-x", "1", "-y", "2", "-z", "3", "-w", "4",
                           "--output", "a,b", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["unused"] == ["w"]
    assert obj["jacobian"]["a"]["w"] == 0.0


def test_a_statement_no_output_needs_is_not_evaluated(run_cli) -> None:
    code, out, _ = run_cli("eval", "a = x + 1; bad = log(-x); b = x*x", "-x", "2",
                           "--output", "a,b", "--json")
    assert code == 0, out
    assert json.loads(out)["values"] == {"a": 3.0, "b": 4.0}


def test_outputs_inside_a_lazy_if_are_evaluated_when_asked_for() -> None:
    # `a` feeds only the branch not taken of `b`; asked for itself, it is evaluated.
    j = gradcli.jacobian("a = x*x; b = if(x > 0, a, 0 - x)", outputs="b,a", x=-2)
    assert j.values == {"b": 2.0, "a": 4.0}
    assert j.jacobian == {"b": {"x": -1.0}, "a": {"x": -4.0}}


def test_a_math_error_in_an_output_is_exit_1_with_a_caret(run_cli) -> None:
    code, _, err = run_cli("eval", "a = x + 1; b = log(x)", "-x", "-1", "--output", "a,b")
    assert code == 1
    assert err.startswith("error:") and "^" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("a,c", "--output c: no statement assigns c"),
        ("a,,b", "give statement names separated by commas"),
        ("a,a", "a is given twice"),
        (",", "give statement names separated by commas"),
    ],
)
def test_bad_output_lists_are_usage_errors(run_cli, outputs: str, message: str) -> None:
    code, _, err = run_cli("eval", "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", outputs)
    assert code == 2
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("eval", "--explain"), "--explain"),
        (("eval", "--exact"), "--exact"),
        (("eval", "--sigma", "x=0.1"), "--sigma"),
        (("eval", "--grid", "x=0:1:3"), "--grid"),
        (("eval", "--batch", "-"), "--batch"),
        (("eval", "--format", "latex"), "--format"),
        (("trace", "--edges"), "--edges"),
        (("trace", "--blank"), "--blank"),
        (("trace", "--format", "latex"), "--format latex"),
    ],
)
def test_options_for_one_output_are_refused_with_several(run_cli, args: tuple[str, ...], named: str) -> None:
    command, *rest = args
    code, out, err = run_cli(command, "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", "a,b", *rest)
    assert code == 2
    assert named in err and "several" in err
    assert out == ""


@pytest.mark.parametrize("command", ["check", "descend", "graph"])
def test_commands_of_one_output_say_so_for_a_list(run_cli, command: str) -> None:
    code, _, err = run_cli(command, "a = x*y; b = x + y", "-x", "2", "-y", "3", "--output", "a,b")
    assert code == 2
    assert "give one statement name here" in err


def test_the_api_refuses_a_bad_list_with_a_grad_error() -> None:
    with pytest.raises(GradError) as info:
        gradcli.jacobian("a = x; b = 2*x", outputs=[], x=1)
    assert info.value.kind == "usage"
