"""The Hessian's C kernel (gradcli/hessian_kernel.c, laid out by gradcli/hessian_native.py)
against what it stands in for: every operation it knows against the operation table,
bit for bit, and whole Hessians against the node-by-node pass (the tests of
test_hessian_plan.py compare ``SecondOrder.at``, which takes the kernel first, with
the reference too). Where the kernel was not built (no C compiler at install) these
tests are skipped, unless GRADCLI_EXPECT_KERNEL is set, as CI sets it."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import textwrap
from array import array

import pytest
from hessian_paths import by_the_plan, fastest
from op_points import case_id, points

import gradcli
from gradcli.hessian import SecondOrder
from gradcli.hessian_native import load_kernel
from gradcli.ops import OPERATORS, function

KERNEL = load_kernel()

if KERNEL is None:
    if os.environ.get("GRADCLI_EXPECT_KERNEL"):
        raise RuntimeError("gradcli.hessian_kernel was not built, and GRADCLI_EXPECT_KERNEL says it must be")
    pytest.skip("the C kernel was not built (no C compiler at install)", allow_module_level=True)

#: The kernel's operations: code -> the table's row.
ROWS = {
    code: OPERATORS[name] if name in OPERATORS else function(name, arity)
    for code, (name, arity) in enumerate(KERNEL.OPERATIONS)
}
CODE_OF = {(op.name, arity): code for code, op in ROWS.items() for _, arity in [KERNEL.OPERATIONS[code]]}
#: What a rule of the table raises where a value or derivative does not exist.
RAISES = (ArithmeticError, ValueError)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _bits(result: gradcli.HessianResult) -> tuple[object, ...]:
    """A result's numbers as their bits (== takes -0.0 for 0.0)."""
    return (bits(result.value), {name: bits(v) for name, v in result.gradient.items()},
            [[bits(v) for v in row] for row in result.hessian])


@pytest.mark.parametrize("case", [(op, KERNEL.OPERATIONS[c][1]) for c, op in ROWS.items()], ids=case_id)
def test_every_rule_of_the_kernel_is_the_tables_bit_for_bit(case: tuple[object, int]) -> None:
    # forward: the same float (the sign of a zero included), or None where the table's
    # function raises or gives a number that is not finite; each local derivative the
    # same where the table's is finite, else None or not finite (the kernel declines)
    op, n = case
    code = CODE_OF[(op.name, n)]  # type: ignore[attr-defined]
    for args in points(op, 400, n=n):  # type: ignore[arg-type]
        x, y, z = (*args, 0.0, 0.0)[:3]
        got = KERNEL.rule(code, -1, x, y, z, 0.0)
        try:
            want = op.forward(*args)  # type: ignore[attr-defined]
        except RAISES:
            want = None
        if want is None or not math.isfinite(want):
            assert got is None, (op.name, args, got, want)  # type: ignore[attr-defined]
            continue
        assert got is not None and bits(got) == bits(want), (op.name, args, got, want)  # type: ignore[attr-defined]
        for k in range(n):
            local = KERNEL.rule(code, k, x, y, z, want)
            try:
                expected = op.grads[k](*args, want)  # type: ignore[attr-defined]
            except RAISES:
                expected = None
            if expected is not None and math.isfinite(expected):
                assert local is not None and bits(local) == bits(expected), (k, args, local, expected)
            else:
                assert local is None or not math.isfinite(local), (k, args, local, expected)


def test_the_kernels_operations_are_rows_of_the_table() -> None:
    assert len(KERNEL.OPERATIONS) == len(set(KERNEL.OPERATIONS)) == len(ROWS)
    for code, (name, _) in enumerate(KERNEL.OPERATIONS):
        assert ROWS[code] is not None and ROWS[code].name == name


@pytest.mark.parametrize(
    ("source", "point"),
    [
        ("(1-x)^2 + 100(y-x^2)^2", {"x": -1.2, "y": 1}),
        ("x^2*y + sin(z)*x", {"x": 1, "y": 2, "z": 0.5}),
        ("sigmoid(w0*x0 + w1*x1 + w2) + tanh(x0)*log(x1) + exp(w2)/cosh(w0)", {
            "w0": 2, "x0": -1, "w1": -3, "x1": 2, "w2": -3}),
        ("max(x, y)^2 + min(x, y)*x + abs(x - y)*y + relu(x)*softplus(y) + atan(x*y)", {"x": 0.5, "y": 0.5}),
        ("log2(x)*log10(y) + tan(x)*sinh(y) + x^1.5*y + sign(x)*y^3 + (x < y)*x*y", {"x": 0.7, "y": 1.3}),
        # a lazy if: the program's own, and the guards of x^y, sqrt, asin, acos, acosh, atanh
        ("if(x > 0, x^2, -x) * y + x^y + sqrt(x*y)", {"x": 0.7, "y": 1.3}),
        ("if(x > 0, x^2, -x) * y", {"x": -0.7, "y": 1.3}),
        ("asin(x/2)*acos(y/3) + acosh(1 + y*y)*atanh(x/3)", {"x": 0.7, "y": 1.3}),
        # the branch not taken cannot be computed (log of a negative number, 1/0): no matter
        ("if(x > y, log(y - x) / (x - x), x^3*y) + if(y > 0, y*x, sqrt(y))", {"x": 0.5, "y": 2}),
    ],
)
def test_the_kernel_is_taken_and_gives_the_node_by_node_numbers(source: str, point: dict[str, float]) -> None:
    second = SecondOrder(gradcli.compile(source))
    assert second.native is not None
    assert second.native.run(point) is not None  # the kernel answered: no fallback
    fast, reference = second.at(point), second.reference_at(point)
    assert _bits(fast) == _bits(reference)


@pytest.mark.parametrize(
    "source",
    [
        "erf(x) * y",  # an operation the kernel does not know
        "cbrt(x) * y",
        "hypot(x, y) * x",
        "max(x, y, 1) * x",  # a call of three arguments
        "log(x, 3) * y",  # log with a base
    ],
)
def test_programs_the_kernel_cannot_take_go_to_the_plan(source: str) -> None:
    second = SecondOrder(gradcli.compile(source))
    assert second.native is None
    point = {"x": 0.7, "y": 1.5}
    assert second.at(point).hessian == second.reference_at(point).hessian


@pytest.mark.parametrize(
    ("source", "point", "message"),
    [
        ("log(x) * y", {"x": 0, "y": 1}, "log"),  # a forward error: eval's own wording
        ("x / y + x*y", {"x": 1, "y": 0}, "division by zero"),
        ("y + x^1.5", {"x": 0, "y": 1}, "undefined second derivative"),
        ("sqrt(x) * y", {"x": 0, "y": 1}, "undefined"),  # the guard's branch taken
        ("if(x > 0, sqrt(x)*y, log(x)*y)", {"x": -1, "y": 2}, "log"),  # fails in the branch taken
        ("exp(x*y)", {"x": 30, "y": 30}, "overflow"),
        ("1/(1+exp(-(w0*x0+w1*x1+w2)))", {"w0": -1000, "x0": 1e-320, "w1": 1e300, "x1": -0.0, "w2": 1e-8},
         "overflow: ∂²f/∂x1∂x1 is too large for a float"),
    ],
)
def test_where_the_kernel_declines_the_error_is_the_python_passes(
    source: str, point: dict[str, float], message: str
) -> None:
    second = SecondOrder(gradcli.compile(source))
    assert second.native is not None
    assert second.native.run(point) is None
    with pytest.raises(gradcli.GradError) as fast:
        second.at(point)
    with pytest.raises(gradcli.GradError) as reference:
        second.reference_at(point)
    assert message in fast.value.message
    assert (fast.value.kind, fast.value.message, fast.value.span) == (
        reference.value.kind, reference.value.message, reference.value.span)


def test_the_kernel_refuses_buffers_that_do_not_fit_together() -> None:
    # indices past the values, a code past the table, an operand too many or too few,
    # a short row map, an output past the nodes: a ValueError, never a read or write
    # outside the buffers
    second = SecondOrder(gradcli.compile("x*y + sin(x)"))
    plan = second.native
    assert plan is not None
    nodes = len(plan.template)

    def call(steps: array, rowmap: array | None = None, rows: int | None = None, value: int | None = None,
             values: object = None) -> object:
        return KERNEL.hessian(
            steps, array("d", plan.template) if values is None else values, rowmap or plan.rowmap,
            plan.rows if rows is None else rows, plan.seeds, plan.first,
            plan.value if value is None else value, False)

    assert call(plan.steps) is not None
    for bad in ([2, nodes, 0, 1, -1], [2, 0, nodes + 5, 1, -1], [99, 0, 0, 1, -1], [-1, 0, 0, 1, -1],
                [2, 0, 0, -1, -1], [2, 0, 0, 1, 0], [4, 0, 0, 1, -1]):  # 2: mul (two operands); 4: neg (one)
        steps = array("i", plan.steps)
        steps[:5] = array("i", bad)
        with pytest.raises(ValueError):
            call(steps)
    with pytest.raises(ValueError):
        call(plan.steps, array("i", plan.rowmap[:-1]))
    with pytest.raises(ValueError):
        call(plan.steps, rows=0)
    with pytest.raises(ValueError):
        call(plan.steps, value=nodes)
    with pytest.raises(ValueError):
        call(array("i", plan.steps[:-1]))
    with pytest.raises(TypeError):  # the values must be writable
        call(plan.steps, values=bytes(8 * nodes))


def test_the_kernel_is_taken_on_the_benchmark_program_and_is_faster_than_the_plan() -> None:
    from bench.hessian_bench import other_point, program_for

    program = program_for(10, 1000)
    second = SecondOrder(gradcli.compile(program.source))
    point = other_point(program.bindings)
    assert second.native is not None and second.native.run(point) is not None
    assert second.at(point).hessian == second.reference_at(point).hessian

    # measured about 10x on a quiet machine; 3x leaves room for a loaded one
    assert fastest(lambda: by_the_plan(second, point), 7) > 3 * fastest(lambda: second.at(point), 7)


def test_native_plan_is_none_without_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import gradcli.hessian_native as hessian_native

    monkeypatch.setattr(hessian_native, "load_kernel", lambda: None)
    second = SecondOrder(gradcli.compile("x*y + sin(x)"))
    assert second.native is None
    assert second.at({"x": 1, "y": 2}).hessian == second.reference_at({"x": 1, "y": 2}).hessian


def test_a_kernel_built_from_other_code_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # an editable checkout keeps the module it was installed with: one of another
    # calling convention is left alone, and the NumPy plan answers
    monkeypatch.setattr(KERNEL, "INTERFACE", KERNEL.INTERFACE + 1)
    assert load_kernel() is None
    second = SecondOrder(gradcli.compile("x*y + sin(x)"))
    assert second.native is None
    assert second.at({"x": 1, "y": 2}).hessian == second.reference_at({"x": 1, "y": 2}).hessian


def _run_alone(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter: a kernel that writes outside its memory takes the
    process down (or ASan stops it), which fails the test instead of the run."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, check=False)


_PLAN = """
    from array import array
    import gradcli
    from gradcli.hessian import SecondOrder
    from gradcli.hessian_native import load_kernel
    KERNEL = load_kernel()
    plan = SecondOrder(gradcli.compile("x*y + sin(x) + if(x > y, x^3, y^2)")).native
    nodes = len(plan.template)
"""


def test_a_values_buffer_that_is_also_another_buffer_cannot_move_an_index() -> None:
    # the same memory passed as the values (written) and as the steps, the row map, the
    # seeds or the first derivatives (read): the values written must not change the
    # indices after they were checked (this took the interpreter down)
    result = _run_alone(_PLAN + """
    for target in ("steps", "rowmap", "seeds", "first"):
        for lazy in (False, True):
            own = {name: array("i", getattr(plan, name)) for name in ("steps", "rowmap", "seeds", "first")}
            memory = bytearray(bytes(own[target]) + bytes(8 * nodes))
            values = memoryview(memory)[: 8 * nodes]
            own[target] = memoryview(memory)[: len(own[target]) * 4]
            try:
                KERNEL.hessian(own["steps"], values, own["rowmap"], plan.rows, own["seeds"], own["first"],
                               plan.value, lazy)
            except ValueError:
                pass
    print("survived")
    """)
    assert result.returncode == 0 and result.stdout == "survived\n", result.stderr[-2000:]


def test_another_thread_rewriting_the_steps_cannot_move_an_index() -> None:
    # the kernel runs without the GIL: a thread that rewrites a step's node after the
    # check must not send a write past the values (this took the interpreter down)
    result = _run_alone("""
    import threading
    from array import array
    from gradcli.hessian_native import load_kernel
    KERNEL = load_kernel()
    nodes, count = 100, 100_000
    steps = array("i")
    for s in range(count):
        steps.extend((0, 2 + s % (nodes - 2), 0, 1, -1))  # add: node <- x + y, over and over
    values = array("d", [1.0]) * nodes
    stop = False

    def spoil() -> None:
        while not stop:
            steps[5 * (count - 1) + 1] = 10**8  # the last step's node, far past the values
            steps[5 * (count - 1) + 1] = 2

    thread = threading.Thread(target=spoil)
    thread.start()
    try:
        for _ in range(20):
            try:
                KERNEL.hessian(steps, values, array("i", range(nodes)), nodes, array("i", [0, 1]),
                               array("i", [2, 3]), 2, False)
            except ValueError:
                pass
    finally:
        stop = True
        thread.join()
    print("survived")
    """)
    assert result.returncode == 0 and result.stdout == "survived\n", result.stderr[-2000:]


def test_rows_past_the_nodes_or_a_seed_without_a_row_are_refused() -> None:
    # a row of tangents belongs to a node: more rows than nodes is a layout error (a
    # huge count made the kernel size its tangents with a product that can wrap)
    second = SecondOrder(gradcli.compile("x*y + sin(x)"))
    plan = second.native
    assert plan is not None
    nodes = len(plan.template)

    def call(rows: int, rowmap: array | None = None) -> object:
        rowmap = plan.rowmap if rowmap is None else rowmap
        return KERNEL.hessian(plan.steps, array("d", plan.template), rowmap, rows, plan.seeds, plan.first,
                              plan.value, False)

    assert call(plan.rows) is not None
    for rows in (nodes + 1, 2**40, 2**61 + 1, 2**62, sys.maxsize, -1):
        with pytest.raises(ValueError):
            call(rows)
    seedless = array("i", plan.rowmap)
    seedless[plan.seeds[0]] = -1  # a seed whose tangent would have no row
    with pytest.raises(ValueError):
        call(plan.rows, seedless)


def test_buffers_at_any_address_give_the_same_hessian() -> None:
    # memoryviews at an odd offset: the kernel reads and writes no int or float through
    # a misaligned pointer, and answers as with arrays
    second = SecondOrder(gradcli.compile("x*y + sin(x) + if(x > y, x^3, y^2)"))
    plan = second.native
    assert plan is not None
    values = array("d", plan.template)
    for i, name in plan.inputs:
        values[i] = {"x": 0.7, "y": -1.5}[name]

    def odd(buffer: array) -> memoryview:
        memory = bytearray(1) + bytearray(bytes(buffer))
        return memoryview(memory)[1:]

    want = KERNEL.hessian(plan.steps, array("d", values), plan.rowmap, plan.rows, plan.seeds, plan.first,
                          plan.value, plan.lazy)
    shifted = odd(values)
    got = KERNEL.hessian(odd(plan.steps), shifted, odd(plan.rowmap), plan.rows, odd(plan.seeds),
                         odd(plan.first), plan.value, plan.lazy)
    assert want is not None and got == want
    assert bytes(shifted) != bytes(values)  # the operations' values were written in
