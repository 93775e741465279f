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
    named = result.graph.names.get(result.output) if result.output is not None else None
    root = len(result.nodes) - 1 if named is None else named
    for node in result.nodes:
        if node.id == root:  # the output's gradient is the seed, 1
            continue
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


# One of several outputs (--output a,b): its edges are the wires on a path to it.


def _wires(result: gradcli.Result) -> list[tuple[str, int, str, float | None, float | None, float | None]]:
    """A result's edges by its nodes' labels (ids differ between graphs), sorted."""
    label = {n.id: n.label for n in result.nodes}
    return sorted(
        ((label[e.consumer], e.position, label[e.input], e.upstream, e.local, e.contribution)
         for e in edges(result)),
        key=repr,
    )


def _close(one: list, other: list) -> bool:
    def same(p: object, q: object) -> bool:
        if isinstance(p, float) and isinstance(q, float):
            return abs(p - q) <= 1e-12 * max(abs(p), abs(q), 1.0)
        return p == q

    return len(one) == len(other) and all(
        all(same(p, q) for p, q in zip(a, b, strict=True)) for a, b in zip(one, other, strict=True)
    )


def test_one_of_several_outputs_lists_only_the_wires_to_it() -> None:
    j = gradcli.jacobian("a = x*y; b = x + z; c = sin(z)", outputs="a,b", x=2, y=3, z=1)
    a, b = j.results
    assert _wires(a) == [("a", 0, "x", 1.0, 3.0, 3.0), ("a", 1, "y", 1.0, 2.0, 2.0)]
    assert _wires(b) == [("b", 0, "x", 1.0, 1.0, 1.0), ("b", 1, "z", 1.0, 1.0, 1.0)]
    assert [e.consumer for e in b.trace().edges] == [4, 4]  # the shared graph's ids, as its nodes


@given(programs(), programs(), points())
def test_each_outputs_edges_are_those_of_that_output_alone(
    first: str, second: str, point: dict[str, float]
) -> None:
    source = f"s = a * b\nu = ({first}) * c + s\nv = ({second}) - s * a"
    j = gradcli.jacobian(source, outputs="u,v", **point)
    for name, result in zip(j.outputs, j.results, strict=True):
        graph = gradcli.compile(source, output=name)
        alone = gradcli.run(graph, {k: v for k, v in point.items() if k in graph.inputs})
        assert _close(_wires(result), _wires(alone)), name
        _sums_match(result)


def test_trace_json_of_several_outputs_has_the_first_outputs_edges(run_cli) -> None:
    args = ("a = x*y; b = x + z", "-x", "2", "-y", "3", "-z", "1")
    code, out, _ = run_cli("trace", *args, "--output", "a,b", "--json")
    assert code == 0
    doc = json.loads(out)
    consumers = {doc["nodes"][e["consumer"]]["label"] for e in doc["edges"]}
    assert consumers == {"a"}  # b's wires carry 0 toward a: not listed
    code, out, _ = run_cli("trace", *args, "--output", "b,a", "--json")
    doc = json.loads(out)
    assert {doc["nodes"][e["consumer"]]["label"] for e in doc["edges"]} == {"b"}
