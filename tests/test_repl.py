"""gradcli repl with its lines piped in (not a terminal): read plainly, no prompt,
every error an ``error:`` line with the input line's number, the session going on."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CliResult, gradcli_executable

from gradcli.repl import MAX_LINE

NO_PROMPT_TOOLKIT = str(Path(__file__).resolve().parent / "no_prompt_toolkit")


def _repl(run_cli: Callable[..., CliResult], *lines: str) -> CliResult:
    return run_cli("repl", stdin="".join(f"{line}\n" for line in lines))


def test_the_documented_pipe_works(run_exe: Callable[..., CliResult]) -> None:
    code, out, err = run_exe("repl", stdin="x*y\n:bind x=2 y=3\n:eval\n")
    assert code == 0, err
    assert out == (
        "x*y                              \n"
        "+-------------------------------+\n"
        "| name       | value | ∂f/∂name |\n"
        "|------------+-------+----------|\n"
        "| f (output) |     6 |          |\n"
        "| x          |     2 |        3 |\n"
        "| y          |     3 |        2 |\n"
        "+-------------------------------+\n"
    )
    assert err == "note: bind x, y to evaluate it (:bind x=… y=…); :eval then shows it\n"


def test_definitions_accumulate_and_an_expression_is_evaluated_at_once(
    run_cli: Callable[..., CliResult],
) -> None:
    code, out, err = _repl(run_cli, ":bind x=2 y=3 z=-4", "q = x + y", "f = q * z", "f * 2")
    assert (code, err) == (0, "")
    assert "| out (output) |   -40 |" in out
    assert "| z            |    -4 |         10 |" in out


def test_eval_trace_and_graph_show_the_program(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(
        run_cli, "q = x + y; f = q * z", ":bind x=2 y=3 z=-4", ":eval", ":trace", ":graph", ":eval q"
    )
    assert (code, err) == (0, "")
    assert "| f (output) |   -20 |" in out  # :eval
    assert "|  4 | f     | mul | 2, 3   |   -20 |        -4, 5 |        1 |" in out  # :trace
    assert "f  mul  value -20  grad 1\n├── q  add  value 5  grad -4\n" in out  # :graph (a tree)
    assert "| q (output) |     5 |          |" in out  # :eval q


@pytest.mark.parametrize(("fmt", "start"), [("mermaid", "flowchart LR"), ("dot", "digraph")])
def test_graph_draws_mermaid_and_dot(run_cli: Callable[..., CliResult], fmt: str, start: str) -> None:
    code, out, err = _repl(run_cli, "f = sin(x) * x", ":bind x=1", f":graph {fmt}")
    assert (code, err) == (0, "")
    assert out.startswith(start)
    assert out.endswith("\n")


def test_graph_without_values_draws_the_structure(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(run_cli, "f = x * y", ":graph")
    assert (code, err) == (0, "")
    assert out == "f  mul\n├── x  var\n└── y  var\n"


def test_an_error_shows_its_caret_and_the_session_goes_on(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(run_cli, "q = x +* y", "q = x + y", ":bind x=1 y=2", "q")
    assert code == 2  # the first failure's exit code
    assert err == (
        "error: line 1: unexpected '*': expected a number, a name or '(' after '+'\n"
        "  q = x +* y\n"
        "         ^\n"
    )
    assert "| q (output) |     3 |" in out


def test_a_math_error_points_into_its_definition(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(run_cli, "q = sqrt(x - 5)", "f = q * 2", ":bind x=1", ":eval", "x + 1")
    assert code == 1
    assert err.startswith("error: line 4: sqrt(-4) is outside the domain of sqrt(x) (x ≥ 0)\n"
                          "  q = sqrt(x - 5)\n      ^^^^^^^^^^^\n")
    assert "| out (output) |     2 |" in out  # x + 1 after it (f is a name of the session)


def test_an_unknown_command_suggests_one(run_cli: Callable[..., CliResult]) -> None:
    code, _, err = _repl(run_cli, ":evl")
    assert code == 2
    assert err.startswith(
        "error: line 1: unknown command :evl (did you mean :eval or :help?); the commands are :bind,"
    )


def test_quit_stops_reading(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(run_cli, "1 + 1", ":quit", "2 + 2")
    assert (code, err) == (0, "")
    assert "| f (output) |     2 |" in out and "2 + 2" not in out


def test_help_and_list_and_reset(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(run_cli, ":help", "q = x + y", "q * 2", ":bind x=1", ":list", ":reset", ":list")
    assert (code, err) == (0, "note: bind x, y to evaluate it (:bind x=… y=…); :eval then shows it\n")
    assert ":graph [FORMAT] [NAME]" in out
    assert "q = x + y\nq * 2\nbindings: x=1\nno definitions yet\nno bindings yet: :bind x=2 y=3\n" in out


def test_diff_writes_the_derivatives_as_a_program(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = _repl(run_cli, "f = q * z", "q = x + y", "g = x^3", ":diff f", ":diff")
    assert (code, err) == (0, "")
    assert out == "q = x + y\nf = q * z\ndf_dx = z\ndf_dy = z\ndf_dz = q\ng = x^3\ndg_dx = 3 * x^2\n"


def test_diff_points_an_error_into_the_definition(run_cli: Callable[..., CliResult]) -> None:
    code, _, err = _repl(run_cli, ":diff", "q = x", ":diff nope")
    assert code == 2
    assert err.splitlines()[0].startswith("error: line 1: nothing to evaluate yet")
    assert err.splitlines()[1] == "error: line 3: nothing defines nope; defined: q"


def test_comments_and_blank_lines_do_nothing(run_cli: Callable[..., CliResult]) -> None:
    assert _repl(run_cli, "", "   ", "# a note", ";", "x = 2 # two") == (0, "", "")


def test_crlf_line_ends_are_read(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = run_cli("repl", stdin="q = 2\r\nq * 3\r\n")
    assert (code, err) == (0, "")
    assert "|     6 |" in out


def test_binary_bytes_are_an_error_of_their_line(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = run_cli("repl", stdin=b"\xff\xfe\x00garbage\n\x00\x01\x1b[2J\n1+1\n")
    assert code == 2
    lines = err.splitlines()
    assert lines[0] == "error: line 1: the line is not UTF-8 text (byte 1): skipped"
    assert lines[1].startswith("error: line 2: ")
    assert "\x1b" not in err  # an escape sequence typed is never echoed raw
    assert "|     2 |" in out  # line 3


def test_a_line_past_the_limit_stops_the_reading(run_cli: Callable[..., CliResult]) -> None:
    code, out, err = run_cli("repl", stdin=b"2*3\n" + b"x" * (MAX_LINE + 10) + b"\n4*5\n")
    assert code == 2
    assert err == (
        f"error: line 2: the line is longer than {MAX_LINE:,} bytes: stopped reading (is the input text?)\n"
    )
    assert "|     6 |" in out and "20" not in out


def test_dev_zero_on_standard_input_ends() -> None:
    # No line end at all: without the limit, the reading would never end.
    proc = subprocess.run(
        ["bash", "-c", f"'{gradcli_executable()}' repl < /dev/zero"], capture_output=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"error: line 1: the line is longer than {MAX_LINE:,} bytes: stopped reading (is the input text?)\n"
    )


def test_a_huge_line_within_the_limit_is_read(run_cli: Callable[..., CliResult]) -> None:
    line = "f = " + "+".join(["x"] * 200_000)  # 400 kB
    code, out, err = _repl(run_cli, line, ":bind x=1", ":eval")
    assert (code, err) == (0, "")
    assert "| x          |      2 |   200000 |" in out.replace("2e+05", "200000") or "200000" in out


def test_closed_stdin_ends_at_once() -> None:
    proc = subprocess.run(
        ["bash", "-c", f"'{gradcli_executable()}' repl <&-"], capture_output=True, timeout=60
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


@pytest.mark.parametrize(
    ("shell", "code", "err"),
    [
        ("repl > /dev/full", 2, "error: cannot write the output: No space left on device\n"),
        ("repl >&-", 2, "error: cannot write the output: standard output is closed\n"),
        ("repl | head -c 1 > /dev/null", 0, ""),
    ],
)
def test_output_that_cannot_be_written(shell: str, code: int, err: str) -> None:
    proc = subprocess.run(
        ["bash", "-c",
         f"yes ':help' | head -n 20000 | '{gradcli_executable()}' {shell}; exit ${{PIPESTATUS[2]}}"],
        capture_output=True, timeout=60,
    )
    assert (proc.returncode, proc.stderr.decode()) == (code, err)


def test_piped_lines_need_no_prompt_toolkit() -> None:
    proc = subprocess.run(
        [gradcli_executable(), "repl"], input=b"x*y\n:bind x=2 y=3\n:eval\n", capture_output=True,
        env={**os.environ, "PYTHONPATH": NO_PROMPT_TOOLKIT}, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"| f (output) |     6 |" in proc.stdout


def test_repl_help_has_an_example(run_cli: Callable[..., CliResult]) -> None:
    code, out, _ = run_cli("repl", "--help")
    assert code == 0
    assert "printf 'x*y\\n:bind x=2 y=3\\n:eval\\n' | gradcli repl" in out


def test_piped_repl_imports_no_prompt_toolkit() -> None:
    code = (
        "import io, sys\n"
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'x*y\\n:bind x=2 y=3\\n:eval\\n'))\n"
        "from gradcli.cli import main\n"
        "assert main(['repl']) == 0\n"
        "assert 'prompt_toolkit' not in sys.modules and 'gradcli.repl_terminal' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_binding_of_a_defined_name_is_noted_either_way(run_cli: Callable[..., CliResult]) -> None:
    # :bind x=3 after x = 2 took no effect without a word: the table used x = 2
    code, out, err = _repl(run_cli, "x = 2", ":bind x=3 y=5", "x*y")
    assert code == 0 and "| f (output) |    10 |" in out  # x = 2, as defined
    assert err == "note: x is defined (x = 2), so its binding is not used\n"
    code, _, err = _repl(run_cli, ":bind x=3", "x = 2")
    assert code == 0 and err == "note: x is now defined, so its binding is not used\n"
