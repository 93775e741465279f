"""`gradcli parse`: the program fully parenthesised, which parses back to the same
graph, and its syntax tree as JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import programs

import gradcli
from gradcli.unparse import ast_json, statement_lines


def _shape(graph: gradcli.Graph) -> list[tuple[object, ...]]:
    """What makes two graphs the same: every node's op, inputs and leaf identity."""
    nodes = [(n.op_name, n.inputs, n.name, n.value if n.kind == "const" else None) for n in graph.nodes]
    return [*nodes, (graph.output_name, tuple(graph.inputs), tuple(graph.names))]


def _round_trip(source: str) -> str:
    text = "\n".join(statement_lines(gradcli.parse_program(source)))
    assert _shape(gradcli.compile(text)) == _shape(gradcli.compile(source)), (source, text)
    return text


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("1/2x", "(1 / 2) * x"),
        ("-2^2", "-(2 ^ 2)"),
        ("2^-1", "2 ^ (-1)"),
        ("-x^2", "-(x ^ 2)"),
        ("2^3^x", "2 ^ (3 ^ x)"),
        ("a - b - c", "(a - b) - c"),
        ("a < b + 1", "a < (b + 1)"),
        ("+x", "x"),
        ("2 sin(x)(x+1)", "(2 * sin(x)) * (x + 1)"),
        ("q = x + y; f = q * z", "q = x + y\nf = q * z"),
        ("if(x > 0, log(x), 0)", "if(x > 0, log(x), 0)"),
        ("max(a, b, c*2) # a comment", "max(a, b, c * 2)"),
        ("6.02E+23x", "6.02E+23 * x"),
    ],
)
def test_parse_shows_every_operation_parenthesised(run_cli, source: str, shown: str) -> None:
    code, out, err = run_cli("parse", source)
    assert (code, err) == (0, "")
    assert out == shown + "\n"
    _round_trip(source)


_EXTRA = (
    "({}) < ({})", "({}) >= ({})", "({}) == ({})", "({}) != ({})",
    "max({}, {}, a)", "min({}, b, {})", "sum({}, {}, c)", "clip({}, -1, {})",
    "if(({}) > 0, {}, a)", "-{}^2 + {}", "1/2({})({})", "2^-({}) * {}",
)


@st.composite
def mixed_programs(draw: st.DrawFn) -> str:
    """Statements that mix the smooth programs with comparisons, n-ary calls, if,
    implicit products and signs (precedence is what parse makes visible)."""
    lines = []
    for k in range(draw(st.integers(1, 3))):
        text = draw(programs(max_depth=3))
        for _ in range(draw(st.integers(0, 2))):
            text = draw(st.sampled_from(_EXTRA)).format(text, draw(programs(max_depth=2)))
        lines.append(f"s{k} = {text}" if draw(st.booleans()) else None)
        if lines[-1] is None:
            lines[-1] = f"s{k} = {text} + s{k - 1}" if k else f"s{k} = {text}"
    if draw(st.booleans()):
        lines.append(f"({draw(programs(max_depth=2))}) * s0")
    return "\n".join(lines)


@given(mixed_programs())
def test_the_parenthesised_program_parses_to_the_same_graph(source: str) -> None:
    text = _round_trip(source)
    assert _round_trip(text) == text  # and reading it again changes nothing


def test_parse_json_gives_the_syntax_tree_with_spans(run_cli) -> None:
    code, out, _ = run_cli("parse", "q = -x; 2 ^ q", "--json")
    assert code == 0
    assert json.loads(out) == {
        "statements": [
            {"name": "q", "expr": {"op": "neg", "args": [{"op": "name", "name": "x", "span": [5, 6]}],
                                   "span": [4, 6]}},
            {"name": None, "expr": {"op": "pow", "args": [
                {"op": "num", "value": 2.0, "span": [8, 9]},
                {"op": "name", "name": "q", "span": [12, 13]},
            ], "span": [8, 13]}},
        ]
    }


@given(mixed_programs())
def test_parse_json_has_one_tree_per_statement(source: str) -> None:
    program = gradcli.parse_program(source)
    doc = json.loads(ast_json(program))
    assert [s["name"] for s in doc["statements"]] == [getattr(s, "name", None) for s in program.statements]


@pytest.mark.parametrize(
    "source",
    ["1/+", "sni(x)", "x = 1; x = 2", "f(", "sin(1, 2)", "x +\n+ y", "pi = 3"],
)
def test_a_broken_program_fails_as_eval_fails(run_cli, source: str) -> None:
    parsed = run_cli("parse", source)
    evaluated = run_cli("eval", source)
    assert parsed[0] == evaluated[0] == 2
    assert parsed[1] == ""
    assert parsed[2] == evaluated[2]
    assert "Traceback" not in parsed[2]


def test_parse_takes_no_bindings(run_cli) -> None:
    code, _, err = run_cli("parse", "x + 1", "-x", "2")
    assert code == 2
    assert err == "error: parse takes no bindings: x given\n"


def test_parse_reads_a_100000_deep_program_without_recursion(run_cli) -> None:
    depth = 100_000
    source = "(" * depth + "x" + "+1)*1.0001" * depth
    code, out, err = run_cli("parse", source)
    assert (code, err) == (0, "")
    assert out.startswith("(((") and out.endswith("+ 1) * 1.0001\n")
    assert len(gradcli.compile(out).nodes) == len(gradcli.compile(source).nodes)
    out = ast_json(gradcli.parse_program("-" * depth + "x"))  # (json.loads itself would recurse)
    assert out.count('"op": "neg"') == depth
    assert out.endswith('"span": [0, 100001]}}]}')
