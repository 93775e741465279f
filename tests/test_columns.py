"""A graph is stored as columns (gradcli/columns.py): the evaluator reads them, and
``graph.nodes`` is the same graph as objects, built on first use. `eval --json` of a
large program never builds a node object; the columns and the objects say the same
thing; a graph built from objects evaluates as the columns do; the sharing index
keeps sharing when it grows."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import points, programs

import gradcli
from gradcli import columns as storage
from gradcli.api import compile_program, run
from gradcli.cli import main
from gradcli.columns import Columns
from gradcli.errors import GradError
from gradcli.graph import Graph, lower
from gradcli.parse import parse

REPO = Path(__file__).resolve().parent.parent


def _bench(name: str, size: int):  # a bench.programs.Program
    sys.path.insert(0, str(REPO))
    try:
        import bench.programs as made
    finally:
        sys.path.remove(str(REPO))
    return getattr(made, name)(size)


def _node_dump(graph: Graph) -> list[tuple[object, ...]]:
    return [(n.id, n.kind, n.op, n.inputs, n.name, n.value, n.names, n.span) for n in graph.nodes]


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the node objects made from here on, in order."""
    ids: list[int] = []
    init = storage.Node.__init__

    def counted(self: storage.Node, id: int, *args: object, **kwargs: object) -> None:
        ids.append(id)
        init(self, id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage.Node, "__init__", counted)
    return ids


@pytest.mark.parametrize(("workload", "size"), [("wide", 20_000), ("shared", 3_000)])
def test_eval_json_of_a_large_program_makes_no_node_object(
    workload: str, size: int, tmp_path: Path, made: list[int]
) -> None:
    program = _bench(workload, size)
    path = tmp_path / "program.txt"
    path.write_text(program.source, encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bindings = [f"{k}={v!r}" for k, v in program.bindings.items()]
        code = main(["eval", "--file", str(path), *bindings, "--json"])
    assert code == 0
    assert set(json.loads(out.getvalue())["gradient"]) == set(program.bindings)
    assert made == []


def test_the_api_leaves_the_node_list_unbuilt(made: list[int]) -> None:
    program = _bench("shared", 2_000)
    graph, _ = compile_program(program.source)
    result = run(graph, program.bindings)
    text = json.dumps(result.to_json())
    assert graph.size == 8_002 and '"gradient"' in text
    assert result.value_of("q1999") == result.values[graph.names["q1999"]]
    assert made == []
    assert len(graph.nodes) == graph.size and made == list(range(graph.size))  # built on demand


def test_a_named_output_and_wrt_a_named_value_make_no_node_object(made: list[int]) -> None:
    program = _bench("shared", 2_000)
    graph, _ = compile_program(program.source, ["q1000"])
    result = run(graph, program.bindings, wrt=["x", "q500"])
    assert graph.output_label() == "q1000" and graph.unused() == [] and graph.size == 4_002
    assert list(result.gradient) == ["x", "q500"]
    assert made == []


def test_a_math_error_in_a_large_program_makes_the_one_node_it_names(made: list[int]) -> None:
    source = " + ".join(f"sin(x{i})" for i in range(300)) + " + log(x299 - 1)"
    graph, _ = compile_program(source)
    with pytest.raises(GradError, match="outside the domain of log"):
        run(graph, {f"x{i}": 0.5 for i in range(300)})
    assert len(made) == 1 and graph.columns.ops[made[0]].name == "log"


def test_a_math_error_in_a_large_program_is_worded_as_in_a_small_one() -> None:
    big = " + ".join(f"sin(x{i})" for i in range(300)) + " + log(x299 - 1)"
    small = "sin(x299) + log(x299 - 1)"
    errors = []
    for source in (big, small):
        with pytest.raises(GradError) as caught:
            gradcli.evaluate(source, {name: 0.5 for name in gradcli.compile(source).inputs})
        errors.append(caught.value)
    assert errors[0].message == errors[1].message == "log(-0.5) is outside the domain of log(x) (x > 0)"
    assert errors[0].span == (big.index("log("), len(big))
    assert errors[0].stage == "forward"


@settings(max_examples=60, deadline=None)
@given(programs(), st.booleans())
def test_the_node_objects_are_the_columns(source: str, named: bool) -> None:
    if named:
        source = f"q = {source}; r = q; q * r"
    graph = gradcli.compile(source)
    singles = [graph.node(k) for k in range(graph.size)]  # made alone, before the list
    nodes = graph.nodes
    assert [(n.id, n.kind, n.op, n.inputs, n.name, n.value, n.names, n.span) for n in singles] == [
        (n.id, n.kind, n.op, n.inputs, n.name, n.value, n.names, n.span) for n in nodes
    ]
    again = Columns.of_nodes(nodes)
    columns = graph.columns
    assert again.ops == columns.ops and list(again.args) == list(columns.args)
    assert list(again.first) == list(columns.first) and again.consts == columns.consts
    assert list(again.starts) == list(columns.starts) and list(again.ends) == list(columns.ends)
    assert again.leaf_names == columns.leaf_names


@settings(max_examples=60, deadline=None)
@given(programs(), points())
def test_a_graph_built_from_node_objects_evaluates_as_its_columns(
    source: str, point: dict[str, float]
) -> None:
    graph = gradcli.compile(source)
    bindings = {name: point[name] for name in graph.inputs}
    as_columns = run(graph, bindings)
    twin = Graph(list(graph.nodes), graph.inputs, graph.names, graph.output_name, graph.source)
    as_objects = run(twin, bindings)
    assert as_objects.value == as_columns.value
    assert as_objects.gradient == as_columns.gradient
    assert list(as_objects.values) == list(as_columns.values)
    assert as_objects.grads == as_columns.grads


def test_the_sharing_index_keeps_sharing_when_it_grows() -> None:
    # `x+y+x+y...`: a node every two characters, four times what the index is first
    # sized for, so it doubles while the program is read; the second statement is
    # the first again, node for node.
    chain = "+".join(["x", "y"] * 1500)
    source = f"q = {chain}\nr = {chain}\nq - r"
    graph = gradcli.compile(source)
    assert graph.names["q"] == graph.names["r"]
    assert graph.size == 2 + (3000 - 1) + 1
    reference = lower(parse(source))
    assert _node_dump(graph) == _node_dump(reference)
    assert gradcli.evaluate(source, x=1.5, y=-2).value == 0.0
