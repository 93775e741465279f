"""eval --batch reads Parquet (by extension or --input-format parquet) and writes it
(--format parquet --out FILE): the same rows, numbers and errors as CSV."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _write(path, **columns) -> str:
    pq.write_table(pa.table(columns), path)
    return str(path)


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_parquet_file_is_read_as_its_csv_twin(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "p.parquet", id=["a", "b", "c"], x=[1.0, -1.0, 2.0], y=[2.0, 3.0, 0.5])
    csv = "id,x,y\na,1.0,2.0\nb,-1.0,3.0\nc,2.0,0.5\n"  # a float column's cells as repr writes them
    for fmt in ("jsonl", "csv"):
        code, out, err = run_cli("eval", "log(x)*y", "--batch", path, "--format", fmt)
        code_csv, out_csv, err_csv = run_cli("eval", "log(x)*y", "--batch", "-", "--format", fmt, stdin=csv)
        assert (code, err) == (code_csv, err_csv)
        assert (code, err) == (1, "error: 1 of 3 rows failed (row 2); their records say why\n")
        if fmt == "jsonl":
            assert _records(out) == _records(out_csv)
        else:
            assert out.splitlines()[1:] == out_csv.splitlines()[1:]


def test_input_format_parquet_reads_a_file_of_any_name(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "data.bin", x=[3.0])
    code, out, _ = run_cli("eval", "x^2", "--batch", path, "--input-format", "parquet")
    assert code == 0 and _records(out)[0]["gradient"] == {"x": 6.0}


def test_parquet_out_keeps_the_inputs_columns_and_types(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "p.parquet", id=pa.array([7, 8, 9], pa.int32()), x=[1.0, -1.0, 4.0],
                  when=pa.array([0, 1, 2], pa.timestamp("s")))
    out = tmp_path / "out.parquet"
    code, stdout, _ = run_cli("eval", "sqrt(x)*y", "-y", "2", "--batch", path, "--format", "parquet",
                                "--out", str(out))
    assert code == 1 and stdout == ""
    table = pq.read_table(out)
    assert table.schema.names == ["id", "x", "when", "y", "value", "grad_x", "grad_y", "error"]
    assert table.schema.field("id").type == pa.int32()
    assert table.schema.field("when").type == pq.read_schema(path).field("when").type
    assert table.column("value").to_pylist() == [2.0, None, 4.0]
    assert table.column("grad_x").to_pylist() == [1.0, None, 0.5]
    assert table.column("y").to_pylist() == [2.0, 2.0, 2.0]
    assert table.column("error").to_pylist()[1].startswith("domain: sqrt(-1) is outside the domain")
    assert [table.column("error")[i].as_py() for i in (0, 2)] == [None, None]


def test_parquet_out_from_csv_has_float_inputs_and_text_pass_through(run_cli, tmp_path) -> None:
    out = tmp_path / "o.parquet"
    code, _, _ = run_cli("eval", "x*y", "--batch", "-", "--format", "parquet", "--out", str(out),
                         stdin="tag,x,y\nq,1,2\n,abc,3\n")
    assert code == 1
    table = pq.read_table(out)
    assert table.schema.names == ["tag", "x", "y", "value", "grad_x", "grad_y", "error"]
    assert table.column("tag").to_pylist() == ["q", ""]
    assert table.column("x").to_pylist() == [1.0, None]  # the cell that is no number: null
    assert table.column("error")[1].as_py().startswith("binding: the value of x is not a number: abc")


def test_parquet_out_of_a_grid_and_of_json_lines(run_cli, tmp_path) -> None:
    out = tmp_path / "g.parquet"
    code, _, _ = run_cli("eval", "x*y", "--grid", "x=0:1:3", "-y", "2", "--format", "parquet",
                         "--out", str(out))
    assert code == 0
    assert pq.read_table(out).column("grad_x").to_pylist() == [2.0, 2.0, 2.0]
    code, _, _ = run_cli("eval", "x", "--batch", "-", "--format", "parquet", "--out", str(out),
                         stdin='{"x": 1, "n": 5}\n{"x": 2, "n": "z"}\n{"x": 3}\n')
    assert code == 0
    assert pq.read_table(out).column("n").to_pylist() == ["5", "z", None]


def test_parquet_out_of_json_lines_writes_a_keys_value_as_csv_out_does(run_cli, tmp_path) -> None:
    # an object, a list, a bool or a null nested inside: JSON text, never Python's repr
    # ("{'n': [1, None, True]}", which no JSON reader takes back)
    stdin = '{"x": 1, "id": {"n": [1, null, true]}}\n{"x": 2, "id": [1.5, "a"]}\n{"x": 3, "id": false}\n'
    out = tmp_path / "o.parquet"
    code, _, err = run_cli("eval", "x", "--batch", "-", "--format", "parquet", "--out", str(out), stdin=stdin)
    assert code == 0, err
    ids = pq.read_table(out).column("id").to_pylist()
    code, text, _ = run_cli("eval", "x", "--batch", "-", "--format", "csv", stdin=stdin)
    assert ids == [row["id"] for row in csv.DictReader(io.StringIO(text))]
    assert ids == ['{"n": [1, null, true]}', '[1.5, "a"]', "false"]


def test_nulls_and_nans_are_missing_values(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "n.parquet", x=pa.array([1.0, None, float("nan"), 4.0]))
    code, out, _ = run_cli("eval", "x*2", "--batch", path)
    got = _records(out)
    assert code == 1
    assert [r.get("value") for r in got] == [2.0, None, None, 8.0]
    assert got[1]["error"]["message"] == "missing a value for x: give it in the row, or a default as -x VALUE"
    code, out, _ = run_cli("eval", "x*2", "-x", "10", "--batch", path)
    assert code == 0 and [r["value"] for r in _records(out)] == [2.0, 20.0, 20.0, 8.0]


def test_text_cells_are_read_as_csv_cells_and_infinity_is_an_error(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "t.parquet", x=pa.array(["2.5", " 3 ", "pi", None, "1e400"]),
                  y=pa.array([1.0, float("inf"), 1.0, 1.0, 1.0]))
    code, out, _ = run_cli("eval", "x*y", "-x", "1", "--batch", path)
    got = _records(out)
    assert code == 1 and got[0]["value"] == 2.5
    assert "must be a finite number" in got[1]["error"]["message"]
    assert "not a number: pi" in got[2]["error"]["message"]
    assert got[3]["value"] == 1.0  # null: the default
    assert "too large for a float" in got[4]["error"]["message"]


def test_a_column_of_another_type_is_refused_before_any_row(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "b.parquet", x=pa.array([True, False]))
    code, out, err = run_cli("eval", "x*2", "--batch", path)
    assert (code, out) == (2, "")
    assert err == ("error: the column x of the Parquet input holds bool, not numbers: an input's column holds"
                   " numbers, or text such as 2.5\n")


def test_a_missing_column_lists_the_columns_found(run_cli, tmp_path) -> None:
    path = _write(tmp_path / "m.parquet", a=[1.0], xx=[2.0])
    code, _, err = run_cli("eval", "x*2", "--batch", path)
    assert code == 2
    assert err.startswith("error: the input has no column x") and "its columns are a, xx" in err


def test_a_glob_reads_its_files_in_order_and_a_glob_of_nothing_is_an_error(run_cli, tmp_path) -> None:
    for i in (2, 0, 1):
        _write(tmp_path / f"part{i}.parquet", x=[float(i), float(i) + 0.5])
    code, out, _ = run_cli("eval", "x", "--batch", str(tmp_path / "part*.parquet"))
    assert code == 0 and [r["value"] for r in _records(out)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    code, out, _ = run_cli("eval", "x", "--batch", str(tmp_path))  # a folder: its .parquet files
    assert code == 0 and len(_records(out)) == 6
    code, out, err = run_cli("eval", "x", "--batch", str(tmp_path / "nothing*.parquet"))
    assert (code, out) == (2, "") and err.endswith("nothing*.parquet: no file matches\n")


def test_files_with_other_columns_are_refused(run_cli, tmp_path) -> None:
    _write(tmp_path / "a.parquet", x=[1.0])
    _write(tmp_path / "b.parquet", x=[1.0], z=[2.0])
    code, _, err = run_cli("eval", "x", "--batch", str(tmp_path / "*.parquet"))
    assert code == 2 and "the files of one batch share their columns" in err


@pytest.mark.parametrize("content", [b"", b"not parquet at all", b"PAR1" + b"\0" * 100])
def test_a_file_that_is_not_parquet_is_a_usage_error(run_cli, tmp_path, content: bytes) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    code, out, err = run_cli("eval", "x", "--batch", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("error: cannot read --batch") and "as Parquet" in err and "Traceback" not in err


def test_parquet_from_standard_input_is_refused(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "--batch", "-", "--input-format", "parquet", stdin="x\n1\n")
    assert code == 2 and "not standard input" in err


def test_format_parquet_needs_out(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "--grid", "x=0:1:2", "--format", "parquet")
    assert code == 2 and err == "error: --format parquet writes a file: give --out FILE\n"


def test_a_run_that_fails_part_way_leaves_no_file(run_cli, tmp_path) -> None:
    """Rows of a first file, then a second file that is not Parquet: no --out, no leftovers."""
    _write(tmp_path / "a.parquet", x=np.arange(100_000, dtype=float))
    (tmp_path / "b.parquet").write_bytes(b"junk")
    out = tmp_path / "out" / "r.parquet"
    out.parent.mkdir()
    code, _, err = run_cli("eval", "x", "--batch", str(tmp_path / "*.parquet"), "--format", "parquet",
                           "--out", str(out))
    assert code == 2 and "b.parquet" in err
    assert os.listdir(out.parent) == []
    code, _, _ = run_cli("eval", "x", "--batch", str(tmp_path / "a.parquet"), "--format", "csv", "--out",
                         str(out.parent / "r.csv"))
    assert code == 0 and os.listdir(out.parent) == ["r.csv"]


def test_out_into_a_folder_that_does_not_exist_is_a_usage_error(run_cli, tmp_path) -> None:
    for fmt in ("parquet", "csv"):
        code, _, err = run_cli("eval", "x", "--grid", "x=0:1:2", "--format", fmt, "--out",
                               str(tmp_path / "no" / "f"))
        assert code == 2 and err.startswith("error: cannot write --out")


def test_out_is_only_for_a_batch(run_cli, tmp_path) -> None:
    code, _, err = run_cli("eval", "x", "-x", "1", "--out", str(tmp_path / "f"))
    assert code == 2 and err == "error: --out, --engine and --scheduler are for --batch and --grid\n"


def test_a_large_parquet_file_gives_the_numbers_of_its_csv_twin(run_cli, tmp_path) -> None:
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-1, 3, 150_000), rng.normal(size=150_000)
    path = _write(tmp_path / "big.parquet", x=x, y=y)
    out = tmp_path / "big_out.parquet"
    code, _, _ = run_cli("eval", "log(x)*y", "--batch", path, "--format", "parquet", "--out", str(out))
    assert code == 1
    table = pq.read_table(out)
    import gradcli
    from gradcli.batch import evaluate_arrays

    ref = evaluate_arrays(gradcli.compile("log(x)*y"), {"x": x, "y": y})
    value = table.column("value").to_numpy(zero_copy_only=False)
    assert np.array_equal(np.isnan(value), ref.failed)
    assert np.array_equal(value[~ref.failed], ref.value[~ref.failed])
    assert table.column("error").null_count == 150_000 - int(ref.failed.sum())


def test_fit_reads_parquet_data_as_its_csv_twin(run_cli, tmp_path) -> None:
    x = [0.0, 1.0, 2.0, 3.0]
    path = _write(tmp_path / "line.parquet", x=x, y=[1.0, 3.0, 5.0, 7.0], note=["a", "b", "c", "value"])
    csv = tmp_path / "line.csv"
    csv.write_text("x,y\n0,1\n1,3\n2,5\n3,7\n")
    args = ("fit", "(a*x + b - y)^2", "--params", "a,b", "-a", "0", "-b", "0", "--lr", "0.1",
            "--epochs", "50", "--json")
    code, out, err = run_cli(*args, "--data", path)
    code_csv, out_csv, _ = run_cli(*args, "--data", str(csv))
    assert code == code_csv, err
    got, want = json.loads(out), json.loads(out_csv)
    assert (got["params"], got["loss"], got["rows"], got["history"]) == (
        want["params"], want["loss"], want["rows"], want["history"])
    code, _, err = run_cli("fit", "(a*x + b - y)^2", "--params", "a,b", "-a", "0", "-b", "0",
                           "--data", _write(tmp_path / "bad.parquet", x=[1.0, None], y=[1.0, 2.0]))
    assert code == 2 and "row 2 of" in err and "missing a value for x" in err


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_out_to_a_pipe_or_a_link_writes_through_it_and_never_replaces_it(run_exe, tmp_path, fmt: str) -> None:
    """A rename into place would replace a device, a pipe or a link (--out /dev/stdout
    once replaced the file standard output went to): those are written in place."""
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, _, err = run_exe("eval", "x", "--grid", "x=0:1:2", "--format", fmt, "--out", str(fifo))
    reader.join(timeout=60)
    assert code == 0, err
    if fmt == "csv":
        assert got and got[0].startswith(b"x,value,grad_x,error\n")
    else:  # Parquet's writer never seeks back: a pipe takes a whole file
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert got and pq.read_table(pa.BufferReader(got[0])).column("value").to_pylist() == [0.0, 1.0]
    assert fifo.is_fifo()
    real, link = tmp_path / "real", tmp_path / "link"
    real.write_text("old")
    link.symlink_to(real)
    code, _, err = run_exe("eval", "x", "--grid", "x=0:1:2", "--format", fmt, "--out", str(link))
    assert code == 0, err
    assert link.is_symlink() and real.read_bytes() != b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "pipe", "real"]


def test_out_to_a_full_device_is_a_usage_error(run_exe) -> None:
    if not os.path.exists("/dev/full") or os.path.isfile("/dev/full"):
        pytest.skip("no /dev/full device here")
    for fmt in ("csv", "parquet"):
        code, _, err = run_exe("eval", "x", "--grid", "x=0:1:2", "--format", fmt, "--out", "/dev/full")
        assert code == 2 and err.startswith("error: cannot write --out /dev/full") and "Traceback" not in err
        assert not os.path.isfile("/dev/full")


def test_an_input_named_like_an_output_column_is_refused(run_cli, tmp_path) -> None:
    # the file had two columns named value
    out = tmp_path / "o.parquet"
    code, _, err = run_cli("eval", "value*2", "--grid", "value=0:1:2", "--format", "parquet",
                           "--out", str(out))
    assert code == 2 and "would clash with the output's own column 'value'" in err
    assert not out.exists()


def test_nested_and_binary_columns_pass_through_as_json_not_pythons_repr(run_cli, tmp_path) -> None:
    # a struct was "{'a': 1}", a list "[1, None]", binary "b'\\x00\\xff'"
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({
        "x": [1.0, 2.0],
        "s": pa.array([{"a": 1, "b": "é"}, None]),
        "l": pa.array([[1.5, None], []]),
        "bin": pa.array([b"\x00\xff", b"ab"]),
    }), path)
    code, out, err = run_cli("eval", "x", "--batch", str(path))
    assert code == 0, err
    first, second = _records(out)
    assert (first["s"], first["l"], first["bin"]) == ({"a": 1, "b": "é"}, [1.5, None], "00ff")
    assert (second["s"], second["l"], second["bin"]) == (None, [], "ab")
    code, out, _ = run_cli("eval", "x", "--batch", str(path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert (rows[0]["s"], rows[0]["l"], rows[0]["bin"]) == ('{"a": 1, "b": "é"}', "[1.5, null]", "00ff")
