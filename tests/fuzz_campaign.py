"""A long fuzz campaign, run on demand (pytest does not collect this file).

    .venv/bin/python tests/fuzz_campaign.py --inputs 100000
    .venv/bin/python tests/fuzz_campaign.py --inputs 2000 --exe 200   # plus 200 through the installed command
    .venv/bin/python tests/fuzz_campaign.py --seed 7 --only 4242      # replay one input
    .venv/bin/python tests/fuzz_campaign.py --scenarios 0.3 --process 0.02  # the mix (the default)

Input number ``i`` of seed ``s`` is always the same text (``fuzzing.random_input``
with ``random.Random(s * 10**9 + i)``): a failure is replayed with ``--only i``.
Each input runs through the library and the CLI in-process (``fuzzing.check_input``)
under a per-input time limit; failures are printed and written as JSON Lines to
``--failures``. Exit status 0 when every input ended in a result or a clean error.

A share of the inputs (``--scenarios``) are scenarios instead of program text
(``fuzz_scenarios.random_scenario``: CSV and JSON Lines input, odd line ends,
control characters, huge option values, option typos, run in-process), and a
smaller share (``--process``) go through the installed command with the standard
streams closed or full, or a FIFO, a directory or a device for a file. The
oracle for those: no traceback, no exit 70, an exit code in 0-4, strict JSON,
one ``error:`` line for a usage error, no raw control character echoed, and a
time limit per input. Another share (``--repl``) feeds the same families, as lines,
to ``gradcli repl``'s piped mode (``fuzz_repl.repl_lines``): the session must end
each without a traceback and still answer afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_repl import check_repl, repl_lines
from fuzz_scenarios import PROCESS_FAMILIES, random_scenario, run_scenario_in_process, run_scenario_process
from fuzzing import FuzzFailure, check_cli_result, check_input, random_input

#: Seconds after which an input is reported as slow (but not failed).
SLOW = 5.0


def _text(seed: int, i: int) -> str:
    return random_input(random.Random(seed * 10**9 + i))


#: The mix: the share of scenarios and of scenarios run as a process (set by main).
MIX = {"scenarios": 0.3, "process": 0.02, "repl": 0.05}
IN_PROCESS = ["csv", "jsonl", "line_ends", "control", "huge_options", "typos"]
EXE = str(Path(sys.executable).parent / "gradcli")


def _input(seed: int, i: int) -> tuple[str, object]:
    """Input number ``i``: ("text", source), ("scenario", s), ("process", s) or ("repl", lines)."""
    rng = random.Random(seed * 10**9 + i + 7)
    draw = rng.random()
    if draw > 1 - MIX["repl"]:
        return "repl", repl_lines(rng)
    if draw < MIX["process"]:
        return "process", random_scenario(rng, rng.choice(PROCESS_FAMILIES))
    if draw < MIX["process"] + MIX["scenarios"]:
        return "scenario", random_scenario(rng, rng.choice(IN_PROCESS))
    return "text", _text(seed, i)


def _run_one(seed: int, i: int, timeout: float) -> str:
    kind, what = _input(seed, i)
    if kind == "repl":
        return check_repl(what, timeout=timeout)  # type: ignore[arg-type]
    if kind == "process":
        return run_scenario_process(what, EXE, timeout=timeout)  # type: ignore[arg-type]
    if kind == "scenario":
        return run_scenario_in_process(what, timeout=timeout)  # type: ignore[arg-type]
    return check_input(what, seed=i, timeout=timeout)  # type: ignore[arg-type]


def _limit_memory() -> None:
    """A worker that asks for gigabytes gets a MemoryError, not the machine."""
    try:
        import resource

        limit = 4 << 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # pragma: no cover
        pass


def _run_chunk(job: tuple[int, int, int, float]) -> tuple[Counter[str], list[dict[str, object]]]:
    seed, start, stop, timeout = job
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    for i in range(start, stop):
        source = _input(seed, i)[1]
        began = time.perf_counter()
        try:
            outcomes[_run_one(seed, i, timeout)] += 1
            if time.perf_counter() - began > SLOW:
                outcomes[f"slow (over {SLOW:g} s, not a failure)"] += 1
                print(f"\nslow: input {i} took {time.perf_counter() - began:.1f} s", file=sys.stderr)
        except FuzzFailure as exc:
            outcomes["FAILURE"] += 1
            failures.append({"index": i, "source": _shown(source), "failure": str(exc)})
        except BaseException as exc:  # the oracle itself must not hide anything
            outcomes["FAILURE"] += 1
            failures.append({"index": i, "source": _shown(source), "failure": f"{type(exc).__name__}: {exc}"})
    return outcomes, failures


def _shown(what: object) -> object:
    """An input as JSON can hold it (a scenario's bytes as text)."""
    if isinstance(what, dict):
        return {k: (v.decode("utf-8", "replace")[:2000] if isinstance(v, bytes) else v)
                for k, v in what.items() if k != "files"} | {"files": {
                    k: (v.decode("utf-8", "replace")[:2000] if isinstance(v, bytes) else v)
                    for k, v in what["files"].items()}}
    return what


def _run_exe(seed: int, count: int, timeout: float) -> tuple[Counter[str], list[dict[str, object]]]:
    """A sample through the installed entry point, as a shell runs it."""
    exe = Path(sys.executable).parent / "gradcli"
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    for i in range(count):
        source = _text(seed + 1, i).replace("\0", "")  # argv cannot hold NUL
        args = ["eval", source, "x=2", "y=3", "z=-4", "--json"]
        try:
            proc = subprocess.run(
                [str(exe), *args], capture_output=True, text=True, encoding="utf-8",
                errors="replace", timeout=timeout, stdin=subprocess.DEVNULL,
            )
            check_cli_result(args, proc.returncode, proc.stdout, proc.stderr)
            outcomes[f"exit {proc.returncode}"] += 1
        except (FuzzFailure, subprocess.TimeoutExpired) as exc:
            outcomes["FAILURE"] += 1
            failures.append({"index": i, "source": source, "failure": f"entry point: {exc}"})
    return outcomes, failures


def _init_worker(mix: dict[str, float], families: list[str]) -> None:
    MIX.update(mix)
    IN_PROCESS[:] = families
    _limit_memory()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100_000, help="how many inputs (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input before it is a hang")
    parser.add_argument("--exe", type=int, default=0, help="also run this many through the installed command")
    parser.add_argument("--only", type=int, default=None, help="replay input number ONLY and print it")
    parser.add_argument("--failures", default="fuzz-failures.jsonl", help="where failures are written")
    parser.add_argument("--scenarios", type=float, default=MIX["scenarios"],
                        help="share of inputs that are command-line scenarios, in-process (default 0.3)")
    parser.add_argument("--process", type=float, default=MIX["process"],
                        help="share of scenarios run as a process: streams, odd files (default 0.02)")
    parser.add_argument("--repl", type=float, default=MIX["repl"],
                        help="share of inputs fed as lines to gradcli repl's piped mode (default 0.05)")
    parser.add_argument("--families", default=None,
                        help="only these in-process scenario families, comma-separated")
    args = parser.parse_args()
    MIX.update(scenarios=args.scenarios, process=args.process, repl=args.repl)
    if args.families:
        IN_PROCESS[:] = args.families.split(",")

    if args.only is not None:
        print(f"input {args.only}: {_input(args.seed, args.only)!r:.3000}")
        try:
            print("outcome:", _run_one(args.seed, args.only, args.timeout))
        except FuzzFailure as exc:
            print("FAILURE:", exc)
            return 1
        return 0

    started = time.perf_counter()
    chunk = max(10, min(500, args.inputs // (4 * max(1, args.jobs))))
    jobs = [
        (args.seed, lo, min(lo + chunk, args.inputs), args.timeout)
        for lo in range(0, args.inputs, chunk)
    ]
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    done = 0
    setup = (dict(MIX), list(IN_PROCESS))
    with multiprocessing.Pool(max(1, args.jobs), initializer=_init_worker, initargs=setup) as pool:
        for got, failed in pool.imap_unordered(_run_chunk, jobs):
            outcomes.update(got)
            failures.extend(failed)
            done += sum(n for outcome, n in got.items() if not outcome.startswith("slow"))
            print(f"\r{done}/{args.inputs} inputs, {len(failures)} failures", end="", file=sys.stderr)
    print(file=sys.stderr)
    if args.exe:
        got, failed = _run_exe(args.seed, args.exe, args.timeout)
        outcomes.update({f"entry point {k}": v for k, v in got.items()})
        failures.extend(failed)

    elapsed = time.perf_counter() - started
    print(f"{args.inputs} inputs (seed {args.seed}, scenarios {args.scenarios:g}, process"
          f" {args.process:g}, repl {args.repl:g}) in {elapsed:.1f} s,"
          f" plus {args.exe} through the entry point")
    for outcome, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {outcome:40} {count}")
    if failures:
        with open(args.failures, "w", encoding="utf-8") as handle:
            for failure in failures:
                handle.write(json.dumps(failure, ensure_ascii=False) + "\n")
        for failure in failures[:10]:
            print(f"FAILURE input {failure['index']}: {failure['source']!r:.200}")
            print(f"  {failure['failure']:.500}")
        print(f"{len(failures)} failures, written to {args.failures}")
        return 1
    print("no tracebacks, no internal errors, no hangs, every JSON output strict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
