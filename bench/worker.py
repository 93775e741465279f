"""One measurement in a fresh process: ``python bench/worker.py KIND PROGRAM.json``.

The harness (``bench/run.py``) starts this script once per sample, so every figure
comes from a clean interpreter, a crash or a runaway recursion stays in its own
process, and the process's peak memory belongs to one sample. KIND is one of

- ``gradcli``    gradcli's API: string -> JSON text (``evaluate`` + ``to_json`` + ``dumps``)
- ``lark-tree``  Lark's own ``parse()`` of the same text to a parse tree, with the
                 project's grammar (LALR, Lark's default lexer, no transformer)
- ``sympy``      ``parse_expr`` + ``diff`` toward every input + evaluation at the point
- ``micrograd``  ``Value``s built from the string, then ``backward()``
- ``torch``      PyTorch scalar autograd (float64 tensors), then ``backward()``

Setup (imports, building a parser) is outside the timed section unless ``--cold``
is given: then the whole process is what the harness times, and the worker only
reports the result. It prints one JSON object: ``seconds`` (the timed section's
wall time), ``cpu`` (its CPU time, ``time.process_time``: the work alone, without the
time spent waiting for a core that a loaded machine gives a long section more often
than a short one), ``peak_kib`` (the process's peak resident memory), ``value`` and
``gradient`` (to check the answers agree), or ``error``.

The peers read the program with Python's own compiler and ``eval``: the generated
programs are in the common subset of gradcli's language and Python's (no ``^``, no
implicit products). That is the harness's business; gradcli itself never does it.
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ("sin", "cos", "exp", "log", "tanh")


def _statements(source: str) -> tuple[list[tuple[str | None, str]], str | None]:
    """``name = expr`` lines (or one bare expression) as (name, expr) pairs, and the
    output's name."""
    pairs: list[tuple[str | None, str]] = []
    for line in source.replace(";", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        name, eq, expr = line.partition("=")
        if eq and name.strip().isidentifier():
            pairs.append((name.strip(), expr.strip()))
        else:
            pairs.append((None, line))
    return pairs, pairs[-1][0]


def _python_peer(source: str, namespace: dict[str, Any]) -> Any:
    """Run the program with Python's compiler in ``namespace``: the output object."""
    # Python's compiler recurses on nesting; give it room (its parser still stops at
    # 200 nested parentheses, which the deep programs exceed: reported as a failure).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1_000_000))
    out = None
    for name, expr in _statements(source)[0]:
        out = eval(compile(expr, "<program>", "eval"), namespace)  # noqa: S307 - the harness's own generated text
        if name is not None:
            namespace[name] = out
    return out


# --- the kinds ---------------------------------------------------------------------------


def setup_gradcli() -> Callable[[str, dict[str, float]], Any]:
    import gradcli
    from gradcli.render import dumps

    # Build (or load) the parser before the clock starts, as the baseline does, and
    # import the fast path that gradcli uses for longer programs.
    gradcli.compile("x")
    gradcli.compile(" + ".join(["x"] * 1000))

    def run(source: str, point: dict[str, float]) -> Any:
        text = dumps(gradcli.evaluate(source, point).to_json())
        return text

    return run


def finish_gradcli(out: Any) -> tuple[float, dict[str, float]]:
    data = json.loads(out)
    return data["value"], data["gradient"]


def setup_lark_tree() -> Callable[[str, dict[str, float]], Any]:
    from lark import Lark

    grammar = (REPO / "grammar" / "gradcli.lark").read_text(encoding="utf-8")
    parser = Lark(grammar, parser="lalr", start="program", maybe_placeholders=False)

    def run(source: str, point: dict[str, float]) -> Any:
        return parser.parse(source)

    return run


def setup_sympy() -> Callable[[str, dict[str, float]], Any]:
    import sympy
    from sympy.parsing.sympy_parser import parse_expr

    def run(source: str, point: dict[str, float]) -> Any:
        symbols = {name: sympy.Symbol(name) for name in point}
        local: dict[str, Any] = dict(symbols)
        expr = None
        for name, text in _statements(source)[0]:
            expr = parse_expr(text, local_dict=local, evaluate=True)
            if name is not None:
                local[name] = expr
        # xreplace with Floats evaluates as it substitutes: far faster than evalf(subs=).
        at = {symbols[n]: sympy.Float(v) for n, v in point.items()}
        value = float(expr.xreplace(at))
        gradient = {n: float(sympy.diff(expr, symbols[n]).xreplace(at)) for n in point}
        return value, gradient

    return run


def _micrograd_namespace() -> dict[str, Any]:
    """micrograd's ``Value`` has + - * / ** and relu; the functions the programs call
    are added here in its own style: a forward value and a ``_backward`` closure."""
    from micrograd.engine import Value

    def unary(name: str, f: Callable[[float], float], df: Callable[[float, float], float]) -> Any:
        def apply(x: Any) -> Any:
            x = x if isinstance(x, Value) else Value(x)
            out = Value(f(x.data), (x,), name)

            def _backward() -> None:
                x.grad += df(x.data, out.data) * out.grad

            out._backward = _backward
            return out

        return apply

    return {
        "Value": Value,
        "sin": unary("sin", math.sin, lambda x, y: math.cos(x)),
        "cos": unary("cos", math.cos, lambda x, y: -math.sin(x)),
        "exp": unary("exp", math.exp, lambda x, y: y),
        "log": unary("log", math.log, lambda x, y: 1.0 / x),
        "tanh": unary("tanh", math.tanh, lambda x, y: 1.0 - y * y),
        "__builtins__": {},
    }


def setup_micrograd() -> Callable[[str, dict[str, float]], Any]:
    base = _micrograd_namespace()
    Value = base["Value"]

    def run(source: str, point: dict[str, float]) -> Any:
        inputs = {n: Value(v) for n, v in point.items()}
        out = _python_peer(source, {**base, **inputs})
        out.backward()  # recursive topological sort: fails on deep graphs
        return out.data, {n: v.grad for n, v in inputs.items()}

    return run


def setup_torch() -> Callable[[str, dict[str, float]], Any]:
    import torch

    torch.set_num_threads(1)  # scalar work: threads only add overhead
    def function(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
        # torch.tanh(0.4) wants a tensor; a constant subexpression is a float here.
        return lambda x: f(x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64))

    base: dict[str, Any] = {name: function(getattr(torch, name)) for name in FUNCTIONS}
    base["__builtins__"] = {}

    def run(source: str, point: dict[str, float]) -> Any:
        inputs = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in point.items()}
        out = _python_peer(source, {**base, **inputs})
        out.backward()
        return out.item(), {n: v.grad.item() if v.grad is not None else 0.0 for n, v in inputs.items()}

    return run


SETUPS: dict[str, Callable[[], Callable[[str, dict[str, float]], Any]]] = {
    "gradcli": setup_gradcli,
    "lark-tree": setup_lark_tree,
    "sympy": setup_sympy,
    "micrograd": setup_micrograd,
    "torch": setup_torch,
}


def _answer(kind: str, out: Any) -> tuple[float | None, dict[str, float] | None]:
    if kind == "gradcli":
        return finish_gradcli(out)
    if kind == "lark-tree":
        return None, None
    return out


def main(argv: list[str]) -> int:
    kind, program_file = argv[0], argv[1]
    cold = "--cold" in argv[2:]
    program = json.loads(Path(program_file).read_text(encoding="utf-8"))
    report: dict[str, Any] = {}
    try:
        run = SETUPS[kind]()
        start, cpu = time.perf_counter(), time.process_time()
        out = run(program["source"], program["bindings"])
        report["seconds"] = time.perf_counter() - start
        report["cpu"] = time.process_time() - cpu
        value, gradient = _answer(kind, out)
        report["value"], report["gradient"] = value, gradient
    except RecursionError:
        report["error"] = "RecursionError"
    except MemoryError:
        report["error"] = "MemoryError"
    except SyntaxError as exc:
        report["error"] = f"SyntaxError: {exc.msg}"
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {str(exc)[:80]}"
    report["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["cold"] = cold
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
