"""The graph: a DAG in topological order, shared nodes, names, pruning."""

from __future__ import annotations

import pytest

import gradcli
from gradcli.errors import GradError


def ops(source: str, output: str | None = None) -> list[str]:
    return [n.op_name for n in gradcli.compile(source, output).nodes]


def test_identical_subexpressions_are_one_node() -> None:
    graph = gradcli.compile("(x+y)*(x+y)")
    assert [n.op_name for n in graph.nodes] == ["var", "var", "add", "mul"]
    assert graph.nodes[-1].inputs == (2, 2)


def test_every_name_is_one_node_however_often_it_is_used() -> None:
    graph = gradcli.compile("x*x + x")
    assert [n.op_name for n in graph.nodes].count("var") == 1


def test_different_operations_on_the_same_inputs_stay_apart() -> None:
    assert ops("(x+y)*(x-y)") == ["var", "var", "add", "sub", "mul"]


def test_operand_order_matters_for_sharing() -> None:
    assert ops("(x-y)*(y-x)").count("sub") == 2


def test_nodes_come_after_their_inputs_and_the_output_is_last() -> None:
    graph = gradcli.compile("a = x*y; b = a + x; c = b * a + sin(b)")
    for node in graph.nodes:
        assert all(i < node.id for i in node.inputs)
    assert graph.nodes[-1].names == ["c"]
    assert [n.id for n in graph.nodes] == list(range(len(graph.nodes)))


def test_inputs_keep_the_order_of_first_appearance() -> None:
    graph = gradcli.compile("q = z * y; q + x + z")
    assert list(graph.inputs) == ["z", "y", "x"]


def test_only_what_the_output_depends_on_is_kept() -> None:
    graph = gradcli.compile("a = log(x); b = y * 2; b", None)
    assert [n.op_name for n in graph.nodes] == ["var", "const", "mul"]
    assert graph.inputs == {"x": None, "y": 0}
    # the dead statement is not evaluated: log(-1) raises no error
    r = gradcli.run(graph, {"x": -1, "y": 3})
    assert r.value == 6.0
    assert r.gradient == {"x": 0.0, "y": 2.0}


def test_output_picks_a_named_statement_and_drops_what_follows() -> None:
    graph = gradcli.compile("q = x + y; f = log(q)", "q")
    assert [n.op_name for n in graph.nodes] == ["var", "var", "add"]
    assert gradcli.run(graph, {"x": -3, "y": 1}).value == -2.0


def test_a_statement_that_names_a_shared_node_names_that_node() -> None:
    graph = gradcli.compile("a = x + y; b = x + y; a * b")
    add = graph.nodes[2]
    assert add.names == ["a", "b"]
    assert graph.names == {"a": 2, "b": 2}


def test_labels_name_named_nodes_and_render_the_rest() -> None:
    graph = gradcli.compile("q = x + y; f = q * (z - 2)^2 / -w")
    labels = graph.labels()
    assert labels[:3] == ["x", "y", "q"]
    assert labels[-1] == "f"
    assert "q * (z - 2)^2" in labels


def test_labels_are_cut_short_for_long_subexpressions() -> None:
    graph = gradcli.compile("+".join(f"x{i}" for i in range(50)))
    assert all(len(label) <= 40 for label in graph.labels())
    assert graph.labels()[-1].endswith("…")


def test_labels_keep_the_parentheses_that_matter() -> None:
    labels = gradcli.compile("a - (b - c)").labels()
    assert labels[-1] == "a - (b - c)"
    assert gradcli.compile("(a^b)^c").labels()[-1] == "(a^b)^c"
    assert gradcli.compile("a^b^c").labels()[-1] == "a^b^c"


def test_consumers_list_every_use() -> None:
    graph = gradcli.compile("x*x + x")
    assert graph.consumers()[0] == [1, 1, 2]


@pytest.mark.parametrize(
    ("source", "kind", "fragment"),
    [
        ("q = 1; q = 2; q", "name", "q is assigned twice"),
        ("f = q * 2; q = 1; f", "name", "q is used before the statement that assigns it"),
        ("x = x + 1", "name", "x is used before"),
        ("pi = 3", "name", "pi is a constant and cannot be assigned"),
        ("sin = 3", "name", "sin is a function and cannot be assigned"),
        ("sin + 1", "name", "sin is a function: call it as sin(...)"),
        ("sinn(x)", "name", "did you mean sin"),
        ("x + x(2)", "name", "x is not a function"),
        ("sin(x, y)", "arity", "sin takes 1 argument, not 2"),
        ("max(x)", "arity", "max takes 2 or more arguments, not 1"),
        ("log(x, 2, 3)", "arity", "log takes 1 or 2 arguments, not 3"),
    ],
)
def test_naming_mistakes_are_errors_with_a_place(source: str, kind: str, fragment: str) -> None:
    with pytest.raises(GradError) as info:
        gradcli.compile(source)
    assert info.value.kind == kind
    assert fragment in info.value.message
    assert info.value.span is not None


def test_output_must_name_a_statement() -> None:
    with pytest.raises(GradError) as info:
        gradcli.compile("q = x; q + 1", "r")
    assert info.value.kind == "usage"
    assert "no statement assigns r" in info.value.message
