"""What the fuzz tests share: seed programs, mutations, and one check per input.

``check_input`` runs one source through the library (parse, lower, bind every
input, forward and reverse) and through the command line in-process, and raises
:class:`FuzzFailure` for anything but a result or a clean ``error:`` line with
exit 1 or 2: a Python exception escaping, an internal error (exit 70), a
traceback, non-strict JSON, or a run that takes longer than ``timeout`` seconds.

Used by ``test_fuzz.py`` (hypothesis, fast), ``fuzz_campaign.py`` (10^5 inputs on
demand) and ``fuzz_atheris.py`` (coverage-guided, on demand).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from strict_json import strict_lines

import gradcli
from gradcli.cli import main
from gradcli.errors import GradError
from gradcli.render import dumps

#: Valid programs to mutate: every construct of the language, and the numeric edges.
SEEDS = [
    "(x+y)*z",
    "1/(1+exp(-(w0*x0+w1*x1+w2)))",
    "q = x + y; f = q * z",
    "q = x + y\nf = q * z  # a comment\n",
    "2x^2 + 3x - 1",
    "2(x+1)(x-1)",
    "2 sin(x)cos(x)",
    "-x^2",
    "2^-1",
    "2^3^2",
    "1/2x",
    "x ** 2 / y",
    "log(x, 2) + log2(x) + log10(x) + ln(x)",
    "sqrt(x) + cbrt(x) + abs(x) + sign(x)",
    "sin(x) + cos(x) + tan(x) + asin(x) + acos(x) + atan(x) + atan2(y, x)",
    "sinh(x) + cosh(x) + tanh(x) + asinh(x) + acosh(y) + atanh(x)",
    "sigmoid(x) + relu(x) + softplus(x) + erf(x)",
    "pow(x, y) + hypot(x, y) + max(x, y) + min(x, y)",
    "exp(exp(exp(x)))",
    "10^10^10",
    "x^y",
    "0^0 + 0^x",
    "(-8)^(1/3)",
    "pi * e * tau * θ",
    "θ = 1; 日本 = θ + x; 日本^2",
    "1e308*10 + 6.02E+23 - .5 + 2.",
    "((((x))))",
    "a = x; b = a*a; c = b*b; d = c*c; d",
    ";;x;;",
    "# only a comment",
    "max(x, y, z) + min(x, 1, y, 2) + sum(x, y) + mean(x, y, z) + logsumexp(x, 2x, 1000)",
    "if(x > 0, log(x), 0) + if(x <= y, sqrt(y - x), x == y)",
    "d = x - y; if(abs(d) <= 1, d^2/2, abs(d) - 1/2)",
    "hypot(x) + hypot(x, y, z) + clip(x, -1, 1) + (x != y) * (x >= 0) - (x < 2)",
]

#: Binding values that probe the edges: zeros, signs, subnormals, the largest floats.
EDGE_VALUES = [
    "0", "-0", "1", "-1", "2", "-2", "0.5", "-8", "3", "1e-320", "5e-324", "1e308", "-1e308",
    "710", "-1000", "1e300", "pi/4", "2^0.5", "1e-8", "0.999999", "1.0000001",
]

#: Text that is dangerous or surprising as a program.
OVERRIDES = [
    "__import__('os').system('true')", "lambda: 1", "x.y", "'abc'", "\x00", "\ufeffx", "x\r\ny",
    "−x × 2 ÷ y", "x²", "２x", "e\u0301", "\u200bx", "x\u00a0+ 1", "9" * 400, "1e" + "9" * 50,
    "0." + "0" * 400 + "1", "(" * 1000 + "x" + ")" * 999, "-" * 5000 + "x", "x" * 5000,
    "sin(" * 500 + "x" + ")" * 500, "x^" * 500 + "x", "", " ", "\n\n", ";", "#", "=", "()",
    "x = ", "= x", "x = x", "pi = 1", "sin = 1", "sin", "sinn(x)", "max(x)", "log(x, 2, 3)",
    "if(x, 1)", "if(x, 1, 2, 3)", "sum()", "max()", "clip(x, 2, 1)", "x < y < z", "x ! y",
]

#: Look-alikes and separators a mutation may insert.
_INSERTS = [*"+-*/^()=,;#.e0123456789xyz \n\t", "**", "−", "×", "·", "÷", "２", "θ", "日", "\u0301",
            "'", "\u00a0", "1e308", "9" * 30, "e999", "\0"]
_OPERATORS = "+-*/^"


class FuzzFailure(AssertionError):
    """An input that made gradcli crash, hang, or print something it must not."""


class _Timeout(BaseException):
    """Raised by the alarm: a BaseException, so that ``main``'s catch-all for bugs
    (``except Exception``, exit 70) lets it through and a hang is called a hang."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`FuzzFailure` if the block runs longer than ``seconds`` (Unix, main thread)."""
    if (
        not hasattr(signal, "setitimer")
        or seconds <= 0
        or threading.current_thread() is not threading.main_thread()  # signals need the main thread
    ):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Timeout:
        raise FuzzFailure(f"hang: still running after {seconds} s") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mutate(source: str, rng: random.Random, rounds: int = 1) -> str:
    """``source`` with ``rounds`` random edits: a character deleted, inserted or swapped,
    an operator doubled, a parenthesis added or removed, a number made huge, an
    ASCII operator replaced by its Unicode look-alike."""
    text = source
    for _ in range(rounds):
        n = len(text)
        i = rng.randrange(n + 1)
        kind = rng.randrange(8)
        if kind == 0 and n:  # delete
            i = min(i, n - 1)
            text = text[:i] + text[i + 1 :]
        elif kind == 1:  # insert
            text = text[:i] + rng.choice(_INSERTS) + text[i:]
        elif kind == 2 and n >= 2:  # swap two neighbours
            i = min(i, n - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif kind == 3:  # double an operator
            spots = [k for k, c in enumerate(text) if c in _OPERATORS]
            if spots:
                k = rng.choice(spots)
                text = text[:k] + text[k] + text[k:]
        elif kind == 4:  # unbalance the parentheses
            spots = [k for k, c in enumerate(text) if c in "()"]
            if spots and rng.random() < 0.5:
                k = rng.choice(spots)
                text = text[:k] + text[k + 1 :]
            else:
                text = text[:i] + rng.choice("()") + text[i:]
        elif kind == 5:  # a huge or tiny number
            text = text[:i] + rng.choice(["1e308", "1e-320", "9" * 400, "1e999", "0.0", "1e-400"]) + text[i:]
        elif kind == 6:  # a Unicode look-alike for an operator
            swaps = {"-": "−", "*": "×", "/": "÷", "(": "（", ")": "）", "2": "２", "^": "ˆ"}
            spots = [k for k, c in enumerate(text) if c in swaps]
            if spots:
                k = rng.choice(spots)
                text = text[:k] + swaps[text[k]] + text[k + 1 :]
        else:  # repeat a slice (nesting, long chains)
            j = rng.randrange(i, n + 1)
            text = text[:i] + text[i:j] * rng.randrange(2, 6) + text[j:]
    return text


def random_input(rng: random.Random) -> str:
    """One fuzz input, from a mix of the families the issue lists."""
    family = rng.random()
    if family < 0.10:  # a valid program: the edge values of the bindings do the probing
        return rng.choice(SEEDS)
    if family < 0.15:  # a long program: parse.py takes another parser past 2,000 characters
        parts: list[str] = []
        target = rng.choice((1000, 2500, 6000))
        while sum(map(len, parts)) < target:
            parts.append(rng.choice(SEEDS).strip().replace("\n", ";"))
        return mutate(";".join(parts), rng, rounds=rng.choice((0, 1, 1, 2)))
    if family < 0.55:
        return mutate(rng.choice(SEEDS), rng, rounds=rng.choice((1, 1, 1, 2, 3, 4)))
    if family < 0.70:
        alphabet = "xyz0123456789.+-*/^()=,;#e \n\tθ−×"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
    if family < 0.80:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60))).decode("utf-8", "replace")
    if family < 0.90:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 30)))
    return mutate(rng.choice(OVERRIDES), rng, rounds=rng.randrange(0, 3))


def _bindings_for(source: str, rng: random.Random) -> dict[str, str]:
    """A value for every input of ``source`` (none if it does not compile)."""
    try:
        graph = gradcli.compile(source)
    except GradError:
        return {}
    return {name: rng.choice(EDGE_VALUES) for name in graph.inputs}


def check_library(source: str, bindings: dict[str, str]) -> str:
    """The library path: a Result with finite numbers and strict JSON, or a GradError."""
    try:
        result = gradcli.evaluate(source, bindings)
    except GradError as err:
        if err.exit_code not in (1, 2):
            raise FuzzFailure(f"GradError with exit code {err.exit_code}: {err!r}") from None
        return err.kind
    except Exception as exc:
        raise FuzzFailure(f"{type(exc).__name__} escaped the library: {exc}") from exc
    try:
        text = dumps(result.to_json(nodes=len(result.graph.nodes) < 2000))
        strict_lines(text)
    except ValueError as exc:
        raise FuzzFailure(f"not strict JSON: {exc}") from exc
    return "ok"


def run_main(args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """``gradcli ARGS`` in-process, ``stdin`` on standard input: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    stdin_was, sys.stdin = sys.stdin, io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        sys.stdin = stdin_was
    return code, out.getvalue(), err.getvalue()


def check_cli_result(args: list[str], code: int, out: str, err: str) -> None:
    """A run's outcome is a result (exit 0) or one clean ``error:`` report (exit 1 or 2)."""
    if "Traceback" in err or "internal error" in err:
        raise FuzzFailure(f"exit {code}, stderr: {err[:2000]}")
    if code == 0:
        if err:
            raise FuzzFailure(f"exit 0 with stderr: {err[:500]}")
        if "--help" in args and out.startswith("Usage: "):
            return  # a program text that is exactly `--help` asks for the help, as it should
        if "--json" in args:
            try:
                strict_lines(out)
            except ValueError as exc:
                raise FuzzFailure(f"not strict JSON: {exc}") from exc
        return
    if code not in (1, 2):
        raise FuzzFailure(f"exit code {code}, stderr: {err[:2000]}")
    # error:, the source line and the caret, and for a math error where it was born
    if not err.startswith("error: ") or len(err.splitlines()) > (4 if code == 1 else 3):
        raise FuzzFailure(f"exit {code} without one error: line (and a caret): {err[:2000]}")
    if out:
        raise FuzzFailure(f"exit {code} with output: {out[:500]}")


def cli_args(source: str, bindings: dict[str, str], rng: random.Random) -> list[str]:
    """eval or trace with every input bound, and now and then the other options."""
    command = "trace" if rng.random() < 0.25 else "eval"
    args = [command, source, *(f"{name}={value}" for name, value in bindings.items())]
    if rng.random() < 0.5:
        args.append("--json")
    if command == "eval" and rng.random() < 0.15:
        names = [*bindings, "q", "nope"]
        args += ["--wrt", ",".join(rng.sample(names, rng.randrange(1, len(names) + 1)))]
    if rng.random() < 0.1:
        args += ["--output", rng.choice(["q", "f", "y", "nope"])]
    if rng.random() < 0.1:
        args += ["--precision", rng.choice(["1", "3", "17", "0", "18", "x"])]
    if rng.random() < 0.1:
        args.append("--explain")
    return args


def check_input(source: str, seed: int = 0, timeout: float = 10.0, file: bool | None = None) -> str:
    """Run ``source`` through the library and the CLI; return the library's outcome
    (``"ok"`` or an error kind). Raises :class:`FuzzFailure`."""
    rng = random.Random(seed)
    with time_limit(timeout):
        bindings = _bindings_for(source, rng)
        outcome = check_library(source, bindings)
        args = cli_args(source, bindings, rng)
        use_file = rng.random() < 0.1 if file is None else file
        if use_file:  # the --file path reads bytes and decodes them itself
            with tempfile.NamedTemporaryFile("wb", suffix=".grad", delete=False) as handle:
                handle.write(source.encode("utf-8", "surrogatepass"))
            try:
                args = [args[0], "--file", handle.name, *args[2:]]
                code, out, err = run_main(args)
            finally:
                os.unlink(handle.name)
        else:
            code, out, err = run_main(args)
        check_cli_result(args, code, out, err)
    return outcome

