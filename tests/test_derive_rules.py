"""The three rule sets of every operation held together: the scalar rule (what ``eval``
runs), the array rule (``--batch``) and the graph rule (``gradcli diff``, second
order), at every edge of each function (zeros of both signs, ±1, ties, the ends of the
float range, kinks) and at generated points over the whole float range.

The graph rule is evaluated as a derivative program would evaluate it: built as nodes
by :mod:`gradcli.derive` and run by the scalar evaluator. Where the scalar rule fails
(an undefined gradient, a domain error, an overflow), evaluating the graph rule must
fail too; where the scalar rule gives a number, the graph rule gives the same number,
to the last bit except where :data:`GRAPH_ULPS` allows a few units (a rule written as
another formula of equal accuracy) and the points :func:`excused` names."""

from __future__ import annotations

import math

import numpy as np
import pytest
from op_points import case_id, cases, points
from test_ops_arrays import NUMPY_ULPS, ulps_apart

from gradcli.api import compile
from gradcli.derive import derivative_program
from gradcli.errors import GradError
from gradcli.graph import Graph
from gradcli.ops import ALL_OPS, Op

#: Operations whose graph rule is another formula than the scalar rule's, and the most
#: units in the last place the two may differ by. Every other rule is the scalar
#: rule's formula, operation for operation, and agrees to the last bit.
GRAPH_ULPS: dict[str, int] = {
    # y·(x^y/x) in one order where the scalar rule picks one of two; y·x^(y−1) for a
    # varying y < 1/2, where y − 1 rounds (the scalar rule's comment: hundreds of units)
    "pow": 1000,
    "erf": 1000,
    # 4·σ(2x)·σ(−2x) and σ(x)·σ(−x), where the scalar rules pick one of two forms
    "tanh": 8, "sigmoid": 8,  # 2/√π·e^(−x·x) with x·x rounded: x²·2^-53 relative, 8e-14 at x = 27
}

_TINY = 2.2250738585072014e-308


def program_of(op: Op, n: int) -> str:
    """``op`` applied to the variables a0 … a(n−1), as a program."""
    args = [f"a{k}" for k in range(n)]
    if op.symbol is not None:
        return f"{op.symbol}a0" if op.arity == 1 else f"a0 {op.symbol} a1"
    return f"{op.name}({', '.join(args)})"


def excused(op: Op, p: tuple[float, ...], out: float) -> bool:
    """Points where the graph rule is allowed another (still accurate) answer."""
    if op.name == "pow":
        x, y = p
        # a subnormal x^y, or y ≥ 2^53 (y − 1 rounds): the scalar rule has a branch
        # of its own there that the graph rule does not copy
        # (and x^(y−1) overflows for a subnormal x where y·x^y/x does not)
        return abs(out) < _TINY or abs(y) >= 2.0**53 or abs(x) < _TINY
    if op.name == "hypot":
        return out < 2.0**-1000  # a subnormal hypot: the scalar rule scales it first
    return False


def _scalar(f, *args: float) -> float | None:
    try:
        value = f(*args)
    except (ArithmeticError, ValueError):
        return None
    return value if math.isfinite(value) else None


def disagreements(op: Op, pts: list[tuple[float, ...]]) -> list[str]:
    """Every point where the graph rule of ``op`` and its scalar rule disagree (and the
    array rule, where it gives a number, with the scalar rule)."""
    n = len(pts[0])
    compiled = compile(program_of(op, n))
    nodes = compiled.nodes
    assert nodes[-1].op.name == op.name, program_of(op, n)
    nodes[-1].op = op  # the row under test (the table's own, or a wrong one)
    # a graph of these node objects (its columns are read from them, the row included)
    graph = Graph(nodes, compiled.inputs, compiled.names, compiled.output_name, compiled.source)
    graph.branches = compiled.branches
    names = [f"a{k}" for k in range(n)]
    # one program per argument: a gradient that overflows toward one argument must not
    # hide the one toward another
    dps = [derivative_program(graph, [name]) for name in names]
    bound = GRAPH_ULPS.get(op.name, 0)
    array_bound = NUMPY_ULPS.get(op.name, 0)
    found: list[str] = []
    for p in pts:
        out = _scalar(op.forward, *p)
        if out is None:
            continue
        point = dict(zip(names, p, strict=True))
        graph_grads: list[float | None] = []
        kinds: list[str | None] = []
        for dp in dps:
            try:
                graph_grads.append(dp.evaluate(point).gradient[dp.wrt[0]])
                kinds.append(None)
            except GradError as err:
                graph_grads.append(None)
                kinds.append(err.kind)
        for k in range(n):
            scalar = _scalar(op.grads[k], *p, out)
            g = graph_grads[k]
            if g is not None and not math.isfinite(g):
                g = None
            where = f"∂{op.name}/∂#{k} at {p}"
            if scalar is None and g is not None:
                if not excused(op, p, out):
                    found.append(f"{where}: the scalar rule fails, the graph rule gives {g!r}")
            elif scalar is not None and g is None:
                # 1/(1 + x·x) at x = 1e160 is 0 in the scalar rule because x·x overflowed
                # to infinity on the way; evaluating the graph reports that overflow
                if not excused(op, p, out) and not (abs(scalar) < _TINY and kinds[k] == "overflow"):
                    found.append(f"{where}: the scalar rule gives {scalar!r}, the graph rule fails")
            elif scalar is not None and g is not None and ulps_apart(scalar, g) > bound and not (
                scalar == g  # 0.0 and -0.0
            ):
                if not excused(op, p, out):
                    found.append(f"{where}: scalar {scalar!r}, graph {g!r}")
            if scalar is not None:
                with np.errstate(all="ignore"):
                    arr = np.asarray(op.vgrads[k](np, *(np.array([v]) for v in p), np.array([out])))
                a = float(np.broadcast_to(arr, (1,))[0])
                if math.isfinite(a) and ulps_apart(scalar, a) > array_bound and scalar != a:
                    found.append(f"{where}: scalar {scalar!r}, array {a!r}")
    return found


@pytest.mark.parametrize("case", cases(ALL_OPS), ids=case_id)
def test_graph_rules_give_the_scalar_rules_numbers(case: tuple[Op, int]) -> None:
    op, n = case
    assert op.dgraph is not None, f"{op.name} has no graph rule"
    found = disagreements(op, points(op, 300, n=n))
    assert not found, f"{len(found)} disagreements, the first: " + "; ".join(found[:5])


def test_the_agreement_test_catches_a_wrong_graph_rule() -> None:
    """A graph rule off by a factor, or wrong at a kink only, is caught."""
    cosh = next(op for op in ALL_OPS if op.name == "cosh")
    wrong = Op(cosh.name, 1, cosh.forward, cosh.grads, rule=cosh.rule, vforward=cosh.vforward,
               vgrads=cosh.vgrads, dgraph=lambda G, out, x: (G.mul(G.num(1.5), G("sinh", x)),))
    assert disagreements(wrong, points(cosh, 50))
    absolute = next(op for op in ALL_OPS if op.name == "abs")
    # x/|x| is sign(x) everywhere but at the kink, where abs'(0) = 0
    at_kink = Op(absolute.name, 1, absolute.forward, absolute.grads, rule=absolute.rule,
                 vforward=absolute.vforward, vgrads=absolute.vgrads,
                 dgraph=lambda G, out, x: (G.div(x, out),))
    assert disagreements(at_kink, points(absolute, 50))
