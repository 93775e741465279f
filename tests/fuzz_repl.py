"""Fuzzing gradcli repl: the existing families, fed to a session line by line.

:func:`repl_lines` turns a draw of the other families into the lines a person (or a
script) would give the REPL: the program texts of ``fuzzing.random_input`` (mutated
programs, token soup, random bytes and text), the programs, bindings, option values
and typos of ``fuzz_scenarios.random_scenario`` as statements, ``:bind`` values and
``:command`` arguments, and commands with random arguments. :func:`check_repl`
feeds them through the piped mode in-process (:func:`gradcli.repl.run_lines`) and
holds the session to its promise: no traceback, no internal error, an exit status
of 0, 1 or 2, every error an ``error: line N:`` report, and the session alive
afterwards (a definition and its value after the last fuzz line).
"""

from __future__ import annotations

import contextlib
import io
import random

from fuzz_scenarios import _CONTROL, _HUGE, _TYPOS, FAMILIES, PROCESS_FAMILIES, random_scenario
from fuzzing import EDGE_VALUES, FuzzFailure, random_input, time_limit

from gradcli.repl import ALIASES, COMMANDS, Repl, run_lines

#: Commands a fuzz line may call (not the ones that leave: the session must live on).
_CALLS = [c for c in [*COMMANDS, *ALIASES] if ALIASES.get(c, c) != ":quit"]
_FAMILIES = [f for f in FAMILIES if f not in PROCESS_FAMILIES]
_ARGS = ["", "q", "f", "x", "nope", "tree", "mermaid", "dot", "svg", "png", "tree q", "dot f", "x y", "1",
         "--json", "θ", "out", "pi", "sin", "q=1", "99999999999999999999"]


def _quits(line: str) -> bool:
    word = line.strip().split(maxsplit=1)[0] if line.strip() else ""
    return ALIASES.get(word, word) == ":quit"


def repl_lines(rng: random.Random) -> list[str]:
    """One fuzz input for the REPL: a few lines from one of the families."""
    draw = rng.random()
    lines: list[str]
    if draw < 0.45:  # program text, as it comes from the program fuzzer (split as a pipe splits it)
        lines = random_input(rng).split("\n")
        if rng.random() < 0.5:
            lines.append(rng.choice([":eval", ":trace", ":graph", ":graph mermaid", ":list"]))
    elif draw < 0.75:  # a scenario of the command line, said to the REPL instead
        scenario = random_scenario(rng, rng.choice(_FAMILIES))
        args = [a for a in scenario["args"] if isinstance(a, str)]
        program = args[1] if len(args) > 1 else "x"
        bindings = [a for a in args if "=" in a and not a.startswith("-")]
        options = [a for a in args[2:] if a.startswith("-") or a not in bindings]
        lines = program.split("\n")
        lines.append(":bind " + " ".join(bindings))
        lines.append(f"{rng.choice(_CALLS)} {' '.join(options)}")
        lines.append(rng.choice([":eval", ":trace", ":graph", ":graph dot", ":eval q", ":diff"]))
    elif draw < 0.9:  # :bind with odd values
        names = ["x", "y", "z", "q", "pi", "θ", "x_1", "", "1x", "sin"]
        pairs = [f"{rng.choice(names)}={rng.choice([*EDGE_VALUES, *_HUGE, *_CONTROL])}"
                 for _ in range(rng.randrange(0, 4))]
        lines = [rng.choice(["q = x * y", "x^y", "log(x) + z", "f = q + 1"]), ":bind " + " ".join(pairs),
                 rng.choice([":eval", ":bind", ":trace", ":graph tree"])]
    else:  # commands with random arguments, typos and control characters
        lines = [
            f"{rng.choice([*_CALLS, *_TYPOS, ':', '::', ':evall', ':' + rng.choice(_CONTROL)])}"
            f" {rng.choice([*_ARGS, *_CONTROL, *_HUGE])}"
            for _ in range(rng.randrange(1, 5))
        ]
    return [line for line in lines if not _quits(line)]


def _feed(lines: list[str]) -> tuple[int, str, str, Repl]:
    repl = Repl()
    data = "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_lines(repl, io.BytesIO(data))
        alive = repl.handle(":reset") and repl.handle("alive = 6 * 7") and repl.handle("alive")
    if not alive:
        raise FuzzFailure("the session ended")
    return code, out.getvalue(), err.getvalue(), repl


def check_repl(lines: list[str], timeout: float = 20.0) -> str:
    """Feed ``lines`` to a piped session; return its exit status as an outcome."""
    with time_limit(timeout):
        code, out, err, _ = _feed(lines)
    if "Traceback" in err or "internal error" in err:
        raise FuzzFailure(f"exit {code}, stderr: {err[:2000]}")
    if code not in (0, 1, 2):
        raise FuzzFailure(f"exit status {code}: {err[:2000]}")
    for line in out.splitlines():
        if any(c in line for c in "\x1b\x9b\x07\x00\r"):
            raise FuzzFailure(f"a control character reached standard output: {line[:500]!r}")
    for line in err.splitlines():
        if line.startswith("error:") and not line.startswith("error: line "):
            raise FuzzFailure(f"an error without its line number: {line[:500]}")
        if any(c in line for c in "\x1b\x9b\x07\x00"):
            raise FuzzFailure(f"a control character reached standard error: {line[:500]!r}")
    if "| alive (output) |    42 |" not in out:
        raise FuzzFailure(f"the session did not answer after the fuzz lines: {out[-500:]}")
    return f"repl exit {code}"
