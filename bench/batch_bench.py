"""Benchmarks for eval --batch (issue 6), as ratios to baselines measured in the same run.

    python bench/batch_bench.py            # the full run (a few minutes); writes bench/RESULTS-batch.md
    python bench/batch_bench.py --quick    # small sizes, a few seconds (CI); prints only

1. Compute only: the neuron 1/(1+exp(-(w0*x0+w1*x1+w2))) on N points already in
   arrays: gradcli.batch.evaluate_arrays against a hand-written NumPy forward and
   backward of the same function, and against PyTorch's autograd when torch is installed.
2. End to end, file in, file out: `gradcli eval ... --batch FILE` (CSV -> CSV and
   JSON Lines -> JSON Lines) against the I/O floor: a plain Python script that reads
   the same file (csv.reader, or json.loads per line) and writes the same number of
   fields per row (csv.writer, or json.dumps per line) without computing anything.
2b. With pyarrow (the fast extra): CSV -> CSV against the same without pyarrow and
   the floor; Parquet -> Parquet against pyarrow alone reading and writing the same
   files; --engine dask on a LocalCluster of 2 worker processes against one process,
   and a worker's peak memory at two sizes (`--only-data`: these alone).
3. Peak memory (the child's maximum RSS) of a CSV batch streamed through standard
   input: 10^7 rows against 10^5.
4. The lazy `if` over a grid of N points: `if(x > 0, log(x), 0)` against the same
   program without the guard, `log(x)`, on x in (0, 10] (every row takes the log),
   and the guard on x in [-10, 10] (half the rows take each branch: masks), compute
   only and end to end (`eval --grid ... --format csv`).

Every figure is a median over several runs; baselines and gradcli take turns.
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
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

import numpy as np  # noqa: E402 - after the path is set

import gradcli  # noqa: E402
from gradcli.batch import evaluate_arrays  # noqa: E402

NEURON = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
INPUTS = ("w0", "x0", "w1", "x1", "w2")
#: Fields per output row: the 5 inputs, the value, 5 gradients (and CSV's error column).
CSV_FIELDS = 12

CSV_FLOOR = """
import csv, sys
with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as g:
    reader, writer = csv.reader(f), csv.writer(g)
    header = next(reader)
    writer.writerow((header * 3)[:FIELDS])
    for row in reader:
        writer.writerow((row * 3)[:FIELDS])
""".replace("FIELDS", str(CSV_FIELDS))

JSON_FLOOR = """
import json, sys
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "w") as g:
    for line in f:
        o = json.loads(line)
        g.write(json.dumps({"output": None, "value": o["w0"], "inputs": o, "gradient": o}) + "\\n")
"""

GENERATE = """
import random, sys
n = int(sys.argv[1])
random.seed(1)
row = lambda: ",".join(repr(round(random.uniform(-3, 3), 6)) for _ in range(5)) + "\\n"
block = "".join(row() for _ in range(1000))
out = sys.stdout
out.write("w0,x0,w1,x1,w2\\n")
for _ in range(n // 1000):
    out.write(block)
out.write("".join(block.splitlines(True)[: n % 1000]))
"""


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds of each function, the functions taking turns run by run."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# --- 1. compute only -----------------------------------------------------------------------


def hand_written(w0, x0, w1, x1, w2):  # type: ignore[no-untyped-def]
    z = w0 * x0 + w1 * x1 + w2
    s = 1.0 / (1.0 + np.exp(-z))
    ds = s * (1.0 - s)
    return s, ds * x0, ds * w0, ds * x1, ds * w1, ds


def contenders(n: int, names: list[str] | None = None) -> dict[str, Callable[[], object]]:
    """The compute contenders over the same n points (torch only when installed)."""
    rng = np.random.default_rng(0)
    cols = {name: rng.uniform(-3, 3, n) for name in INPUTS}
    graph = gradcli.compile(NEURON)
    fns: dict[str, Callable[[], object]] = {
        "gradcli evaluate_arrays": lambda: evaluate_arrays(graph, cols),
        "hand-written NumPy": lambda: hand_written(**cols),
    }
    if names is not None and any(name.startswith("PyTorch") for name in names):
        import torch

        if "PyTorch autograd, 1 thread" in names:
            torch.set_num_threads(1)  # as NumPy: on a busy machine, more threads can be slower

        tensors = {k: torch.from_numpy(v) for k, v in cols.items()}

        def torch_run() -> object:
            leaves = {k: t.clone().requires_grad_(True) for k, t in tensors.items()}
            z = leaves["w0"] * leaves["x0"] + leaves["w1"] * leaves["x1"] + leaves["w2"]
            y = 1 / (1 + torch.exp(-z))
            y.backward(torch.ones_like(y))
            return [leaves[k].grad for k in INPUTS]

        fns["PyTorch autograd"] = fns["PyTorch autograd, 1 thread"] = torch_run
    return fns


def compute_child(name: str, n: int, runs: int) -> None:
    """--compute-child: time one contender in a process of its own and print the median."""
    fn = contenders(n, [name])[name]
    fn()  # warm up
    print(median_time(fn, runs))


def compute(n: int, runs: int, with_torch: bool) -> list[tuple[str, float, str]]:
    """Each contender runs in a fresh process of its own, so that none inherits memory
    that another freed (page faults on fresh memory are a large part of these times)."""
    fns = contenders(n)
    ours = fns["gradcli evaluate_arrays"]()
    ref = fns["hand-written NumPy"]()
    got = [ours.value, *(ours.gradient[k] for k in INPUTS)]  # type: ignore[attr-defined]
    worst = max(
        float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))) for a, b in zip(got, ref, strict=True)  # type: ignore[arg-type]
    )
    # s·(1 − s) loses digits where s is near 1; the graph's chain of local gradients
    # does not, so the two agree to about 1e-8 there, and to rounding elsewhere.
    assert worst < 1e-6, worst
    names = list(fns)
    torch_note = "not installed"
    if with_torch:
        try:
            import torch

            names += ["PyTorch autograd", "PyTorch autograd, 1 thread"]
            torch_note = f"torch {torch.__version__}, {torch.get_num_threads()} threads by default"
        except ImportError:
            pass
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(runs):  # the contenders take turns, so that a busy moment hits them all
        for name in names:
            proc = subprocess.run(
                [sys.executable, __file__, "--compute-child", name, str(n), "3"],
                capture_output=True, text=True, check=True,
            )
            samples[name].append(float(proc.stdout.split()[-1]))
    times = {name: statistics.median(values) for name, values in samples.items()}
    base = times["hand-written NumPy"]
    rows = [(name, t, f"{t / base:.2f}x hand-written") for name, t in times.items()]
    if "PyTorch autograd" in times:
        fastest = min(times["PyTorch autograd"], times["PyTorch autograd, 1 thread"])
        ratio = times["gradcli evaluate_arrays"] / fastest
        rows.append(("gradcli / PyTorch (its faster setting)", ratio, f"{ratio:.2f}x PyTorch"))
    rows.append(("(max relative difference to hand-written)", worst, torch_note))
    return rows


# --- 2. end to end ------------------------------------------------------------------------------


def write_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    data = np.round(rng.uniform(-3, 3, (n, 5)), 6)
    csv_path, json_path = folder / "points.csv", folder / "points.jsonl"
    with open(csv_path, "w") as f:
        f.write(",".join(INPUTS) + "\n")
        for start in range(0, n, 100_000):
            f.writelines(",".join(map(repr, row)) + "\n" for row in data[start : start + 100_000].tolist())
    with open(json_path, "w") as f:
        for start in range(0, n, 100_000):
            f.writelines(
                "{" + ", ".join(f'"{k}": {v!r}' for k, v in zip(INPUTS, row, strict=True)) + "}\n"
                for row in data[start : start + 100_000].tolist()
            )
    return csv_path, json_path


def run(args: list[str], stdout: Path) -> None:
    with open(stdout, "wb") as out:
        proc = subprocess.run(args, stdout=out, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"{args[:4]} failed: {proc.stderr.decode()[-500:]}")


def end_to_end(folder: Path, n: int, runs: int) -> list[tuple[str, float, str]]:
    csv_path, json_path = write_inputs(folder, n)
    out = folder / "out"
    gradcli_cmd = [sys.executable, "-m", "gradcli", "eval", NEURON, "--batch"]
    rows = []
    for label, path, fmt, floor in (
        ("CSV -> CSV", csv_path, "csv", CSV_FLOOR),
        ("JSON Lines -> JSON Lines", json_path, "jsonl", JSON_FLOOR),
    ):
        times = interleaved(
            {
                "gradcli": lambda p=path, f=fmt: run([*gradcli_cmd, str(p), "--format", f], out),
                "floor": lambda p=path, fl=floor: run(
                    [sys.executable, "-c", fl, str(p), str(out)], out.with_suffix(".x")
                ),
            },
            runs,
        )
        ratio = times["gradcli"] / times["floor"]
        rows.append((f"{label}: gradcli", times["gradcli"], f"{n / times['gradcli']:,.0f} rows/s"))
        rows.append((f"{label}: I/O floor", times["floor"], f"{n / times['floor']:,.0f} rows/s"))
        rows.append((f"{label}: gradcli / floor", ratio, f"{ratio:.2f}x the floor"))
    return rows


# --- 2b. CSV with the fast extra, Parquet ---------------------------------------------------------

#: On PYTHONPATH, hides pyarrow: the standard library's CSV path, as without the fast extra.
HIDE_PYARROW = "raise ImportError('pyarrow is hidden for this benchmark')\n"


def csv_fast(folder: Path, n: int, runs: int) -> list[tuple[str, float, str]]:
    """CSV -> CSV with pyarrow (Arrow reads, Arrow joins) and with it hidden, against the floor."""
    csv_path, _ = write_inputs(folder, n)
    hidden = folder / "hide"
    hidden.mkdir(exist_ok=True)
    (hidden / "pyarrow.py").write_text(HIDE_PYARROW)
    out, other = folder / "out.csv", folder / "out_plain.csv"
    cmd = [sys.executable, "-m", "gradcli", "eval", NEURON, "--batch", str(csv_path), "--format", "csv"]
    env = {**os.environ, "PYTHONPATH": f"{hidden}{os.pathsep}{HERE.parent}"}
    times = interleaved(
        {
            "fast": lambda: run(cmd, out),
            "plain": lambda: run_env(cmd, other, env),
            "floor": lambda: run([sys.executable, "-c", CSV_FLOOR, str(csv_path), str(folder / "f.csv")],
                                 folder / "f.out"),
        },
        runs,
    )
    same = out.read_bytes() == other.read_bytes()
    floor = times["floor"]
    return [
        ("CSV -> CSV, fast (pyarrow)", times["fast"], f"{times['fast'] / floor:.2f}x the floor"),
        ("CSV -> CSV, without pyarrow", times["plain"], f"{times['plain'] / floor:.2f}x the floor"),
        ("CSV -> CSV: I/O floor", floor, f"{n / floor:,.0f} rows/s"),
        ("fast / without pyarrow", times["fast"] / times["plain"], f"same bytes: {same}"),
    ]


def run_env(args: list[str], stdout: Path, env: dict[str, str]) -> None:
    with open(stdout, "wb") as out:
        proc = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{args[:4]} failed: {proc.stderr.decode()[-500:]}")


#: Reads a Parquet file and writes one of the output's shape, computing nothing: the
#: same record batches (65,536 rows), the 5 inputs again as the 6 result columns, and an
#: all-null error column. pyarrow alone, reading and writing the same files.
PARQUET_FLOOR = """
import sys
import pyarrow as pa, pyarrow.parquet as pq
source = pq.ParquetFile(sys.argv[1])
writer = None
for batch in source.iter_batches(batch_size=65536, use_threads=False):
    cols = list(batch.columns)
    arrays = cols + [cols[0]] + cols + [pa.nulls(batch.num_rows, pa.string())]
    names = [*batch.schema.names, "value", *("grad_" + n for n in batch.schema.names), "error"]
    table = pa.Table.from_arrays(arrays, names=names)
    if writer is None:
        writer = pq.ParquetWriter(sys.argv[2], table.schema)
    writer.write_table(table)
writer.close()
"""


def write_parquet(path: Path, n: int, files: int = 1) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    paths = []
    per = n // files
    for i in range(files):
        target = path / f"part{i:03d}.parquet" if path.is_dir() else path
        writer = None
        for start in range(0, per, 1_000_000):
            m = min(1_000_000, per - start)
            table = pa.table({name: np.round(rng.uniform(-3, 3, m), 6) for name in INPUTS})
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table, row_group_size=m)
        assert writer is not None
        writer.close()
        paths.append(target)
    return paths


def parquet(folder: Path, n: int, runs: int) -> list[tuple[str, float, str]]:
    """Parquet -> Parquet against pyarrow alone reading and writing the same files."""
    source = folder / "points.parquet"
    write_parquet(source, n)
    out = folder / "out.parquet"
    cmd = [sys.executable, "-m", "gradcli", "eval", NEURON, "--batch", str(source), "--format", "parquet",
           "--out", str(out)]
    times = interleaved(
        {
            "gradcli": lambda: run(cmd, folder / "stdout"),
            "pyarrow": lambda: run(
                [sys.executable, "-c", PARQUET_FLOOR, str(source), str(folder / "f.parquet")],
                folder / "stdout",
            ),
        },
        runs,
    )
    ratio = times["gradcli"] / times["pyarrow"]
    return [
        ("Parquet -> Parquet: gradcli", times["gradcli"], f"{n / times['gradcli']:,.0f} rows/s"),
        ("Parquet -> Parquet: pyarrow alone", times["pyarrow"], f"{n / times['pyarrow']:,.0f} rows/s"),
        ("Parquet -> Parquet: gradcli / pyarrow", ratio, f"{ratio:.2f}x pyarrow alone"),
    ]


#: One Dask run on a fresh LocalCluster of 2 worker processes: seconds, and each
#: worker's peak RSS (MiB), printed as JSON.
DASK_RUN = """
import json, resource, subprocess, sys, time
from distributed import Client, LocalCluster
pattern, out, program = sys.argv[1], sys.argv[2], sys.argv[3]
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=None, silence_logs=50)
client = Client(cluster)
start = time.perf_counter()
args = ["eval", program, "--batch", pattern, "--engine", "dask", "--scheduler", cluster.scheduler_address,
        "--out", out]
proc = subprocess.run([sys.executable, "-m", "gradcli", *args], capture_output=True, text=True)
took = time.perf_counter() - start
assert proc.returncode == 0, proc.stderr
peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
client.close(); cluster.close()
print(json.dumps({"seconds": took, "peaks": sorted(peaks.values())}))
"""


def dask_engine(folder: Path, n: int, small: int, runs: int) -> list[tuple[str, float, str]]:
    """--engine dask on a LocalCluster of 2 worker processes against one process, from
    Parquet files of 10^6 rows each; each worker's peak memory at n and at ``small`` rows."""
    import json
    import shutil

    per = min(1_000_000, n)
    big, little = folder / "big", folder / "little"
    big.mkdir()
    little.mkdir()
    write_parquet(big, n, files=max(1, n // per))
    write_parquet(little, small, files=max(1, small // per))
    single: list[float] = []
    dask_times: list[float] = []
    peaks: dict[str, list[float]] = {"big": [], "little": []}
    for _ in range(runs):
        start = time.perf_counter()
        run([sys.executable, "-m", "gradcli", "eval", NEURON, "--batch", str(big / "*.parquet"), "--format",
             "parquet", "--out", str(folder / "single.parquet")], folder / "stdout")
        single.append(time.perf_counter() - start)
        for name, where in (("big", big), ("little", little)):
            out = folder / f"dask_{name}"
            shutil.rmtree(out, ignore_errors=True)
            args = [sys.executable, "-c", DASK_RUN, str(where / "*.parquet"), str(out), NEURON]
            proc = subprocess.run(args, capture_output=True, text=True, check=True)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            if name == "big":
                dask_times.append(result["seconds"])
            peaks[name].append(max(result["peaks"]))
    one, two = statistics.median(single), statistics.median(dask_times)
    big_peak, little_peak = statistics.median(peaks["big"]), statistics.median(peaks["little"])
    return [
        ("one process (--format parquet)", one, f"{n / one:,.0f} rows/s"),
        ("--engine dask, 2 local worker processes", two,
         f"{n / two:,.0f} rows/s, {one / two:.2f}x one process's rows/s"),
        (f"a worker's peak RSS, {small:,} rows", little_peak, "MiB"),
        (f"a worker's peak RSS, {n:,} rows", big_peak, f"MiB, {big_peak / little_peak:.2f}x"),
    ]


# --- 3. peak memory ------------------------------------------------------------------------------


#: Runs in a small process of its own: a child's peak RSS counts the memory of the
#: process it was forked from, so this benchmark's own arrays must not be there.
MEASURE = """
import os, subprocess, sys
n, generate, program = sys.argv[1], sys.argv[2], sys.argv[3]
generator = subprocess.Popen([sys.executable, "-c", generate, n], stdout=subprocess.PIPE)
child = subprocess.Popen(
    [sys.executable, "-m", "gradcli", "eval", program, "--batch", "-", "--format", "csv"],
    stdin=generator.stdout, stdout=subprocess.DEVNULL,
)
generator.stdout.close()
_, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
generator.wait()
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss_kib(n: int) -> int:
    """Peak RSS of `gradcli eval --batch - --format csv` over n rows streamed in."""
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(n), GENERATE, NEURON],
                          capture_output=True, text=True, check=True)
    code, kib = map(int, proc.stdout.split())
    if code != 0:
        raise SystemExit(f"the memory run over {n} rows failed with {code}")
    return kib  # KiB on Linux


def memory(small: int, large: int, runs: int) -> list[tuple[str, float, str]]:
    small_kib = statistics.median(peak_rss_kib(small) for _ in range(runs))
    large_kib = statistics.median(peak_rss_kib(large) for _ in range(max(1, runs // 3)))
    ratio = large_kib / small_kib
    return [
        (f"peak RSS, {small:,} rows", small_kib / 1024, "MiB"),
        (f"peak RSS, {large:,} rows", large_kib / 1024, "MiB"),
        (f"peak RSS {large:,} / {small:,}", ratio, f"{ratio:.2f}x"),
    ]


# --- 4. the lazy if ---------------------------------------------------------------------------

GUARDED = "if(x > 0, log(x), 0)"
UNGUARDED = "log(x)"


def branches(n: int, runs: int) -> list[tuple[str, float, str]]:
    positive, both = np.linspace(1e-3, 10, n), np.linspace(-10, 10, n)
    guarded, unguarded = gradcli.compile(GUARDED), gradcli.compile(UNGUARDED)
    times = interleaved(
        {
            "unguarded": lambda: evaluate_arrays(unguarded, {"x": positive}),
            "guarded": lambda: evaluate_arrays(guarded, {"x": positive}),
            "guarded, half": lambda: evaluate_arrays(guarded, {"x": both}),
        },
        runs,
    )
    base = times["unguarded"]
    rows = [
        (f"compute: {UNGUARDED}, x in (0, 10]", base, "1.00x"),
        (f"compute: {GUARDED}, x in (0, 10]", times["guarded"], f"{times['guarded'] / base:.2f}x unguarded"),
        (f"compute: {GUARDED}, x in [-10, 10]", times["guarded, half"],
         f"{times['guarded, half'] / base:.2f}x unguarded"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.csv"
        cmd = [sys.executable, "-m", "gradcli", "eval"]
        grid = ["--grid", f"x=0.001:10:{n}", "--format", "csv"]
        half = ["--grid", f"x=-10:10:{n}", "--format", "csv"]
        times = interleaved(
            {
                "unguarded": lambda: run([*cmd, UNGUARDED, *grid], out),
                "guarded": lambda: run([*cmd, GUARDED, *grid], out),
                "guarded, half": lambda: run([*cmd, GUARDED, *half], out),
            },
            runs,
        )
    base = times["unguarded"]
    rows += [
        (f"eval --grid: {UNGUARDED}, x in (0, 10]", base, "1.00x"),
        (f"eval --grid: {GUARDED}, x in (0, 10]", times["guarded"],
         f"{times['guarded'] / base:.2f}x unguarded"),
        (f"eval --grid: {GUARDED}, x in [-10, 10]", times["guarded, half"],
         f"{times['guarded, half'] / base:.2f}x unguarded"),
    ]
    return rows


# --- report ------------------------------------------------------------------------------------------


def table(title: str, rows: list[tuple[str, float, str]], unit: str) -> str:
    lines = [f"### {title}", "", f"| measure | {unit} | note |", "|---|---:|---|"]
    for name, value, note in rows:
        lines.append(f"| {name} | {value:.4g} | {note} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds; prints only")
    parser.add_argument("--runs", type=int, default=None, help="runs per median (default 5; 3 with --quick)")
    parser.add_argument("--compute-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--only-branches", action="store_true", help="section 4 alone; prints only")
    parser.add_argument("--only-data", action="store_true",
                        help="the CSV (fast extra), Parquet and Dask sections alone; writes"
                        " bench/RESULTS-data.md")
    options = parser.parse_args()
    if options.compute_child:
        name, n, child_runs = options.compute_child
        compute_child(name, int(n), int(child_runs))
        return
    quick = options.quick
    runs = options.runs or (3 if quick else 5)
    n_compute = 100_000 if quick else 1_000_000
    if options.only_branches:
        print(table(f"The lazy if over a grid of {n_compute:,} points", branches(n_compute, runs),
                    "seconds (median)"))
        return
    n_files = 20_000 if quick else 1_000_000
    small, large = (100_000, 300_000) if quick else (100_000, 10_000_000)
    if options.only_data:
        data_sections(quick, runs, n_files)
        return

    started = time.perf_counter()
    sections = []
    sections.append(table(f"Compute only: the neuron on {n_compute:,} points in arrays",
                          compute(n_compute, runs, with_torch=not quick), "seconds (median)"))
    with tempfile.TemporaryDirectory() as folder:
        sections.append(table(f"End to end: {n_files:,} rows, file in, file out",
                              end_to_end(Path(folder), n_files, runs), "seconds (median)"))
    sections += data_tables(quick, runs, n_files)
    sections.append(
        table("Peak memory: CSV streamed through standard input", memory(small, large, 3), "value")
    )
    sections.append(table(f"The lazy if over a grid of {n_compute:,} points",
                          branches(n_compute, runs), "seconds (median)"))
    report = "\n".join(sections)
    print(report)
    print(f"({time.perf_counter() - started:.1f} s in all)")
    if not quick:
        versions = ", ".join(
            f"{name} {mod.__version__}" for name, mod in (("NumPy", np), ("gradcli", gradcli))
        )
        try:
            import orjson

            versions += f", orjson {orjson.__version__}"
        except ImportError:
            versions += ", orjson not installed"
        header = (
            "# eval --batch: benchmark results\n\n"
            "Produced by `python bench/batch_bench.py`: medians over 5 runs (the peak memory at\n"
            "10^7 rows: 1 run), every baseline measured in the same run. Compute: each contender\n"
            "in fresh processes of its own (the median of 3 timings in each), the contenders\n"
            "taking turns; end to end: gradcli and the floor taking turns.\n"
            "PyTorch's times include cloning the five input tensors into fresh leaves.\n\n"
            f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
            f"{versions}.\n\n"
        )
        (HERE / "RESULTS-batch.md").write_text(header + report)


def data_sections(quick: bool, runs: int, n_files: int) -> None:
    """The sections of issue 20 alone (CSV with the fast extra, Parquet, Dask)."""
    started = time.perf_counter()
    sections = data_tables(quick, runs, n_files)
    report = "\n".join(sections)
    print(report)
    print(f"({time.perf_counter() - started:.1f} s in all)")
    if not quick:
        import pyarrow

        header = (
            "# eval --batch with pyarrow and Dask: benchmark results\n\n"
            f"Produced by `python bench/batch_bench.py --only-data --runs {runs}`: medians over {runs} runs\n"
            f"(Parquet: {min(runs, 3)}, Dask: {max(1, runs // 3)}), every baseline measured in the same run,"
            " taking turns with gradcli.\n\n"
            f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()};"
            f" NumPy {np.__version__}, pyarrow {pyarrow.__version__}. The machine is shared: other\n"
            "work ran beside these figures, which is why only ratios measured in the same run mean much.\n\n"
        )
        (HERE / "RESULTS-data.md").write_text(header + report)


def data_tables(quick: bool, runs: int, n_files: int) -> list[str]:
    sections = []
    with tempfile.TemporaryDirectory() as folder:
        sections.append(table(f"CSV -> CSV with the fast extra (pyarrow): {n_files:,} rows",
                              csv_fast(Path(folder), n_files, runs), "seconds (median)"))
    n_parquet = 200_000 if quick else 10_000_000
    with tempfile.TemporaryDirectory() as folder:
        rows = parquet(Path(folder), n_parquet, runs if quick else min(runs, 3))
        sections.append(table(f"Parquet -> Parquet: {n_parquet:,} rows", rows, "seconds (median)"))
    n_dask, n_dask_small = (200_000, 100_000) if quick else (10_000_000, 2_000_000)
    with tempfile.TemporaryDirectory() as folder:
        sections.append(table(
            f"Dask: {n_dask:,} rows from Parquet files of up to 10^6 rows, 2 local worker processes",
            dask_engine(Path(folder), n_dask, n_dask_small, 1 if quick else max(1, runs // 3)),
            "seconds (median)"))
    return sections


if __name__ == "__main__":
    main()
