"""The lazy ``if`` over arrays: each row evaluates its own branch, and no branch is
evaluated on a row that does not take it.

The demand-driven pass of :mod:`gradcli.branches`, with a set of rows carried by
every demand: the output is asked for on every row; a node asks its inputs for
the rows it is asked for; an ``if`` asks its condition first, then its first
branch for the rows where the condition is not 0 and its second branch for the
others. A node computes only the rows it lacks (NumPy on those rows, gathered
and scattered), so a node shared by both branches is computed once per row, and
a branch's operations never see a row that does not take it: no NumPy warning,
no error and no NaN can leak from there. The reverse pass sends each node's
gradient back over the rows it was computed on, and an ``if`` sends it to each
branch on that branch's rows only.

A row where an array rule gives NaN or ±inf (a math error, or a rule NumPy and
the math module disagree on) is set aside and evaluated again by the scalar
loops, which give its value or the very error ``gradcli eval`` gives there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .graph import Graph
from .ops import IF

#: The value of rows that failed, so that later nodes stay finite (those rows are
#: evaluated again one by one).
_FILLER = 0.5


def evaluate_taken(
    np: Any,
    graph: Graph,
    cols: Mapping[str, Any],
    n: int,
    wanted: list[bool],
    node_of: Callable[[str], int | None],
    names: list[str],
) -> tuple[Any, dict[str, Any], Any]:
    """The value and the gradients toward ``names`` at ``n`` rows, and a boolean
    array of the rows to evaluate again with the scalar loops."""
    nodes = graph.nodes
    count = len(nodes)
    recheck = np.zeros(n, dtype=bool)
    # values[i]: a float for a node that varies with no row (a constant subexpression),
    # else an array of n floats, meaningful on the rows in have[i].
    values: list[Any] = [None] * count
    # have[i]: the rows node i was computed on: None (none yet), True (all of them)
    # or a boolean array.
    have: list[Any] = [None] * count
    varying = [False] * count
    for node in nodes:
        varying[node.id] = node.kind == "var" or any(varying[i] for i in node.inputs)

    def rows_lacking(i: int, rows: Any) -> Any:
        """The rows of ``rows`` (True: all) that node i still lacks, or None."""
        got = have[i]
        if got is True:
            return None
        if got is None:
            need = rows
        elif rows is True:
            need = ~got
        else:
            need = rows & ~got
        if need is not True and not need.any():
            return None
        return need

    def settle(i: int, rows: Any) -> None:
        got = have[i]
        if got is None or rows is True:
            have[i] = rows
        else:
            have[i] = got | rows
        if have[i] is not True and have[i].all():
            have[i] = True

    def store(i: int, rows: Any, result: Any, at: Any) -> None:
        """Write ``result`` (computed on ``rows``, gathered at indices ``at``)."""
        if not varying[i]:
            values[i] = result
        elif rows is True:
            values[i] = np.broadcast_to(result, (n,)) if np.ndim(result) == 0 else result
        else:
            if values[i] is None or not values[i].flags.writeable:
                base = np.full(n, np.nan) if values[i] is None else np.array(values[i])
                values[i] = base
            values[i][at] = result
        settle(i, rows)

    def gather(j: int, at: Any) -> Any:
        value = values[j]
        if not varying[j] or at is None:
            return value
        return value[at]

    # --- forward: (node, stage, rows) ----------------------------------------------------
    stack: list[tuple[int, int, Any]] = [(count - 1, 0, True)]
    while stack:
        i, stage, rows = stack.pop()
        node = nodes[i]
        op = node.op
        if stage == 0:
            rows = rows_lacking(i, rows)
            if rows is None:
                continue
            if op is None:
                if node.kind == "var":
                    values[i] = cols[node.name]  # type: ignore[index]
                else:
                    values[i] = np.float64(node.value)
                have[i] = True
                continue
            stack.append((i, 1, rows))
            if op is IF:
                stack.append((node.inputs[0], 0, rows))
            else:
                for j in reversed(node.inputs):
                    stack.append((j, 0, rows))
            continue
        at = None if rows is True else np.flatnonzero(rows)
        if op is IF:
            cond, first, second = node.inputs
            c = values[cond]
            holds = (c != 0) if rows is True or not varying[cond] else (c != 0) & rows
            if stage == 1:  # the condition is known: ask each branch for its rows only
                if np.ndim(holds) == 0:
                    take_first, take_second = (rows, None) if holds else (None, rows)
                elif holds.all():  # every row asked takes the first branch: no gathering
                    take_first, take_second = rows, None
                elif not holds.any():
                    take_first, take_second = None, rows
                else:  # (holds is within rows already)
                    take_first = holds
                    take_second = ~holds if rows is True else rows & ~holds
                stack.append((i, 2, rows))
                if take_second is not None and (take_second is True or take_second.any()):
                    stack.append((second, 0, take_second))
                if take_first is not None and (take_first is True or take_first.any()):
                    stack.append((first, 0, take_first))
                continue
            # stage 2: both branches are known on their rows
            # a branch no row took has no values: NaN stands in, and where() skips it
            picks = [gather(j, at) if values[j] is not None else np.nan for j in (first, second)]
            chosen = np.where(gather(cond, at) != 0, *picks)
            if not varying[i]:
                chosen = np.float64(chosen)
            store(i, rows, chosen, at)
            continue
        args = [gather(j, at) for j in node.inputs]
        if not varying[i]:  # a constant subexpression: the scalar rule, once
            try:
                result = np.float64(op.forward(*(float(a) for a in args)))
            except (ValueError, ZeroDivisionError, OverflowError):
                result = np.float64(np.nan)
        else:
            result = op.vforward(np, *args)  # type: ignore[misc]
        if not _finite(np, result):
            bad = ~np.isfinite(np.broadcast_to(result, (n,) if at is None else at.shape))
            _mark_rows(recheck, bad, at)
            result = np.where(np.isfinite(result), result, _FILLER)
            if not varying[i]:
                result = np.float64(result)
        store(i, rows, result, at)

    # --- reverse: each node's gradient over the rows it was computed on -------------------
    grads: list[Any] = [None] * count
    grads[-1] = np.ones(n)
    for node in reversed(nodes):
        i = node.id
        g = grads[i]
        op = node.op
        if g is None or op is None:
            continue
        rows = have[i]
        at = None if rows is True else np.flatnonzero(rows)
        gr = g if at is None else g[at]
        if op is IF:
            cond, first, second = node.inputs
            holds = np.broadcast_to(gather(cond, at) != 0, gr.shape)
            # One branch took every row: its gradient is the if's, and the other gets none.
            alone = first if holds.all() else second if not holds.any() else None
            for j, mask in ((first, holds), (second, ~holds)):
                if not wanted[j]:
                    continue
                if alone is not None:
                    if j == alone:
                        _add(np, grads, j, n, gr, at)
                        alone = -1  # once: `if(c, x, x)` has x on both sides
                elif mask.any():
                    _add(np, grads, j, n, np.where(mask, gr, 0.0), at)
            continue
        args = [gather(j, at) for j in node.inputs]
        out = gather(i, at)
        for k, j in enumerate(node.inputs):
            if not wanted[j]:
                continue
            local = op.vgrads[k](np, *args, out)
            contribution = gr * local
            if not _finite(np, contribution):
                contribution = np.broadcast_to(contribution, gr.shape)
                bad = ~np.isfinite(contribution) & (gr != 0)  # a gradient of 0 passes 0 on
                _mark_rows(recheck, bad, at)
                contribution = np.where(np.isfinite(contribution), contribution, 0.0)
            _add(np, grads, j, n, contribution, at)

    value = values[-1]
    value = np.array(np.broadcast_to(value, (n,)), dtype=np.float64)
    gradient: dict[str, Any] = {}
    for name in names:
        i = node_of(name)
        g = grads[i] if i is not None else None
        gradient[name] = np.zeros(n) if g is None else g
    for name, g in gradient.items():
        if not _finite(np, g):  # a sum of finite contributions that is not
            recheck |= ~np.isfinite(g)
            gradient[name] = np.where(np.isfinite(g), g, 0.0)
    return value, gradient, recheck


def _finite(np: Any, value: Any) -> bool:
    # one reduction: a sum is finite only if every term is (a false alarm from a sum
    # that overflows only takes the careful path)
    return math.isfinite(np.add.reduce(value, axis=None))


def _add(np: Any, grads: list[Any], j: int, n: int, contribution: Any, at: Any) -> None:
    """grads[j] += contribution on the rows ``at`` (None: all)."""
    if grads[j] is None:
        grads[j] = np.zeros(n)
    if at is None:
        grads[j] += contribution
    else:
        grads[j][at] += contribution


def _mark_rows(recheck: Any, bad: Any, at: Any) -> None:
    """Mark for the scalar re-run the rows where ``bad`` holds: ``bad`` is over every
    row, or (``at``) over the rows a node was computed on."""
    if at is None:
        recheck |= bad
    else:
        recheck[at[bad]] = True
