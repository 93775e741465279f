"""CSV through Arrow's C reader (the ``fast`` extra) writes the same bytes as the
standard library's path, whatever the input: both run in-process on each input,
Arrow's forced on from the first byte (it normally waits for 1 MiB of input)."""

from __future__ import annotations

import io
import random
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import gradcli
from gradcli import batch, csv_rows
from gradcli.arrowcsv import ArrowCsv

pytest.importorskip("pyarrow")


def _run(program: str, data: bytes, arrow: bool, monkeypatch: pytest.MonkeyPatch, **options: object):
    """(output, summary or the GradError's text, and how many blocks Arrow read)."""
    read = ArrowCsv.read
    blocks = []

    def counting(self: ArrowCsv, block: bytes) -> object:
        table = read(self, block)
        blocks.append(table is not None)
        return table

    with monkeypatch.context() as m:
        m.setattr(ArrowCsv, "read", counting)
        if arrow:
            m.setattr(csv_rows, "ARROW_MIN_BYTES", 0)
        else:
            m.setitem(sys.modules, "pyarrow", None)
        out = io.StringIO()
        try:
            summary = batch.run_batch(
                gradcli.compile(program), options.pop("bindings", {}), batch="-",
                fmt=options.pop("fmt", "csv"), stdin=io.BytesIO(data), out=out, **options,
            )
            outcome: object = (summary.rows, summary.failed, summary.first_failed)
        except gradcli.GradError as err:
            outcome = f"{err.kind}: {err.message}"
    return out.getvalue(), outcome, sum(blocks)


def _same(program: str, data: bytes, monkeypatch: pytest.MonkeyPatch, **options: object) -> int:
    fast = _run(program, data, True, monkeypatch, **dict(options))
    slow = _run(program, data, False, monkeypatch, **dict(options))
    assert fast[:2] == slow[:2]
    assert slow[2] == 0
    return fast[2]


ODD_FLOATS = [
    "0", "-0", "0.0", "-0.0", "1e-5", "1e-05", "9.999e-6", "1e-7", "1.5e-10", "5e-324",
    "2.2250738585072014e-308",
    "1.7976931348623157e308", "1e16", "1e+16", "123456789012345678901234567890", ".5", "5.", "+3", "-.25e+2",
    "00012", "1E5", "0.1", "0.30000000000000004", "3.141592653589793", "1e22", "1e21", "1e-4", "0.0001",
]


@pytest.mark.parametrize(
    "data",
    [
        "x,y\n1,2\n3,4\n",
        "x,y\r\n1,2\r\n3,4\r\n",  # CRLF
        "x,y\r1,2\r3,4\r",  # old Mac line ends
        "x,y\n1,2\n\n\n3,4\n",  # blank lines are not rows
        "x,y\n1,2\n   \n3,4\n",  # nor lines of white space
        "x,y\n1,2\n\u00a0\n3,4\n",
        "x,y\n1,\n,2\n , \n",  # blank cells: missing
        "x,y\n1,2\n3,4",  # no last line end
        "x,y\n1,2,3\n4\n5,6\n",  # rows of another width
        'x,y\n"1",2\n"3,5",4\n"a ""b""",5\n',  # quoting
        'id,x,y\n"a\nb",1,2\nc,3,4\n',  # a line break in a quoted cell
        "id,x,y\nα,1,2\nβ,3,4\n",  # text beyond ASCII
        "id,x,y\na,1,2\n\xff\xfe,3,4\n",  # not UTF-8
        "x,y\n1,2\nabc,4\n2024-01-05,6\ninf,1\nnan,2\n1e400,3\n1_000,4\n0x10,5\n pi ,6\n",  # cells no number
        "x,y\n 1 ,\t2\n3 , 4\n",  # white space around numbers
        "x,y\n-1,2\n0,3\n4,5\n",  # math errors: log(x)
        "id,note,x,y\n7,hello,1,2\n8,,3,4\n9,a;b,5,6\n",  # pass-through columns
        "\ufeffx,y\n1,2\n",  # a byte order mark
        "x,y,value\n1,2,3\n",  # a clashing column
        "x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(ODD_FLOATS, reversed(ODD_FLOATS), strict=True)),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_through_arrow_gives_the_same_bytes_as_the_standard_library(
    monkeypatch, data: str, fmt: str
) -> None:
    raw = data.encode("utf-8", "surrogateescape") if "\xff" not in data else data.encode("latin-1")
    _same("log(x)*y", raw, monkeypatch, fmt=fmt)
    _same("x*y", raw, monkeypatch, fmt=fmt, bindings={"y": "10"})


def test_arrow_reads_the_plain_blocks_and_hands_the_others_back(monkeypatch) -> None:
    """Quotes in the middle of a large input: the blocks before them are Arrow's, the
    rest the standard library's, and the bytes are the same."""
    rng = random.Random(3)
    lines = [f"{rng.uniform(-5, 5)!r},{rng.randint(-3, 3)},{rng.choice(['a', 'b', ''])}\n"
             for _ in range(250_000)]
    lines[200_000] = "1,2\n"  # another width: that block goes back
    lines[240_000] = '"1.5",2,"q, uoted"\n'  # quotes: csv.reader from there on
    data = ("x,y,tag\n" + "".join(lines)).encode()
    blocks = _same("sqrt(x)*y", data, monkeypatch, fmt="csv")
    assert blocks >= 1


def test_a_large_input_takes_arrow_without_being_told(monkeypatch, tmp_path) -> None:
    data = ("x,y\n" + "".join(f"{i * 0.001!r},{i % 7}\n" for i in range(200_000))).encode()
    assert len(data) > csv_rows.ARROW_MIN_BYTES
    read = ArrowCsv.read
    used: list[bool] = []
    monkeypatch.setattr(ArrowCsv, "read", lambda self, block: used.append(True) or read(self, block))
    out = io.StringIO()
    batch.run_batch(gradcli.compile("x/y"), {}, batch="-", fmt="csv", stdin=io.BytesIO(data), out=out)
    assert used
    monkeypatch.setattr(ArrowCsv, "read", read)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    slow = io.StringIO()
    batch.run_batch(gradcli.compile("x/y"), {}, batch="-", fmt="csv", stdin=io.BytesIO(data), out=slow)
    assert out.getvalue() == slow.getvalue()


def test_a_small_input_does_not_import_pyarrow(tmp_path) -> None:
    import subprocess

    code = (
        "import io, sys, gradcli\nfrom gradcli import batch\n"
        "batch.run_batch(gradcli.compile('x*y'), {}, batch='-', fmt='csv',"
        " stdin=io.BytesIO(b'x,y\\n1,2\\n'), out=io.StringIO())\n"
        "print('pyarrow' in sys.modules)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "False\n"


def test_a_line_too_long_in_an_arrow_block_is_named_as_without_arrow(monkeypatch) -> None:
    data = b"x,y\n1,2\n3,4\n" + b"5" * (2 << 20) + b",1\n6,7\n"
    _same("x*y", data, monkeypatch, fmt="csv")


cells = st.one_of(
    st.sampled_from(ODD_FLOATS),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", " ", "a", "nan", "1e999", '"', ",", "x\ny", "\r", "é", "1 ", " 2"]),
)


@given(st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=20),
       st.sampled_from(["csv", "jsonl"]), st.sampled_from(["\n", "\r\n"]))
@example([["1", "", "1e-7"], ["-0", "5e-324", "a"]], "csv", "\n")
def test_random_csv_gives_the_same_bytes_through_arrow(rows_: list[list[str]], fmt: str, end: str) -> None:
    """Random cells, quoted where CSV needs it: the same bytes and the same outcome."""
    from gradcli.records import csv_cell

    data = ("a,x,y" + end + "".join(",".join(map(csv_cell, row)) + end for row in rows_)).encode()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _same("x*y + a", data, monkeypatch, fmt=fmt, bindings={"y": "2"})


def test_a_large_csv_through_arrow_imports_neither_pandas_nor_pyarrow_compute() -> None:
    """pyarrow.array, pyarrow.scalar and Array.to_numpy import pandas, and
    pyarrow.compute makes a Python function per kernel: together a large part of a
    1 MiB batch's time. The CSV path needs neither (nor pyarrow.parquet)."""
    import subprocess

    code = (
        "import io, sys, gradcli\nfrom gradcli import batch\n"
        "data = b'x,y,tag\\n' + b''.join(b'%d.5,-%d,t%d\\n' % (i, i, i) for i in range(120_000))\n"
        "batch.run_batch(gradcli.compile('x*y'), {}, batch='-', fmt='csv', stdin=io.BytesIO(data),"
        " out=io.StringIO())\n"
        "print(sorted(m for m in ('pyarrow.csv', 'pandas', 'pyarrow.compute', 'pyarrow.parquet')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "['pyarrow.csv']\n"
