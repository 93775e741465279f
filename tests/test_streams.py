"""Closed and full standard streams, through real processes: a one-line message and
exit 2 (or the command's own code), never exit 70, never a traceback; a closed
standard error never changes the exit code."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import gradcli_executable

#: One invocation of every command (each writes to standard output).
COMMANDS = [
    ["eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"],
    ["eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4", "--json"],
    ["trace", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4"],
    ["graph", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"],
    ["check", "x^2", "-x", "3"],
    ["descend", "(x-3)^2", "-x", "0", "--steps", "5"],
    ["functions"],
    ["completion", "bash"],
    ["--help"],
    ["eval", "--help"],
    ["--version"],
]


def _run(args: list[str], *, stdout: object, stderr: object, stdin: object = subprocess.DEVNULL,
         close: tuple[int, ...] = ()) -> subprocess.CompletedProcess[bytes]:
    def closer() -> None:
        for fd in close:
            os.close(fd)

    return subprocess.run(
        [gradcli_executable(), *args], stdin=stdin, stdout=stdout, stderr=stderr,
        preexec_fn=closer if close else None, timeout=60, check=False,
    )


def _one_error_line(err: bytes) -> None:
    text = err.decode("utf-8")
    assert "Traceback" not in text and "internal error" not in text
    assert text.startswith("error: ") and text.count("\n") == 1, text


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_full_standard_output_is_a_message_and_exit_2(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        proc = _run(args, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 2
    _one_error_line(proc.stderr)
    assert b"No space left" in proc.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_closed_standard_output_is_a_message_and_exit_2(args: list[str]) -> None:
    proc = _run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close=(1,))
    assert proc.returncode == 2
    _one_error_line(proc.stderr)
    assert b"standard output is closed" in proc.stderr


@pytest.mark.parametrize("args", [*COMMANDS, ["eval", "log(x)", "-x", "-1"], ["check", "relu(x)", "-x", "0"],
                                  ["eval", "x", "--nope"]], ids=" ".join)
def test_a_closed_standard_error_never_changes_the_exit_code(args: list[str]) -> None:
    expected = _run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert "Traceback" not in expected.stderr.decode()
    proc = _run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close=(2,))
    assert proc.returncode == expected.returncode
    assert proc.stdout == expected.stdout
    both = _run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close=(1, 2))
    assert both.returncode in (expected.returncode, 2)


def test_a_command_that_writes_no_output_succeeds_with_standard_output_closed(tmp_path) -> None:
    out = tmp_path / "g.dot"
    proc = _run(["graph", "x*y", "-x", "2", "-y", "3", "--out", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close=(1,))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("digraph")


def test_a_closed_standard_input_with_a_program_on_stdin_is_a_message(tmp_path) -> None:
    proc = _run(["eval", "-", "-x", "1"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, close=(0,))
    assert proc.returncode == 2
    _one_error_line(proc.stderr)
    assert b"standard input" in proc.stderr


def test_a_math_error_keeps_exit_1_when_standard_output_is_full() -> None:
    with open("/dev/full", "wb") as full:
        proc = _run(["eval", "log(x)", "-x", "-1"], stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
