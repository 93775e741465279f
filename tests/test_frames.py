"""gradcli.compile(src).evaluate_frame(df, **defaults): DataFrames in and out."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import gradcli
from gradcli.batch import evaluate_arrays

pd = pytest.importorskip("pandas")


def test_a_frame_gets_value_gradients_and_error_columns_in_row_order() -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, -1.0, 2.0], "y": [2, 3, 0.5]}, index=[30, 10, 20])
    out = gradcli.compile("log(x)*y").evaluate_frame(df)
    assert list(out.columns) == ["id", "x", "y", "value", "grad_x", "grad_y", "error"]
    assert list(out.index) == [30, 10, 20] and list(out["id"]) == ["a", "b", "c"]
    assert out["value"].tolist()[0] == 0.0 and np.isnan(out["value"].iloc[1])
    assert out["grad_y"].iloc[2] == np.log(2.0)
    assert out["error"].isna().tolist() == [True, False, True]
    assert out["error"].iloc[1] == "domain: log(-1) is outside the domain of log(x) (x > 0)"
    assert list(df.columns) == ["id", "x", "y"]  # the frame given is left as it was


def test_keyword_arguments_are_defaults_and_a_row_value_wins() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [None, 5.0]})
    out = gradcli.compile("x*y").evaluate_frame(df, y=10)
    assert out["value"].tolist() == [10.0, 10.0]
    out = gradcli.compile("x*y*z").evaluate_frame(df, y="pi", z=2)
    assert list(out.columns) == ["x", "y", "z", "value", "grad_x", "grad_y", "grad_z", "error"]
    assert out["z"].tolist() == [2.0, 2.0] and out["value"].iloc[0] == 2 * np.pi


def test_the_numbers_are_those_of_a_batch_bit_for_bit() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-2, 2, 50_000), rng.uniform(-2, 2, 50_000)
    graph = gradcli.compile("sqrt(x)*tanh(y) + x^y")
    out = graph.evaluate_frame(pd.DataFrame({"x": x, "y": y}))
    ref = evaluate_arrays(graph, {"x": x, "y": y})
    for got, want in ((out["value"], ref.value), (out["grad_x"], ref.gradient["x"])):
        assert np.array_equal(got.to_numpy().view(np.int64)[~ref.failed], want.view(np.int64)[~ref.failed])
    assert out["error"].notna().to_numpy().tolist() == ref.failed.tolist()


def test_cells_are_read_as_batch_cells() -> None:
    df = pd.DataFrame({"x": ["2.5", " 3 ", "pi", None, True, 4]})
    out = gradcli.compile("x*2").evaluate_frame(df, x=1)
    assert out["value"].tolist()[:2] == [5.0, 6.0]
    assert out["error"].iloc[2].startswith("binding: the value of x is not a number: pi")
    assert out["value"].iloc[3] == 2.0  # missing: the default
    assert out["error"].iloc[4] == "binding: the value of x is not a number: true"
    assert out["value"].iloc[5] == 8.0


def test_nullable_and_integer_columns() -> None:
    df = pd.DataFrame({"x": pd.array([1, None, 3], dtype="Int64"),
                       "y": pd.array([0.5, 1.5, None], "Float64")})
    out = gradcli.compile("x+y").evaluate_frame(df, y=0)
    assert out["value"].iloc[0] == 1.5 and np.isnan(out["value"].iloc[1]) and out["value"].iloc[2] == 3.0
    assert out["error"].iloc[1].startswith("binding: missing a value for x")


def test_a_missing_column_or_a_clashing_one_is_an_error_before_any_row() -> None:
    graph = gradcli.compile("x*y")
    with pytest.raises(gradcli.GradError, match="the input has no column y"):
        graph.evaluate_frame(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(gradcli.GradError, match="would clash with the output's own 'value'"):
        graph.evaluate_frame(pd.DataFrame({"x": [1.0], "y": [1.0], "value": [0]}))
    with pytest.raises(gradcli.GradError, match="the program does not use z"):
        graph.evaluate_frame(pd.DataFrame({"x": [1.0], "y": [1.0]}), z=1)


def test_a_column_named_twice_is_an_error_before_any_row() -> None:
    # as a CSV header's: pandas' df["y"] of two columns is a frame, not a column
    df = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["x", "y", "y"])
    with pytest.raises(gradcli.GradError, match="names the column 'y' twice"):
        gradcli.compile("x*y").evaluate_frame(df)
    df = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["x", "id", "id"])  # a pass-through column too
    with pytest.raises(gradcli.GradError, match="names the column 'id' twice"):
        gradcli.compile("x").evaluate_frame(df)


def test_a_column_named_for_a_reported_statement_clashes() -> None:
    # --wrt q reports grad_q: the frame's own grad_q column was silently overwritten
    df = pd.DataFrame({"x": [1.0], "grad_q": [7.0]})
    graph = gradcli.compile("q = x*2; q + 1")
    with pytest.raises(gradcli.GradError, match="would clash with the output's own 'grad_q'"):
        graph.evaluate_frame(df, wrt=["q", "x"])
    assert graph.evaluate_frame(df)["grad_q"].tolist() == [7.0]  # not reported: it passes through


def test_an_input_named_like_a_column_of_the_result_is_refused() -> None:
    # the frame's own value column (an input) was overwritten by the results
    with pytest.raises(gradcli.GradError, match="would clash with the output's own column 'value'"):
        gradcli.compile("value*2").evaluate_frame(pd.DataFrame({"value": [1.0, 3.0]}))


@pytest.mark.parametrize("cells", [[[1.0], [2.0]], [[1.0, 2.0], [3.0, 4.0]]])
def test_a_list_in_a_cell_is_no_number(cells) -> None:
    # an array of one element was read as that element (pandas and polars alike), one of
    # two was a ValueError ("truth value of an array ... is ambiguous")
    frames = [pd.DataFrame({"x": [np.array(c) for c in cells]})]
    polars = pytest.importorskip("polars")
    frames.append(polars.DataFrame({"x": cells}))
    for df in frames:
        out = gradcli.compile("x*2").evaluate_frame(df)
        errors = list(out["error"])
        assert [e.startswith("binding: the value of x is not a number: [") for e in errors] == [True, True]
    column = np.empty(2, dtype=object)
    column[0], column[1] = np.array(cells[0]), np.array(cells[1])
    assert sorted(evaluate_arrays(gradcli.compile("x*2"), {"x": column}).errors) == [0, 1]


def test_an_empty_frame_gives_an_empty_frame_with_the_columns() -> None:
    out = gradcli.compile("x*y").evaluate_frame(pd.DataFrame({"x": pd.Series([], dtype=float)}), y=1)
    assert list(out.columns) == ["x", "y", "value", "grad_x", "grad_y", "error"] and len(out) == 0


def test_wrt_picks_the_gradients() -> None:
    df = pd.DataFrame({"x": [2.0], "y": [3.0]})
    out = gradcli.compile("q = x*y; f = q + y").evaluate_frame(df, wrt=["q"])
    assert list(out.columns) == ["x", "y", "value", "grad_q", "error"] and out["grad_q"].iloc[0] == 1.0


def test_polars_frames_work_too() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"x": [1.0, None, -2.0], "tag": ["a", "b", "c"]})
    out = gradcli.compile("log(x)*y").evaluate_frame(df, y=2)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["x", "tag", "y", "value", "grad_x", "grad_y", "error"]
    assert out["value"][0] == 0.0 and out["error"][0] is None
    assert out["error"][1].startswith("binding: missing a value for x")
    assert out["error"][2].startswith("domain: log(-2)")


def test_evaluate_frame_imports_no_dataframe_library_of_its_own() -> None:
    code = (
        "import sys, gradcli\n"
        "g = gradcli.compile('x*2')\n"
        "print(sorted(m for m in ('pandas', 'polars', 'pyarrow', 'dask') if m in sys.modules))\n"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "[]\n"
