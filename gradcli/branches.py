"""The lazy ``if``: the forward pass of a program with branches, one point at a time.

``if(c, a, b)`` is ``a`` where ``c ≠ 0``, else ``b``, and only the branch taken is
evaluated: ``if(x > 0, log(x), 0)`` at x = −1 never computes ``log(-1)``. A plain
topological loop cannot know which nodes are needed before the conditions are
known, so this pass is driven by demand instead: it starts from the output with an
explicit stack (no recursion, whatever the depth), evaluates a node once all its
inputs are, and at an ``if`` evaluates the condition first, then the one branch it
picks. A node shared by a taken and an untaken branch is evaluated once, when the
taken side first needs it; a node needed only by branches not taken is never
evaluated and keeps the value NaN.

NaN is an unambiguous mark: every value that is evaluated is finite (a non-finite
one is a math error). The reverse pass (:func:`gradcli.evaluate.backward`) asks for
no gradient toward a NaN node, so the gradient flows to the branch taken alone and
nothing is differentiated on the other side.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .ops import IF

if TYPE_CHECKING:
    from .graph import Graph

#: The value of a node that was not evaluated (a branch not taken).
NOT_EVALUATED = math.nan


def evaluated(value: float) -> bool:
    """Whether a value from :func:`forward_taken` was computed (NaN never is)."""
    return value == value


def forward_taken(
    graph: Graph, point: Mapping[str, float], roots: Sequence[int] | None = None
) -> array[float]:
    """Every value the output (or each node of ``roots``: the outputs of a Jacobian)
    needs at ``point``, branches not taken left NaN.

    Stack entries are ``(node id, stage)``: stage 0 asks for the node, stage 1 comes
    back once its inputs (an ``if``: its condition) are evaluated, stage 2 once an
    ``if``'s branch is. Everything pushed above an entry is finished before it comes
    back, so a node is computed after its inputs and exactly once."""
    from .evaluate import operands
    from .math_errors import math_error, non_finite_error

    columns = graph.columns
    ops, args, first = columns.ops, columns.args, columns.first
    consts, leaf_names = columns.consts, columns.leaf_names
    source = graph.source
    size = graph.size
    values = array("d", (NOT_EVALUATED,)) * size
    done = bytearray(size)
    starts = [size - 1] if roots is None else list(reversed(roots))
    stack: list[tuple[int, int]] = [(r, 0) for r in starts]
    pop, push = stack.pop, stack.append
    while stack:
        i, stage = pop()
        if done[i]:
            continue
        op = ops[i]
        if op is None:
            value = consts.get(i)
            values[i] = value if value is not None else point[leaf_names[i]]
            done[i] = 1
            continue
        inputs = args[first[i] : first[i + 1]]
        if op is IF:
            cond = inputs[0]
            if not done[cond]:
                push((i, 1))
                push((cond, 0))
                continue
            taken = inputs[1] if values[cond] != 0 else inputs[2]
            if not done[taken]:
                push((i, 2))
                push((taken, 0))
                continue
            values[i] = values[taken]
            done[i] = 1
            continue
        if stage == 0:
            waiting = [j for j in inputs if not done[j]]
            if waiting:
                push((i, 1))
                for j in reversed(waiting):  # the first argument is evaluated first
                    push((j, 0))
                continue
        try:
            value = op.forward(*[values[j] for j in inputs])
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            raise math_error(graph.node(i), operands(graph, values, i), exc, source) from None
        if not math.isfinite(value):
            raise non_finite_error(graph.node(i), operands(graph, values, i), value, source)
        values[i] = value
        done[i] = 1
    return values


def taken_mask(values: Sequence[float], wanted: Sequence[int]) -> bytearray:
    """``wanted`` less the nodes that were not evaluated: no gradient toward them."""
    return bytearray(bool(w) and v == v for w, v in zip(wanted, values, strict=True))
