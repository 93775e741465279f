"""100,000 levels through every stage: nothing recurses on the depth of a program."""

from __future__ import annotations

import json
import math

import pytest

import gradcli

DEPTH = 100_000


def test_100000_nested_parentheses_go_through_eval(run_cli) -> None:
    source = "(" * DEPTH + "x" + ")" * DEPTH
    code, out, err = run_cli("eval", source, "-x", "3", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["gradient"] == {"x": 1.0}


def test_100000_nested_parentheses_go_through_trace_json(run_cli) -> None:
    source = "(" * DEPTH + "x + 1" + ")" * DEPTH + " * 2"
    code, out, _ = run_cli("trace", source, "-x", "3", "--json")
    assert code == 0
    assert json.loads(out)["value"] == 8.0


def test_a_100000_deep_tanh_chain_goes_through_eval_and_trace_json(run_cli) -> None:
    source = "tanh(" * DEPTH + "x" + ")" * DEPTH
    code, out, _ = run_cli("eval", source, "-x", "0.5", "--json")
    assert code == 0
    value, grad = math.tanh(0.5), 1 - math.tanh(0.5) ** 2
    for _ in range(DEPTH - 1):
        value, grad = math.tanh(value), grad * (1 - math.tanh(value) ** 2)
    data = json.loads(out)
    assert data["value"] == pytest.approx(value, rel=1e-12)
    assert data["gradient"]["x"] == pytest.approx(grad, rel=1e-9)

    code, out, _ = run_cli("trace", source, "-x", "0.5", "--json")
    assert code == 0
    nodes = json.loads(out)["nodes"]
    assert len(nodes) == DEPTH + 1
    assert nodes[-1]["grad"] == 1.0
    assert nodes[0]["grad"] == pytest.approx(grad, rel=1e-9)


def test_a_100000_deep_right_nested_sum_has_a_linear_graph() -> None:
    source = "1 + (" * DEPTH + "x" + ")" * DEPTH
    r = gradcli.evaluate(source, x=1)
    assert r.value == DEPTH + 1
    assert r.gradient == {"x": 1.0}


def test_100000_unary_minus_signs_in_a_row() -> None:
    r = gradcli.evaluate("-" * DEPTH + "x", x=2)
    assert (r.value, r.gradient) == (2.0, {"x": 1.0})


def test_deep_ast_nodes_have_shallow_reprs() -> None:
    program = gradcli.parse_program("(" * DEPTH + "x" + ")" * DEPTH + "+1")
    assert len(repr(program.statements[0])) < 100
    assert len(repr(program)) < 100


def test_deep_labels_are_built_without_recursion() -> None:
    graph = gradcli.compile("sin(" * DEPTH + "x" + ")" * DEPTH)
    labels = graph.labels()
    assert len(labels) == DEPTH + 1
    assert labels[-1].startswith("sin(sin(") and len(labels[-1]) <= 40
