"""One step of a fit: the mean loss over a minibatch and its gradient toward the
parameters, vectorised over the rows.

A :class:`Plan` is made once per fit from the graph: the nodes that depend on
nothing but constants are folded to numbers, every other node becomes an entry of
a flat list (its array rule from :mod:`gradcli.ops` and the slots of its
operands), and the reverse pass keeps only the edges on a path from a parameter
to the output. A step is then two loops over those lists and one sum per
parameter: nothing is looked up, checked or allocated per node beyond NumPy's
own arrays. Rows are taken :data:`STEP_ROWS` at a time,
so a full batch of a million rows stays in the cache and in constant memory.

This path makes no error of its own: where the loss or a gradient is not finite,
:meth:`Plan.step` returns None and the fit evaluates that minibatch again with
:func:`~gradcli.vectorised.evaluate_columns`, the batch engine, which says which
row failed and why, as ``eval`` would at that row. A program with a lazy ``if``
always takes that path (each row evaluates only the branch it takes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .evaluate import wanted_nodes
from .graph import Graph

#: Rows evaluated at once: the dozen arrays a step keeps alive stay in the CPU's
#: cache (measured against 4,096 to 32,768 rows on the neuron: 8,192 to 16,384 were
#: fastest, 32,768, the batch engine's choice for one pass, was 1.5 to 2.5x slower).
STEP_ROWS = 8192


class Plan:
    """The compiled step of a fit of ``graph``: ``columns`` are read from the data,
    ``params`` fitted, ``constants`` held fixed."""

    def __init__(
        self, np: Any, graph: Graph, columns: Sequence[str], params: Sequence[str],
        constants: Mapping[str, float],
    ) -> None:
        self.np = np
        self.graph = graph
        self.columns = list(columns)
        self.params = list(params)
        self.usable = not graph.branches
        nodes = graph.nodes
        n = len(nodes)
        # kind of each slot: 0 a number (folded), 1 a parameter (a float per step),
        # 2 varies by row (an array)
        kind = [0] * n
        const: list[Any] = [None] * n
        self.param_slot = [graph.inputs[name] for name in self.params]
        self.column_slot = [graph.inputs[name] for name in self.columns]
        forward: list[tuple[int, Any, tuple[int, ...]]] = []
        # Rules that share work between the passes (sigmoid's exp(-|x|)), by node.
        self.side: dict[int, Any] = {}
        fused: dict[int, Any] = {}
        for node in nodes:
            if node.op is None:
                if node.kind == "var":
                    if node.name in constants:
                        const[node.id] = float(constants[node.name])  # type: ignore[index]
                    elif node.name in self.params:
                        kind[node.id] = 1
                    else:
                        kind[node.id] = 2
                else:
                    const[node.id] = float(node.value)
                continue
            k = max((kind[i] for i in node.inputs), default=0)
            if k == 0:
                # Only numbers: folded once, by the scalar rule (a math error here is the
                # same at every row; the careful path reports it).
                try:
                    value = node.op.forward(*(const[i] for i in node.inputs))
                except Exception:  # any failure: the careful path says what it is
                    self.usable = False
                    value = math.nan
                const[node.id] = value
                if not (isinstance(value, float) and math.isfinite(value)):
                    self.usable = False
                continue
            kind[node.id] = k
            rule = node.op.vforward
            if node.op.name == "pow" and kind[node.inputs[1]] == 0 and const[node.inputs[1]] == 2.0:
                rule = square  # x^2, the squared loss: a product, not a general power
            elif node.op.name == "sigmoid":
                rule, fused[node.id] = sigmoid_rules(self.side, node.id)
            forward.append((node.id, rule, node.inputs))
        self.kind = kind
        self.const = const
        self.forward = forward
        wanted = wanted_nodes(graph, [i for i in self.param_slot if i is not None])
        backward: list[tuple[int, tuple[int, ...], list[tuple[int, int, Any]]]] = []
        for node in reversed(nodes):
            if node.op is None or not wanted[node.id]:
                continue
            edges = [(k, i, node.op.vgrads[k]) for k, i in enumerate(node.inputs) if wanted[i]]
            if node.op.name == "pow" and kind[node.inputs[1]] == 0 and const[node.inputs[1]] == 2.0:
                edges = [(0, node.inputs[0], dsquare)] if wanted[node.inputs[0]] else []
            elif node.id in fused:
                edges = [(0, node.inputs[0], fused[node.id])] if wanted[node.inputs[0]] else []
            if edges:
                backward.append((node.id, node.inputs, edges))
        self.backward = backward
        self.size = n
        self.output_varies = kind[-1] == 2

    def step(
        self, data: Mapping[str, Any], rows: Any, count: int, x: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        """The mean loss over ``rows`` of ``data`` (an index array, or a slice; ``count``
        rows) at the parameters ``x``, and its gradient; None when anything is not finite."""
        np = self.np
        cols = [data[name][rows] for name in self.columns]
        if count == 0:
            return None
        total = 0.0
        grad = [0.0] * len(self.params)
        for start in range(0, count, STEP_ROWS):
            stop = min(count, start + STEP_ROWS)
            part = cols if stop - start == count else [c[start:stop] for c in cols]
            try:
                result = self._chunk(np, part, stop - start, x)
            except (ArithmeticError, ValueError):
                result = None
            if result is None:
                return None
            loss, g = result
            total += loss
            for j, gj in enumerate(g):
                grad[j] += gj
        mean = total / count
        grad = [gj / count for gj in grad]
        if not math.isfinite(mean) or not all(map(math.isfinite, grad)):
            return None
        return mean, grad

    def _chunk(
        self, np: Any, cols: list[Any], n: int, x: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        """Sums over one chunk of rows: the loss and each parameter's gradient."""
        values = list(self.const)
        for slot, value in zip(self.param_slot, x, strict=True):
            if slot is not None:
                values[slot] = np.float64(value)  # NumPy's arithmetic: 1/0 is inf, not an exception
        for slot, col in zip(self.column_slot, cols, strict=True):
            if slot is not None:
                values[slot] = col
        for i, rule, inputs in self.forward:
            values[i] = rule(np, *[values[j] for j in inputs])
        out = values[-1]
        total = np.add.reduce  # what ndarray.sum calls, the same bits, less overhead
        loss = float(total(out)) if self.output_varies else float(out) * n
        if not math.isfinite(loss):
            return None
        # A node that varies by row gets a gradient per row (an array, or one number
        # for every row); a node that does not (a parameter, w^2) gets the sum over
        # the rows at once (never np.dot: BLAS threads fight for a busy machine's cores).
        grads: list[Any] = [None] * self.size
        grads[-1] = 1.0 if self.output_varies else float(n)
        kind = self.kind
        for i, inputs, edges in self.backward:
            g = grads[i]
            if g is None:
                continue
            args = [values[j] for j in inputs]
            out = values[i]
            by_row = kind[i] == 2
            for _k, j, rule in edges:
                local = rule(np, *args, out)
                if by_row and kind[j] != 2:  # into a sum over the rows
                    g_array = getattr(g, "ndim", 0) > 0
                    if getattr(local, "ndim", 0) > 0:
                        contribution = total(g * local) if g_array else total(local) * g
                    else:
                        contribution = (total(g) if g_array else g * n) * local
                elif type(local) is float and (local == 1.0 or local == -1.0):
                    contribution = g if local == 1.0 else -g
                else:
                    contribution = g * local
                before = grads[j]
                grads[j] = contribution if before is None else before + contribution
        return loss, [0.0 if i is None or grads[i] is None else float(grads[i]) for i in self.param_slot]


def square(np: Any, x: Any, y: Any) -> Any:
    return x * x


def dsquare(np: Any, x: Any, y: Any, out: Any) -> Any:
    return 2.0 * x


def sigmoid_rules(side: dict[int, Any], i: int) -> tuple[Any, Any]:
    """sigmoid's array rules (:func:`gradcli.numerics.vsigmoid`, ``vdsigmoid``), the
    same operations in the same order, so the same bits; the backward rule reuses
    the forward's exp(-|x|) instead of computing it again."""

    def forward(np: Any, x: Any) -> Any:
        z = np.exp(-np.abs(x))
        d = 1.0 + z
        side[i] = (z, d)
        # 1/d where x ≥ 0, else z/d: one division of the numerator picked (same bits)
        return np.where(x >= 0, 1.0, z) / d

    def backward(np: Any, x: Any, out: Any) -> Any:
        z, d = side[i]
        return np.where(x <= 0, out * (1.0 - out), z / (d * d))

    return forward, backward
