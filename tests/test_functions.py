"""`gradcli functions`: the operation table as a listing, so it cannot drift from it."""

from __future__ import annotations

import json

from gradcli.ops import ALL_OPS, CONSTANTS


def test_functions_json_lists_every_row_of_the_operation_table(run_cli) -> None:
    code, out, err = run_cli("functions", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [(r["name"], r["arity"]) for r in data["functions"]] == [(op.name, op.arity) for op in ALL_OPS]
    assert [r["derivative"] for r in data["functions"]] == [op.rule for op in ALL_OPS]
    assert [r["domain"] for r in data["functions"]] == [op.domain for op in ALL_OPS]
    assert data["constants"] == CONSTANTS


def test_functions_shows_each_signature_domain_and_derivative_rule(run_cli) -> None:
    code, out, _ = run_cli("functions")
    assert code == 0
    assert "tanh(x)  →  1 − tanh(x)²" in out
    assert "log(x, b)" in out and "x > 0, b > 0, b ≠ 1" in out
    assert "x ^ y, x ** y, pow(x, y)" in out
    for op in ALL_OPS:
        assert op.signature in out and op.rule in out, op.name


def test_an_operator_and_a_function_are_told_apart(run_cli) -> None:
    _, out, _ = run_cli("functions", "--json")
    kinds = {(r["name"], r["arity"]): r["kind"] for r in json.loads(out)["functions"]}
    assert kinds[("mul", 2)] == "operator" and kinds[("sigmoid", 1)] == "function"
