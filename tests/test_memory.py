"""The memory bar: `gradcli eval --file PROGRAM --json` on a program of 10^6
operations peaks at no more than 0.25 KiB of resident memory per operation of the
text, measured as the whole process's peak RSS with nothing subtracted (the
benchmark harness measures the same, bench/run.py, W3). A large program is read
from text straight to its graph: no AST is held beside it.

The quick test runs a program of 2·10^5 operations and subtracts the peak of the
same command on a one-node program (the interpreter, click and lark: the one
constant baseline), so that the bar applies to what grows with the program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import gradcli_executable

REPO = Path(__file__).resolve().parent.parent
BAR_KIB = 0.25


def _wide(ops: int):  # a bench.programs.Program
    sys.path.insert(0, str(REPO))
    try:
        from bench.programs import wide
    finally:
        sys.path.remove(str(REPO))
    return wide(ops)


def peak_kib(*args: str) -> int:
    """The peak RSS of one `gradcli` process (its own, from wait4)."""
    proc = subprocess.Popen([gradcli_executable(), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return usage.ru_maxrss


def eval_peak_kib(ops: int, tmp_path: Path) -> tuple[int, int]:
    program = _wide(ops)
    path = tmp_path / "program.txt"
    path.write_text(program.source, encoding="utf-8")
    bindings = [f"{name}={value!r}" for name, value in program.bindings.items()]
    return peak_kib("eval", "--file", str(path), *bindings, "--json"), program.ops


def test_a_large_program_grows_the_peak_by_under_a_quarter_kib_per_operation(tmp_path: Path) -> None:
    baseline = min(peak_kib("eval", "x", "-x", "1", "--json") for _ in range(2))
    peak, ops = eval_peak_kib(200_000, tmp_path)
    per_op = (peak - baseline) / ops
    assert per_op <= BAR_KIB, f"{per_op:.3f} KiB per operation above the {baseline} KiB baseline"


@pytest.mark.slow
def test_a_million_operations_peak_under_a_quarter_kib_each(tmp_path: Path) -> None:
    peak, ops = eval_peak_kib(10**6, tmp_path)
    assert peak / ops <= BAR_KIB, f"{peak / ops:.3f} KiB per operation ({peak / 1024:.0f} MiB)"
