"""Hessians of W3-style programs: ``python -m bench.hessian_bench [--quick]``.

Programs of about 10^3 operations (bench/programs.py's ``wide``) over 10 and over
100 inputs. Each figure is one timed section in a fresh process (imports and
warm-ups outside it), the subjects interleaved round after round; the table shows
medians and each peer's time over gradcli's from the same run (above 1: gradcli
is faster):

- ``gradcli``: ``gradcli.hessian(source, point)``: the string parsed and lowered,
  the derivative program built, the Hessian evaluated.
- ``gradcli warm``: ``SecondOrder.at`` at another point of the same program (the
  derivative program already built: what each step of ``descend --method newton``
  costs), the fastest of :data:`WARM_CALLS` calls: on a shared machine about every
  other call of a millisecond loses the core to another process for a scheduler
  slice (10 to 20 ms) and the median of a few is that slice, not the Hessian. It
  takes the C kernel where the install built it (the notes say whether it did).
- ``gradcli warm, NumPy``: the same without the kernel (what an install without a
  C compiler gets: the NumPy plan of gradcli/hessian_plan.py).
- ``torch``: ``torch.autograd.functional.hessian`` of the same program built from
  the string (float64 scalars indexed from the input vector, the text run by
  Python's compiler).
- ``jax cold``: ``jax.jit(jax.hessian(f))`` at the point, tracing and XLA compiling
  included; ``jax warm``: the compiled function at another point (float64), the
  fastest of :data:`WARM_CALLS` calls, as for gradcli.

PyTorch and JAX are not gradcli's dependencies: each is skipped with a note when
it is not installed. The Hessians of the peers are compared with gradcli's
(largest relative difference). ``--quick`` (CI) runs the 10-input program once and
writes nothing; the full run writes bench/RESULTS-hessian.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.programs import Program, wide

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS-hessian.md"
TIMEOUT = 600.0
#: JAX's cold figure is minutes of XLA compilation on this kind of program (756 s for
#: 100 inputs on a quiet machine: a shared one needs more).
JAX_TIMEOUT = 2400.0
FUNCTIONS = ("sin", "cos", "exp", "log", "tanh")
KINDS = ("gradcli", "gradcli-warm", "gradcli-numpy", "torch", "jax")
#: Which module each kind needs.
NEEDS = {"torch": "torch", "jax": "jax"}
#: JAX's cold figure is minutes of XLA compilation: it gets this many rounds at most.
JAX_ROUNDS = 1
#: Calls timed for each warm figure (gradcli's and JAX's alike): the fastest is the figure.
WARM_CALLS = 10


def program_for(inputs: int, ops: int) -> Program:
    """A W3 program of about ``ops`` operations that uses every one of ``inputs`` names."""
    names = tuple(f"x{i}" for i in range(inputs))
    for seed in range(3, 200):
        program = wide(ops, seed=seed, variables=names)
        if len(program.bindings) == inputs:
            return program
    raise SystemExit(f"no seed gives a program over all {inputs} inputs")


def other_point(point: dict[str, float]) -> dict[str, float]:
    """A second point for the warm figures: every input moved a little."""
    return {name: round(value * 0.9 + 0.05, 6) for name, value in point.items()}


# --- the worker: one timed section in this process ---------------------------------------


def _python_function(source: str, names: list[str], lib: Any) -> Any:
    """The program as a function of one vector, for torch and jax (the generated text
    is in the common subset of gradcli's language and Python's)."""
    code = compile(source, "<program>", "eval")
    funcs = {name: getattr(lib, name) for name in FUNCTIONS}
    if lib.__name__ == "torch":  # torch's functions take tensors only: tanh(0.3) is a constant of the text
        funcs = {name: _on_tensors(lib, fn) for name, fn in funcs.items()}

    def f(v: Any) -> Any:
        namespace = dict(funcs)
        for i, name in enumerate(names):
            namespace[name] = v[i]
        return eval(code, namespace)  # noqa: S307 - the harness's own generated text

    return f


def _on_tensors(torch: Any, fn: Any) -> Any:
    def call(a: Any) -> Any:
        return fn(a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float64))

    return call


def work(kind: str, program: dict[str, Any]) -> dict[str, Any]:
    source, point = program["source"], program["bindings"]
    names = list(point)
    second = other_point(point)
    if kind.startswith("gradcli"):
        import gradcli
        from gradcli.hessian import SecondOrder

        gradcli.hessian("x*x*y + x", x=1, y=2)  # imports, NumPy and the parser warm
        gradcli.compile(" + ".join(["x"] * 1000))  # the fast path for long programs
        kernel = False
        if kind == "gradcli":
            start = time.perf_counter()
            result = gradcli.hessian(source, point)
            took = time.perf_counter() - start
        else:
            prepared = SecondOrder(gradcli.compile(source))
            if kind == "gradcli-numpy":
                prepared.native = None
            kernel = prepared.native is not None and prepared.native.run(second) is not None
            prepared.at(point)
            calls = []
            for _ in range(WARM_CALLS):
                start = time.perf_counter()
                result = prepared.at(second)
                calls.append(time.perf_counter() - start)
            took = min(calls)
        return {"seconds": took, "hessian": result.hessian, "names": result.wrt, "kernel": kernel}
    if kind == "torch":
        import torch

        warm_up = torch.ones(2, dtype=torch.float64)
        torch.autograd.functional.hessian(lambda v: (v * v).sum() * torch.sin(v[0]), warm_up)
        start = time.perf_counter()
        f = _python_function(source, names, torch)
        x = torch.tensor([point[n] for n in names], dtype=torch.float64)
        h = torch.autograd.functional.hessian(f, x)
        took = time.perf_counter() - start
        return {"seconds": took, "hessian": h.tolist(), "names": names}
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    jax.jit(jax.hessian(lambda v: jnp.sum(v * v)))(jnp.ones(2)).block_until_ready()  # XLA up
    f = _python_function(source, names, jnp)
    x = jnp.array([point[n] for n in names], dtype=jnp.float64)
    start = time.perf_counter()
    compiled = jax.jit(jax.hessian(f))
    h = compiled(x).block_until_ready()
    took = time.perf_counter() - start
    x2 = jnp.array([second[n] for n in names], dtype=jnp.float64)
    calls = []
    for _ in range(WARM_CALLS):
        start = time.perf_counter()
        compiled(x2).block_until_ready()
        calls.append(time.perf_counter() - start)
    warm = min(calls)
    return {"seconds": took, "warm": warm, "hessian": [[float(v) for v in row] for row in h.tolist()],
            "names": names}


# --- the harness ---------------------------------------------------------------------------


def sample(kind: str, program_file: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.hessian_bench", "--worker", kind, str(program_file)]
    limit = JAX_TIMEOUT if kind == "jax" else TIMEOUT
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=limit, cwd=HERE.parent, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {limit:.0f} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(done.stdout)


def max_rel_diff(a: tuple[list[str], list[list[float]]], b: tuple[list[str], list[list[float]]]) -> float:
    """The largest difference of two Hessians (rows and columns matched by name),
    relative to the largest entry of ``b``."""
    names_a, ha = a
    names_b, hb = b
    where = {name: k for k, name in enumerate(names_a)}
    scale = max(1.0, max(abs(v) for row in hb for v in row))
    worst = 0.0
    for i, row_name in enumerate(names_b):
        for j, col_name in enumerate(names_b):
            va = ha[where[row_name]][where[col_name]]
            worst = max(worst, abs(va - hb[i][j]) / scale)
    return worst


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


class Measurement:
    """One program's figures, gathered in phases: the fast subjects' rounds, then JAX."""

    def __init__(self, program: Program, folder: Path, kinds: list[str]) -> None:
        import gradcli

        self.program = program
        self.kinds = kinds
        self.nodes = len(gradcli.compile(program.source).nodes)
        self.path = folder / f"program-{len(program.bindings)}.json"
        self.path.write_text(json.dumps({"source": program.source, "bindings": program.bindings}))
        self.times: dict[str, list[float]] = {k: [] for k in [*kinds, "jax-warm"]}
        self.answers: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.kernel = False  # did gradcli warm take the C kernel

    def rounds(self, kinds: list[str], runs: int) -> None:
        """``runs`` rounds of ``kinds``, each round's order rotated: load hits all alike."""
        for r in range(runs):
            for kind in kinds[r % len(kinds):] + kinds[: r % len(kinds)]:
                if kind in self.errors:
                    continue
                got = sample(kind, self.path)
                if "error" in got:
                    self.errors[kind] = got["error"]
                    continue
                self.times[kind].append(got["seconds"])
                if kind == "gradcli-warm":
                    self.kernel = got["kernel"]
                if "warm" in got:
                    self.times["jax-warm"].append(got["warm"])
                self.answers.setdefault(kind, (got["names"], got["hessian"]))
            shown = f"{self.program.name}, {len(self.program.bindings)} inputs"
            print(f"  {shown}: {', '.join(kinds)}: round {r + 1}/{runs}", file=sys.stderr)

    def row(self) -> str:
        times, errors = self.times, self.errors
        base = statistics.median(times["gradcli"]) if times["gradcli"] else math.nan
        warm = statistics.median(times["gradcli-warm"]) if times["gradcli-warm"] else math.nan
        plan = statistics.median(times["gradcli-numpy"]) if times["gradcli-numpy"] else math.nan

        def cell(kind: str, against: float) -> str:
            needs = "jax" if kind == "jax-warm" else kind
            if needs not in self.kinds:
                return f"not installed ({NEEDS[needs]})"
            if needs in errors:
                return f"failed: {errors[needs]}"
            if not times[kind]:
                return "not measured"
            t = statistics.median(times[kind])
            if kind == "gradcli-numpy":
                return f"{fmt(t)} ({t / warm:.1f}× the kernel's)" if self.kernel else fmt(t)
            return fmt(t) if kind.startswith("gradcli") else f"{fmt(t)} ({t / against:.1f}× gradcli's)"

        diffs = [
            f"{kind} {max_rel_diff(self.answers[kind], self.answers['gradcli']):.1e}"
            for kind in ("torch", "jax") if kind in self.answers and "gradcli" in self.answers
        ]
        cells = [self.program.name, str(len(self.program.bindings)), f"{self.nodes:,}",
                 cell("gradcli", base), cell("gradcli-warm", warm), cell("gradcli-numpy", plan),
                 cell("torch", base), cell("jax", base), cell("jax-warm", warm), ", ".join(diffs) or "-"]
        return "| " + " | ".join(cells) + " |"


def run(inputs_list: list[int], ops: int, runs: int, on_row: Any = None) -> tuple[str, list[str]]:
    """The table, a row per program, and notes: first every program's gradcli and torch
    rounds, then JAX once per program (minutes of compilation the others need not wait
    for); ``on_row(table, notes)`` after each step, so a long run leaves what it has."""
    kinds = [k for k in KINDS if k not in NEEDS or importlib.util.find_spec(NEEDS[k]) is not None]
    missing = sorted({NEEDS[k] for k in KINDS if k not in kinds})
    header = ["program", "inputs", "graph nodes", "gradcli", "gradcli warm", "gradcli warm, NumPy", "torch",
              "jax cold", "jax warm", "largest difference"]
    notes = []
    if missing:
        notes.append(f"Skipped: {', '.join(missing)} not installed (not gradcli dependencies;"
                     " pip install them into the environment to compare).")

    def table(done: list[Measurement]) -> str:
        rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(rows + [m.row() for m in done])

    with tempfile.TemporaryDirectory() as folder:
        measured: list[Measurement] = []
        for inputs in inputs_list:
            m = Measurement(program_for(inputs, ops), Path(folder), kinds)
            m.rounds([k for k in kinds if k != "jax"], runs)
            measured.append(m)
            if on_row is not None:
                on_row(table(measured), notes)
        taken = [m.kernel for m in measured]
        notes.append("gradcli warm took the C kernel (gradcli/hessian_kernel.c) on every program."
                     if all(taken) else "gradcli warm did not take the C kernel on every program"
                     " (not built here, or declined): its figures are the NumPy plan's.")
        if "jax" in kinds:
            for m in measured:
                m.rounds(["jax"], JAX_ROUNDS)
                if on_row is not None:
                    on_row(table(measured), notes)
        return table(measured), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hessian_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="10 inputs, one round; writes nothing")
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--ops", type=int, default=1000, help="operations per program (default 1000)")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PROGRAM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, path = args.worker
        print(json.dumps(work(kind, json.loads(Path(path).read_text()))))
        return 0
    inputs_list = [10] if args.quick else [10, 100]
    runs = 1 if args.quick else args.runs
    from bench.run import machine_line

    versions = []
    for module in ("torch", "jax", "numpy"):
        if importlib.util.find_spec(module) is not None:
            versions.append(f"{module} {importlib.import_module(module).__version__}")

    def document(table: str, notes: list[str]) -> str:
        return "\n".join([
            "# Hessian benchmark",
            "",
            "Written by `python -m bench.hessian_bench` (the module's docstring says what each column"
            " times). Medians of interleaved runs in fresh processes; the ratios are each peer's time"
            " over gradcli's, from the same run (above 1: gradcli is faster). jax warm is compared with"
            f" gradcli warm (each warm figure is the fastest of {WARM_CALLS} calls in its process). JAX"
            " runs once per program, after the others (its cold figure is minutes of XLA compilation).",
            "",
            f"Machine: {machine_line()}; {', '.join(versions)}; {runs} rounds.",
            "",
            table,
            "",
            *notes,
            "",
        ])

    def write(table: str, notes: list[str]) -> None:  # after every row: a long run leaves what it has
        if not args.quick:
            RESULTS.write_text(document(table, notes), encoding="utf-8")

    table, notes = run(inputs_list, args.ops, runs, write)
    print(document(table, notes))
    return 0


if __name__ == "__main__":
    import importlib

    sys.exit(main())
