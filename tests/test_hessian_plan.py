"""The Hessian's fast paths (gradcli/hessian_plan.py, the tangent pass level by level, and
the C kernel where it was built: tests/test_hessian_native.py) against the node-by-node
pass they stand in for: the same numbers bit for bit, the
same error wherever one is raised, and the plan actually taken on ordinary programs."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from fuzzing import SEEDS
from hessian_paths import by_the_plan, fastest
from hypothesis import given, settings
from op_points import case_id, cases, points
from strategies import points as abc_points
from strategies import programs

import gradcli
from gradcli.evaluate import forward
from gradcli.hessian import SecondOrder
from gradcli.hessian_plan import EXACT_ARRAY_RULES
from gradcli.ops import ALL_OPS

#: Values that probe the edges: zeros of both signs, ties, subnormals, overflow.
EDGES = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -8.0, 3.0, 1e-320, 5e-324, 1e308, -1e308, 710.0, -1000.0,
         1e300, math.pi / 4, 2**0.5, 1e-8, 0.999999, 1.0000001]


def _outcome(call: object) -> tuple[str, object]:
    # the numbers as their bits (float.hex): == takes -0.0 for 0.0
    try:
        h = call()  # type: ignore[operator]
    except gradcli.GradError as err:
        return "error", (err.kind, err.message, err.span)
    return "result", (h.value.hex(), {name: v.hex() for name, v in h.gradient.items()},
                      [[v.hex() for v in row] for row in h.hessian])


def _assert_same(second: SecondOrder, point: dict[str, float]) -> None:
    # at() takes the C kernel where it was built and knows the program, else the plan
    fast = _outcome(lambda: second.at(point))
    planned = _outcome(lambda: by_the_plan(second, point))
    reference = _outcome(lambda: second.reference_at(point))
    assert fast == reference, (second.graph.source, point)
    assert planned == reference, (second.graph.source, point)
    if fast[0] == "result":
        _, _, hessian = fast[1]  # type: ignore[misc]
        assert all(not v.startswith("-0x0.0p") for row in hessian for v in row), "-0.0"


@settings(max_examples=60, deadline=None)
@given(programs(max_depth=4), abc_points())
def test_the_plan_gives_the_node_by_node_numbers_on_smooth_programs(
    source: str, point: dict[str, float]
) -> None:
    second = SecondOrder(gradcli.compile(f"{source} + 0*a + 0*b + 0*c"))
    _assert_same(second, point)
    assert second.at(point).hessian == second.reference_at(point).hessian


@settings(max_examples=40, deadline=None)
@given(programs(max_depth=3), programs(max_depth=3), abc_points())
def test_the_plan_follows_the_branch_taken(taken: str, other: str, point: dict[str, float]) -> None:
    # a branch not taken is not evaluated (NaN): no tangent from it, none toward it;
    # sqrt(-1) and log(0) on the other side must not matter
    source = f"if(a > b, {taken}, sqrt(a - b) * log(b - a) * ({other})) + 0*a + 0*b + 0*c"
    _assert_same(SecondOrder(gradcli.compile(source)), point)


@pytest.mark.parametrize("source", SEEDS)
def test_the_plan_gives_the_same_numbers_or_the_same_error_at_the_edges(source: str) -> None:
    # every construct of the language (if, kinks, ties, n-ary calls, domain edges) at
    # points where values overflow, second derivatives are undefined, branches switch
    try:
        graph = gradcli.compile(source)
        second = SecondOrder(graph)
    except gradcli.GradError:
        return  # no inputs, or not a program: nothing to compare
    rng = random.Random(source)
    names = list(graph.inputs)
    for _ in range(60):
        point = {name: rng.choice(EDGES) if rng.random() < 0.7 else rng.uniform(-3, 3) for name in names}
        _assert_same(second, point)


_UNARY = ["sin", "cos", "tan", "exp", "log", "log2", "log10", "sqrt", "abs", "sign", "atan", "sinh", "cosh",
          "tanh", "sigmoid", "relu", "softplus", "asin", "acos", "atanh", "acosh", "-"]


def _random_expression(rng: random.Random, depth: int, names: list[str]) -> str:
    """An expression of the C kernel's operations, with ifs nested in conditions and
    branches, and conditions that are not comparisons (if(q0, ...) takes q0 ≠ 0)."""
    if depth == 0 or rng.random() < 0.15:
        constants = ["0.5", "2", "3", "1", "0", "-1", "2^53"]
        return rng.choice(names) if rng.random() < 0.75 else rng.choice(constants)
    sub = [_random_expression(rng, depth - 1, names) for _ in range(3)]
    k = rng.random()
    if k < 0.3:
        return f"{rng.choice(_UNARY)}({sub[0]})"
    if k < 0.7:
        return f"({sub[0]} {rng.choice(['+', '-', '*', '/', '^', '<', '>=', '==', '!='])} {sub[1]})"
    if k < 0.8:
        return f"{rng.choice(['max', 'min', 'pow'])}({sub[0]}, {sub[1]})"
    cond = f"{sub[0]} > {sub[1]}" if rng.random() < 0.6 else sub[0]
    return f"if({cond}, {sub[1]}, {sub[2]})"


@pytest.mark.parametrize("seed", range(4))
def test_programs_of_named_values_and_nested_branches_give_the_reference_bits(seed: int) -> None:
    # statements that share values, ifs in conditions and branches, the wrt inputs a
    # subset in any order, points with ties and edges: the kernel (where it takes the
    # program), the plan and the node-by-node pass agree to the bit, or on the error
    rng = random.Random(seed)
    for _ in range(40):
        inputs = list("abcd"[: rng.randint(1, 4)])
        names = list(inputs)
        lines = []
        for s in range(rng.randint(0, 3)):
            lines.append(f"q{s} = {_random_expression(rng, rng.randint(1, 3), names)}")
            names.append(f"q{s}")
        lines.append(_random_expression(rng, rng.randint(1, 4), names))
        try:
            graph = gradcli.compile("\n".join(lines))
            used = list(graph.inputs)
            wrt = rng.sample(used, rng.randint(1, len(used))) if used and rng.random() < 0.4 else None
            second = SecondOrder(graph, wrt)
        except gradcli.GradError:
            continue  # no inputs left, or an error of the program itself
        for _ in range(4):
            point: dict[str, float] = {}
            for name in graph.inputs:
                r = rng.random()
                if r < 0.45:
                    point[name] = rng.choice(EDGES)
                elif r < 0.6 and point:
                    point[name] = rng.choice(list(point.values()))  # a tie
                else:
                    point[name] = rng.uniform(-3, 3)
            _assert_same(second, point)


@pytest.mark.parametrize(
    ("source", "point", "message"),
    [
        ("sqrt(x) * y", {"x": 0, "y": 1}, "undefined"),
        ("y + x^1.5", {"x": 0, "y": 1}, "undefined second derivative"),
        ("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": -1000, "x0": 1e-320, "w1": 1e300, "x1": -0.0, "w2": 1e-8},
         "overflow: ∂²f/∂x1∂x1 is too large for a float"),
        ("if(x > 0, sqrt(x)*y, y*x^2)", {"x": 0.0, "y": 2}, None),  # the branch taken is smooth
        ("if(x > 0, sqrt(x)*y, y*x^2)", {"x": 1e-320, "y": 2}, "undefined second derivative"),
    ],
)
def test_errors_come_from_the_node_by_node_pass(
    source: str, point: dict[str, float], message: str | None
) -> None:
    second = SecondOrder(gradcli.compile(source))
    kind, what = _outcome(lambda: second.at(point))
    assert kind == ("result" if message is None else "error")
    if message is not None:
        assert message in what[1]  # type: ignore[index]
    _assert_same(second, point)


def _plan_result(second: SecondOrder, point: dict[str, float]) -> object:
    got = second.plan.values(point) if not second.program.graph.branches else None
    if got is None:
        values, array = forward(second.program.graph, point, second.outputs), None
    else:
        values, array = got
    return second.plan.hessian(values, array, second.first)


@pytest.mark.parametrize(
    ("source", "point"),
    [
        ("(1-x)^2 + 100(y-x^2)^2", {"x": -1.2, "y": 1}),
        ("if(x > 0, log(x), x^3) * y", {"x": -1, "y": 2}),  # a branch: values by demand, NaN elsewhere
        ("if(x > 0, log(x), x^3) * y", {"x": 2, "y": 2}),
        ("sum(x, y, x*y) + mean(x^2, y^2) + logsumexp(x, y) + hypot(x, y, 1)", {"x": 0.3, "y": -0.7}),
        ("x^y + max(x, y, 1)^2 + clip(x, 0, 1)^2 * y", {"x": 0.5, "y": 1.5}),
    ],
)
def test_the_plan_is_taken_on_ordinary_programs(source: str, point: dict[str, float]) -> None:
    second = SecondOrder(gradcli.compile(source))
    got = _plan_result(second, point)
    assert got is not None
    assert got == second.reference_at(point).hessian


def test_the_plan_is_taken_on_the_benchmark_program_and_is_faster() -> None:
    from bench.hessian_bench import other_point, program_for

    program = program_for(10, 1000)
    second = SecondOrder(gradcli.compile(program.source))
    point = other_point(program.bindings)
    assert _plan_result(second, point) is not None
    assert second.at(point).hessian == second.reference_at(point).hessian

    # measured about 10x on a quiet machine; 3x leaves room for a loaded one
    assert fastest(lambda: second.reference_at(point), 5) > 3 * fastest(lambda: by_the_plan(second, point), 5)


_EXACT = tuple(op for op in ALL_OPS if op.name in EXACT_ARRAY_RULES)


@pytest.mark.parametrize("case", cases(_EXACT), ids=case_id)
def test_the_array_rules_the_plan_uses_are_the_scalar_rules_bit_for_bit(case: tuple[object, int]) -> None:
    # where the scalar rule gives a finite number the array rule gives that number;
    # where it raises or is not finite the array rule is not finite (the plan declines)
    op, n = case
    for args in points(op, 300, n=n):  # type: ignore[arg-type]
        try:
            out = op.forward(*args)  # type: ignore[attr-defined]
        except (ArithmeticError, ValueError):
            continue
        if not math.isfinite(out):
            continue  # no tangent pass reaches a value that is not finite
        arrays = [np.array([a]) for a in args]
        for k in range(n):
            try:
                want = op.grads[k](*args, out)  # type: ignore[attr-defined]
            except (ArithmeticError, ValueError):
                want = math.nan
            with np.errstate(all="ignore"):
                got = np.broadcast_to(op.vgrads[k](np, *arrays, np.array([out])), (1,))[0]  # type: ignore[attr-defined]
            if math.isfinite(want):
                assert got == want, (op.name, k, args, got, want)
            else:
                assert not math.isfinite(got), (op.name, k, args, got, want)


def test_the_exact_array_rules_are_operations_of_the_table() -> None:
    assert EXACT_ARRAY_RULES <= {op.name for op in ALL_OPS}
