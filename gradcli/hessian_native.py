"""The Hessian's native path: the passes of :mod:`gradcli.hessian` in C, where it was built.

``pip install`` compiles ``gradcli/hessian_kernel.c`` when the machine has a C
compiler (``hatch_build.py``); without one, gradcli installs without it and every
Hessian takes the NumPy plan (:mod:`gradcli.hessian_plan`). The kernel runs the same
two passes as the node-by-node reference, in the same order, with the same C
library functions the math module calls, so the numbers are the same bit for bit;
tests/test_hessian_native.py holds every operation it knows to the operation
table, and whole Hessians to the reference.

A :class:`NativePlan` lays a first-derivative program out once, as the arrays the
kernel reads: a step of five ints per operation node (code, node, up to three
operands), the constants in a template of values, and a row of tangents for every
node that depends on a ``wrt`` input. A program with a lazy ``if`` (the guards of
``sqrt``, ``x^y``, ``asin``, ...) has its values computed where the Python passes
compute them, by demand from the outputs. :func:`native_plan` declines (None) a
program with an operation the kernel does not know (``erf``, ``hypot``, ``cbrt``,
``sum``, ...) or a call of more arguments than it takes. :meth:`NativePlan.run`
declines a point where anything is out of the ordinary, and the caller's passes
then give the answer or word the error.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from .graph import Graph

#: The operand slots past a call's arguments (a step has three).
_NONE = {1: (-1, -1), 2: (-1,), 3: ()}


#: The kernel's calling convention this module speaks (``INTERFACE`` in the C source).
INTERFACE = 1


def load_kernel() -> Any | None:
    """The compiled kernel, or None where it was not built (or was built from another
    version of its source, as an editable checkout not reinstalled since can hold)."""
    try:
        from . import hessian_kernel  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(hessian_kernel, "INTERFACE", None) != INTERFACE:
        return None
    return hessian_kernel


class NativePlan:
    """A first-derivative program laid out for the kernel (see :func:`native_plan`)."""

    __slots__ = ("first", "inputs", "kernel", "lazy", "rowmap", "rows", "seeds", "steps", "template", "value")

    def __init__(
        self,
        kernel: Any,
        steps: array,
        template: array,
        inputs: list[tuple[int, str]],
        rowmap: array,
        rows: int,
        seeds: array,
        first: array,
        value: int,
        lazy: bool,
    ) -> None:
        self.kernel = kernel
        self.steps = steps
        self.template = template
        self.inputs = inputs
        self.rowmap = rowmap
        self.rows = rows
        self.seeds = seeds
        self.first = first
        self.value = value
        self.lazy = lazy

    def run(self, point: Mapping[str, float]) -> tuple[array, list[list[float]]] | None:
        """Every node's value at ``point`` and the symmetric Hessian (rows: the nodes
        ``first``), every number finite; None where the Python passes must decide."""
        values = array("d", self.template)
        for i, name in self.inputs:
            values[i] = point[name]
        hessian = self.kernel.hessian(
            self.steps, values, self.rowmap, self.rows, self.seeds, self.first, self.value, self.lazy
        )
        if hessian is None:
            return None
        return values, hessian


def native_plan(
    graph: Graph, seeds: Sequence[int | None], moving: bytearray, first: Sequence[int], value: int
) -> NativePlan | None:
    """The first-derivative program ``graph`` laid out for the kernel: ``seeds`` are the
    nodes of the ``wrt`` inputs (None: not used), ``moving`` marks the nodes that
    depend on one of them, ``first`` the nodes of ∂f/∂wrt, ``value`` the output's.
    None where the kernel was not built or cannot take the program."""
    kernel = load_kernel()
    if kernel is None:
        return None
    codes = {entry: code for code, entry in enumerate(kernel.OPERATIONS)}
    nodes = graph.nodes
    steps = array("i")
    template = array("d", bytes(8 * len(nodes)))
    inputs: list[tuple[int, str]] = []
    rowmap = array("i", [-1]) * len(nodes)
    rows = 0
    for node in nodes:
        i = node.id
        if moving[i]:
            rowmap[i] = rows
            rows += 1
        op = node.op
        if op is None:
            if node.kind == "const":
                template[i] = node.value
            else:
                inputs.append((i, node.name))
            continue
        ins = node.inputs
        code = codes.get((op.name, len(ins)))
        if code is None:
            return None
        steps.extend((code, i, *ins, *_NONE[len(ins)]))
    return NativePlan(
        kernel,
        steps,
        template,
        inputs,
        rowmap,
        rows,
        array("i", [-1 if i is None else i for i in seeds]),
        array("i", first),
        value,
        bool(graph.branches),
    )
