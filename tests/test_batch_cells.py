"""eval --batch: a row's cell is a number, never an expression.

A date such as 2024-01-05 in a data file must not become 2018. A CSV cell or a
JSON Lines value is a decimal number (a JSON string may hold one); anything else
is that row's error, naming the column and the cell, and the other rows go on.
Command-line bindings keep reading constant expressions (``-x pi/4``). Reading a
bad cell needs no parser, so a megabyte of them is read in about a second.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from timing import cpu_seconds

import gradcli
from gradcli import batch
from gradcli.errors import GradError

pytest.importorskip("numpy")

NOT_NUMBERS = [
    "2024-01-05", "pi/4", "pi", "2*3", "sqrt(4)", "2^0.5", "1-2", "e", "(1)", "--1", "1e", ".",
    "1_000", "0x10", "١٢", "inf", "-Infinity", "nan", "1e400", "n/a", "2 3",
]
NUMBERS = {"2": 2.0, "-3": -3.0, "+.5": 0.5, "5.": 5.0, "1e-3": 1e-3, "6.02E+23": 6.02e23,
           " 7 ": 7.0, "0001": 1.0, "-0": -0.0, "1e-400": 0.0}


def run(graph_text: str, data: str, fmt: str = "jsonl") -> tuple[int, list[dict[str, str]] | list[dict]]:
    stdin = io.BufferedReader(io.BytesIO(data.encode()))
    out = io.StringIO()
    summary = batch.run_batch(gradcli.compile(graph_text), {}, batch="-", stdin=stdin, out=out, fmt=fmt)
    text = out.getvalue()
    if fmt == "csv":
        return summary.failed, list(csv.DictReader(io.StringIO(text)))
    return summary.failed, [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("cell", NOT_NUMBERS)
@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_csv_cell_that_is_not_a_number_is_that_rows_error_naming_column_and_cell(cell, quoted) -> None:
    shown = f'"{cell}"' if quoted else cell  # a quote sends the chunk to csv.reader
    failed, rows = run("d*x", f"d,x\n1,2\n{shown},3\n4,5\n")
    assert failed == 1
    assert [r.get("value") for r in rows] == [2.0, None, 20.0]
    error = rows[1]["error"]
    assert error["kind"] == "binding"
    assert error["message"].startswith("the value of d ") and cell.strip() in error["message"]


@pytest.mark.parametrize("cell", NOT_NUMBERS)
def test_a_json_string_that_is_not_a_number_is_that_rows_error(cell) -> None:
    failed, rows = run("d", json.dumps({"d": cell}) + "\n" + '{"d": 1}\n')
    assert failed == 1 and rows[1]["value"] == 1.0
    assert rows[0]["error"]["kind"] == "binding" and cell.strip() in rows[0]["error"]["message"]


def test_a_date_is_never_read_as_a_subtraction() -> None:
    failed, rows = run("d", "d\n2024-01-05\n", fmt="csv")
    assert failed == 1 and rows[0]["value"] == ""
    assert rows[0]["error"].startswith("binding: the value of d is not a number: 2024-01-05 (")


@pytest.mark.parametrize(("cell", "value"), NUMBERS.items())
def test_a_decimal_number_in_a_cell_or_a_json_string_is_read(cell, value) -> None:
    for data in (f"x\n{cell}\n", json.dumps({"x": cell}) + "\n"):
        failed, rows = run("x", data)
        assert failed == 0 and rows[0]["inputs"]["x"] == value


def test_command_line_bindings_still_read_constant_expressions(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*d", "-x", "pi/4", "--batch", "-", stdin="d\n2\n")
    assert code == 0 and json.loads(out)["value"] == math.pi / 2
    code, out, _ = run_cli("eval", "x", "-x", "pi/4", "--json")
    assert code == 0 and json.loads(out)["value"] == math.pi / 4


def test_a_huge_prefixed_integer_is_refused_without_converting_it(run_cli) -> None:
    """Its decimal spelling would pass Python's limit on digits: no internal error."""
    for value in ("0x" + "f" * 5000, "0b" + "1" * 20000):
        code, _, err = run_cli("eval", "x", "-x", value)
        assert code == 2 and err.startswith("error: the value of x is not a decimal number: 0")
        assert "internal error" not in err and "write it in decimal" in err
    failed, rows = run("x", "x\n0x" + "f" * 5000 + "\n")
    assert failed == 1 and "write it in decimal" in rows[0]["error"]["message"]


def _python_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@given(st.text(alphabet="0123456789+-.eE_x ()/*^piна١", max_size=8))
def test_a_cell_becomes_a_number_only_where_float_reads_that_number(text) -> None:
    """The class of the date: no text is read as a value float() does not give."""
    from gradcli.bindings import cell_value

    try:
        value = cell_value("x", text)
    except GradError as err:
        assert err.kind == "binding"
        return
    assert value == _python_float(text) and text.isascii() and "_" not in text


def test_a_megabyte_of_distinct_bad_cells_is_read_about_as_fast_as_good_ones(tmp_path) -> None:
    """Each bad cell once ran the parser for its message (14 s of CPU for 1 MB)."""
    graph = gradcli.compile("x")

    def seconds(cells) -> float:
        data = tmp_path / "d.csv"
        data.write_text("x\n" + "\n".join(cells) + "\n")
        spent, _ = cpu_seconds(
            lambda: batch.run_batch(graph, {}, batch=str(data), fmt="jsonl", out=io.StringIO())
        )
        return spent

    n = 140_000  # about a megabyte
    good = seconds(f"{i}.5" for i in range(n))
    bad = seconds(f"{i}a" for i in range(n))
    assert bad < 4.0 + 10 * good, (good, bad)


def test_a_json_value_that_is_not_a_number_is_shown_as_json_spells_it() -> None:
    failed, rows = run("d", '{"d": true}\n{"d": [1]}\n{"d": {"a": null}}\n')
    assert failed == 3
    assert [r["error"]["message"] for r in rows] == [
        "the value of d is not a number: true",
        "the value of d is not a number: [1]",
        'the value of d is not a number: {"a": null}',
    ]


# --- columns from Python: a cell is read as a batch cell, never as NumPy would cast it -------------

np = pytest.importorskip("numpy")

#: What NumPy's float64 cast made of these: 1 and 0, the real part, days since 1970, 1000, 12.
_NOT_NUMBERS = [
    ([True, False], "true"),
    (np.array([1 + 1j, 2]), "(1+1j)"),
    (np.array(["2024-01-05", "2024-01-06"], dtype="datetime64[D]"), "2024"),
    (np.array(["1_000", "2"]), "1_000"),
    (["١٢", "2"], "١٢"),
]


@pytest.mark.parametrize(("column", "shown"), _NOT_NUMBERS)
def test_evaluate_arrays_reads_a_column_from_python_as_batch_cells(column, shown: str) -> None:
    result = batch.evaluate_arrays(gradcli.compile("x*2"), {"x": column})
    assert result.failed[0] and math.isnan(result.value[0])
    assert result.errors[0].kind == "binding" and shown in result.errors[0].message


@pytest.mark.parametrize(("column", "shown"), _NOT_NUMBERS)
def test_fit_reads_a_column_from_python_as_batch_cells(column, shown: str) -> None:
    with pytest.raises(GradError, match="row 1 of the data: the value of x is not a number") as caught:
        gradcli.fit("(a*x - y)^2", {"x": column, "y": [1.0, 2.0]}, params=["a"], a=0, epochs=1)
    assert shown in caught.value.message


@pytest.mark.parametrize(("column", "shown"), _NOT_NUMBERS)
def test_a_derivative_program_reads_a_column_from_python_as_batch_cells(column, shown: str) -> None:
    out = gradcli.diff("x*y").evaluate_arrays({"x": column, "y": [1.0, 2.0]})
    assert math.isnan(out["value"][0]) and shown in out["errors"][0].message


def test_numbers_and_plain_text_from_python_are_still_read() -> None:
    columns = {"x": [1, "2.5", np.float32(0.5), 10**20], "y": np.array([1, 2, 3, 4], dtype=np.int8)}
    result = batch.evaluate_arrays(gradcli.compile("x*y"), columns)
    assert result.value.tolist() == [1.0, 5.0, 1.5, 4e20] and not result.errors
    assert gradcli.diff("x*y").evaluate_arrays(columns)["value"].tolist() == [1.0, 5.0, 1.5, 4e20]


@pytest.mark.parametrize("column", [3.0, np.ones((2, 2)), "12", {"a": 1}])
def test_a_column_that_is_not_one_dimensional_is_a_usage_error(column) -> None:
    with pytest.raises(GradError, match="the column x must be a list or a 1-D array of numbers"):
        batch.evaluate_arrays(gradcli.compile("x*2"), {"x": column})
    with pytest.raises(GradError, match="the data's column x must be a list or a 1-D array of numbers"):
        gradcli.fit("(a*x)^2", {"x": column}, params=["a"], a=0, epochs=1)
