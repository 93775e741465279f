"""Unused inputs: an input the output does not depend on (with --output) is listed
as unused everywhere the inputs are, and its gradient stays 0.0."""

from __future__ import annotations

import json

import gradcli

PROGRAM = "q = 2*x; r = q*y"


def test_the_api_lists_an_unused_input_and_its_gradient_is_zero() -> None:
    result = gradcli.evaluate(PROGRAM, x=1, y=2, output="q")
    assert result.unused == ["y"]
    assert result.gradient == {"x": 2.0, "y": 0.0}
    assert gradcli.evaluate(PROGRAM, x=1, y=2).unused == []


def test_eval_json_has_unused_only_when_an_input_is_unused(run_cli) -> None:
    code, out, _ = run_cli("eval", PROGRAM, "--output", "q", "-x", "1", "-y", "2", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["unused"], doc["gradient"]["y"]) == (["y"], 0.0)
    assert list(doc)[-1] == "unused"
    code, out, _ = run_cli("eval", PROGRAM, "-x", "1", "-y", "2", "--json")
    assert "unused" not in json.loads(out)


def test_trace_json_lists_unused(run_cli) -> None:
    code, out, _ = run_cli("trace", PROGRAM, "--output", "q", "-x", "1", "-y", "2", "--json")
    assert (code, json.loads(out)["unused"]) == (0, ["y"])


def test_the_eval_table_marks_an_unused_input(run_cli) -> None:
    code, out, _ = run_cli("eval", PROGRAM, "--output", "q", "-x", "1", "-y", "2")
    assert code == 0
    assert "| y (unused) |     2 |        0 |" in out
    assert "| x          |" in out


def test_the_trace_table_has_a_row_for_an_unused_input(run_cli) -> None:
    for extra in ((), ("--edges",)):
        code, out, _ = run_cli("trace", PROGRAM, "--output", "q", "-x", "1", "-y", "2", *extra)
        assert code == 0
        row = next(line for line in out.splitlines() if "y (unused)" in line)
        assert [c.strip() for c in row.split("|")][-2] == "0"


def test_batch_records_list_unused_and_csv_says_so_on_stderr(run_cli) -> None:
    code, out, err = run_cli("eval", PROGRAM, "--output", "q", "--grid", "x=0:1:2", "-y", "2")
    assert (code, err) == (0, "")
    for line in out.splitlines():
        record = json.loads(line)
        assert (record["unused"], record["gradient"]["y"]) == (["y"], 0.0)
    code, out, err = run_cli(
        "eval", PROGRAM, "--output", "q", "--grid", "x=0:1:2", "-y", "2", "--format", "csv"
    )
    assert code == 0
    assert out.splitlines()[0] == "x,y,value,grad_x,grad_y,error"
    assert "note: y is unused" in err
