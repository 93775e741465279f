"""eval --batch and --grid: rows in, one record per row out, in order;
failed rows become error records; the vectorised evaluator agrees with the scalar
one, value for value and error for error."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import subprocess
import sys
import warnings

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import VARIABLES, points, programs
from strict_json import strict_lines

import gradcli
from gradcli import batch, grids, vectorised
from gradcli.errors import GradError

np = pytest.importorskip("numpy")


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def csv_rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def scalar_record(source: str, **point: float) -> dict:
    """What `eval --json` prints at one point, less `source`: the batch record."""
    return gradcli.evaluate(source, point).to_json(source=False)


# --- input formats ------------------------------------------------------------------------


def test_json_lines_give_one_eval_json_record_per_row_in_order(run_cli, tmp_path) -> None:
    path = tmp_path / "points.jsonl"
    path.write_text('{"x": 2, "y": 3, "z": -4}\n{"x": 1, "y": 1, "z": 1}\n{"z": 0.5, "x": -1, "y": 2}\n')
    code, out, err = run_cli("eval", "(x+y)*z", "--batch", str(path))
    assert (code, err) == (0, "")
    assert records(out) == [
        scalar_record("(x+y)*z", x=2, y=3, z=-4),
        scalar_record("(x+y)*z", x=1, y=1, z=1),
        scalar_record("(x+y)*z", x=-1, y=2, z=0.5),
    ]


def test_csv_with_a_header_is_read_and_told_apart_from_json_lines(run_cli, tmp_path) -> None:
    path = tmp_path / "points.csv"
    path.write_text("x,y,z\n2,3,-4\n1,1,1\n")
    code, out, _ = run_cli("eval", "(x+y)*z", "--batch", str(path))
    assert code == 0
    assert records(out) == [scalar_record("(x+y)*z", x=2, y=3, z=-4), scalar_record("(x+y)*z", x=1, y=1, z=1)]


def test_standard_input_is_read_with_a_dash(run_cli) -> None:
    code, out, _ = run_cli("eval", "x^2", "--batch", "-", stdin='{"x": 3}\n{"x": -3}\n')
    assert code == 0
    assert [r["gradient"]["x"] for r in records(out)] == [6.0, -6.0]


def test_the_input_format_can_be_forced(run_cli) -> None:
    # A one-column CSV whose header is "x" would be CSV anyway; a JSON-looking first
    # cell is what --input-format csv is for.
    code, out, _ = run_cli("eval", "x", "--batch", "-", "--input-format", "csv", stdin="x\n5\n")
    assert code == 0 and records(out)[0]["value"] == 5.0
    code, _, err = run_cli("eval", "x", "--batch", "-", "--input-format", "jsonl", stdin="x\n5\n")
    assert code == 1 and "not JSON" in err + _


def test_csv_output_has_the_input_columns_value_gradients_and_error(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*y", "--batch", "-", "--format", "csv", stdin="x,y\n2,3\n0.5,4\n")
    assert code == 0
    assert out.splitlines()[0] == "x,y,value,grad_x,grad_y,error"
    assert csv_rows(out) == [
        {"x": "2", "y": "3", "value": "6.0", "grad_x": "3.0", "grad_y": "2.0", "error": ""},
        {"x": "0.5", "y": "4", "value": "2.0", "grad_x": "4.0", "grad_y": "0.5", "error": ""},
    ]


def test_floats_are_written_at_full_precision(run_cli) -> None:
    code, out, _ = run_cli("eval", "x/3", "--batch", "-", stdin='{"x": 1}\n')
    assert code == 0
    record = records(out)[0]
    assert record["value"] == 1 / 3 and record["gradient"]["x"] == 1 / 3


def test_blank_lines_are_not_rows(run_cli) -> None:
    code, out, _ = run_cli("eval", "x", "--batch", "-", stdin='{"x": 1}\n\n{"x": 2}\n\n')
    assert code == 0
    assert [r["value"] for r in records(out)] == [1.0, 2.0]


def test_a_quoted_csv_cell_may_hold_commas_and_passes_through(run_cli) -> None:
    data = 'name,x\n"Smith, J.",2\nplain,3\n'
    code, out, _ = run_cli("eval", "x*x", "--batch", "-", "--format", "csv", stdin=data)
    assert code == 0
    assert [(r["name"], r["value"]) for r in csv_rows(out)] == [("Smith, J.", "4.0"), ("plain", "9.0")]


def test_row_values_may_be_strings_holding_numbers_but_not_expressions(run_cli) -> None:
    code, out, _ = run_cli("eval", "sin(x)", "--batch", "-", stdin='{"x": "0"}\n{"x": "pi/2"}\n')
    assert code == 1
    got = records(out)
    assert got[0]["value"] == 0.0
    assert got[1]["error"]["message"].startswith("the value of x is not a number: pi/2 (")


# --- grids ----------------------------------------------------------------------------------


def test_a_grid_sweeps_n_points_with_both_ends_included(run_cli) -> None:
    code, out, _ = run_cli("eval", "x^2", "--grid", "x=-2:2:5")
    assert code == 0
    assert [r["inputs"]["x"] for r in records(out)] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert [r["gradient"]["x"] for r in records(out)] == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_grid_ends_may_be_constant_expressions(run_cli) -> None:
    code, out, _ = run_cli("eval", "sin(x)", "--grid", "x=0:pi:3")
    assert code == 0
    assert [r["inputs"]["x"] for r in records(out)] == [0.0, math.pi / 2, math.pi]


def test_several_grids_make_their_product_with_the_first_varying_slowest(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*y", "--grid", "x=0:1:2", "--grid", "y=1:3:3")
    assert code == 0
    assert [(r["inputs"]["x"], r["inputs"]["y"]) for r in records(out)] == [
        (0.0, 1.0), (0.0, 2.0), (0.0, 3.0), (1.0, 1.0), (1.0, 2.0), (1.0, 3.0),
    ]


def test_a_grid_times_a_batch_gives_every_row_at_every_grid_point(run_cli) -> None:
    code, out, _ = run_cli(
        "eval", "a*x", "--batch", "-", "--grid", "x=0:1:2", "--format", "csv", stdin="id,a\nr1,2\nr2,5\n"
    )
    assert code == 0
    assert [(r["id"], r["a"], r["x"], r["value"]) for r in csv_rows(out)] == [
        ("r1", "2", "0.0", "0.0"), ("r1", "2", "1.0", "2.0"),
        ("r2", "5", "0.0", "0.0"), ("r2", "5", "1.0", "5.0"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--grid", "x=1:2"), "write NAME=START:STOP:COUNT"),
        (("--grid", "x=1:2:zero"), "number of points"),
        (("--grid", "x=1:2:0"), "number of points"),
        (("--grid", "q=1:2:3"), "does not use q"),
        (("--grid", "x=1:2:3", "--grid", "x=0:1:2"), "swept twice"),
        (("--grid", "x=1:2:3", "-x", "2"), "also bound on the command line"),
        (("--grid", "x=a:2:3"), "the value of x"),
        (("--grid", f"x=0:1:{2**53 + 1}"), "at most 2^53"),
    ],
)
def test_a_bad_grid_is_a_usage_error(run_cli, args: tuple[str, ...], message: str) -> None:
    code, out, err = run_cli("eval", "x*y", "-y", "1", *args)
    assert code == 2 and out == ""
    assert err.startswith("error:") and message in err


# --- defaults, overrides and pass-through -----------------------------------------------------


def test_command_line_bindings_are_defaults_that_a_row_overrides(run_cli) -> None:
    code, out, _ = run_cli("eval", "x+y", "-y", "10", "--batch", "-", stdin='{"x": 1}\n{"x": 1, "y": 2}\n')
    assert code == 0
    assert [r["inputs"] for r in records(out)] == [{"x": 1.0, "y": 10.0}, {"x": 1.0, "y": 2.0}]


def test_a_default_may_be_a_constant_expression(run_cli) -> None:
    code, out, _ = run_cli("eval", "x*y", "-y", "pi/4", "--batch", "-", stdin="x\n1\n")
    assert code == 0 and records(out)[0]["value"] == math.pi / 4


def test_an_empty_csv_cell_or_a_json_null_takes_the_default(run_cli) -> None:
    code, out, _ = run_cli("eval", "x+y", "-y", "5", "--batch", "-", stdin="x,y\n1,\n1,2\n")
    assert code == 0 and [r["value"] for r in records(out)] == [6.0, 3.0]
    code, out, _ = run_cli("eval", "x+y", "-y", "5", "--batch", "-", stdin='{"x": 1, "y": null}\n')
    assert code == 0 and records(out)[0]["value"] == 6.0


def test_columns_that_are_not_inputs_pass_through_to_json(run_cli) -> None:
    code, out, _ = run_cli("eval", "2x", "--batch", "-", stdin="id,x,note\n7,1,a\n8,2,b\n")
    assert code == 0
    assert [(r["id"], r["note"], r["value"]) for r in records(out)] == [("7", "a", 2.0), ("8", "b", 4.0)]


def test_json_keys_that_are_not_inputs_pass_through_with_their_json_types(run_cli) -> None:
    code, out, _ = run_cli("eval", "2x", "--batch", "-", stdin='{"id": 7, "x": 1, "tags": ["a"]}\n')
    assert code == 0
    record = records(out)[0]
    assert (record["id"], record["tags"], record["value"]) == (7, ["a"], 2.0)


def test_json_lines_to_csv_take_pass_through_columns_from_the_keys(run_cli) -> None:
    code, out, _ = run_cli(
        "eval", "2x", "--batch", "-", "--format", "csv", stdin='{"id": "a", "x": 1}\n{"x": 2, "id": "b"}\n'
    )
    assert code == 0
    assert out.splitlines()[0] == "id,x,value,grad_x,error"
    assert [(r["id"], r["value"]) for r in csv_rows(out)] == [("a", "2.0"), ("b", "4.0")]


@pytest.mark.parametrize("key", ["value", "error", "grad_x", "row", "gradient"])
def test_a_json_key_that_would_clash_fails_its_row_and_does_not_pass_through(run_cli, key: str) -> None:
    # neither a record with two meanings of one key (jq .value giving the row's key for
    # a failed row) nor a CSV header with two columns of one name
    stdin = f'{{"x": 1, "y": 2, "id": 7, "{key}": 5}}\n{{"x": 2, "y": 3, "id": 8}}\n'
    code, out, _ = run_cli("eval", "x*y", "--batch", "-", stdin=stdin)
    assert code == 1
    failed, ok = records(out)
    assert 5 not in failed.values()  # the row's key did not pass through
    assert (failed["id"], failed["row"], failed["error"]["kind"]) == (7, 1, "binding")
    assert f"'{key}'" in failed["error"]["message"]
    assert (ok["id"], ok["value"]) == (8, 6.0)
    code, out, _ = run_cli("eval", "x*y", "--batch", "-", "--format", "csv", stdin=stdin)
    assert code == 1
    header = out.splitlines()[0].split(",")
    assert len(header) == len(set(header)), header
    assert header == ["id", "x", "y", "value", "grad_x", "grad_y", "error"]
    assert [(r["id"], r["value"]) for r in csv_rows(out)] == [("7", ""), ("8", "6.0")]


def test_a_csv_without_a_column_for_an_input_and_no_default_is_refused(run_cli) -> None:
    code, out, err = run_cli("eval", "x+y", "--batch", "-", stdin="x\n1\n")
    assert (code, out) == (2, "")
    assert "no column y" in err and "-y VALUE" in err


def test_a_column_that_would_clash_with_the_output_is_refused(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "--batch", "-", stdin="x,value\n1,2\n")
    assert code == 2 and "'value'" in err


# --- nothing lost ---------------------------------------------------------------------------


MIXED = (
    '{"x": 4, "id": 1}\n'
    '{"x": -1, "id": 2}\n'  # domain error
    "this is not json\n"  # malformed line
    '{"x": "abc", "id": 4}\n'  # bad number
    '{"id": 5}\n'  # missing binding
    '{"x": 0, "id": 6}\n'  # undefined gradient: sqrt'(0)
    '{"x": 9, "id": 7}\n'
)


def test_failed_rows_become_error_records_in_place_and_the_rest_go_on(run_cli) -> None:
    code, out, err = run_cli("eval", "sqrt(x)", "--batch", "-", stdin=MIXED)
    assert code == 1
    got = records(out)
    assert len(got) == 7
    assert [r.get("row") for r in got] == [None, 2, 3, 4, 5, 6, None]
    kinds = [r["error"]["kind"] for r in got if "error" in r]
    assert kinds == ["domain", "syntax", "binding", "binding", "gradient"]
    assert got[0]["value"] == 2.0 and got[6]["value"] == 3.0
    assert [r.get("id") for r in got] == [1, 2, None, 4, 5, 6, 7]
    assert err == "error: 5 of 7 rows failed (row 2, 3, 4, 5, 6); their records say why\n"


def test_an_error_record_says_what_eval_says_at_that_point(run_cli) -> None:
    code, out, _ = run_cli("eval", "log(x - 3)", "--batch", "-", stdin='{"x": 1}\n')
    assert code == 1
    try:
        gradcli.evaluate("log(x - 3)", x=1)
    except GradError as exc:
        expected = {"kind": exc.kind, "message": exc.message, **exc.provenance()}
    assert records(out) == [{"row": 1, "error": expected}]


def test_failed_rows_in_csv_output_keep_their_cells_and_fill_the_error_column(run_cli) -> None:
    data = "id,x\na,4\nb,-1\nc,oops\nd,1,2\ne,9\n"
    code, out, _ = run_cli("eval", "sqrt(x)", "--batch", "-", "--format", "csv", stdin=data)
    assert code == 1
    rows = csv_rows(out)
    assert [(r["id"], r["x"], r["value"]) for r in rows] == [
        ("a", "4", "2.0"), ("b", "-1", ""), ("c", "oops", ""), ("d", "1", ""), ("e", "9", "3.0"),
    ]
    assert [r["error"].split(":")[0] for r in rows] == ["", "domain", "binding", "syntax", ""]


def test_rows_are_numbered_across_chunks(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "CHUNK", 4)
    monkeypatch.setattr(vectorised, "COMPUTE_ROWS", 3)
    lines = [json.dumps({"x": -1 if i % 5 == 0 else i}) for i in range(1, 23)]
    lines[9] = "{broken"
    code, out, _ = run_cli("eval", "log(x)", "--batch", "-", stdin="\n".join(lines) + "\n")
    assert code == 1
    got = records(out)
    assert len(got) == 22
    assert [r["row"] for r in got if "error" in r] == [5, 10, 15, 20]
    assert [r["inputs"]["x"] for r in got if "error" not in r] == [i for i in range(1, 23) if i % 5]


def test_a_csv_that_gains_quotes_after_the_first_chunk_is_still_read_whole(run_cli, monkeypatch) -> None:
    monkeypatch.setattr(batch, "CHUNK", 3)
    data = "id,x\n" + "".join(f"r{i},{i}\n" for i in range(5)) + '"q, 1",5\n"q\n2",6\nlast,7\n'
    code, out, _ = run_cli("eval", "x", "--batch", "-", "--format", "csv", stdin=data)
    assert code == 0
    assert [r["id"] for r in csv_rows(out)] == [f"r{i}" for i in range(5)] + ["q, 1", "q\n2", "last"]


def test_an_empty_input_prints_nothing_or_just_the_header(run_cli) -> None:
    assert run_cli("eval", "x", "--batch", "-", stdin="") == (0, "", "")
    assert run_cli("eval", "x", "--batch", "-", "--format", "csv", stdin="x\n") == (
        0, "x,value,grad_x,error\n", "",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--precision", "3"), "for one point"),
        (("--format", "csv", "--json"), "disagree"),
        (("--batch", "no-such-file.csv"), "no such file"),
    ],
)
def test_options_that_do_not_fit_a_batch_are_usage_errors(run_cli, args, message) -> None:
    code, _, err = run_cli("eval", "x", "--grid", "x=0:1:2", *args)
    assert code == 2 and message in err


def test_format_without_batch_or_grid_is_a_usage_error(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "-x", "1", "--format", "csv")
    assert code == 2 and "--batch" in err


def test_standard_input_cannot_be_both_source_and_batch(run_cli) -> None:
    code, _, err = run_cli("eval", "-", "--batch", "-", stdin="x\n1\n")
    assert code == 2 and "both" in err


def test_the_standard_library_writes_the_same_numbers_without_orjson(run_cli, monkeypatch) -> None:
    args = ("eval", "sin(x)*y", "--grid", "x=-3:3:7", "--grid", "y=0:1:3")
    _, fast, _ = run_cli(*args, "--format", "csv")
    _, fast_json, _ = run_cli(*args)
    monkeypatch.setitem(sys.modules, "orjson", None)  # import orjson fails
    _, slow, _ = run_cli(*args, "--format", "csv")
    _, slow_json, _ = run_cli(*args)
    assert [{k: float(v or 0) for k, v in r.items()} for r in csv_rows(fast)] == [
        {k: float(v or 0) for k, v in r.items()} for r in csv_rows(slow)
    ]
    assert records(fast_json) == records(slow_json)


# --- vectorised = scalar ------------------------------------------------------------------------


def _scalar_outcome(graph: gradcli.Graph, point: dict[str, float]) -> tuple:
    try:
        result = gradcli.run(graph, point)
    except GradError as exc:
        return ("error", exc.kind, exc.message)
    return ("ok", result.value, tuple(result.gradient.values()))


def _vector_outcomes(graph: gradcli.Graph, rows: list[dict[str, float]], chunk: int = 0) -> list[tuple]:
    """Row by row outcomes of the vectorised evaluator (in chunks of ``chunk`` rows if set)."""
    columns = {name: np.array([row[name] for row in rows]) for name in graph.inputs}
    saved = vectorised.COMPUTE_ROWS
    vectorised.COMPUTE_ROWS = chunk or saved
    try:
        result = batch.evaluate_arrays(graph, columns, size=len(rows))
    finally:
        vectorised.COMPUTE_ROWS = saved
    out = []
    for r in range(len(rows)):
        if r in result.errors:
            err = result.errors[r]
            out.append(("error", err.kind, err.message))
        else:
            grads = tuple(float(result.gradient[n][r]) for n in graph.inputs)
            out.append(("ok", float(result.value[r]), grads))
    return out


_NUMBER = re.compile(r"-?\d+\.\d+(?:e[+-]?\d+)?")


def _rounded(message: str) -> str:
    """A message with its numbers to 10 digits: NumPy's log or sin may differ from
    the math module's in the last place, and the operands in a message show it."""
    return _NUMBER.sub(lambda m: f"{float(m.group()):.10g}", message)


def _same(vector: tuple, scalar: tuple) -> bool:
    if vector[0] != scalar[0]:
        return False
    if vector[0] == "error":
        return vector[1] == scalar[1] and _rounded(vector[2]) == _rounded(scalar[2])
    pairs = [(vector[1], scalar[1]), *zip(vector[2], scalar[2], strict=True)]
    return all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in pairs)


@settings(max_examples=60, deadline=None)
@given(programs(), st.lists(points(), min_size=1, max_size=8))
def test_vectorised_equals_scalar_on_random_smooth_programs(source: str, rows: list[dict]) -> None:
    graph = gradcli.compile(source)
    rows = [{name: row[name] for name in graph.inputs} for row in rows]
    for vector, row in zip(_vector_outcomes(graph, rows), rows, strict=True):
        scalar = _scalar_outcome(graph, row)
        assert _same(vector, scalar), (source, row, vector, scalar)


_WILD_UNARY = ("log({})", "sqrt({})", "abs({})", "relu({})", "sign({})", "asin({})", "acosh({})",
               "atanh({})", "exp({})", "1 / ({})", "cbrt({})", "tan({})", "-({})", "softplus({})")
_WILD_BINARY = ("({}) ^ ({})", "({}) / ({})", "max({}, {})", "min({}, {})", "atan2({}, {})",
                "hypot({}, {})", "log({}, {})", "({}) * ({})", "({}) - ({})", "pow({}, {})")
_WILD_VALUES = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0)


@st.composite
def wild_programs(draw: st.DrawFn, max_depth: int = 3) -> str:
    """Programs with kinks, domain edges, zero divisions and overflows."""

    def expr(depth: int) -> str:
        choice = draw(st.integers(0, 2 if depth < max_depth else 0))
        if choice == 0:
            return draw(st.sampled_from([*VARIABLES, "0", "1", "2", "0.5", "-1", "1000"]))
        if choice == 1:
            return draw(st.sampled_from(_WILD_UNARY)).format(expr(depth + 1))
        return draw(st.sampled_from(_WILD_BINARY)).format(expr(depth + 1), expr(depth + 1))

    return expr(0)


@settings(max_examples=150, deadline=None)
@given(wild_programs(), st.lists(st.fixed_dictionaries({v: st.sampled_from(_WILD_VALUES) for v in VARIABLES}),
                                 min_size=1, max_size=10))
def test_vectorised_equals_scalar_row_by_row_at_kinks_and_domain_edges(source: str, rows) -> None:
    try:
        graph = gradcli.compile(source)
    except GradError:
        return
    rows = [{name: row[name] for name in graph.inputs} for row in rows]
    whole, chunked = _vector_outcomes(graph, rows), _vector_outcomes(graph, rows, chunk=3)
    for vector, in_chunks, row in zip(whole, chunked, rows, strict=True):
        scalar = _scalar_outcome(graph, row)
        assert _same(vector, scalar), (source, row, vector, scalar)
        assert _same(in_chunks, scalar), (source, row, in_chunks, scalar)


def test_a_constant_subexpression_that_fails_fails_every_row(run_cli) -> None:
    code, out, _ = run_cli("eval", "x + log(-1)", "--grid", "x=0:1:3")
    assert code == 1
    assert [r["error"]["kind"] for r in records(out)] == ["domain"] * 3


def test_evaluate_arrays_evaluates_long_arrays_in_chunks(monkeypatch) -> None:
    monkeypatch.setattr(vectorised, "COMPUTE_ROWS", 7)
    graph = gradcli.compile("x * sqrt(x)")
    x = np.linspace(-1, 4, 50)
    result = batch.evaluate_arrays(graph, {"x": x})
    assert sorted(result.errors) == [i for i in range(50) if x[i] <= 0]
    good = x > 0
    assert np.allclose(result.value[good], x[good] ** 1.5)
    assert np.allclose(result.gradient["x"][good], 1.5 * np.sqrt(x[good]))


# --- NumPy only for this path --------------------------------------------------------------------


def _imports_numpy(*args: str, stdin: str = "") -> bool:
    code = (
        "import sys, io, contextlib\n"
        "from gradcli.cli import main\n"
        f"sys.stdin = io.TextIOWrapper(io.BytesIO({stdin.encode()!r}))\n"
        "with contextlib.redirect_stdout(io.StringIO()): main(" + repr(list(args)) + ")\n"
        "print('numpy' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1] == "True"


def test_eval_without_batch_does_not_import_numpy() -> None:
    assert not _imports_numpy("eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4", "--json")
    assert not _imports_numpy("eval", "x*x", "-x", "2")
    assert not _imports_numpy("eval", "--help")


def test_eval_with_batch_does_import_numpy() -> None:
    assert _imports_numpy("eval", "x", "--grid", "x=0:1:2")


def test_without_numpy_a_batch_says_how_to_install_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['numpy'] = None\n"  # import numpy now raises ImportError
        "from gradcli.cli import main\n"
        "sys.exit(main(['eval', 'x', '--grid', 'x=0:1:2']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error:") and "pip install numpy" in proc.stderr


# --- extreme inputs: never a null, never a warning ----------------------------------------------


_EXTREME_VALUES = (
    0.0, -0.0, 1.0, -1.0, 1e308, -1e308, 1e-308, -1e-308, 5e-324, -5e-324, 1.7976931348623157e308,
    math.inf, math.nan,  # from Python only (the command line refuses them): the binding error
)
# Not cbrt, whose NumPy and math-module results may differ in the last digit (as the manual
# allows), nor tan: at such extremes that digit is amplified past any tolerance
# (tan(cbrt(1e308)) is a different point of the period; log(cbrt(a), a)'s gradient at
# 1e-308 is rounding noise of size 1e291).
_EXTREME_UNARY = (*(u for u in _WILD_UNARY if u not in ("tan({})", "cbrt({})")),
                  "1e308 * ({})", "({}) * 1e308", "({}) / 1e-308", "({}) * 5e-324", "({}) ^ 2")
_EXTREME_BINARY = (*_WILD_BINARY, "({}) + ({})", "({}) + ({})")


@st.composite
def extreme_programs(draw: st.DrawFn, max_depth: int = 3) -> str:
    """Programs whose values or gradient sums overflow or underflow at extreme points."""

    def expr(depth: int) -> str:
        choice = draw(st.integers(0, 3 if depth < max_depth else 0))
        if choice == 0:
            return draw(st.sampled_from(["a", "a", "b", "0", "1", "2", "1e308", "1e-308", "5e-324"]))
        if choice == 1:
            return draw(st.sampled_from(_EXTREME_UNARY)).format(expr(depth + 1))
        return draw(st.sampled_from(_EXTREME_BINARY)).format(expr(depth + 1), expr(depth + 1))

    return expr(0)


def test_a_gradient_sum_that_overflows_is_the_error_row_eval_gives(run_cli) -> None:
    source = "x*1e308+1e308*x"
    code, out, _ = run_cli("eval", source, "--grid", "x=-1:1:3")
    assert code == 1
    try:
        gradcli.evaluate(source, x=0.0)
    except GradError as exc:
        expected = {"kind": exc.kind, "message": exc.message, **exc.provenance()}
    assert expected["kind"] == "overflow" and "gradient" in expected["message"]
    assert records(out)[1] == {"row": 2, "error": expected}
    assert "null" not in out


@settings(max_examples=300, deadline=None)
@given(extreme_programs(),
       st.lists(st.fixed_dictionaries({v: st.sampled_from(_EXTREME_VALUES) for v in ("a", "b")}),
                min_size=1, max_size=6))
@example("a * 1e308 + 1e308 * a", [{"a": 0.0, "b": 0.0}])
@example("(a) ^ (b)", [{"a": math.nan, "b": math.inf}])  # the first input's error, as eval's
def test_vectorised_equals_scalar_row_by_row_at_extreme_inputs(source: str, rows) -> None:
    try:
        graph = gradcli.compile(source)
    except GradError:
        return
    rows = [{name: row[name] for name in graph.inputs} for row in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning may escape
        outcomes = _vector_outcomes(graph, rows)
    for vector, row in zip(outcomes, rows, strict=True):
        scalar = _scalar_outcome(graph, row)
        if vector[0] == "ok":  # a number in every field, never NaN or ±inf (JSON null)
            assert all(math.isfinite(v) for v in (vector[1], *vector[2])), (source, row, vector)
        assert _same(vector, scalar), (source, row, vector, scalar)


# --- grids: huge ends, huge counts --------------------------------------------------------------


def test_grid_ends_near_the_float_limit_give_finite_points_and_no_numpy_warning(run_exe) -> None:
    code, out, err = run_exe("eval", "x*2", "--grid", "x=-1e308:1e308:3")
    assert code == 1
    assert "Warning" not in err and "nan" not in out and "inf" not in out
    got = records(out)
    assert got[1]["inputs"] == {"x": 0.0} and got[1]["value"] == 0.0
    assert [r["error"]["message"] for r in (got[0], got[2])] == [
        "overflow: (-1e+308) * 2 is too large for a float", "overflow: 1e+308 * 2 is too large for a float",
    ]


@pytest.mark.parametrize(
    ("start", "stop", "count"),
    [(-2.0, 2.0, 5), (-3.0, 3.0, 121), (0.0, 2 * math.pi, 101), (0.0, 1.0, 11), (1e-320, 0.0, 7),
     (0.0, 5e-324, 3), (5.0, 5.0, 4), (7.0, 9.0, 1), (-1e300, 1e301, 1000)],
)
def test_grid_points_are_those_of_numpy_linspace(start: float, stop: float, count: int) -> None:
    points = grids.Grid("x", start, stop, count).points(np, np.arange(count))
    assert np.array_equal(points, np.linspace(start, stop, count))


@pytest.mark.parametrize("count", [2, 3, 7, 1001, 2**53])
@pytest.mark.parametrize("ends", [(-1e308, 1e308), (1.7976931348623157e308, -1.7976931348623157e308),
                                  (-1.7976931348623157e308, 5e-324)])
def test_grid_points_stay_finite_and_in_order_where_the_span_overflows(ends, count: int) -> None:
    start, stop = ends
    index = np.unique(np.linspace(0, count - 1, 1001).astype(np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            points = grids.Grid("x", start, stop, count).points(np, index)
    assert points[0] == start and points[-1] == stop
    assert np.isfinite(points).all()
    assert (points[1:] >= points[:-1]).all() if stop > start else (points[1:] <= points[:-1]).all()


def test_mixed_radix_digits_of_a_range_match_unravel_index_and_pass_64_bits() -> None:
    shape = [3, 4, 5]
    digits = grids.digits(np, 17, 40, shape)
    assert [d.tolist() for d in digits] == [d.tolist() for d in np.unravel_index(np.arange(17, 57), shape)]
    huge = [10**10, 10**10, 10**10]  # a product of 10^30: beyond any integer array
    start = 10**30 - 3
    digits = grids.digits(np, start, 3, huge)
    last = 10**10 - 1
    assert [d.tolist() for d in digits] == [[last] * 3, [last] * 3, [last - 2, last - 1, last]]


class _StopAfter(io.StringIO):
    """An output that, like `| head`, stops the run after a few writes (and keeps
    only the start of what it was given)."""

    class Enough(Exception):
        pass

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.left = writes

    def write(self, text: str) -> int:
        if self.left == 0:
            raise self.Enough
        self.left -= 1
        if self.tell() < 1000:
            super().write(text[:1000])
        return len(text)


def _peak_memory(source: str, grids: list[str], stdin: bytes | None) -> tuple[int, _StopAfter]:
    """Peak memory of a batch stopped after three chunks (or done before), and the
    start of its output."""
    import tracemalloc

    out = _StopAfter(3)
    tracemalloc.start()
    try:
        with contextlib.suppress(_StopAfter.Enough):
            batch.run_batch(gradcli.compile(source), {}, grids=grids, batch=None if stdin is None else "-",
                            stdin=None if stdin is None else io.BufferedReader(io.BytesIO(stdin)), out=out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, out


def _step(start: float, stop: float, count: int) -> float:
    return (stop - start) / (count - 1)


@pytest.mark.parametrize(
    ("source", "huge", "small", "stdin", "first"),
    [
        ("x*2", ["x=0:1:1000000000000"], ["x=0:1:13000"], None,
         [{"x": 0.0}, {"x": _step(0, 1, 10**12)}, {"x": 2 * _step(0, 1, 10**12)}]),
        ("x*y", ["x=0:1:10000000000", "y=-1:1:10000000000"], ["x=0:1:2", "y=-1:1:7000"], None,
         [{"x": 0.0, "y": -1.0}, {"x": 0.0, "y": _step(-1, 1, 10**10) - 1},
          {"x": 0.0, "y": 2 * _step(-1, 1, 10**10) - 1}]),
        ("x*y", ["x=0:1:100000000"], ["x=0:1:5000"], b"y\n1\n2\n3\n",
         [{"x": 0.0, "y": 1.0}, {"x": _step(0, 1, 10**8), "y": 1.0},
          {"x": 2 * _step(0, 1, 10**8), "y": 1.0}]),
    ],
)
def test_a_huge_grid_is_made_chunk_by_chunk_in_the_memory_of_a_small_one(
    source, huge, small, stdin, first, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "CHUNK", 4096)  # three chunks of the small grid
    peak, out = _peak_memory(source, huge, stdin)
    reference, _ = _peak_memory(source, small, stdin)
    assert out.left == 0  # stopped by its reader, as `| head` stops it
    assert peak < 1.5 * reference + 4 * 2**20, (peak, reference)  # nothing the size of the grid
    assert [json.loads(line)["inputs"] for line in out.getvalue().splitlines()[:3]] == first


def test_a_sweep_of_a_trillion_points_piped_into_a_reader_that_stops_ends_at_once() -> None:
    from conftest import gradcli_executable

    proc = subprocess.Popen([gradcli_executable(), "eval", "x*2", "--grid", "x=0:1:1000000000001"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        proc.stdout.close()  # as `| head -3` does
        code = proc.wait(timeout=30)
        err = proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait()
    assert [json.loads(line)["inputs"]["x"] for line in lines] == [0.0, 1e-12, 2e-12]
    assert (code, err) == (0, "")


# --- the same text with and without orjson -------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e-05, -1.5e-05, 9.999e-05, 1e-06, 3e-07, -1e-09, 1e-10, 1e-04, 10.00001, 1e16, 1e-320]),
), min_size=1, max_size=40))
def test_orjson_writes_every_float_as_repr_does_byte_for_byte(values: list[float]) -> None:
    pytest.importorskip("orjson")
    graph = gradcli.compile("x")
    text = "".join(json.dumps({"x": v}) + "\n" for v in values).encode()
    outputs = []
    for fmt in ("jsonl", "csv"):
        fast, slow = io.StringIO(), io.StringIO()
        batch.run_batch(graph, {}, batch="-", stdin=io.BufferedReader(io.BytesIO(text)), out=fast, fmt=fmt)
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(sys.modules, "orjson", None)  # import orjson fails: the standard library
            stdin = io.BufferedReader(io.BytesIO(text))
            batch.run_batch(graph, {}, batch="-", stdin=stdin, out=slow, fmt=fmt)
        assert fast.getvalue() == slow.getvalue()
        outputs.append(fast.getvalue())
    strict_lines(outputs[0])
    assert [r["value"] for r in records(outputs[0])] == [v + 0.0 for v in values]


def test_evaluate_arrays_gives_a_nan_or_infinite_input_the_binding_error_of_evaluate() -> None:
    graph = gradcli.compile("log(x) + relu(y)")
    columns = {"x": np.array([1.0, -1.0, math.nan]), "y": np.array([-math.inf, 2, 3])}
    result = batch.evaluate_arrays(graph, columns)
    expected = {}
    for r, point in enumerate([{"x": 1.0, "y": -math.inf}, {"x": -1.0, "y": 2.0}, {"x": math.nan, "y": 3.0}]):
        with pytest.raises(GradError) as caught:
            gradcli.evaluate("log(x) + relu(y)", point)
        expected[r] = (caught.value.kind, caught.value.message)
    assert {r: (e.kind, e.message) for r, e in result.errors.items()} == expected
    assert expected[0] == ("binding", "the value of y must be a finite number, not -inf")


def test_a_batch_with_wrt_computes_no_gradient_toward_the_other_inputs(run_cli) -> None:
    code, out, err = run_cli("eval", "w*sqrt(x)", "-w", "2", "--grid", "x=0:1:3", "--wrt", "w")
    assert (code, err) == (0, "")
    assert [json.loads(line)["gradient"] for line in out.splitlines()] == [
        {"w": 0.0}, {"w": math.sqrt(0.5)}, {"w": 1.0}
    ]


# --- the reported names are the output's own: a column grad_NAME for --wrt NAME clashes too ----


WRT_Q = ("eval", "q = x*2; q + 1", "--wrt", "q,x", "--batch", "-")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_column_named_for_a_reported_statement_is_refused(run_cli, fmt: str) -> None:
    # --wrt q reports grad_q: a CSV column grad_q would make a header with two grad_q
    code, out, err = run_cli(*WRT_Q, "--format", fmt, stdin="x,grad_q\n1,2\n")
    assert (code, out) == (2, "") and "'grad_q'" in err


def test_a_json_key_named_for_a_reported_statement_fails_its_row(run_cli) -> None:
    stdin = '{"x": 1, "grad_q": 5, "id": 7}\n{"x": 2, "id": 8}\n'
    code, out, _ = run_cli(*WRT_Q, "--format", "csv", stdin=stdin)
    assert code == 1
    header = out.splitlines()[0].split(",")
    assert header == ["id", "x", "value", "grad_q", "grad_x", "error"]
    failed, ok = csv_rows(out)
    assert "'grad_q'" in failed["error"] and ok["grad_q"] == "1.0"


def test_a_column_named_for_a_statement_not_reported_passes_through(run_cli) -> None:
    stdin = "x,grad_q\n1,2\n"
    code, out, _ = run_cli("eval", "q = x*2; q + 1", "--batch", "-", "--format", "csv", stdin=stdin)
    assert code == 0 and out.splitlines() == ["x,grad_q,value,grad_x,error", "1,2,3.0,2.0,"]


@pytest.mark.parametrize("args", [("--grid", "x=0:1:2"), ("--batch", "-")])
def test_a_name_given_twice_to_wrt_is_refused(run_cli, args: tuple[str, str]) -> None:
    # each gradient once: never a record {"gradient": {"y": 0.0, "y": 0.0}} nor two grad_y columns
    code, out, err = run_cli("eval", "x*y", "-y", "2", "--wrt", "y,x,y", *args, stdin="x\n1\n")
    assert (code, out) == (2, "")
    assert err == "error: --wrt y: y is named twice\n"


# --- an input named like a column of the output's own: refused where the output has columns -------


@pytest.mark.parametrize(
    ("source", "args"),
    [
        ("value*2", ("--grid", "value=0:1:2")),
        ("error*2", ("--grid", "error=0:1:2")),
        ("grad_x*x", ("--grid", "x=0:1:2", "-grad_x", "1")),
    ],
)
def test_an_input_named_like_an_output_column_is_refused_in_csv_but_fine_in_json(
    run_cli, source: str, args: tuple[str, ...]
) -> None:
    # CSV output had two columns of one name ("value,value,grad_value,error")
    code, out, err = run_cli("eval", source, *args, "--format", "csv")
    assert (code, out) == (2, "")
    assert "would clash with the output's own column" in err and err.count("\n") == 1
    code, out, _ = run_cli("eval", source, *args)  # in JSON Lines an input is a key of "inputs"
    assert code == 0 and len(records(out)) == 2
