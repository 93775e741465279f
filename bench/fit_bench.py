"""Benchmarks for `gradcli fit`, as ratios to baselines measured in the same run.

    python bench/fit_bench.py            # the full run (a few minutes); writes bench/RESULTS-fit.md
    python bench/fit_bench.py --quick    # small sizes, a few seconds (CI); prints only

The model is the tutorials' sigmoid neuron with a squared loss,
(sigmoid(w0*x0 + w1*x1 + w2) - y)^2, on generated points labelled by a line.

1. One full-batch step over N rows (the mean loss and its gradient toward w0, w1,
   w2): gradcli's compiled step (gradcli.fitplan.Plan.step) against a hand-written
   NumPy forward and backward of the same model. Target: at most 1.5x.
2. A whole fit, N rows, 5 epochs, Adam, batch size 32 and the full batch, in
   process from arrays: gradcli.fit against the same loop written in PyTorch
   (float64: a shuffled permutation per epoch, torch.optim.Adam, and, as fit does,
   the loss and gradient over every row after each epoch), and JAX (jit) when
   installed. Target: at most 1.0x PyTorch. PyTorch and JAX are not dependencies
   of gradcli: a missing one is noted, not measured.
3. Peak memory (the child's maximum RSS) of `gradcli fit --data FILE` at 10^6 rows
   against the same at 10^3 rows (the constant: Python, NumPy, gradcli), beside
   the data's own size as float64 columns. Target: the difference at most 2x the data.

Every figure is a median over several runs; baselines and gradcli take turns.
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
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402 - after the path is set

from gradcli.api import compile  # noqa: E402
from gradcli.fit import fit  # noqa: E402
from gradcli.fitdata import read_data  # noqa: E402
from gradcli.fitplan import Plan  # noqa: E402

LOSS = "(sigmoid(w0*x0 + w1*x1 + w2) - y)^2"
PARAMS = ["w0", "w1", "w2"]


def dataset(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, x1 = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
    return {"x0": x0, "x1": x1, "y": (x0 - 0.5 * x1 + 0.25 > 0).astype(float)}


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def numpy_step(data: dict[str, np.ndarray], w: list[float]) -> tuple[float, list[float]]:
    """The neuron's mean squared loss and gradient, forward and backward by hand."""
    x0, x1, y = data["x0"], data["x1"], data["y"]
    z = w[0] * x0 + w[1] * x1 + w[2]
    p = 1.0 / (1.0 + np.exp(-z))
    r = p - y
    n = len(y)
    dz = 2.0 * r * p * (1.0 - p)
    grad = [float((dz * x0).sum()) / n, float((dz * x1).sum()) / n, float(dz.sum()) / n]
    return float((r * r).sum()) / n, grad


def bench_step(n: int, runs: int) -> list[str]:
    data = dataset(n)
    graph = compile(LOSS)
    table = read_data(np, graph, data, PARAMS, {})
    plan = Plan(np, graph, list(table.columns), PARAMS, table.constants)
    w = [0.3, -0.2, 0.1]
    everything = slice(0, n)
    ours = plan.step(table.columns, everything, n, w)
    theirs = numpy_step(data, w)
    assert ours is not None and np.allclose(ours[1], theirs[1], rtol=1e-10), (ours, theirs)
    rows = []
    samples: dict[str, list[float]] = {"numpy": [], "gradcli": []}
    inner = max(1, 200_000 // n)
    for _ in range(runs):  # interleaved, so a noisy machine slows both alike
        samples["numpy"].append(median_time(lambda: numpy_step(data, w), inner)[0])
        samples["gradcli"].append(median_time(lambda: plan.step(table.columns, everything, n, w), inner)[0])
    base = statistics.median(samples["numpy"])
    for name in ("numpy", "gradcli"):
        m = statistics.median(samples[name])
        rows.append(f"| {name} | {m * 1e3:.3f} ms | {min(samples[name]) * 1e3:.3f} | {m / base:.2f}x |")
    ratio = statistics.median(samples["gradcli"]) / base
    rows.append(f"\nOne full-batch step over {n:,} rows: gradcli / NumPy = **{ratio:.2f}x**"
                f" (target ≤ 1.5x: {'✓' if ratio <= 1.5 else '✗'})")
    return rows


def torch_fit(data: dict[str, np.ndarray], batch: int, epochs: int) -> Callable[[], object] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x0, x1, y = (torch.tensor(data[k]) for k in ("x0", "x1", "y"))
    n = len(y)

    def run() -> object:
        w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([w], lr=0.01)
        gen = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen) if batch < n else None
            for start in range(0, n, batch):
                idx = perm[start:start + batch] if perm is not None else slice(start, start + batch)
                opt.zero_grad()
                loss = ((torch.sigmoid(w[0] * x0[idx] + w[1] * x1[idx] + w[2]) - y[idx]) ** 2).mean()
                loss.backward()
                opt.step()
            whole = w.detach().clone().requires_grad_(True)  # as fit: loss and gradient over every row
            ((torch.sigmoid(whole[0] * x0 + whole[1] * x1 + whole[2]) - y) ** 2).mean().backward()
        return w

    return run


def jax_fit(data: dict[str, np.ndarray], batch: int, epochs: int) -> Callable[[], object] | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    x0, x1, y = (jnp.asarray(data[k]) for k in ("x0", "x1", "y"))
    n = len(data["y"])

    def loss(w: object, a: object, b: object, t: object) -> object:
        return jnp.mean((jax.nn.sigmoid(w[0] * a + w[1] * b + w[2]) - t) ** 2)

    grad = jax.jit(jax.value_and_grad(loss))

    @jax.jit
    def adam(w: object, m: object, v: object, t: object, g: object) -> tuple[object, object, object]:
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        return w - 0.01 * (m / (1 - 0.9 ** t)) / (jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8), m, v

    def run() -> object:
        w = m = v = jnp.zeros(3)
        rng = np.random.default_rng(0)
        t = 0
        for _ in range(epochs):
            order = rng.permutation(n) if batch < n else np.arange(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                _, g = grad(w, x0[idx], x1[idx], y[idx])
                t += 1
                w, m, v = adam(w, m, v, t, g)
            grad(w, x0, x1, y)
        return w

    return run


def bench_fit(n: int, epochs: int, runs: int) -> list[str]:
    data = dataset(n)
    rows = []
    for batch in (32, n):
        label = "full batch" if batch >= n else f"batch size {batch}"

        def ours(batch: int = batch) -> object:
            return fit(LOSS, data, params=PARAMS, w0=0, w1=0, w2=0, method="adam", lr=0.01, epochs=epochs,
                       batch_size=batch, tol=0)

        peers = {
            "gradcli": ours,
            "pytorch": torch_fit(data, batch, epochs),
            "jax (jit)": jax_fit(data, batch, epochs),
        }
        samples: dict[str, list[float]] = {name: [] for name, fn in peers.items() if fn is not None}
        for fn in peers.values():
            if fn is not None:
                fn()  # warm-up (JAX compiles here)
        for _ in range(runs):
            for name, fn in peers.items():
                if fn is not None:
                    samples[name].append(median_time(fn, 1)[0])
        base = statistics.median(samples["pytorch"]) if "pytorch" in samples else None
        for name, fn in peers.items():
            if fn is None:
                rows.append(f"| {label} | {name} | not installed | | |")
                continue
            m = statistics.median(samples[name])
            ratio = f"{m / base:.2f}x" if base else "—"
            rows.append(f"| {label} | {name} | {m:.3f} s | {min(samples[name]):.3f} | {ratio} |")
        if base:
            ratio = statistics.median(samples["gradcli"]) / base
            rows.append(f"| {label} | **gradcli / PyTorch** | **{ratio:.2f}x** | | target ≤ 1.0x:"
                        f" {'✓' if ratio <= 1.0 else '✗'} |")
    return rows


def peak_rss(rows: int, folder: Path) -> int:
    path = folder / f"d{rows}.csv"
    if not path.exists():
        data = dataset(rows)
        np.savetxt(path, np.c_[data["x0"], data["x1"], data["y"]], delimiter=",", header="x0,x1,y",
                   comments="", fmt="%.17g")
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's, which holds PyTorch.
    code = (
        "import sys; from gradcli.cli import main; rc = main(sys.argv[1:]);"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(hwm, file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "fit", LOSS, "--data", str(path), "--params", "w0,w1,w2", "--w0", "0",
         "--w1", "0", "--w2", "0", "--epochs", "2", "--json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)}, check=True,
    )
    return int(proc.stderr.strip().splitlines()[-1]) * 1024


def bench_memory(rows: int) -> list[str]:
    """Peak RSS at 10^3 rows (Python, NumPy, gradcli), at rows/10 (the reader's buffers
    full too: a chunk of lines is at most 8 MiB) and at rows: what grows with the data
    is the difference between the last two, set beside the data's own growth."""
    tenth = rows // 10
    with tempfile.TemporaryDirectory() as tmp:
        small = min(peak_rss(1000, Path(tmp)) for _ in range(2))
        mid = min(peak_rss(tenth, Path(tmp)) for _ in range(2))
        big = min(peak_rss(rows, Path(tmp)) for _ in range(2))
    data = rows * 3 * 8
    slope = (big - mid) / (data - tenth * 3 * 8)
    return [
        f"| 10^3 rows | {small / 2**20:.1f} MiB |",
        f"| {tenth:,} rows | {mid / 2**20:.1f} MiB |",
        f"| {rows:,} rows | {big / 2**20:.1f} MiB |",
        f"| the data at {rows:,} rows as float64 columns (3 × {rows:,} × 8 bytes) | {data / 2**20:.1f} MiB |",
        f"\nFrom {tenth:,} to {rows:,} rows the peak grows by {(big - mid) / 2**20:.1f} MiB while the data"
        f" grows by {(data - tenth * 24) / 2**20:.1f} MiB: **{slope:.2f}x** the data, plus a constant"
        f" (target ≤ 2x: {'✓' if slope <= 2 else '✗'}). Beyond the 10^3-row run the peak at {rows:,} rows"
        f" is {(big - small) / data:.2f}x the data: the reader's buffers (8 MiB of lines, a chunk of"
        " 65,536 rows as text and as numbers) are the rest of the constant.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, no results file")
    args = parser.parse_args()
    quick, full = (10_000, 2_000, 100_000, 3), (100_000, 100_000, 1_000_000, 3)
    n_step, n_fit, n_mem, runs = quick if args.quick else full
    lines = [
        "# fit benchmarks",
        "",
        f"`python bench/fit_bench.py` on {platform.python_implementation()} {platform.python_version()},"
        f" NumPy {np.__version__}, {os.cpu_count()} cores ({platform.machine()}); medians of {runs} runs,"
        " subjects interleaved. The model: the sigmoid neuron with a squared loss.",
        "",
        "## One full-batch step",
        "",
        "| subject | median | min | ratio |",
        "|---|---|---|---|",
        *bench_step(n_step, runs),
        "",
        f"## A whole fit: {n_fit:,} rows, 5 epochs, Adam",
        "",
        "| batch | subject | median | min | ratio to PyTorch |",
        "|---|---|---|---|---|",
        *bench_fit(n_fit, 5, runs),
        "",
        "## Peak memory of `gradcli fit --data FILE`",
        "",
        "| run | peak RSS |",
        "|---|---|",
        *bench_memory(n_mem),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        (HERE / "RESULTS-fit.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
