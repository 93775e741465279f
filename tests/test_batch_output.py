"""eval --batch: what comes out. The same bytes with orjson and without it, a row
the standard library cannot write is that row's error, a record is written whole
or not at all, and evaluate_arrays marks failed rows with NaN."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gradcli
from gradcli import batch

np = pytest.importorskip("numpy")


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


#: Lines on which orjson's reading and the standard library's differ, or may.
AWKWARD_LINES = [
    '{"id": 100000000000000000000000, "x": 1}',  # past 64 bits: orjson gives 1e+23
    '{"id": -9999999999999999999, "x": 1}',  # past i64 below
    '{"id": 18446744073709551615, "x": 2}',  # u64 max
    '{"x": 100000000000000000000000}',
    '{"x": 1E400}',
    '{"x": -1e400, "id": "a"}',
    '{"x": 2, "y": 1E400}',
    '{"x": NaN}',
    '{"x": 2, "y": NaN}',
    '{"x": Infinity}',
    '{"x": 2, "y": -Infinity}',
    '{"x": 1, "s": "\\ud800"}',  # a lone surrogate
    '{"x": "\\udfff"}',
    '{"x": 1, "s": "\\ud83d\\ude00"}',  # a pair: fine
    '{"x": 1, "n": [1, 2.5, {"k": 123456789012345678901234567890}]}',
    '{"x": 1e-400}',
    '{"x": 1, "x": 3}',
    '{"x": 1' + "0" * 400 + "}",
    '{"x": 2, "deep": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"x": 0.1, "f": 1.7976931348623157e308, "g": 5e-324}',
    "[1, 2]",
    "{broken",
    '{"x": "pi/4", "id": null, "b": true}',
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_awkward_json_lines_give_the_same_bytes_with_orjson_and_without(run_exe, fmt: str) -> None:
    pytest.importorskip("orjson")
    from conftest import NO_ORJSON

    data = "\n".join(AWKWARD_LINES) + "\n"
    args = ("eval", "x*2", "--batch", "-", "--format", fmt)
    fast = run_exe(*args, stdin=data)
    slow = run_exe(*args, stdin=data, env={"PYTHONPATH": NO_ORJSON})
    assert fast == slow
    code, out, err = fast
    assert code == 1 and "internal error" not in err
    assert len(out.splitlines()) == len(AWKWARD_LINES) + (fmt == "csv")


def test_awkward_json_lines_are_read_as_json_says(run_cli, json_library) -> None:
    code, out, _ = run_cli("eval", "x*2", "--batch", "-", stdin="\n".join(AWKWARD_LINES) + "\n")
    assert code == 1
    got = records(out)
    assert len(got) == len(AWKWARD_LINES)
    assert got[0]["id"] == 10**23  # digits kept, as given
    assert got[1]["id"] == -9999999999999999999
    assert got[3]["value"] == 2e23
    messages = [r["error"]["message"] if "error" in r else None for r in got]
    assert messages[4] == "line 5: the number 1E400 is too large for a float"
    assert messages[6] == "line 7: the number 1E400 is too large for a float"
    assert messages[7] == "line 8: NaN is not JSON (JSON has no NaN or Infinity)"
    assert messages[10] == "line 11: -Infinity is not JSON (JSON has no NaN or Infinity)"
    assert messages[11] == "line 12 holds a lone surrogate (\\ud800), which is no character of text"
    assert messages[12] == "line 13 holds a lone surrogate (\\udfff), which is no character of text"
    assert got[13]["s"] == "\U0001f600"
    assert got[14]["n"] == [1, 2.5, {"k": 123456789012345678901234567890}]
    assert got[16]["value"] == 6.0
    assert messages[17].startswith("the value of x must be a finite number")
    assert messages[18] == "line 19 is nested too deeply" or got[18]["value"] == 4.0
    assert got[19]["f"] == 1.7976931348623157e308 and got[19]["g"] == 5e-324


def test_a_lone_surrogate_is_that_rows_error_and_the_others_go_on_without_orjson(run_exe) -> None:
    from conftest import NO_ORJSON

    data = '{"x": 1}\n{"x": 2, "s": "\\ud800"}\n{"x": 3}\n'
    for fmt in ("jsonl", "csv"):
        code, out, err = run_exe("eval", "x", "--batch", "-", "--format", fmt, stdin=data,
                                 env={"PYTHONPATH": NO_ORJSON})
        assert code == 1, err
        assert err == "error: 1 of 3 rows failed (row 2); their records say why\n"
        assert "lone surrogate" in out.splitlines()[2 if fmt == "csv" else 1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@given(st.lists(st.dictionaries(st.sampled_from(["x", "id", "tag", "value_"]), json_values, max_size=3),
                min_size=1, max_size=6), st.sampled_from(["jsonl", "csv"]))
@example([{"x": 1, "id": 10**23}], "jsonl")
@example([{"x": 10**20, "tag": [-(10**19)]}], "csv")
def test_json_lines_of_any_values_give_the_same_bytes_with_orjson_and_without(rows, fmt) -> None:
    pytest.importorskip("orjson")
    graph = gradcli.compile("x^2")
    text = "".join(json.dumps(row) + "\n" for row in rows).encode()
    outputs = []
    for hide in (False, True):
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            if hide:
                patch.setitem(sys.modules, "orjson", None)
            batch.run_batch(graph, {"x": 1}, batch="-", stdin=io.BufferedReader(io.BytesIO(text)),
                            out=out, fmt=fmt)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]


# --- evaluate_arrays -----------------------------------------------------------------------------


def test_evaluate_arrays_gives_nan_for_failed_rows_and_says_which_failed() -> None:
    graph = gradcli.compile("sqrt(x) * y")
    x, y = np.array([4.0, -4.0, 9.0, 0.0]), np.array([1.0, 2.0, 3.0, 4.0])
    result = batch.evaluate_arrays(graph, {"x": x, "y": y})
    assert sorted(result.errors) == [1, 3]  # sqrt(-4); sqrt'(0)
    assert result.failed.tolist() == [False, True, False, True]
    assert np.isnan(result.value[[1, 3]]).all()
    for g in result.gradient.values():
        assert np.isnan(g[[1, 3]]).all()
    assert result.value[[0, 2]].tolist() == [2.0, 9.0]
    assert result.gradient["x"][[0, 2]].tolist() == [0.25, 0.5]
    assert x.tolist() == [4.0, -4.0, 9.0, 0.0] and y.tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("source", ["x * y", "x + y", "x", "y * 1 + x * 0"])
def test_evaluate_arrays_returns_arrays_of_its_own_never_an_input(source: str) -> None:
    x, y = np.array([1.0, 2.0, -1.0]), np.array([3.0, 4.0, 5.0])
    result = batch.evaluate_arrays(gradcli.compile(source), {"x": x, "y": y})
    for array in [result.value, *result.gradient.values()]:
        array[:] = math.pi
    assert x.tolist() == [1.0, 2.0, -1.0] and y.tolist() == [3.0, 4.0, 5.0]


def test_rows_failed_before_are_nan_too() -> None:
    from gradcli.errors import GradError

    result = batch.evaluate_arrays(gradcli.compile("x*2"), {"x": np.array([1.0, 2.0])},
                                   errors={0: GradError("binding", "given up")})
    assert math.isnan(result.value[0]) and result.value[1] == 4.0
    assert result.failed.tolist() == [True, False]


# --- Ctrl-C never cuts a record ------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_ctrl_c_while_writing_into_a_full_pipe_leaves_no_part_of_a_record(fmt: str, unbuffered: str) -> None:
    from conftest import gradcli_executable

    proc = subprocess.Popen(
        [gradcli_executable(), "eval", "sin(x)*x", "--grid", "x=0:1:3000000", "--format", fmt],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
        env={**os.environ, "PYTHONUNBUFFERED": unbuffered},  # a raw or a buffered standard output
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(10)  # started writing; now the pipe fills and the write waits
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = (first + out).decode()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines and len(lines) < 3000000
    if fmt == "jsonl":
        records(text)
    else:
        assert {len(line.split(",")) for line in lines} == {4}


def test_write_whole_holds_an_interrupt_until_the_records_are_out() -> None:
    from gradcli.records import write_whole

    class Slow(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            half = len(data) // 2
            super().write(data[:half])
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C half way through
            time.sleep(0.01)
            return half + super().write(data[half:])

    stream = Slow()
    with pytest.raises(KeyboardInterrupt):
        write_whole(stream, b"a record\nanother record\n")
    assert stream.getvalue() == b"a record\nanother record\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --- JSON Lines into CSV or Parquet: a key met after the columns were set is said ------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_key_first_met_after_the_columns_were_set_is_noted(run_cli, monkeypatch, tmp_path, fmt) -> None:
    # its values were dropped without a word (the columns come from the first chunk of rows)
    monkeypatch.setattr(batch, "chunk_rows", lambda graph: 2)
    stdin = '{"x": 1, "id": 1}\n{"x": 2}\n{"x": 3, "late": "a"}\n{"x": 4, "late": "b", "later": 1}\n'
    out = ("--out", str(tmp_path / "o.parquet")) if fmt == "parquet" else ()
    code, text, err = run_cli("eval", "x", "--batch", "-", "--format", fmt, *out, stdin=stdin)
    assert code == 0
    assert err == (
        "note: the key 'late' first appears in row 3, after the output's columns were set from the rows"
        " before it: its values are left out (give it in an earlier row, or write JSON Lines)\n"
        "note: the key 'later' first appears in row 4, after the output's columns were set from the rows"
        " before it: its values are left out (give it in an earlier row, or write JSON Lines)\n"
    )
    if fmt == "csv":
        assert text.splitlines()[0] == "id,x,value,grad_x,error"
    code, _, err = run_cli("eval", "x", "--batch", "-", stdin=stdin)  # JSON Lines keeps every key
    assert (code, err) == (0, "")


ERROR_CELLS = [
    "overflow: exp(1000) is too large for a float",
    "division_by_zero: 1 / 0",
    "domain: log(-1) is outside the domain of log(x) (x > 0)",
]


def _error_cells_data(tmp_path) -> str:
    data = tmp_path / "d.csv"
    data.write_text("x\n1000\n0\n-1\n2\n")
    return str(data)


def test_a_csv_error_cell_says_the_kind_once(tmp_path) -> None:
    """``kind: message``, where the message of an overflow or a division by zero
    starts with the kind's words: not ``overflow: overflow: ...``."""
    import csv as csv_module

    out = io.StringIO()
    batch.run_batch(gradcli.compile("1/x + log(x) + exp(x)"), {}, batch=_error_cells_data(tmp_path),
                    fmt="csv", out=out)
    assert [row["error"] for row in csv_module.DictReader(io.StringIO(out.getvalue()))] == [*ERROR_CELLS, ""]


def test_a_parquet_and_a_frame_error_cell_say_the_kind_once(tmp_path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    pd = pytest.importorskip("pandas")
    graph = gradcli.compile("1/x + log(x) + exp(x)")
    out = tmp_path / "out.parquet"
    batch.run_batch(graph, {}, batch=_error_cells_data(tmp_path), fmt="parquet", out_path=str(out))
    assert pq.read_table(out).column("error").to_pylist() == [*ERROR_CELLS, None]
    frame = graph.evaluate_frame(pd.DataFrame({"x": [1000.0, 0.0, -1.0, 2.0]}))
    assert list(frame["error"])[:3] == ERROR_CELLS
