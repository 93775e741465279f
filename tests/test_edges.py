"""Edges: one per (consumer, input position), and the contributions into a node add
up to its gradient."""

from __future__ import annotations

import json
import math

from hypothesis import given
from strategies import points, programs

import gradcli
from gradcli.edges import edges


def _sums_match(result: gradcli.Result) -> None:
    into: dict[int, list[float]] = {}
    for edge in result.to_json(nodes=True)["edges"]:
        if edge["contribution"] is not None:
            into.setdefault(edge["input"], []).append(edge["contribution"])
    for node in result.nodes[:-1]:  # the output's gradient is the seed, 1
        if node.grad is None:
            assert node.id not in into
            continue
        parts = into.get(node.id, [])
        scale = math.fsum(abs(p) for p in parts)
        assert abs(math.fsum(parts) - node.grad) <= 1e-12 * max(scale, abs(node.grad)), (node, parts)


@given(programs(), points())
def test_the_contributions_into_every_node_sum_to_its_gradient(source: str, point: dict[str, float]) -> None:
    program = f"out = {source}\nz = out + a*b*c"  # `out` is used by z, and a, b, c once or more
    _sums_match(gradcli.evaluate(program, point))


@given(programs(), points())
def test_the_sum_property_holds_with_comparisons_if_and_nary_calls(
    source: str, point: dict[str, float]
) -> None:
    program = f"u = {source}\nif(u > a, max(u, a, b) * u, sum(u, u, c))"
    _sums_match(gradcli.evaluate(program, point))


def test_a_node_used_twice_has_two_edges_of_3_at_x_3() -> None:
    result = gradcli.evaluate("x*x", x=3)
    doc = result.to_json(nodes=True)
    assert doc["edges"] == [
        {"consumer": 1, "input": 0, "position": 0, "upstream": 1.0, "local": 3.0, "contribution": 3.0},
        {"consumer": 1, "input": 0, "position": 1, "upstream": 1.0, "local": 3.0, "contribution": 3.0},
    ]
    assert [e.contribution for e in edges(result)] == [3.0, 3.0]


def test_an_edge_from_a_constant_has_null_local_and_contribution() -> None:
    doc = gradcli.evaluate("2*x", x=3).to_json(nodes=True)
    assert doc["edges"][0] == {
        "consumer": 2, "input": 0, "position": 0, "upstream": 1.0, "local": None, "contribution": None,
    }


def test_trace_json_has_edges_and_eval_json_has_none(run_cli) -> None:
    code, out, _ = run_cli("trace", "x*x + 2*x", "-x", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    from_x = [e["contribution"] for e in doc["edges"] if e["input"] == 0]
    assert from_x == [3.0, 3.0, 2.0]
    code, out, _ = run_cli("eval", "x*x", "-x", "3", "--json")
    assert "edges" not in json.loads(out)


def test_trace_edges_shows_each_contribution_and_their_sum(run_cli) -> None:
    code, out, err = run_cli("trace", "x*x", "-x", "3", "--edges")
    assert (code, err) == (0, "")
    row = next(line for line in out.splitlines() if line.startswith("|  0 "))
    assert "3 (via 1) + 3 (via 1)" in row
    assert [cell.strip() for cell in row.split("|")][-3:-1] == ["6", "6"]
