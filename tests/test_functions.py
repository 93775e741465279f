"""`gradcli functions`: the operation table as a listing, so it cannot drift from it."""

from __future__ import annotations

import json

import pytest

from gradcli.functions import derivative_text
from gradcli.ops import ALL_OPS, CONSTANTS


def test_functions_json_lists_every_row_of_the_operation_table(run_cli) -> None:
    code, out, err = run_cli("functions", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [(r["name"], r["arity"]) for r in data["functions"]] == [(op.name, op.arity) for op in ALL_OPS]
    assert [r["derivative"] for r in data["functions"]] == [op.rule for op in ALL_OPS]
    assert [r["domain"] for r in data["functions"]] == [op.domain for op in ALL_OPS]
    assert data["constants"] == CONSTANTS


def _table_rows(out: str) -> list[list[str]]:
    """The cells of a piped table, each folded cell joined back into one line."""
    rows: list[list[str]] = []
    for line in out.splitlines():
        if not line.startswith("| ") or line.startswith("| signature"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0]:
            rows.append(cells)
        else:  # a folded cell goes on on this line
            rows[-1] = [" ".join(filter(None, pair)) for pair in zip(rows[-1], cells, strict=True)]
    return rows


def _words(text: str) -> str:
    return " ".join(text.split())


def test_functions_shows_each_signature_domain_and_derivative_rule(run_cli) -> None:
    code, out, _ = run_cli("functions")
    assert code == 0
    rows = _table_rows(out)
    assert len(rows) == len(ALL_OPS)
    for row, op in zip(rows, ALL_OPS, strict=True):
        assert row[0].startswith(op.signature), op.name
        assert _words(row[2]) == _words(op.domain), op.name
        assert _words(row[3]) == _words(derivative_text(op)), op.name
    assert "x ^ y, x ** y, pow(x, y)" in out


def test_a_piped_listing_fits_80_columns(run_cli) -> None:
    from gradcli.render import cell_width

    _, out, _ = run_cli("functions")
    assert max(cell_width(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["tanh"], ["tanh"]),
        (["*", "tanh"], ["mul", "tanh"]),  # the table's order, not the order asked
        (["**"], ["pow"]),
        (["pow"], ["pow"]),
        (["-"], ["sub", "neg"]),
        (["log"], [op.name for op in ALL_OPS if op.name == "log"]),
    ],
)
def test_names_pick_rows_of_the_listing(run_cli, names: list[str], expected: list[str]) -> None:
    code, out, err = run_cli("functions", *names, "--json")
    assert (code, err) == (0, "")
    assert [r["name"] for r in json.loads(out)["functions"]] == expected


def test_an_unknown_name_is_a_usage_error_with_suggestions(run_cli) -> None:
    code, out, err = run_cli("functions", "tnah")
    assert (code, out) == (2, "")
    assert err.startswith("error: no operator or function named tnah (did you mean tanh")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("pi", "pi is a constant (3.141592653589793), not an operator or a function"),  # was: if?
        ("tau", "tau is a constant"),
        ("≤", "no operator or function named ≤ (did you mean <=?)"),  # was: no suggestion
        ("×", "(did you mean *?)"),
    ],
)
def test_a_constant_or_a_lookalike_symbol_is_named_for_what_it_is(run_cli, name: str, says: str) -> None:
    code, out, err = run_cli("functions", name)
    assert (code, out) == (2, "")
    assert says in err and len(err.splitlines()) == 1


def test_an_operator_and_a_function_are_told_apart(run_cli) -> None:
    _, out, _ = run_cli("functions", "--json")
    kinds = {(r["name"], r["arity"]): r["kind"] for r in json.loads(out)["functions"]}
    assert kinds[("mul", 2)] == "operator" and kinds[("sigmoid", 1)] == "function"
