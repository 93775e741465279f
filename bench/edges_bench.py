"""``trace --json`` on a 10^5-node program: what the edges cost.

Edges are always part of ``trace --json``, so the comparison is against a checkout
from before they were added (``--baseline DIR``, a source tree of gradcli), run
interleaved with this tree in fresh processes, with the same Python::

    git worktree add /tmp/before <commit before edges>   # or: git archive <commit> | tar -x -C DIR
    python -m bench.edges_bench --baseline /tmp/before --runs 7

The target: with edges, at most 1.5x the time without.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.programs import wide

HERE = Path(__file__).resolve().parent.parent


def _run(tree: Path, program: Path, bindings: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-m", "gradcli", "trace", "--file", str(program), *bindings, "--json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{tree}: exit {done.returncode}: {done.stderr.decode()[:300]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a gradcli source tree without edges")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ops", type=int, default=100_000)
    args = parser.parse_args(argv)
    program = wide(args.ops)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "wide.grad"
        path.write_text(program.source, encoding="utf-8")
        bindings = [f"{name}={value}" for name, value in program.bindings.items()]
        before: list[float] = []
        after: list[float] = []
        _run(HERE, path, bindings)  # warm the file cache
        for _ in range(args.runs):  # interleaved: a load spike hits both alike
            before.append(_run(args.baseline, path, bindings))
            after.append(_run(HERE, path, bindings))
    b, a = statistics.median(before), statistics.median(after)
    print(f"trace --json, {program.ops} operations, {args.runs} interleaved runs each (median):")
    print(f"  without edges (baseline): {b:.3f} s")
    print(f"  with edges (this tree):   {a:.3f} s")
    print(f"  ratio: {a / b:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
