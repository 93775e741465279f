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
  costs).
- ``torch``: ``torch.autograd.functional.hessian`` of the same program built from
  the string (float64 scalars indexed from the input vector, the text run by
  Python's compiler).
- ``jax cold``: ``jax.jit(jax.hessian(f))`` at the point, tracing and XLA compiling
  included; ``jax warm``: the compiled function at another point (float64).

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
TIMEOUT = 1200.0
FUNCTIONS = ("sin", "cos", "exp", "log", "tanh")
KINDS = ("gradcli", "gradcli-warm", "torch", "jax")
#: Which module each kind needs.
NEEDS = {"torch": "torch", "jax": "jax"}
#: JAX's cold figure is minutes of XLA compilation: it gets this many rounds at most.
JAX_ROUNDS = 1


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
        if kind == "gradcli":
            start = time.perf_counter()
            result = gradcli.hessian(source, point)
            took = time.perf_counter() - start
        else:
            prepared = SecondOrder(gradcli.compile(source))
            prepared.at(point)
            start = time.perf_counter()
            result = prepared.at(second)
            took = time.perf_counter() - start
        return {"seconds": took, "hessian": result.hessian, "names": result.wrt}
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
    start = time.perf_counter()
    compiled(x2).block_until_ready()
    warm = time.perf_counter() - start
    return {"seconds": took, "warm": warm, "hessian": [[float(v) for v in row] for row in h.tolist()],
            "names": names}


# --- the harness ---------------------------------------------------------------------------


def sample(kind: str, program_file: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.hessian_bench", "--worker", kind, str(program_file)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE.parent, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {TIMEOUT:.0f} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(done.stdout)


def max_rel_diff(a: list[list[float]], b: list[list[float]]) -> float:
    worst = 0.0
    scale = max(1.0, max(abs(v) for row in b for v in row))
    for ra, rb in zip(a, b, strict=True):
        for va, vb in zip(ra, rb, strict=True):
            worst = max(worst, abs(va - vb) / scale)
    return worst


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def measure(program: Program, kinds: list[str], runs: int) -> tuple[dict[str, list[float]], dict[str, Any],
                                                                 dict[str, str]]:
    """Interleaved rounds of every kind on one program: times, one Hessian each, errors."""
    times: dict[str, list[float]] = {k: [] for k in [*kinds, "jax-warm"]}
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "program.json"
        path.write_text(json.dumps({"source": program.source, "bindings": program.bindings}))
        for r in range(runs):
            order = kinds[r % len(kinds):] + kinds[: r % len(kinds)]  # rotate: load hits all alike
            for kind in order:
                if kind in errors or (kind == "jax" and r >= JAX_ROUNDS):
                    continue
                got = sample(kind, path)
                if "error" in got:
                    errors[kind] = got["error"]
                    continue
                times[kind].append(got["seconds"])
                if "warm" in got:
                    times["jax-warm"].append(got["warm"])
                answers.setdefault(kind, got["hessian"])
            print(f"  {program.name}, {len(program.bindings)} inputs: round {r + 1}/{runs}", file=sys.stderr)
    return times, answers, errors


def table_row(program: Program, nodes: int, kinds: list[str], runs: int) -> str:
    times, answers, errors = measure(program, kinds, runs)
    base = statistics.median(times["gradcli"]) if times["gradcli"] else math.nan
    warm = statistics.median(times["gradcli-warm"]) if times["gradcli-warm"] else math.nan

    def cell(kind: str, against: float) -> str:
        needs = "jax" if kind == "jax-warm" else kind
        if needs not in kinds:
            return f"not installed ({NEEDS[needs]})"
        if needs in errors:
            return f"failed: {errors[needs]}"
        t = statistics.median(times[kind])
        return fmt(t) if kind.startswith("gradcli") else f"{fmt(t)} ({t / against:.1f}× gradcli's)"

    diffs = [
        f"{kind} {max_rel_diff(answers[kind], answers['gradcli']):.1e}"
        for kind in ("torch", "jax") if kind in answers and "gradcli" in answers
    ]
    cells = [program.name, str(len(program.bindings)), f"{nodes:,}", cell("gradcli", base),
             cell("gradcli-warm", warm), cell("torch", base), cell("jax", base), cell("jax-warm", warm),
             ", ".join(diffs) or "-"]
    return "| " + " | ".join(cells) + " |"


def run(inputs_list: list[int], ops: int, runs: int) -> tuple[str, list[str]]:
    import gradcli

    kinds = [k for k in KINDS if k not in NEEDS or importlib.util.find_spec(NEEDS[k]) is not None]
    missing = sorted({NEEDS[k] for k in KINDS if k not in kinds})
    header = ["program", "inputs", "graph nodes", "gradcli", "gradcli warm", "torch", "jax cold", "jax warm",
              "largest difference"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for inputs in inputs_list:
        program = program_for(inputs, ops)
        rows.append(table_row(program, len(gradcli.compile(program.source).nodes), kinds, runs))
    notes = []
    if missing:
        notes.append(f"Skipped: {', '.join(missing)} not installed (not gradcli dependencies;"
                     " pip install them into the environment to compare).")
    return "\n".join(rows), notes


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
    table, notes = run(inputs_list, args.ops, runs)
    from bench.run import machine_line

    versions = []
    for module in ("torch", "jax", "numpy"):
        if importlib.util.find_spec(module) is not None:
            versions.append(f"{module} {importlib.import_module(module).__version__}")
    text = "\n".join([
        "# Hessian benchmark",
        "",
        "Written by `python -m bench.hessian_bench` (the module's docstring says what each column"
        " times). Medians of interleaved runs in fresh processes; the ratios are each peer's time"
        " over gradcli's, from the same run (above 1: gradcli is faster). jax warm is compared with"
        " gradcli warm. JAX runs one round (its cold figure is minutes of XLA compilation).",
        "",
        f"Machine: {machine_line()}; {', '.join(versions)}; {runs} rounds.",
        "",
        table,
        "",
        *notes,
        "",
    ])
    print(text)
    if not args.quick:
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    import importlib

    sys.exit(main())
