"""Reverse mode: the seed examples, fan-out, kinks, what is not computed,
and the chain rule checked against finite differences on random programs."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from strategies import points, programs

import gradcli
from gradcli.errors import GradError

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
NEURON_POINT = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}


def test_the_first_seed_example_gives_df_dz_5_not_3() -> None:
    r = gradcli.evaluate("(x+y)*z", x=2, y=3, z=-4)
    assert r.value == -20.0
    assert r.gradient == {"x": -4.0, "y": -4.0, "z": 5.0}


def test_the_named_form_gives_the_same_numbers_per_node() -> None:
    r = gradcli.evaluate("q = x + y; f = q * z", x=2, y=3, z=-4)
    rows = [(n.label, n.op, n.value, n.local_grads, n.grad) for n in r.nodes]
    assert rows == [
        ("x", "var", 2.0, [], -4.0),
        ("y", "var", 3.0, [], -4.0),
        ("q", "add", 5.0, [1.0, 1.0], -4.0),
        ("z", "var", -4.0, [], 5.0),
        ("f", "mul", -20.0, [-4.0, 5.0], 1.0),
    ]


def test_the_sigmoid_neuron_matches_the_seed_tutorial() -> None:
    r = gradcli.evaluate(NEURON, NEURON_POINT)
    assert round(r.value, 4) == 0.7311
    assert {k: round(v, 4) for k, v in r.gradient.items()} == {
        "w0": -0.1966, "x0": 0.3932, "w1": -0.3932, "x1": -0.5898, "w2": 0.1966,
    }


def test_the_sigmoid_neuron_trace_matches_the_circuit_diagram() -> None:
    # The circuit of the seed: w0*x0 = -2, w1*x1 = 6, sum 4, +w2 = 1, *-1 = -1,
    # exp = 0.37, +1 = 1.37, 1/x = 0.73; gradients back: 1, -0.53, -0.53, -0.2, 0.2 ...
    r = gradcli.evaluate(NEURON, NEURON_POINT)
    by_op = [(n.op, round(n.value, 2), None if n.grad is None else round(n.grad, 2)) for n in r.nodes]
    assert by_op == [
        ("const", 1.0, None),
        ("var", 2.0, -0.2), ("var", -1.0, 0.39), ("mul", -2.0, 0.2),
        ("var", -3.0, -0.39), ("var", -2.0, -0.59), ("mul", 6.0, 0.2),
        ("add", 4.0, 0.2), ("var", -3.0, 0.2), ("add", 1.0, 0.2),
        ("neg", -1.0, -0.2), ("exp", 0.37, -0.53), ("add", 1.37, -0.53), ("div", 0.73, 1.0),
    ]


def test_the_sigmoid_function_gives_the_same_gradient_as_the_circuit() -> None:
    circuit = gradcli.evaluate(NEURON, NEURON_POINT)
    compact = gradcli.evaluate("sigmoid(w0*x0+w1*x1+w2)", NEURON_POINT)
    assert compact.value == pytest.approx(circuit.value, rel=1e-15)
    for name, grad in circuit.gradient.items():
        assert compact.gradient[name] == pytest.approx(grad, rel=1e-12)


def test_a_node_used_twice_sums_both_contributions() -> None:
    assert gradcli.evaluate("x*x", x=3).gradient == {"x": 6.0}
    assert gradcli.evaluate("q = x + 1; q * q + q", x=2).gradient == {"x": 7.0}


def test_a_shared_subexpression_gets_the_gradient_of_every_use() -> None:
    r = gradcli.evaluate("(x+y)*(x+y)", x=1, y=2)
    assert r.gradient == {"x": 6.0, "y": 6.0}
    assert [n.grad for n in r.nodes if n.op == "add"] == [6.0]


def test_no_local_gradient_is_computed_toward_constants() -> None:
    r = gradcli.evaluate("x^2", x=-3)  # ∂(x^2)/∂2 would need ln(-3)
    assert (r.value, r.gradient) == (9.0, {"x": -6.0})
    assert r.nodes[-1].local_grads == [-6.0, None]
    assert r.nodes[1].grad is None  # the constant 2


@pytest.mark.parametrize(
    ("source", "point", "gradient"),
    [
        ("abs(x)", {"x": 0}, {"x": 0.0}),
        ("relu(x)", {"x": 0}, {"x": 0.0}),
        ("relu(x)", {"x": 2}, {"x": 1.0}),
        ("sign(x)", {"x": 3}, {"x": 0.0}),
        ("max(x, y)", {"x": 1, "y": 1}, {"x": 0.5, "y": 0.5}),
        ("min(x, y)", {"x": 1, "y": 1}, {"x": 0.5, "y": 0.5}),
        ("max(x, y)", {"x": 2, "y": 1}, {"x": 1.0, "y": 0.0}),
        ("min(x, y)", {"x": 2, "y": 1}, {"x": 0.0, "y": 1.0}),
        ("max(x, x)", {"x": 1}, {"x": 1.0}),
        ("hypot(x, y)", {"x": 0, "y": 0}, {"x": 0.0, "y": 0.0}),
        ("x^0", {"x": 0}, {"x": 0.0}),
        ("0*sqrt(x)", {"x": 0}, {"x": 0.0}),
    ],
)
def test_kinks_follow_the_conventions(
    source: str, point: dict[str, float], gradient: dict[str, float]
) -> None:
    assert gradcli.evaluate(source, point).gradient == gradient


def test_wrt_reports_inputs_and_named_intermediates_in_the_order_given() -> None:
    r = gradcli.evaluate("q = x + y; f = q * z", x=2, y=3, z=-4, wrt=["z", "q"])
    assert list(r.gradient.items()) == [("z", 5.0), ("q", -4.0)]


def test_wrt_a_constant_named_value_is_still_computed() -> None:
    r = gradcli.evaluate("k = 2 * 3; r = k * 2; r * x", x=5, wrt=["k", "x"])
    assert r.gradient == {"k": 10.0, "x": 12.0}


def test_wrt_an_unknown_name_is_a_usage_error() -> None:
    with pytest.raises(GradError) as info:
        gradcli.evaluate("x * y", x=1, y=2, wrt=["z"])
    assert info.value.kind == "usage"
    assert "x, y" in info.value.message


def test_bindings_may_be_constant_expressions() -> None:
    r = gradcli.evaluate("sin(x)", x="pi/2")
    assert r.inputs == {"x": math.pi / 2}
    assert r.value == 1.0


def test_bindings_go_in_a_mapping_when_a_name_is_taken_by_the_api() -> None:
    r = gradcli.evaluate("output * wrt", {"output": 2, "wrt": 3})
    assert r.gradient == {"output": 3.0, "wrt": 2.0}


def test_a_variable_the_output_does_not_use_has_gradient_zero() -> None:
    assert gradcli.evaluate("a = y; x + 1", x=1, y=2).gradient == {"y": 0.0, "x": 1.0}


def test_a_compiled_graph_evaluates_at_many_points() -> None:
    graph = gradcli.compile("x^3")
    assert [gradcli.run(graph, {"x": v}).gradient["x"] for v in (1, 2, 3)] == [3.0, 12.0, 27.0]


def test_result_json_has_the_spec_shape_and_order() -> None:
    r = gradcli.evaluate("(x+y)*z", x=2, y=3, z=-4)
    assert r.to_json() == {
        "source": "(x+y)*z", "output": None, "value": -20.0,
        "inputs": {"x": 2.0, "y": 3.0, "z": -4.0},
        "gradient": {"x": -4.0, "y": -4.0, "z": 5.0},
    }
    assert list(r.to_json()) == ["source", "output", "value", "inputs", "gradient"]


def _central_difference(source: str, point: dict[str, float], name: str) -> float:
    h = 1e-6 * max(1.0, abs(point[name]))
    up = dict(point, **{name: point[name] + h})
    down = dict(point, **{name: point[name] - h})
    return (gradcli.evaluate(source, up).value - gradcli.evaluate(source, down).value) / (2 * h)


@given(programs(), points())
def test_reverse_mode_matches_finite_differences_on_random_programs(
    source: str, point: dict[str, float]
) -> None:
    graph = gradcli.compile(source)
    used = {name: point[name] for name in graph.inputs}
    result = gradcli.run(graph, used)
    for name, grad in result.gradient.items():
        numeric = _central_difference(source, used, name)
        assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-5), (source, used, name)


@given(programs(), points())
@example("(b + 2)*(tanh(b) - atan(b))", {"b": 0.062})  # two terms that almost cancel
def test_trace_invariants_hold_on_random_programs(source: str, point: dict[str, float]) -> None:
    graph = gradcli.compile(source)
    result = gradcli.run(graph, {name: point[name] for name in graph.inputs})
    nodes = result.nodes
    assert nodes[-1].grad == 1.0  # the seed
    consumers = graph.consumers()
    for node in nodes[:-1]:
        if node.grad is None:
            continue
        # each node's gradient is the sum over its consumers of consumer grad × local grad
        # (a sum of floats depends on its order: the bound is relative to the terms'
        # sizes, not to a total that may cancel to almost nothing)
        terms = []
        for c in set(consumers[node.id]):
            consumer = nodes[c]
            for k, i in enumerate(consumer.inputs):
                if i == node.id and consumer.grad:
                    terms.append(consumer.grad * consumer.local_grads[k])
        scale = sum(abs(t) for t in terms)
        assert abs(node.grad - math.fsum(terms)) <= 1e-12 * scale + 1e-300, source
        # the graph is topological
        assert all(i < node.id for i in node.inputs)
    # identical subexpressions are one node
    keys = [(n.op, n.inputs) for n in nodes if n.inputs]
    assert len(keys) == len(set(keys))


def test_a_gradient_not_asked_for_is_never_computed_so_it_cannot_fail_the_run() -> None:
    # sqrt'(0) is infinite, but with --wrt w nothing needs ∂f/∂x: the run succeeds.
    with pytest.raises(GradError, match=r"sqrt'\(0\)"):
        gradcli.evaluate("w*sqrt(x)", w=2, x=0)
    r = gradcli.evaluate("w*sqrt(x)", w=2, x=0, wrt=["w"])
    assert r.gradient == {"w": 0.0}
    assert r.grads[r.graph.inputs["x"]] is None  # toward x: not computed
    r = gradcli.evaluate("q = sqrt(x); f = w*q + log(y)", w=2, x=0, y=1, wrt=["q"])
    assert r.gradient == {"q": 2.0}


@given(programs(), points())
def test_asking_for_fewer_gradients_gives_the_same_numbers(source: str, point: dict[str, float]) -> None:
    graph = gradcli.compile(source)
    bound = {name: point[name] for name in graph.inputs}
    full = gradcli.run(graph, bound)
    for name in graph.inputs:
        assert gradcli.run(graph, bound, [name]).gradient == {name: full.gradient[name]}
