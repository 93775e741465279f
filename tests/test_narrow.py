"""A narrow terminal never splits a number across lines: tables fold their text
columns first and switch to one block per row when that is not enough."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

import gradcli
from gradcli import render, report

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _on_terminal(monkeypatch: pytest.MonkeyPatch, width: int, printer) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=width, no_color=True, highlight=False)
    monkeypatch.setattr(render, "make_console", lambda *a, **k: console)
    printer(_Terminal())
    return re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())


def _whole(numbers: list[str], text: str) -> None:
    lines = text.splitlines()
    assert all(max(len(line) for line in lines) <= 80 for _ in [0])
    for number in numbers:
        assert any(number in line for line in lines), (number, text)


@pytest.mark.parametrize("width", [40, 80])
@pytest.mark.parametrize("precision", [6, 17])
def test_trace_and_check_never_split_a_number(monkeypatch, width: int, precision: int) -> None:
    result = gradcli.evaluate("q = x + y; f = q * sin(z) / 2", x=2.123456789, y=3, z=-4)
    out = _on_terminal(monkeypatch, width, lambda f: render.print_trace(result, precision, f))
    numbers = [render.format_number(n.value, precision) for n in result.nodes]
    numbers += [render.format_number(n.grad, precision) for n in result.nodes if n.grad is not None]
    _whole(numbers, out)
    assert max(len(line) for line in out.splitlines()) <= width

    checked = gradcli.check("x^2*sin(y)", {"x": 3.000000001, "y": 1})
    out = _on_terminal(monkeypatch, width, lambda f: report.print_check(checked, precision, f))
    numbers = [render.format_number(r.reverse, precision) for r in checked.rows]
    numbers += [render.format_number(r.numeric, precision) for r in checked.rows]
    _whole(numbers, out)
    assert max(len(line) for line in out.splitlines()) <= width


def test_a_table_that_fits_stays_a_table(monkeypatch) -> None:
    result = gradcli.evaluate("(x+y)*z", x=2, y=3, z=-4)
    out = _on_terminal(monkeypatch, 40, lambda f: render.print_eval(result, 6, f))
    assert "╭" in out and "│ x " in out


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize(("columns", "command"), [(40, "trace"), (80, "check")])
def test_a_real_narrow_terminal_keeps_numbers_whole(columns: int, command: str) -> None:
    args = [command, "x^2*sin(y)/3", "-x", "3.000000001", "-y", "1", "--precision", "17"]
    text = _in_a_terminal(columns, args)
    result = gradcli.evaluate("x^2*sin(y)/3", x=3.000000001, y=1)
    numbers = [render.format_number(result.gradient[name], 17) for name in ("x", "y")]
    for number in numbers:
        assert number in text, (number, text)
    assert max(len(line.rstrip("\r")) for line in text.splitlines()) <= columns


def _in_a_terminal(columns: int, args: list[str]) -> str:
    """What gradcli ``args`` prints in a pseudo-terminal ``columns`` wide, escape
    sequences removed."""
    import fcntl
    import pty
    import struct
    import termios

    from conftest import gradcli_executable

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "xterm"}
    proc = subprocess.Popen([gradcli_executable(), *args], stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", b"".join(chunks).decode("utf-8", "replace"))
    return text.replace("\r\n", "\n")


HESSIAN = ["hessian", "sin(alpha*beta)*exp(gamma) + alpha^3",
           "--alpha", "1.1", "--beta", "0.7", "--gamma", "0.3"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_narrow_hessian_is_a_block_per_row_headed_by_its_row() -> None:
    text = _in_a_terminal(40, HESSIAN)
    assert max(len(line) for line in text.splitlines()) <= 40
    blocks = text.split("Hessian (row a, column b)\n")[1].strip().split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == ["row alpha", "row beta", "row gamma"]
    assert blocks[1].splitlines()[1:] == ["alpha: 0.245521", "beta:  -1.13702", "gamma: 1.06599"]
    assert "∂²f/∂a∂b:" not in text


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_wide_hessian_is_one_table_with_its_rows_and_columns() -> None:
    text = _in_a_terminal(80, HESSIAN)
    assert "│ ∂²f/∂a∂b │    alpha │     beta │    gamma │" in text
    assert "│ beta     │ 0.245521 │ -1.13702 │  1.06599 │" in text
    assert "row alpha" not in text


def test_a_narrow_worksheet_keeps_a_line_to_write_each_answer_on(monkeypatch) -> None:
    # one block per row leaves out empty cells: a worksheet's answers went with them
    result = gradcli.evaluate("q = x*y; r = q + 2", x=2, y=3)
    text = _on_terminal(monkeypatch, 40, lambda f: render.print_trace(result, 6, f, blank=True))
    blocks = text.split("\n\n")[1:]
    assert len(blocks) == 5  # x, y, q, 2, r
    for block, count in zip(blocks, (1, 1, 2, 0, 2), strict=True):  # the constant has none
        answers = [line for line in block.splitlines() if line.startswith("∂")]
        assert len(answers) == count and all(line.endswith(" ________") for line in answers), block
    wide = _on_terminal(monkeypatch, 120, lambda f: render.print_trace(result, 6, f, blank=True))
    assert "____" not in wide  # the table's columns are its blanks
