"""The memory bar: `gradcli eval --file PROGRAM --json` on a program of 10^6
operations peaks at no more than 0.25 KiB of resident memory per graph node,
measured as the whole process's peak RSS with nothing subtracted (the benchmark
harness measures the same, bench/run.py, W3 and W5). A large program is read from
text straight to its graph's columns: no AST, and no Python object per node.

The quick tests run programs of 10^5 graph nodes and subtract the peak of the same
command on a one-node program (the interpreter, click and lark: the one constant
baseline), so that the bar applies to what grows with the program."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import gradcli_executable

REPO = Path(__file__).resolve().parent.parent
BAR_KIB = 0.25


def _bench(module: str):  # a module of bench/
    sys.path.insert(0, str(REPO))
    try:
        return importlib.import_module(f"bench.{module}")
    finally:
        sys.path.remove(str(REPO))


def _program(workload: str, size: int):  # a bench.programs.Program
    return getattr(_bench("programs"), workload)(size)


def peak_kib(*args: str) -> int:
    """The peak RSS of one `gradcli` process, its own: started by the benchmark's small
    launcher, since a child's peak (wait4) starts from the peak of the process that
    started it, and this one (pytest, with every test before it) can be larger than
    the program's whole run."""
    launcher = [sys.executable, "-S", "-c", _bench("run").LAUNCHER]
    proc = subprocess.run([*launcher, gradcli_executable(), *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.rpartition("\nLAUNCHER ")[2].split()[1])


def eval_peak_kib(workload: str, size: int, tmp_path: Path) -> tuple[int, int]:
    """The peak of `eval --file … --json` on the benchmark program, and its graph nodes."""
    import gradcli

    program = _program(workload, size)
    path = tmp_path / "program.txt"
    path.write_text(program.source, encoding="utf-8")
    bindings = [f"{name}={value!r}" for name, value in program.bindings.items()]
    nodes = gradcli.compile(program.source).size
    return peak_kib("eval", "--file", str(path), *bindings, "--json"), nodes


@pytest.mark.parametrize(("workload", "size"), [("wide", 200_000), ("shared", 25_000)])
def test_a_large_program_grows_the_peak_by_under_a_quarter_kib_per_graph_node(
    workload: str, size: int, tmp_path: Path
) -> None:
    baseline = min(peak_kib("eval", "x", "-x", "1", "--json") for _ in range(2))
    peak, nodes = eval_peak_kib(workload, size, tmp_path)
    per_node = (peak - baseline) / nodes
    assert per_node <= BAR_KIB, f"{per_node:.3f} KiB per graph node above the {baseline} KiB baseline"


@pytest.mark.slow
@pytest.mark.parametrize(("workload", "size"), [("wide", 10**6), ("shared", 250_000)])
def test_a_million_operations_peak_under_a_quarter_kib_per_graph_node(
    workload: str, size: int, tmp_path: Path
) -> None:
    peak, nodes = eval_peak_kib(workload, size, tmp_path)
    assert peak / nodes <= BAR_KIB, f"{peak / nodes:.3f} KiB per graph node ({peak / 1024:.0f} MiB)"
