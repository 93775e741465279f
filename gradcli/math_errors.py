"""How the evaluator's failures are worded: a math error names the operation and its
operand values (``log(-1)``, ``1 / 0``), the pass it was born in, and its node's span.

Only a failure needs these, so the evaluators import this module when one happens:
a run that succeeds never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import GradError
from .graph import format_literal

if TYPE_CHECKING:
    from .graph import Graph, Node


def number(value: float) -> str:
    """A number in a message: ``2`` not ``2.0``, else the shortest repr; never raises."""
    if not math.isfinite(value):
        return repr(value)
    return format_literal(value)


def operand(value: float) -> str:
    text = number(value)
    return f"({text})" if value < 0 else text


def describe_call(node: Node, args: Iterable[float]) -> str:
    """``log(-1)``, ``1 / 0``, ``(-8) ^ 0.333``: an operation with its operand values."""
    op = node.op
    assert op is not None
    values = list(args)
    if op.symbol is None:
        return f"{op.name}({', '.join(number(v) for v in values)})"
    if op.arity == 1:
        return f"{op.symbol}{operand(values[0])}"
    return f" {op.symbol} ".join(operand(v) for v in values)


def math_error(node: Node, args: list[float], exc: Exception, source: str) -> GradError:
    """A forward failure as a message naming the operation and its operand values."""
    return forward_error(node, args, exc, source).at("forward", node.id)


def forward_error(node: Node, args: list[float], exc: Exception, source: str) -> GradError:
    assert node.op is not None
    call = describe_call(node, args)
    if isinstance(exc, ZeroDivisionError):
        return GradError("division_by_zero", f"division by zero: {call}", node.span, source)
    if isinstance(exc, OverflowError):
        return GradError("overflow", f"overflow: {call} is too large for a float", node.span, source)
    if node.op.name == "pow" and args[0] < 0:
        return GradError(
            "domain",
            f"{call} is not a real number: a negative number to a power that is not whole"
            " (cbrt(x) gives cube roots)",
            node.span,
            source,
        )
    return GradError(
        "domain",
        f"{call} is outside the domain of {node.op.signature} ({node.op.domain})",
        node.span,
        source,
    )


def non_finite_error(node: Node, args: list[float], value: float, source: str) -> GradError:
    call = describe_call(node, args)
    if math.isnan(value):
        err = GradError("domain", f"{call} is not a number", node.span, source)
    else:
        err = GradError("overflow", f"overflow: {call} is too large for a float", node.span, source)
    return err.at("forward", node.id)


def operand_name(node: Node, k: int) -> str:
    """The name of a node's k-th operand, as its op's signature calls it."""
    assert node.op is not None
    params = node.op.params
    return params[k] if k < len(params) else f"argument {k + 1}"


def local_gradient_error(
    node: Node, args: list[float], k: int, local: float | None, source: str
) -> GradError:
    """A local gradient that overflows (``log'(1e-320)``) or cannot be computed."""
    assert node.op is not None
    call = describe_call(node, args)
    toward = operand_name(node, k)
    if local is None:
        return GradError(
            "gradient",
            f"undefined gradient of {call}: the local gradient toward {toward} cannot be computed",
            node.span,
            source,
        )
    return GradError(
        "overflow",
        f"overflow in the gradient: the local gradient of {call} toward {toward}"
        " is too large for a float",
        node.span,
        source,
    )


def chain_overflow(node: Node, args: list[float], k: int, g: float, local: float, source: str) -> GradError:
    """The chain-rule product ∂f/∂node · ∂node/∂input overflows."""
    assert node.op is not None
    toward = operand_name(node, k)
    return GradError(
        "overflow",
        f"overflow in the gradient through {describe_call(node, args)} toward {toward}:"
        f" {number(g)} · {number(local)} is too large for a float",
        node.span,
        source,
    )


def sum_overflow(graph: Graph, k: int) -> GradError:
    """The gradients of node ``k``'s consumers add up past the largest float."""
    uses = graph.columns.args.count(k)
    label = graph.labels()[k]
    return GradError(
        "overflow",
        f"overflow in the gradient: ∂f/∂{label}, the sum over its {uses} uses,"
        " is too large for a float",
        graph.node(k).span,
        graph.source,
    )
