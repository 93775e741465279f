"""A long fuzz campaign, run on demand (pytest does not collect this file).

    .venv/bin/python tests/fuzz_campaign.py --inputs 100000
    .venv/bin/python tests/fuzz_campaign.py --inputs 2000 --exe 200   # plus 200 through the installed command
    .venv/bin/python tests/fuzz_campaign.py --seed 7 --only 4242      # replay one input

Input number ``i`` of seed ``s`` is always the same text (``fuzzing.random_input``
with ``random.Random(s * 10**9 + i)``): a failure is replayed with ``--only i``.
Each input runs through the library and the CLI in-process (``fuzzing.check_input``)
under a per-input time limit; failures are printed and written as JSON Lines to
``--failures``. Exit status 0 when every input ended in a result or a clean error.
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

from fuzzing import FuzzFailure, check_cli_result, check_input, random_input

#: Seconds after which an input is reported as slow (but not failed).
SLOW = 5.0


def _text(seed: int, i: int) -> str:
    return random_input(random.Random(seed * 10**9 + i))


def _run_chunk(job: tuple[int, int, int, float]) -> tuple[Counter[str], list[dict[str, object]]]:
    seed, start, stop, timeout = job
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    for i in range(start, stop):
        source = _text(seed, i)
        began = time.perf_counter()
        try:
            outcomes[check_input(source, seed=i, timeout=timeout)] += 1
            if time.perf_counter() - began > SLOW:
                outcomes[f"slow (over {SLOW:g} s, not a failure)"] += 1
                print(f"\nslow: input {i} took {time.perf_counter() - began:.1f} s", file=sys.stderr)
        except FuzzFailure as exc:
            outcomes["FAILURE"] += 1
            failures.append({"index": i, "source": source, "failure": str(exc)})
        except BaseException as exc:  # the oracle itself must not hide anything
            outcomes["FAILURE"] += 1
            failures.append({"index": i, "source": source, "failure": f"{type(exc).__name__}: {exc}"})
    return outcomes, failures


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
    args = parser.parse_args()

    if args.only is not None:
        source = _text(args.seed, args.only)
        print(f"input {args.only}: {source!r}")
        try:
            print("outcome:", check_input(source, seed=args.only, timeout=args.timeout))
        except FuzzFailure as exc:
            print("FAILURE:", exc)
            return 1
        return 0

    started = time.perf_counter()
    chunk = 500
    jobs = [
        (args.seed, lo, min(lo + chunk, args.inputs), args.timeout)
        for lo in range(0, args.inputs, chunk)
    ]
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, object]] = []
    done = 0
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
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
    print(f"{args.inputs} inputs (seed {args.seed}) in {elapsed:.1f} s,"
          f" plus {args.exe} through the entry point")
    for outcome, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {outcome:28} {count}")
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
