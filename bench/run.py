"""gradcli's benchmark harness: ``python bench/run.py [--quick]`` (or ``python -m bench``).

Every workload is measured beside its baselines in the same run, with the samples
interleaved (baseline, subject, baseline, subject, ...) so that a noisy neighbour
slows both alike. Each sample is a fresh process. The tables give the median of the
samples with the min and max beside it, and every figure also as a ratio to its
baseline. The results go to standard output and to ``bench/RESULTS.md``.

Workloads (the programs are generated deterministically, see ``bench/programs.py``):

- W1 cold start: ``gradcli eval "(x+y)*z" ... --json`` and the table, ``--help``
  and a TAB completion request, as whole processes, against ``python -c pass``
  and ``python -c "import click, lark"``.
- W2 the seed neuron, cold, whole process (gradcli and the peers).
- W3 wide programs of 10^3 … 10^6 operation nodes: string -> JSON against Lark's
  own parse to a tree of the same text; whole-process ``eval --file --json`` and
  its peak memory; the peers.
- W4 deep programs: ``tanh(tanh(…x…))`` and ``((x+1)*1.0001+1)*…``, 10^3 … 10^5 levels.
- W5 shared: let-chains of 10^2 … 2.5·10^5 statements (10^6 graph nodes) whose expanded tree is
  exponential, and their peak memory.

The growth checks (10× the size should take at most 11× the time) compare the
fastest CPU time of each size, not the median wall time. The work of a sample is
deterministic, so the fastest run is the one least disturbed; and on a shared
machine wall time also counts the time spent waiting for a core, which a long
sample pays more often than a short one (a 2 ms section runs within one scheduler
slice, a 500 ms one shares the core with whatever else runs). One sample a size on
a loaded 2-core machine read W5's 100× step as 277× in wall time when the
instructions executed grew 100.8× (and the CPU time about 90×). Both sizes of a check take the same code
path (every W3, W4 and W5 program is long enough for the fast parser), string → JSON
and the whole process get at least :data:`GROWTH_SAMPLES` samples where they are
cheap, and each check line gives the wall-clock ratio of medians beside its verdict.
CPU time is steadier, not immune: a process busy on the other core shares the
caches and the memory bus, and with one running (a callgrind run) the W5 10^4 -> 10^5
step read 11.44× in CPU time (19.03× in wall time) while the instructions executed
grew 9.88×. The results' header gives the load average seen during the run.

Peers (SymPy, micrograd, PyTorch) are measured when they are installed
(``pip install -e '.[bench]'``; PyTorch separately). A peer that fails (an error,
a time-out, a crash) is reported as such and not run at larger sizes.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: `python bench/run.py`
    sys.path.insert(0, str(REPO))

from bench.programs import (  # noqa: E402 - after the path fix above
    Program,
    deep_affine,
    deep_tanh,
    neuron,
    shared,
    wide,
)

WORKER = Path(__file__).resolve().parent / "worker.py"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TIMEOUT = 120.0  # seconds: a peer that takes longer is reported as timed out
BUDGET = 60.0  # seconds: a subject whose samples add up to more stops early (the table says how many)
GROWTH_SAMPLES = 5  # string -> JSON and the whole process: at least this many samples a size ...
GROWTH_BUDGET = 4.0  # ... while their samples add up to less than this (seconds of wall time)
PEERS = ("sympy", "micrograd", "torch")
PEER_MODULES = {"sympy": "sympy", "micrograd": "micrograd", "torch": "torch"}


# --- one sample ---------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float  # seconds, the whole process
    peak_kib: int  # the process's peak resident memory
    code: int | None  # exit status; None when killed for the time-out
    stdout: str
    stderr: str
    cpu: float = 0.0  # seconds of CPU time (user + system), the whole process

    @property
    def timed_out(self) -> bool:
        return self.code is None


def run_process(cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Sample:
    """Run ``cmd`` once: wall time, and peak memory of that process alone (``wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped
        out.seek(0)
        err.seek(0)
        code = None if killed.is_set() else proc.returncode
        return Sample(wall, usage.ru_maxrss, code, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), usage.ru_utime + usage.ru_stime)


# --- series of samples --------------------------------------------------------------------


@dataclass
class Series:
    """Samples of one figure (seconds or KiB), or the reason there are none."""

    values: list[float] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)


def fmt_time(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def cell(series: Series, base: Series | None = None, unit: Callable[[float], str] = fmt_time) -> str:
    """``median (min–max)`` and, when a baseline is given, ``= r×`` of its median."""
    if not series.ok:
        return series.failure or "—"
    text = f"{unit(series.median)} ({unit(min(series.values))}–{unit(max(series.values))})"
    if base is not None and base.ok:
        text += f" **{series.median / base.median:.2f}×**"
    return text


def ratio(series: Series, base: Series) -> float | None:
    if series.ok and base.ok:
        return series.median / base.median
    return None


def fastest_ratio(series: Series, base: Series) -> float | None:
    """The ratio of the fastest samples: what a growth check judges (see the module's
    docstring)."""
    if series.ok and base.ok and min(base.values) > 0:
        return min(series.values) / min(base.values)
    return None


#: One figure of a growth check: its name, then its CPU times before and after, then
#: its wall times before and after.
Growth = tuple[str, Series, Series, Series, Series]


def growth_check(step: str, limit: float, figures: Sequence[Growth]) -> str | None:
    """The line of a growth check: ``step`` (what grew, and how much) took at most
    ``limit`` times the CPU time, judged on each
    size's fastest sample of every figure; the wall-clock ratio of medians stands
    beside it, for what the machine's load made of it."""
    cpu = [fastest_ratio(after, before) for _, before, after, _, _ in figures]
    walls = [ratio(after, before) for _, _, _, before, after in figures]
    if None in cpu or None in walls:
        return None
    named = len(figures) > 1
    text = ", ".join(f"{figure[0]} {r:.2f}×" if named else f"{r:.2f}×"
                     for figure, r in zip(figures, cpu, strict=True))
    wall_text = " and ".join(f"{r:.2f}×" for r in walls if r is not None)
    worst = max(r for r in cpu if r is not None)
    return (f"{step}: CPU time {text} (fastest runs; wall-clock median{'s' if named else ''} {wall_text}) "
            f"(target ≤ {round(limit, 2):g}×: {'✓' if worst <= limit else '✗'})")


def runs_cell(series: Series, runs: int, base: Series | None = None) -> str:
    """``cell`` with the number of samples when it is not the table's ``runs``."""
    text = cell(series, base)
    if series.ok and len(series.values) != runs:
        text += f" [{len(series.values)} runs]"
    return text


# --- the environment ----------------------------------------------------------------------


def python() -> str:
    return sys.executable


def gradcli_exe() -> list[str]:
    """The installed entry point (what a user's shell runs), beside this Python."""
    beside = Path(sys.executable).parent / "gradcli"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("gradcli")
    return [found] if found else [python(), "-m", "gradcli"]


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for module in ("click", "lark"):
        version = _version(module)
        if version:
            versions.append(f"{module} {version}")
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}"
        f" ({platform.python_implementation()}) on {platform.system()} {platform.release()}; "
        + ", ".join(versions)
    )


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def entry_point_package(exe: Sequence[str]) -> Path:
    """The folder of the gradcli that ``exe`` runs: a console script imports it from
    its interpreter's path (its shebang's), ``python -m gradcli`` from the current folder
    first. It need not be the one this harness imports (a venv whose editable install
    points at another checkout)."""
    if len(exe) == 1:
        first = Path(exe[0]).read_bytes().split(b"\n", 1)[0].decode(errors="replace")
        interpreter = first[2:].strip() if first.startswith("#!") else python()
        where: str | None = str(Path(exe[0]).parent)  # a script's sys.path[0] is its folder
    else:
        interpreter, where = exe[0], None
    done = subprocess.run(
        [interpreter, "-c", "import os, gradcli; print(os.path.dirname(gradcli.__file__))"],
        cwd=where, capture_output=True, text=True, check=True, timeout=TIMEOUT,
    )
    return Path(done.stdout.strip())


def prepare() -> None:
    """What an installed gradcli has: compiled bytecode (pip compiles at install; an
    editable checkout under PYTHONDONTWRITEBYTECODE would otherwise recompile every
    module in every process, the shipped parser tables among them), for the package
    this harness imports and the one the entry point runs, and a word on stderr when
    they differ: the whole-process figures are then another checkout's."""
    import gradcli

    own = Path(gradcli.__file__).parent.resolve()
    exe = gradcli_exe()
    runs = entry_point_package(exe).resolve()
    for folder in {own, runs}:
        compileall.compile_dir(str(folder), quiet=1)
    if runs != own:
        print(f"warning: {' '.join(exe)} runs the gradcli in {runs}, this harness imports {own}:"
              " the whole-process figures are that one's", file=sys.stderr)
    for _ in range(2):
        run_process([*exe, "eval", "x", "-x", "1", "--json"])


# --- workloads -----------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    note: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", self.note, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "---|" * len(self.header))
        for row in self.rows:
            lines.append("| " + " | ".join(row) + " |")
        if self.checks:
            lines.append("")
            lines.extend(f"- {c}" for c in self.checks)
        return "\n".join(lines) + "\n"


def interleave(commands: dict[str, Callable[[], Sample]], runs: int, warmup: int = 1) -> dict[str, Series]:
    """Run every command ``runs`` times, round-robin, rotating the order each round."""
    names = list(commands)
    for _ in range(warmup):
        for name in names:
            commands[name]()
    out = {name: Series() for name in names}
    for r in range(runs):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            sample = commands[name]()
            if sample.timed_out:
                out[name].failure = f"time-out ({TIMEOUT:.0f} s)"
            elif sample.code != 0:
                out[name].failure = f"exit {sample.code}: {sample.stderr.strip()[-80:]}"
            else:
                out[name].values.append(sample.wall)
    return out


def w1_cold_start(runs: int) -> Table:
    py = python()
    exe = gradcli_exe()
    args = ["eval", "(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"]
    env = dict(os.environ)
    no_tables = {**env, "GRADCLI_PARSER_TABLES": "0"}
    complete = {**env, "_GRADCLI_COMPLETE": "bash_complete", "COMP_WORDS": "gradcli eval si",
                "COMP_CWORD": "2"}
    commands: dict[str, Callable[[], Sample]] = {
        "`python -c pass`": lambda: run_process([py, "-c", "pass"]),
        '`python -c "import click, lark"` (baseline)': lambda: run_process([py, "-c", "import click, lark"]),
        "`eval … --json`": lambda: run_process([*exe, *args, "--json"]),
        "`eval …` (table)": lambda: run_process([*exe, *args]),
        "`eval … --json`, parser built from the grammar": lambda: run_process(
            [*exe, *args, "--json"], env=no_tables),
        "`--help`": lambda: run_process([*exe, "--help"]),
        "TAB completion (`eval si<TAB>`)": lambda: run_process(exe, env=complete),
    }
    series = interleave(commands, runs, warmup=2)
    base = series['`python -c "import click, lark"` (baseline)']
    targets = {
        "`eval … --json`": 1.25,
        "`eval …` (table)": 1.5,
        "`--help`": 1.25,
        "TAB completion (`eval si<TAB>`)": 1.25,
    }
    table = Table(
        "W1 cold start",
        f"Whole processes, {runs} runs each, interleaved; ratios to `python -c \"import click, lark\"`.",
        ["command", "median (min–max)", "ratio", "target"],
    )
    for name, s in series.items():
        r = ratio(s, base)
        target = targets.get(name)
        table.rows.append([
            name, cell(s), f"{r:.2f}×" if r is not None else "—",
            _verdict(r, target) if target else "",
        ])
    return table


def _verdict(r: float | None, target: float) -> str:
    if r is None:
        return f"≤ {target}× ✗ (failed)"
    return f"≤ {target}× {'✓' if r <= target else '✗'}"


# --- in-process workloads (W2–W5) through the worker -----------------------------------------


def write_program(folder: Path, program: Program) -> tuple[Path, Path]:
    """The program as JSON for the worker and as text for ``--file``."""
    slug = program.name.replace(" ", "-").replace("+", "")
    as_json = folder / f"{slug}.json"
    as_json.write_text(json.dumps({"source": program.source, "bindings": program.bindings}), encoding="utf-8")
    as_text = folder / f"{slug}.txt"
    as_text.write_text(program.source, encoding="utf-8")
    return as_json, as_text


@dataclass
class WorkerSeries:
    seconds: Series = field(default_factory=Series)  # the timed section
    cpu: Series = field(default_factory=Series)  # its CPU time (the whole process's for a whole process)
    wall: Series = field(default_factory=Series)  # the whole process
    peak_kib: Series = field(default_factory=Series)
    answer: tuple[float | None, dict[str, float] | None] = (None, None)


def worker_sample(kind: str, program_json: Path, cold: bool = False) -> tuple[Sample, dict[str, object]]:
    cmd = [python(), str(WORKER), kind, str(program_json)] + (["--cold"] if cold else [])
    sample = run_process(cmd)
    report: dict[str, object] = {}
    if sample.code == 0:
        try:
            report = json.loads(sample.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = {"error": "no report"}
    return sample, report


#: Starts a command and reports its wall time, peak RSS and CPU time as the last line
#: of standard error. A child's peak RSS (wait4) starts from the peak of the process that started
#: it, and the harness itself grows to tens of MiB generating the large programs: this
#: small process in between keeps that out of the figures (its own start is not timed).
LAUNCHER = (
    "import os, sys, time\n"
    "start = time.perf_counter()\n"
    "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "wall = time.perf_counter() - start\n"
    "cpu = usage.ru_utime + usage.ru_stime\n"
    "sys.stderr.write(f'\\nLAUNCHER {wall!r} {usage.ru_maxrss} {cpu!r}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def launched(cmd: Sequence[str]) -> Sample:
    """Run ``cmd`` through :data:`LAUNCHER`: its own wall time, peak memory and CPU time."""
    sample = run_process([python(), "-S", "-c", LAUNCHER, *cmd])
    head, sep, tail = sample.stderr.rpartition("\nLAUNCHER ")
    if sep:
        wall, kib, cpu = tail.split()
        sample.wall, sample.peak_kib, sample.cpu, sample.stderr = float(wall), int(kib), float(cpu), head
    return sample


def cli_sample(program_txt: Path, program: Program) -> tuple[Sample, dict[str, object]]:
    bindings = [f"{name}={value!r}" for name, value in program.bindings.items()]
    sample = launched([*gradcli_exe(), "eval", "--file", str(program_txt), *bindings, "--json"])
    report: dict[str, object] = {}
    if sample.code == 0:
        data = json.loads(sample.stdout)
        report = {"value": data["value"], "gradient": data["gradient"]}
    else:
        report = {"error": f"exit {sample.code}: " + sample.stderr.strip().splitlines()[0][:80]
                  if sample.stderr.strip() else f"exit {sample.code}"}
    return sample, report


def _subjects(
    program: Program, as_json: Path, as_text: Path, peers: list[str]
) -> dict[str, Callable[[], tuple[Sample, dict[str, object]]]]:
    """What W3-W5 measure for one program: Lark's tree parse, gradcli in-process and as
    a whole process, and each installed peer."""
    subjects: dict[str, Callable[[], tuple[Sample, dict[str, object]]]] = {
        "lark": lambda: worker_sample("lark-tree", as_json),
        "gradcli": lambda: worker_sample("gradcli", as_json),
        "cli": lambda: cli_sample(as_text, program),
    }
    for peer in peers:
        subjects[peer] = lambda peer=peer: worker_sample(peer, as_json)
    return subjects


def measure(
    label: str,
    subjects: dict[str, Callable[[], tuple[Sample, dict[str, object]]]],
    runs: int,
    skip: set[str],
) -> dict[str, WorkerSeries]:
    """Interleaved samples of several subjects at one size. A subject that fails
    once is not run again (and goes into ``skip`` for the larger sizes). While
    gradcli's string -> JSON and whole process (what the growth checks compare) have
    fewer than :data:`GROWTH_SAMPLES` samples and are cheap, more rounds follow,
    with the baseline interleaved as before (not the peers)."""
    out = {name: WorkerSeries() for name in subjects}
    names = list(subjects)
    print(f"  … {label}: {', '.join(n for n in names if n not in skip)}", file=sys.stderr, flush=True)
    for name in names:
        if name in skip:
            out[name].seconds.failure = skip_reason(name)
    for r in range(runs):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            ws = out[name]
            if ws.seconds.failure is not None or (name in PEERS and sum(ws.wall.values) > BUDGET):
                continue
            _take(name, subjects[name], ws, skip)
    growing = [name for name in ("gradcli", "cli") if name in subjects]
    again = [name for name in names if name not in PEERS]
    r = runs
    while any(out[name].seconds.failure is None and len(out[name].seconds.values) < GROWTH_SAMPLES
              and sum(out[name].wall.values) < GROWTH_BUDGET for name in growing):
        order = again[r % len(again):] + again[: r % len(again)]
        for name in order:
            if out[name].seconds.failure is None:
                _take(name, subjects[name], out[name], skip)
        r += 1
    return out


def _take(
    name: str, subject: Callable[[], tuple[Sample, dict[str, object]]], ws: WorkerSeries, skip: set[str]
) -> None:
    """One sample of ``subject`` into ``ws``, or its failure."""
    sample, report = subject()
    failure = None
    if sample.timed_out:
        failure = f"time-out ({TIMEOUT:.0f} s)"
    elif sample.code != 0:
        tail = sample.stderr.strip().splitlines()[-1:] or [""]
        failure = "crashed" if sample.code < 0 else f"exit {sample.code}: {tail[0][:60]}"
    elif "error" in report:
        failure = str(report["error"])
    if failure is not None:
        ws.seconds.failure = failure
        _skip_reasons[name] = failure
        skip.add(name)
        return
    ws.wall.values.append(sample.wall)
    ws.peak_kib.values.append(sample.peak_kib)
    ws.seconds.values.append(float(report.get("seconds", sample.wall)))  # type: ignore[arg-type]
    ws.cpu.values.append(float(report.get("cpu", sample.cpu)))  # type: ignore[arg-type]
    ws.answer = (report.get("value"), report.get("gradient"))  # type: ignore[assignment]


_skip_reasons: dict[str, str] = {}


def skip_reason(name: str) -> str:
    return f"not run (failed at a smaller size: {_skip_reasons.get(name, '?')})"


Answer = tuple[float | None, dict[str, float] | None]


def agree(a: Answer, b: Answer) -> bool:
    """Do two answers (value, gradient) agree to about 1e-6?"""
    if a[0] is None or b[0] is None or a[1] is None or b[1] is None:
        return True

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))

    return close(a[0], b[0]) and all(close(a[1][k], b[1].get(k, 0.0)) for k in a[1])


def peers_available(use_peers: bool) -> list[str]:
    return [p for p in PEERS if use_peers and installed(PEER_MODULES[p])]


def w2_neuron(runs: int, folder: Path, peers: list[str]) -> Table:
    program = neuron()
    as_json, _ = write_program(folder, program)
    py = python()
    bindings = [f"--{k}={v}" for k, v in program.bindings.items()]
    commands: dict[str, Callable[[], Sample]] = {
        '`python -c "import click, lark"` (baseline)': lambda: run_process([py, "-c", "import click, lark"]),
        "gradcli `eval … --json`": lambda: run_process([*gradcli_exe(), "eval", program.source, *bindings,
                                                        "--json"]),
    }
    for peer in peers:
        commands[f"{peer} (import + string → gradient)"] = (
            lambda peer=peer: run_process([py, str(WORKER), peer, str(as_json), "--cold"])  # type: ignore[misc]
        )
    series = interleave(commands, runs, warmup=1)
    base = series['`python -c "import click, lark"` (baseline)']
    table = Table(
        "W2 seed neuron, cold",
        f"`{program.source}`: whole processes, {runs} runs each, interleaved; ratios to "
        '`python -c "import click, lark"`.',
        ["command", "median (min–max)", "ratio"],
    )
    for name, s in series.items():
        r = ratio(s, base)
        table.rows.append([name, cell(s), f"{r:.2f}×" if r is not None else "—"])
    return table


def _peer_cell(ws: WorkerSeries, gradcli: WorkerSeries, runs: int) -> str:
    if not ws.seconds.ok:
        return ws.seconds.failure or "—"
    text = cell(ws.seconds)
    if len(ws.seconds.values) < runs:
        text += f" [{len(ws.seconds.values)} run{'s' if len(ws.seconds.values) > 1 else ''}]"
    r = ratio(gradcli.seconds, ws.seconds)
    if r is not None:
        text += f"; gradcli **{r:.2f}×**"
    if not agree(gradcli.answer, ws.answer):
        text += " (answers differ!)"
    return text


def _peer_checks(table: Table, label: str, ops: int, res: dict[str, WorkerSeries], peers: list[str]) -> None:
    """The peer targets: faster than SymPy at every size, than micrograd and PyTorch
    from 10^4 operation nodes up. A peer that failed counts as beaten."""
    grad = res["gradcli"]
    for peer in peers:
        if peer != "sympy" and ops < 10**4:
            continue
        ws = res[peer]
        r = ratio(grad.seconds, ws.seconds)
        if r is not None:
            verdict = "✓" if r < 1 else "✗"
            table.checks.append(f"{label}: gradcli {r:.2f}× {peer}'s time (target < 1: {verdict})")
        elif grad.seconds.ok and not (ws.seconds.failure or "").startswith("not run"):
            table.checks.append(f"{label}: {peer} did not finish ({ws.seconds.failure}) ✓")


#: Programs this large (10^6 operations; W5's 250,000 statements make 999,999) get
#: ``--big-runs`` samples and the memory checks.
BIG = 990_000

#: The memory bar: peak RSS of the whole `eval --file … --json` process, nothing
#: subtracted, per graph node, at 10^6 operations.
MEMORY_BAR_KIB = 0.25


def _kib_per_node(ws: WorkerSeries, ops: int, nodes: int) -> str:
    """Peak RSS (whole process, nothing subtracted) per operation of the text and per
    graph node (after sharing)."""
    if not ws.peak_kib.ok:
        return "—"
    peak = ws.peak_kib.median
    return f"{peak / 1024:.0f} MiB = {peak / ops:.2f} KiB/op, {peak / nodes:.2f} KiB/graph node"


def w3_wide(sizes: Sequence[int], runs_for: Callable[[int], int], folder: Path, peers: list[str]) -> Table:
    table = Table(
        "W3 wide",
        "Balanced random programs over 20 variables (`+ - * /`, `sin`, `exp`, `tanh`, `log` of positive "
        "terms). "
        "**string → JSON**: gradcli's `evaluate` + `to_json` + `dumps` in a fresh process, timed from the "
        "string (parser already loaded), against **Lark's own `parse()`** of the same text to a parse tree "
        "with the project's grammar (LALR, default lexer), timed the same way. **whole process**: "
        "`gradcli eval --file F … --json` as a user runs it, with its peak RSS per operation and per "
        "graph node. "
        "Peers: string → gradient in a fresh process (imports not timed), and gradcli's string → JSON "
        "as a ratio of theirs (below 1 = gradcli faster).",
        ["ops (graph nodes)", "runs", "Lark tree parse (baseline)", "gradcli string → JSON",
         "gradcli whole process", "peak memory (whole process)", *peers],
    )
    skip: set[str] = set()
    previous: tuple[int, WorkerSeries, WorkerSeries] | None = None
    for size in sizes:
        program = wide(size)
        as_json, as_text = write_program(folder, program)
        runs = runs_for(size)
        subjects = _subjects(program, as_json, as_text, peers)
        res = measure(program.name, subjects, runs, skip)
        lark, grad, cli = res["lark"], res["gradcli"], res["cli"]
        nodes = _graph_nodes(program)
        table.rows.append([
            f"{program.ops:,} ({nodes:,})", str(runs), runs_cell(lark.seconds, runs),
            runs_cell(grad.seconds, runs, lark.seconds), runs_cell(cli.wall, runs),
            _kib_per_node(cli, program.ops, nodes),
            *(_peer_cell(res[p], grad, runs) for p in peers),
        ])
        r = ratio(grad.seconds, lark.seconds)
        if r is not None:
            table.checks.append(f"{program.ops:,} ops: string → JSON {r:.2f}× Lark's tree parse "
                                f"(target ≤ 1.0×: {'✓' if r <= 1.0 else '✗'})")
        if previous is not None:
            p_ops, p_grad, p_cli = previous
            scale = program.ops / p_ops
            line = growth_check(
                f"{p_ops:,} → {program.ops:,} ops ({scale:.1f}× size)", 1.1 * scale,
                [("string → JSON", p_grad.cpu, grad.cpu, p_grad.seconds, grad.seconds),
                 ("whole process", p_cli.cpu, cli.cpu, p_cli.wall, cli.wall)],
            )
            if line is not None:
                table.checks.append(line)
        if cli.peak_kib.ok and size >= 10**6:
            per = cli.peak_kib.median / nodes
            table.checks.append(
                f"{program.ops:,} ops ({nodes:,} graph nodes): peak memory {per:.2f} KiB per graph node, "
                f"whole process (target ≤ {MEMORY_BAR_KIB} KiB: {'✓' if per <= MEMORY_BAR_KIB else '✗'}); "
                f"{cli.peak_kib.median / program.ops:.2f} KiB per operation")
        _peer_checks(table, f"{program.ops:,} ops", program.ops, res, peers)
        previous = (program.ops, grad, cli)
    return table


def _graph_nodes(program: Program) -> int:
    """The program's graph nodes, counted in a process of its own: a child's peak RSS
    (wait4) starts from the peak of the process that started it, so the harness must
    never hold a large graph itself, or every later memory figure would show it."""
    count = subprocess.run(
        [python(), "-c", "import gradcli, sys; print(gradcli.compile(sys.stdin.read()).size)"],
        input=program.source, capture_output=True, text=True, check=True,
    )
    return int(count.stdout)


def w45(title: str, note: str, programs: Sequence[Program], runs_for: Callable[[int], int], folder: Path,
        peers: list[str]) -> Table:
    table = Table(
        title, note,
        ["program", "ops", "runs", "Lark tree parse", "gradcli string → JSON", "gradcli whole process",
         "peak memory (whole process)", *peers],
    )
    skips: dict[str, set[str]] = {}  # per family: a failure at tanh 10^3 says nothing of affine
    previous: tuple[Program, WorkerSeries] | None = None
    for program in programs:
        skip = skips.setdefault(program.name.split()[0], set())
        as_json, as_text = write_program(folder, program)
        runs = runs_for(program.ops)
        subjects = _subjects(program, as_json, as_text, peers)
        res = measure(program.name, subjects, runs, skip)
        lark, grad, cli = res["lark"], res["gradcli"], res["cli"]
        table.rows.append([
            program.name, f"{program.ops:,}", str(runs), runs_cell(lark.seconds, runs),
            runs_cell(grad.seconds, runs, lark.seconds), runs_cell(cli.wall, runs),
            _kib_per_node(cli, program.ops, _graph_nodes(program)),
            *(_peer_cell(res[p], grad, runs) for p in peers),
        ])
        if not grad.seconds.ok or not cli.wall.ok:
            why = grad.seconds.failure or cli.wall.failure
            table.checks.append(f"{program.name}: gradcli failed ✗ ({why})")
        family = program.name.split()[0]
        if previous is not None and previous[0].name.split()[0] == family:
            scale = program.ops / previous[0].ops
            digits = 0 if abs(scale - round(scale)) < 0.01 else 1  # W5's last step is 2.5×
            line = growth_check(f"{previous[0].name} → {program.name} ({scale:.{digits}f}× size)",
                                1.1 * scale,
                                [("string → JSON", previous[1].cpu, grad.cpu, previous[1].seconds,
                                  grad.seconds)])
            if line is not None:
                table.checks.append(line)
        if cli.peak_kib.ok and program.ops >= BIG:
            per = cli.peak_kib.median / _graph_nodes(program)
            table.checks.append(
                f"{program.name}: peak memory {per:.2f} KiB per graph node, whole process "
                f"(target ≤ {MEMORY_BAR_KIB} KiB: {'✓' if per <= MEMORY_BAR_KIB else '✗'})")
        _peer_checks(table, program.name, program.ops, res, peers)
        previous = (program, grad)
    return table


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the smallest sizes only, few runs (CI)")
    parser.add_argument("--runs", type=int, default=5, help="samples per figure (default 5)")
    parser.add_argument("--big-runs", type=int, default=3, help="samples at 10^6 nodes (default 3)")
    parser.add_argument("--only", default="W1,W2,W3,W4,W5", help="workloads, e.g. W1,W3")
    parser.add_argument("--no-peers", action="store_true", help="skip SymPy, micrograd and PyTorch")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the Markdown (default bench/RESULTS.md; - for none)")
    args = parser.parse_args(argv)
    only = {w.strip().upper() for w in args.only.split(",")}
    runs = max(1, args.runs if not args.quick else min(args.runs, 3))
    output = args.output
    if output is None:
        output = RESULTS if not args.quick else None  # --quick never overwrites the committed results

    def runs_for(size: int) -> int:
        return args.big_runs if size >= BIG else runs

    # --quick is for CI: no peers (SymPy alone needs minutes), a few runs of the smallest sizes.
    peers = peers_available(not args.no_peers and not args.quick)
    started = time.perf_counter()
    prepare()
    machine = machine_line()
    print(f"machine: {machine}", flush=True)
    print(f"peers: {', '.join(peers) or 'none installed'}", flush=True)
    tables: list[Table] = []
    loads = [os.getloadavg()[0]]  # what else ran: the results say it

    def emit(table: Table) -> None:
        loads.append(os.getloadavg()[0])
        tables.append(table)
        print()
        print(table.markdown(), flush=True)

    with tempfile.TemporaryDirectory(prefix="gradcli-bench-") as tmp:
        folder = Path(tmp)
        if "W1" in only:
            emit(w1_cold_start(max(runs, 5) if args.quick else 3 * runs))
        if "W2" in only:
            emit(w2_neuron(runs, folder, peers))
        if "W3" in only:
            sizes = [10**3] if args.quick else [10**3, 10**4, 10**5, 10**6]
            emit(w3_wide(sizes, runs_for, folder, peers))
        if "W4" in only:
            levels = [10**3] if args.quick else [10**3, 10**4, 10**5]
            programs = [deep_tanh(n) for n in levels] + [deep_affine(n) for n in levels]
            emit(w45("W4 deep", "`tanh(tanh(…x…))` and `((x+1)*1.0001+1)*…`, N levels deep; "
                     "string → JSON in a fresh process against Lark's tree parse of the same text.",
                     programs, runs_for, folder, peers))
        if "W5" in only:
            counts = [10**2] if args.quick else [10**2, 10**4, 10**5, 250_000]
            emit(w45("W5 shared", "`q1 = tanh(x*y + x); q2 = tanh(q1*0.5 + q1*x); …`, N statements: the "
                     "expanded tree doubles with every statement, the DAG grows by 4 nodes.",
                     [shared(n) for n in counts], runs_for, folder, peers))
    elapsed = time.perf_counter() - started
    print(f"\n(harness time {elapsed:.0f} s)")
    if output is not None and str(output) != "-":
        write_results(output, machine, peers, tables, args, elapsed, loads)
        print(f"wrote {output}")
    return 0


def write_results(path: Path, machine: str, peers: list[str], tables: list[Table], args: argparse.Namespace,
                  elapsed: float, loads: Sequence[float] = ()) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# gradcli benchmark results",
        "",
        f"Written by `python bench/run.py{' --quick' if args.quick else ''}` on {stamp} in {elapsed:.0f} s.",
        "",
        f"- machine: {machine}",
        f"- peers: {', '.join(peers) or 'none installed'}",
        *([f"- load: the 1-minute load average was {min(loads):.1f} to {max(loads):.1f} at the start and "
           "after each workload (the harness's own samples count for about 1 of it)"] if loads else []),
        f"- samples: median of {args.runs if not args.quick else min(args.runs, 3)} runs "
        f"({args.big_runs} at 10^6 nodes, to keep a full run near 20 minutes), min–max beside; "
        "W1 takes 3× as many samples. Every sample is a fresh process; subjects are interleaved.",
        f"- growth checks (`a → b`): the ratio of each size's fastest CPU time (gradcli's string → JSON and "
        f"whole process take at least {GROWTH_SAMPLES} samples a size, with the baseline interleaved, while "
        f"they add up to under {GROWTH_BUDGET:.0f} s; `[N runs]` marks a cell with more samples than its "
        "row), with the ratio of "
        "wall-clock medians beside: wall time on a loaded machine also counts the waits for a core, "
        "which long samples pay more often than short ones.",
        "- **bold** ratios are to the baseline named in the table (below 1 = faster).",
        "",
    ]
    lines.extend(t.markdown() for t in tables)
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
