"""The output's display name: a bare-expression output is called ``f``, unless the
program uses ``f``; then ``out``, ``out_1``, ... never a name of the program, in every
human output (the table, --explain, trace, check, descend, pictures)."""

from __future__ import annotations

import pytest

import gradcli


@pytest.mark.parametrize(
    ("source", "label"),
    [
        ("x*2", "f"),
        ("f*2", "out"),
        ("f*out", "out_1"),
        ("out_1 = f*out; out_1 + out_2", "out_3"),
        ("g = f*2", "g"),  # a named output keeps its name
        ("f = x*2", "f"),
        ("g = f*2; g", "out"),  # a bare `g` at the end is a bare expression
        ("q = f + 1; q*2", "out"),  # an assigned name counts as the program's too
    ],
)
def test_the_output_label_is_never_a_name_of_the_program(source: str, label: str) -> None:
    graph = gradcli.compile(source)
    assert graph.output_label() == label
    if graph.output_name is None:
        assert label not in {*graph.inputs, *graph.names}


def _rows(out: str) -> list[str]:
    return [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")]


def test_eval_shows_one_row_per_name_when_the_program_uses_f(run_cli) -> None:
    code, out, _ = run_cli("eval", "f*2", "-f", "3")
    assert code == 0
    assert _rows(out) == ["name", "out (output)", "f"]
    assert "∂out/∂name" in out


def test_explain_never_writes_the_input_as_the_output(run_cli) -> None:
    code, out, _ = run_cli("eval", "f*2", "-f", "3", "--explain")
    assert code == 0
    assert "∂out/∂f = (2) = 2   using ∂(u * v)/∂u = v" in out
    assert "∂f/∂f" not in out


def test_trace_check_and_descend_headers_use_the_display_name(run_cli) -> None:
    assert "∂out/∂node" in run_cli("trace", "f*2", "-f", "3")[1]
    assert "∂out/∂input" in run_cli("check", "f*2", "-f", "3")[1]
    out = run_cli("descend", "f^2", "-f", "3", "--steps", "2")[1]
    assert "out (output)" in out and "f (output)" not in out


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_pictures_call_the_output_out_when_the_program_uses_f(run_cli, fmt: str) -> None:
    code, out, _ = run_cli("graph", "f*2", "-f", "3", "--format", fmt)
    assert code == 0
    if fmt == "dot":
        assert "out [label=<<b>out</b>>" in out
    else:
        assert 'out(["out"])' in out


def test_json_keeps_null_for_a_bare_expression(run_cli) -> None:
    import json

    code, out, _ = run_cli("eval", "f*2", "-f", "3", "--json")
    assert code == 0 and json.loads(out)["output"] is None
