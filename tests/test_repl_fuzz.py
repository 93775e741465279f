"""gradcli repl survives every fuzz input of the existing families (tests/fuzz_repl.py):
no traceback, no internal error, an exit status of 0, 1 or 2, and the session alive
after the last line. In-process through the piped mode for volume; a sample through
the installed command (here) and through a pseudo-terminal (test_repl_terminal.py)."""

from __future__ import annotations

import random
import subprocess

import pytest
from conftest import gradcli_executable
from fuzz_repl import check_repl, repl_lines


@pytest.mark.parametrize("block", range(4))
def test_the_session_survives_fuzz_lines(block: int) -> None:
    for i in range(100):
        check_repl(repl_lines(random.Random(block * 1000 + i)))


@pytest.mark.slow
@pytest.mark.parametrize("block", range(20))
def test_the_session_survives_many_fuzz_lines(block: int) -> None:
    for i in range(1000):
        check_repl(repl_lines(random.Random(10**6 + block * 1000 + i)))


def test_one_session_survives_every_family_in_turn() -> None:
    # One session for all: the definitions and bindings of each input meet the next.
    lines = [line for i in range(300) for line in repl_lines(random.Random(7_000 + i))]
    check_repl(lines, timeout=120)


def test_the_installed_command_survives_fuzz_lines() -> None:
    lines = [line for i in range(150) for line in repl_lines(random.Random(9_000 + i))]
    data = "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogatepass")
    data += b":reset\nalive = 6 * 7\nalive\n"
    proc = subprocess.run([gradcli_executable(), "repl"], input=data, capture_output=True, timeout=300)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode in (0, 1, 2), err[-2000:]
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    assert b"| alive (output) |    42 |" in proc.stdout
