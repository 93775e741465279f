"""Benchmarks for gradcli diff, as ratios to baselines measured in the same run.

    python bench/diff_bench.py            # the full run; writes bench/RESULTS-diff.md
    python bench/diff_bench.py --quick    # small sizes, short time-outs (CI); prints only

1. Size: the graph nodes of the first-derivative program (the source's statements
   and every derivative, lowered as eval lowers the printed program with every
   derivative as an output) against the source's own graph nodes, on W3 (wide
   random programs) and W5 (chains of shared statements) from 10^2 to 10^5 nodes.
   Target: at most 5x.
2. Time: `gradcli diff --file F` as a whole process against `gradcli eval --file F
   --json` of the same program, interleaved, median of several runs. Targets: at
   most 3x, and linear (10x the size in at most 11x the time).
3. Against SymPy: the chain q1 = tanh(x*y + x); q_k = tanh(q_{k-1}*0.5 + q_{k-1}*x)
   written as one expression (SymPy has no shared statements), `diff` toward x and
   `cse`, in a child process with a time-out; the size of SymPy's derivative before
   cse (count_ops) against the nodes of gradcli's derivative program.

Standalone on purpose: it does not use bench/run.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import gradcli  # noqa: E402
from bench.programs import shared, wide  # noqa: E402
from gradcli.api import compile_program  # noqa: E402

GRADCLI = str(Path(sys.executable).parent / "gradcli")

SYMPY_CHILD = r"""
import sys, time
import sympy
n = int(sys.argv[1])
x, y = sympy.symbols("x y")
t = time.perf_counter()
q = sympy.tanh(x*y + x)
for _ in range(n - 1):
    q = sympy.tanh(q*sympy.Rational(1, 2) + q*x)
d = sympy.diff(q, x)
size = sympy.count_ops(d)
shared, reduced = sympy.cse(d)
after = sum(sympy.count_ops(e) for _, e in shared) + sympy.count_ops(reduced[0])
print(time.perf_counter() - t, size, after)
"""


def w3_source(nodes: int) -> tuple[str, str]:
    return f"W3 {nodes:.0e}".replace("+0", ""), wide(nodes).source


def w5_source(nodes: int) -> tuple[str, str]:
    statements = max(2, nodes // 4)
    return f"W5 {statements} statements", shared(statements).source


def program_nodes(source: str) -> tuple[int, int, float]:
    """Source graph nodes, derivative program nodes (lowered from the printed text
    with every derivative as an output), and the printed program's length."""
    graph = gradcli.compile(source)
    program = gradcli.diff(source)
    text = program.text
    names = [f"d{program.output_label}_d{name}" for name in program.wrt]
    lowered, _ = compile_program(text, names)
    return len(graph.nodes), len(lowered.nodes), len(text)


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1200)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:3]}: exit {proc.returncode}: {proc.stderr[-500:]}")
    return elapsed


def bindings_of(source: str) -> list[str]:
    graph = gradcli.compile(source)
    return [f"{n}=0.3" for n in graph.inputs]


def time_pair(source: str, runs: int) -> tuple[float, float]:
    """Median seconds of `diff --file` and of `eval --file --json`, taken in turns."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(source)
        path = f.name
    try:
        binds = bindings_of(source)
        diffs, evals = [], []
        for _ in range(runs):
            evals.append(timed([GRADCLI, "eval", "--file", path, "--json", *binds]))
            diffs.append(timed([GRADCLI, "diff", "--file", path]))
        return statistics.median(diffs), statistics.median(evals)
    finally:
        os.unlink(path)


def sympy_chain(n: int, timeout: float) -> str | tuple[float, int, int]:
    try:
        proc = subprocess.run([sys.executable, "-c", SYMPY_CHILD, str(n)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"time-out ({timeout:.0f} s)"
    if proc.returncode != 0:
        return "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:80]
    seconds, before, after = proc.stdout.split()
    return float(seconds), int(before), int(after)


def gradcli_chain(n: int) -> tuple[float, int]:
    source = shared(n).source
    start = time.perf_counter()
    program = gradcli.diff(source, ["x"])
    text = program.text
    seconds = time.perf_counter() - start
    lowered, _ = compile_program(text, [f"d{program.output_label}_dx"])
    return seconds, len(lowered.nodes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short time-outs; print only")
    args = parser.parse_args()
    quick = args.quick
    sizes = [10**2, 10**3] if quick else [10**2, 10**3, 10**4, 10**5]
    out: list[str] = [
        "# gradcli diff benchmarks",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {time.strftime('%Y-%m-%d')}; written by `python bench/diff_bench.py`. Ratios are to"
        " baselines measured in the same run.",
        "",
        "## Size of the first-derivative program (target: at most 5x the source's nodes)",
        "",
        "| program | source nodes | derivative program nodes | ratio | text |",
        "|---|---|---|---|---|",
    ]
    worst = 0.0
    for maker in (w3_source, w5_source):
        for n in sizes:
            name, source = maker(n)
            src, der, chars = program_nodes(source)
            ratio = der / src
            worst = max(worst, ratio)
            out.append(f"| {name} | {src:,} | {der:,} | {ratio:.2f}x {'✓' if ratio <= 5 else '✗'} |"
                       f" {chars:,} characters |")
            print(out[-1], flush=True)
    out += [
        "",
        "## Time to print it, whole process (target: at most 3x `eval --json`; linear)",
        "",
        "| program | `diff` | `eval --json` | ratio | `diff` step from the size before |",
        "|---|---|---|---|---|",
    ]
    for maker in (w3_source, w5_source):
        before = None
        for n in sizes:
            name, source = maker(n)
            runs = 1 if quick else (3 if n >= 10**5 else 5)
            d, e = time_pair(source, runs)
            ratio = d / e
            step = "" if before is None else f"{d / before:.1f}x for 10x {'✓' if d / before <= 11 else '✗'}"
            before = d
            mark = "✓" if ratio <= 3 else "✗"
            out.append(f"| {name} | {d:.3f} s | {e:.3f} s | {ratio:.2f}x {mark} | {step} |")
            print(out[-1], flush=True)
    out += [
        "",
        "## Against SymPy on a chain of shared statements (`diff` toward x, then `cse`)",
        "",
        "q1 = tanh(x*y + x); q_k = tanh(q_{k-1}*0.5 + q_{k-1}*x). SymPy is given the chain as"
        " one expression (it has no statements); its derivative's size is `count_ops` before and"
        " after `cse`. gradcli's is the graph nodes of the printed derivative program.",
        "",
        "| statements | SymPy time | SymPy derivative ops (before cse / after) | gradcli diff time"
        " | gradcli program nodes |",
        "|---|---|---|---|---|",
    ]
    chain = [2, 3, 5, 7] if quick else [2, 3, 5, 7, 10, 20, 100]
    timeout = 20.0 if quick else 120.0
    gave_up = False
    for n in chain:
        g_time, g_nodes = gradcli_chain(n)
        if gave_up:
            sym = "not run (timed out at fewer statements)"
        else:
            sym = sympy_chain(n, timeout)
        if isinstance(sym, tuple):
            s_time, before_cse, after_cse = sym
            cells = f"{s_time:.3f} s | {before_cse:,} / {after_cse:,}"
        else:
            gave_up = gave_up or sym.startswith("time-out")
            cells = f"{sym} | —"
        out.append(f"| {n} | {cells} | {g_time * 1000:.1f} ms | {g_nodes:,} |")
        print(out[-1], flush=True)
    text = "\n".join(out) + "\n"
    if not quick:
        (HERE / "RESULTS-diff.md").write_text(text, encoding="utf-8")
        print("written: bench/RESULTS-diff.md")
    return 0 if worst <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
