"""eval --batch: reading rows. Blank means missing, lines have a bounded length,
the format is told from the first line that is not blank however it arrives, an
unreadable input is a usage error, and CSV mistakes are named."""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import subprocess
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from timing import cpu_seconds

import gradcli
from gradcli import batch

pytest.importorskip("numpy")


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def csv_rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


# --- blank means missing ------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [" ", "\t", "  \t ", ""])
@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_blank_csv_cell_is_missing_and_takes_the_default(run_cli, blank: str, quoted: bool) -> None:
    first = '"1"' if quoted else "1"  # a quote in a chunk: csv.reader reads it
    code, out, _ = run_cli("eval", "x*y", "-y", "10", "--batch", "-", "--format", "csv",
                           stdin=f"x,y\n{first},{blank}\n2,3\n")
    assert code == 0
    assert [(r["value"], r["grad_x"]) for r in csv_rows(out)] == [("10.0", "10.0"), ("6.0", "3.0")]


@pytest.mark.parametrize("blank", [" ", "\t", ""])
def test_a_blank_csv_cell_without_a_default_is_that_rows_missing_value(run_cli, blank: str) -> None:
    code, out, _ = run_cli("eval", "x*y", "--batch", "-", "--format", "csv",
                           stdin=f"x,y\n1,{blank}\n2,3\n")
    assert code == 1
    rows = csv_rows(out)
    assert rows[0]["error"].startswith("binding: missing a value for y")
    assert rows[1]["value"] == "6.0"


@pytest.mark.parametrize("blank", [" ", "\t", "   ", "\r", " \r"])
def test_a_blank_line_is_not_a_row_in_csv(run_cli, blank: str) -> None:
    code, out, _ = run_cli("eval", "x", "--batch", "-", "--format", "csv",
                           stdin=f"x\n1\n{blank}\n2\n")
    assert code == 0
    assert [r["x"] for r in csv_rows(out)] == ["1", "2"]


@pytest.mark.parametrize("blank", [" ", "\t", "   "])
def test_a_blank_line_is_not_a_row_in_json_lines_and_blank_values_are_missing(run_cli, blank) -> None:
    lines = ['{"x": 1}', blank, json.dumps({"x": blank}), '{"x": null}', "{broken"]
    code, out, _ = run_cli("eval", "x", "-x", "5", "--batch", "-", stdin="\n".join(lines) + "\n")
    assert code == 1
    got = records(out)
    assert [r.get("value") for r in got[:3]] == [1.0, 5.0, 5.0]
    assert got[3]["row"] == 4 and "line 5 is not JSON" in got[3]["error"]["message"]


cells = st.one_of(
    st.sampled_from(["", " ", "\t", " \t", "1", "-2.5", "1e3", " 4 ", "+.5", "5.", "-0", "1e-400"]),
    st.text(alphabet="0123456789+-.eE \t", max_size=6),
)


@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=8))
def test_the_fast_csv_reader_reads_every_cell_as_the_careful_one_does(rows) -> None:
    """NumPy's C reader takes a chunk of plain numbers; csv.reader and the language's
    own reading take anything else (a quote sends a chunk there). They must agree on
    every cell, blank ones included."""
    graph = gradcli.compile("x*y")
    outputs = []
    for extra, cell in (("", ""), (',id', ',"i"')):  # a quoted cell sends the chunk to csv.reader
        text = f"x,y{extra}\n" + "".join(f"{a},{b}{cell}\n" for a, b in rows)
        out = io.StringIO()
        stdin = io.BufferedReader(io.BytesIO(text.encode()))
        batch.run_batch(graph, {"y": 7}, batch="-", stdin=stdin, out=out, fmt="jsonl")
        outputs.append([{k: v for k, v in r.items() if k != "id"} for r in records(out.getvalue())])
    assert outputs[0] == outputs[1]


# --- CSV mistakes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    ["x,y\n1,2,3\n4,5\n", 'x,y\n"1",2,3\n4,5\n', "x,y\n1,2,\n4,5\n"],
    ids=["plain", "quoted", "trailing-comma"],
)
def test_a_csv_row_with_more_fields_than_the_header_is_that_rows_error(run_cli, data: str) -> None:
    code, out, _ = run_cli("eval", "x*y", "--batch", "-", "--format", "csv", stdin=data)
    assert code == 1
    rows = csv_rows(out)
    assert rows[0]["error"].startswith("syntax: the row has 3 fields; the header has 2")
    assert "has no column" in rows[0]["error"]
    assert rows[1]["value"] == "20.0"


@pytest.mark.parametrize(
    ("data", "hint"),
    [("x;y\n1;2\n", "separated by semicolons"), ("x\ty\n1\t2\n", "separated by tabs"),
     ("a,b,X\n1,2,3\n", "did you mean X?")],
)
def test_no_column_lists_the_columns_found_and_notices_another_separator(run_cli, data, hint) -> None:
    code, out, err = run_cli("eval", "x*y", "--batch", "-", "--input-format", "csv", stdin=data)
    assert (code, out) == (2, "")
    assert "no column x" in err and "its columns are " in err and hint in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("count", ["1_000", "３", "1０", "٣", "²", "+", "1e3"])
def test_grid_counts_take_the_digits_0_to_9_only_as_bindings_do(run_cli, count: str) -> None:
    code, out, err = run_cli("eval", "x", "--grid", f"x=0:1:{count}")
    assert (code, out) == (2, "")
    assert "digits 0-9" in err and "internal error" not in err


def test_a_grid_count_of_zero_gets_no_hint_to_write_it_in_other_digits(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "--grid", "x=0:1:0")
    assert code == 2 and err.endswith("not '0'\n") and "write" not in err


def test_a_grid_count_with_thousands_of_digits_is_refused_without_reading_it(run_cli) -> None:
    code, _, err = run_cli("eval", "x", "--grid", "x=0:1:" + "9" * 5000)
    assert code == 2 and "at most 2^53" in err


# --- unreadable and unbounded inputs ------------------------------------------------------------


def _exe() -> str:
    from conftest import gradcli_executable

    return gradcli_executable()


def test_a_closed_standard_input_is_a_usage_error() -> None:
    proc = subprocess.run([_exe(), "eval", "x", "--batch", "-"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.close(0))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == "error: cannot read --batch -: standard input is closed\n"


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs /proc")
def test_an_input_that_cannot_be_read_is_a_usage_error(run_exe) -> None:
    code, out, err = run_exe("eval", "x", "--batch", "/proc/self/mem")
    assert (code, out) == (2, "")
    assert err.startswith("error: cannot read --batch /proc/self/mem: ") and err.count("\n") == 1


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_line_without_end_is_refused_at_the_limit_in_bounded_memory() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        ["prlimit", "--as=1500000000", _exe(), "eval", "x", "--batch", "/dev/zero"]
        if os.path.exists("/usr/bin/prlimit") else [_exe(), "eval", "x", "--batch", "/dev/zero"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "line 1 of --batch /dev/zero is longer than 1 MiB" in proc.stderr
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_line_longer_than_the_limit_is_refused_and_names_it(run_cli, fmt: str) -> None:
    head = "x\n1\n" if fmt == "csv" else '{"x": 1}\n'
    code, _, err = run_cli("eval", "x", "--batch", "-", "--input-format", fmt,
                             stdin=head + "1" * (2 << 20) + "\n")
    assert code == 2
    assert "is longer than 1 MiB, the most a line may hold" in err
    assert "line 3" in err if fmt == "csv" else "line 2" in err


def test_wide_csv_is_read_and_written_in_time_linear_in_its_columns(tmp_path) -> None:
    """Every column an input, one row that fails: the header, the output's header
    and the error record are each linear in the columns."""

    def run(n: int) -> float:
        names = [f"v{i}" for i in range(n)]
        graph = gradcli.compile("+".join(names))
        data = tmp_path / f"d{n}.csv"
        data.write_text(",".join(names) + "\n" + ",".join(["1"] * n) + "\n" + ",".join(["a"] * n) + "\n")
        seconds, summary = cpu_seconds(
            lambda: batch.run_batch(graph, {}, batch=str(data), fmt="csv", out=io.StringIO())
        )
        assert (summary.rows, summary.failed) == (2, 1)
        return seconds

    run(1000)  # warm
    # The best of three, sizes taken in turn: a busy machine slows single runs (a
    # collection, another process on the core), never the fastest of several.
    times = [(run(6000), run(24000)) for _ in range(3)]
    small, large = min(t[0] for t in times), min(t[1] for t in times)
    assert large < 8 * small + 0.5, (small, large)  # 4x the columns: not 16x the time


@pytest.mark.parametrize(
    ("program", "rows"),
    [
        ("+".join(f"v{i}" for i in range(200)), ["a", "", "1e999"]),  # cells that are no number
        ("log(v0) + sqrt(v1) + 1/v2", ["-1", "0", "-2"]),  # math errors, row by row
        ("if(v0 > 5, 1, log(v0)) * v1", ["-1", "0", "-2"]),  # the rows a branch sends back
    ],
)
def test_a_failed_row_leaves_no_reference_cycle_behind(tmp_path, program: str, rows: list[str]) -> None:
    """The errors a batch keeps (one per failed row, one per bad text a column has
    seen) hold no traceback and no exception they were raised from: each would keep
    its frames alive, and the frames the error, a cycle per bad row that only the
    collector frees."""
    graph = gradcli.compile(program)
    names = graph.inputs
    data = tmp_path / "d.csv"
    data.write_text(",".join(names) + "\n" + "\n".join(",".join([bad] * len(names)) for bad in rows) + "\n")
    gc.collect()
    gc.disable()
    try:
        summary = batch.run_batch(graph, {}, batch=str(data), fmt="csv", out=io.StringIO())
        assert (summary.rows, summary.failed) == (3, 3)
        del summary
        assert gc.collect() == 0
    finally:
        gc.enable()


# --- the format, from the first line that is not blank ------------------------------------------


@pytest.mark.parametrize(("first", "rest", "expect"), [
    (b"\n", b"x\n1\n", "csv"),
    (b"\r\n \n", b'{"x": 1}\n', "jsonl"),
    (b"\xef\xbb\xbf\n", b"x\n1\n", "csv"),
    (b"", b"x\n1\n", "csv"),
])
def test_the_format_is_told_from_the_first_line_that_is_not_blank_however_it_arrives(
    first: bytes, rest: bytes, expect: str
) -> None:
    proc = subprocess.Popen([_exe(), "eval", "x", "--batch", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(first)
    proc.stdin.flush()
    # The rest arrives only once gradcli has read the start, as from a slow producer.
    waited = 0.0
    while first and _unread(proc.stdin.fileno()) and waited < 30:
        time.sleep(0.05)
        waited += 0.05
    time.sleep(0.3)
    out, err = proc.communicate(rest, timeout=60)
    assert (proc.returncode, err) == (0, b"")
    assert records(out.decode()) == [
        {"output": None, "value": 1.0, "inputs": {"x": 1.0}, "gradient": {"x": 1.0}}
    ]


def _unread(fd: int) -> int:
    """Bytes written into a pipe that its reader has not read yet (Linux: FIONREAD)."""
    import fcntl
    import struct
    import termios

    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_json_lines_are_numbered_with_the_blank_lines_before_the_first_row(run_cli) -> None:
    code, out, _ = run_cli("eval", "x", "--batch", "-", stdin='\n\n{"x": 1}\n{broken\n')
    assert code == 1
    assert records(out)[1]["error"]["message"].startswith("line 4 is not JSON")


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_cr_line_ends_end_lines_in_both_formats(run_cli, ending: str) -> None:
    for data in (f"x{ending}1{ending}2{ending}", f'{{"x": 1}}{ending}{{"x": 2}}{ending}'):
        code, out, _ = run_cli("eval", "x", "--batch", "-", stdin=data)
        assert code == 0
        assert [r["value"] for r in records(out)] == [1.0, 2.0]


@pytest.mark.parametrize("header", [b"\x00\x01x,y\n", b"x,\xff\xfey\n", b"\x1b[2Jx,y\n"])
def test_a_binary_header_is_refused_before_any_row(run_cli, tmp_path, header: bytes) -> None:
    # Random bytes (--batch /dev/urandom) have lines, but no header a person wrote: with
    # every input bound by a default, each "row" would be an error record, for ever.
    data = tmp_path / "rows.csv"
    data.write_bytes(header + b"1,2\n" * 3)
    code, out, err = run_cli("eval", "x*y", "--batch", str(data), "x=1", "y=2")
    assert (code, out) == (2, "")
    assert "is not text" in err and "CSV header" in err


def test_batch_from_random_bytes_ends_at_once() -> None:
    import subprocess

    from conftest import gradcli_executable

    args = ["eval", "sqrt(x) + y", "--batch", "/dev/urandom", "x=1", "y=2"]
    proc = subprocess.run(
        [gradcli_executable(), *args], capture_output=True, timeout=20, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 2 and proc.stdout == b""
