"""The pipeline: source text -> AST -> graph -> value and gradient at a point.

:func:`compile` reads and lowers a program once (:func:`gradcli.parse.parse`, the
one entry to both parsers, then :func:`gradcli.graph.lower`); :func:`run` checks a
point's bindings (:mod:`gradcli.bindings`) and evaluates the graph there
(:mod:`gradcli.evaluate`); :func:`evaluate` does both. These are what ``gradcli``
exports and what every command calls.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from typing import Any

from .bindings import resolve_point, resolve_wrt
from .evaluate import Result, value_and_grad
from .graph import Graph, lower, lower_outputs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .derivatives import DerivativeProgram
    from .syntax import Program


def run(
    graph: Graph,
    bindings: Mapping[str, Any],
    wrt: Iterable[str] | None = None,
) -> Result:
    """Evaluate a lowered graph at a point: value, gradient, per-node values and grads."""
    point = resolve_point(graph, bindings)
    names = resolve_wrt(graph, wrt)
    return value_and_grad(graph, point, names)


def compile(source: str, output: str | None = None) -> Graph:
    """Parse and lower ``source`` once; evaluate it at many points with :func:`run`."""
    graph, _ = compile_program(source, None if output is None else [output])
    return graph


def compile_program(source: str, outputs: list[str] | None = None) -> tuple[Graph, list[int]]:
    """Parse and lower ``source`` once for the statements ``outputs`` (default: the
    last statement): the graph and each output's node id in it."""
    from .parse import parse, use_fast_path

    # Parsing and lowering allocate a few small objects per character and make no
    # reference cycles, so the cyclic GC has nothing to find; left on, it rescans the
    # growing AST again and again, and a 10^6-node program pays superlinear time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        lowered = None
        if use_fast_path(source):  # a large program: straight to the graph, no AST held
            from .fastlower import lower_source

            lowered = lower_source(source, outputs)
        if lowered is not None:
            graph, ids = lowered
        else:
            program = parse(source)
            if outputs is not None and len(outputs) > 1:
                graph, ids = lower_outputs(program, outputs)
            else:
                graph = lower(program, outputs[0] if outputs else None)
                ids = [graph.output]
        # What compiling left in the youngest generation would be visited by the
        # next collection to find nothing. A graph is columns now, a few objects at
        # any size, but when it was a node object and a tuple of inputs per node that
        # visit cost as much as evaluating W4's 2*10^5-node chain. Freezing and
        # unfreezing moves all young objects to the oldest generation without a
        # visit; the GC's own counts stay as they were, so this schedules no extra
        # full collection either.
        gc.freeze()
        gc.unfreeze()
        return graph, ids
    finally:
        if collecting:
            gc.enable()


def evaluate(
    source: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    output: str | None = None,
    wrt: Iterable[str] | None = None,
    **kw_bindings: Any,
) -> Result:
    """Value and gradient of ``source`` at a point::

        >>> r = evaluate("(x+y)*z", x=2, y=3, z=-4)
        >>> r.value, r.gradient
        (-20.0, {'x': -4.0, 'y': -4.0, 'z': 5.0})

    Bindings are keyword arguments or a mapping (for names such as ``output``);
    values are numbers or constant expressions (``"pi/4"``). Raises
    :class:`~gradcli.errors.GradError` for anything wrong.
    """
    point = dict(bindings or {})
    point.update(kw_bindings)
    return run(compile(source, output), point, wrt)


def parse_and_lower(source: str, outputs: list[str] | None = None) -> tuple[Program, Graph, list[int]]:
    """:func:`compile_program` that keeps the parsed program too (its statements as
    written, which ``diff`` prints first)."""
    from .parse import parse

    collecting = gc.isenabled()
    gc.disable()  # as in compile_program
    try:
        program = parse(source)
        graph, ids = lower_outputs(program, outputs)
        gc.freeze()
        gc.unfreeze()
        return program, graph, ids
    finally:
        if collecting:
            gc.enable()


def diff(
    source: str,
    wrt: Iterable[str] | None = None,
    order: int = 1,
    *,
    output: str | None = None,
) -> DerivativeProgram:
    """The derivative of ``source`` as a program (``gradcli diff``)::

        >>> d = diff("q = x + y; f = q * z", order=1)
        >>> print(d.text, end="")
        q = x + y
        f = q * z
        df_dx = z
        df_dy = z
        df_dz = q

    ``wrt`` names inputs or named statements (default: every input); ``order`` is 1
    or 2 (then also ∂²f/∂a∂b for each pair); ``output`` names the statement to
    differentiate (default: the last). The result has the program as ``text`` (and
    :meth:`~gradcli.derivatives.DerivativeProgram.format` for LaTeX, Python, NumPy and
    JSON) and as ``graph``, and evaluates it: ``d.evaluate({"x": 1.0, ...})``.
    """
    from .derive import derivative_program

    outputs = None if output is None else [output]
    graph, _ = compile_program(source, outputs)
    program = None
    if None in graph.names.values() or None in graph.inputs.values():
        # statements the output does not need: the syntax tree has them, to print
        program, graph, _ = parse_and_lower(source, outputs)
    return derivative_program(graph, None if wrt is None else list(wrt), order, program=program)
