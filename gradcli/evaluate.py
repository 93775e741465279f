"""Reverse mode over the graph: a forward loop, then a reverse loop. No recursion.

This module is the evaluator only: a lowered graph and a point of floats in, a
:class:`Result` out. Reading the source is :mod:`gradcli.parse`, turning bindings
into floats :mod:`gradcli.bindings`, and the pipeline that joins them
:mod:`gradcli.api`.

The forward loop computes every node's value in topological order. The reverse
loop seeds the output with 1 and walks back, adding each consumer's contribution
``grad[consumer] · ∂consumer/∂input`` into the input's accumulated gradient (the
chain rule, summed over every consumer). A local gradient is computed only toward
a node that depends on a variable (or on a name asked for with ``wrt``), and a
node whose accumulated gradient is 0 passes 0 on without computing any.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import GradError, Span
from .graph import Graph, Node
from .ops import Undefined

if TYPE_CHECKING:
    from .display import Picture
    from .traces import Trace

# --- results ----------------------------------------------------------------------


class NodeResult:
    """One node of an evaluated graph, as ``trace`` shows it.

    ``evaluated`` is False for a node in a branch of ``if`` that was not taken (its
    ``value``, ``local_grads`` and ``grad`` are then None), True for the others, and
    None in a program without ``if``."""

    __slots__ = ("evaluated", "grad", "id", "inputs", "label", "local_grads", "op", "span", "value")

    def __init__(
        self,
        id: int,
        op: str,
        label: str,
        inputs: tuple[int, ...],
        value: float | None,
        local_grads: list[float | None],  # ∂node/∂inputs[i]; None where not computed
        grad: float | None,  # ∂output/∂node; None where the output does not depend on a variable through it
        span: Span,
        evaluated: bool | None = None,
    ) -> None:
        self.id = id
        self.op = op
        self.label = label
        self.inputs = inputs
        self.value = value
        self.local_grads = local_grads
        self.grad = grad
        self.span = span
        self.evaluated = evaluated

    def __repr__(self) -> str:
        return f"NodeResult({self.id}, {self.op!r}, {self.label!r}, value={self.value!r}, grad={self.grad!r})"

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "op": self.op,
            "label": self.label,
            "inputs": list(self.inputs),
            "value": self.value,
            "local_grads": self.local_grads,
            "grad": self.grad,
        }
        if self.evaluated is not None:  # a program with `if`: false in a branch not taken
            out["evaluated"] = self.evaluated
        return out


class Result:
    """The value of a program at a point and its gradient.

    ``inputs`` and ``gradient`` keep the order of first appearance (``gradient``
    follows ``wrt`` when given). ``values`` and ``grads`` are per node id
    (``values`` an array of floats, ``grads`` a list made from the reverse loop's
    :class:`Gradients` on first use); ``nodes`` builds the per-node view (with
    local gradients) on first use.

    (Plain classes rather than dataclasses here and in ``ops.Op``: building a
    dataclass costs every command about half a millisecond at start-up.)
    """

    __slots__ = ("_grads", "_nodes", "gradient", "graph", "inputs", "output", "source", "value", "values")

    def __init__(
        self,
        source: str,
        output: str | None,
        value: float,
        inputs: dict[str, float],
        gradient: dict[str, float],
        graph: Graph,
        values: Sequence[float],
        grads: list[float | None] | Gradients,
        _nodes: list[NodeResult] | None = None,
    ) -> None:
        self.source = source
        self.output = output
        self.value = value
        self.inputs = inputs
        self.gradient = gradient
        self.graph = graph
        self.values = values
        self._grads = grads
        self._nodes = _nodes

    def __repr__(self) -> str:  # shallow: the graph may hold a million nodes
        return f"Result(output={self.output!r}, value={self.value!r}, gradient={self.gradient!r})"

    @property
    def grads(self) -> list[float | None]:
        """∂output/∂node per node id, None where the output's gradient does not flow
        (a node that depends on no input asked for, a branch not taken)."""
        grads = self._grads
        if not isinstance(grads, list):
            grads = self._grads = grads.tolist()
        return grads

    @property
    def unused(self) -> list[str]:
        """The inputs the output does not depend on (their gradient is 0.0)."""
        return self.graph.unused()

    def value_of(self, name: str) -> float | None:
        """The value of a name the gradient reports: an input's binding, or a named
        statement's value (None for a name the output does not depend on)."""
        if name in self.inputs:
            return self.inputs[name]
        node_id = self.graph.names.get(name)
        return self.values[node_id] if node_id is not None else None

    @property
    def nodes(self) -> list[NodeResult]:
        if self._nodes is None:
            self._nodes = _node_results(self)
        return self._nodes

    def trace(self, precision: int | None = 6) -> Trace:
        """This result node by node (what ``gradcli trace`` shows; a table in Jupyter)."""
        from .traces import Trace

        return Trace(self, precision)

    def picture(self, precision: int | None = 6) -> Picture:
        """The circuit with every wire's value and gradient (SVG in Jupyter)."""
        from .display import Picture

        return Picture(self, precision)

    def _repr_html_(self) -> str | None:  # Jupyter: the table of value and gradient
        try:
            from .display import result_html

            return result_html(self)
        except Exception:  # a repr never raises: the plain repr stays
            return None

    def to_json(self, *, nodes: bool = False, source: bool = True) -> dict[str, Any]:
        """The object ``eval --json`` prints (with ``nodes`` for ``trace --json``)."""
        out: dict[str, Any] = {}
        if source:
            out["source"] = self.source
        out["output"] = self.output
        out["value"] = self.value
        out["inputs"] = dict(self.inputs)
        out["gradient"] = dict(self.gradient)
        unused = self.graph.unused()
        if unused:  # only with --output: a statement that does not use every input
            out["unused"] = unused
        if nodes:
            from .edges import edges_json

            out["nodes"] = [n.to_json() for n in self.nodes]
            out["edges"] = edges_json(self)
        return out


# --- the two loops ---------------------------------------------------------------------
#
# Both read the graph's columns (gradcli.columns): node k's operation is ops[k], its
# inputs args[first[k]:first[k + 1]]. One and two inputs, nearly every node, are
# read without making a list; a failure builds the node it names (graph.node).


def leaf_values(graph: Graph, point: Mapping[str, float]) -> array[float]:
    """A value per node: each constant's and each variable's (from ``point``), 0.0
    for the rest."""
    columns = graph.columns
    values = array("d", bytes(8 * graph.size))
    for k, value in columns.consts.items():
        values[k] = value
    for k, name in columns.variables().items():
        values[k] = point[name]
    return values


def forward(graph: Graph, point: Mapping[str, float], outputs: list[int] | None = None) -> array[float]:
    """Every node's value, in topological order, as an array of floats (8 bytes a
    node). ``point`` binds every input.

    With an ``if`` among the nodes only the branch taken is evaluated (by
    :mod:`gradcli.branches`), and a node not evaluated has the value NaN; ``outputs``
    are the nodes whose values are wanted there (default: the graph's output)."""
    if graph.branches:
        from .branches import forward_taken

        return forward_taken(graph, point, outputs)
    columns = graph.columns
    args, first = columns.args, columns.first
    values = leaf_values(graph, point)
    isfinite = math.isfinite
    hi = 0
    for k, op in enumerate(columns.ops):
        lo = hi
        hi = first[k + 1]
        if op is None:
            continue
        try:
            if hi - lo == 2:
                value = op.forward(values[args[lo]], values[args[lo + 1]])
            elif hi - lo == 1:
                value = op.forward(values[args[lo]])
            else:
                value = op.forward(*[values[i] for i in args[lo:hi]])
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            from .math_errors import math_error

            raise math_error(graph.node(k), operands(graph, values, k), exc, graph.source) from None
        if not isfinite(value):
            from .math_errors import non_finite_error

            raise non_finite_error(graph.node(k), operands(graph, values, k), value, graph.source)
        values[k] = value
    return values


def operands(graph: Graph, values: Sequence[float], k: int) -> list[float]:
    """The values of node ``k``'s inputs."""
    return [values[i] for i in graph.columns.inputs(k)]


def wanted_nodes(graph: Graph, targets: Iterable[int] | None = None) -> bytearray:
    """Which nodes need a gradient: those on a path from a target (node ids: the
    inputs or named values a gradient is asked for) to the output; every variable
    when ``targets`` is None.

    This is the one place that decides which gradients the reverse loop computes:
    :func:`backward` computes a local gradient only toward a wanted node, so a
    gradient nobody asked for (toward an input held fixed, ``sqrt(x)`` at x = 0 with
    ``--wrt w``) is never computed and cannot fail the run. A byte per node, 1 for
    wanted."""
    columns = graph.columns
    args, first = columns.args, columns.first
    wanted = bytearray(graph.size)
    if targets is None:
        targets = columns.variables()
    for i in targets:
        wanted[i] = 1
    hi = 0
    for k in range(graph.size):
        lo = hi
        hi = first[k + 1]
        if wanted[k]:
            continue
        if hi - lo == 2:
            if wanted[args[lo]] or wanted[args[lo + 1]]:
                wanted[k] = 1
        elif hi - lo == 1:
            if wanted[args[lo]]:
                wanted[k] = 1
        elif hi > lo:
            for i in args[lo:hi]:
                if wanted[i]:
                    wanted[k] = 1
                    break
    return wanted


class Gradients:
    """What the reverse loop leaves: ∂output/∂node for every node as an array of
    floats (0.0 where a node has none), and which nodes have one (``has``: the
    wanted nodes, and the node the loop was seeded at). 9 bytes a node, where a list
    of floats takes 40; ``tolist()`` makes the list with None for no gradient."""

    __slots__ = ("grads", "has")

    def __init__(self, grads: array[float], has: bytearray) -> None:
        self.grads = grads
        self.has = has

    def __len__(self) -> int:
        return len(self.grads)

    def __getitem__(self, i: int) -> float | None:
        return self.grads[i] if self.has[i] else None

    def tolist(self) -> list[float | None]:
        return [g if h else None for g, h in zip(self.grads, self.has, strict=True)]


def backward(
    graph: Graph, values: Sequence[float], wanted: Sequence[int], output: int | None = None
) -> list[float | None]:
    """Accumulated gradients ∂output/∂node (None for nodes not wanted, and for nodes
    in a branch not taken: they have no gradient). ``output`` seeds another node than
    the graph's output (a row of a Jacobian); nodes after it get 0."""
    return gradients(graph, values, wanted, output).tolist()


def gradients(
    graph: Graph, values: Sequence[float], wanted: Sequence[int], output: int | None = None
) -> Gradients:
    """:func:`backward`'s gradients as :class:`Gradients` (no Python float per node)."""
    if graph.branches:
        from .branches import taken_mask

        wanted = taken_mask(values, wanted)
    has = bytearray(wanted)
    seed = graph.size - 1 if output is None else output
    has[seed] = 1
    grads = array("d", bytes(8 * graph.size))
    grads[seed] = 1.0
    try:
        _reverse(graph, values, wanted, grads)
    except GradError as err:
        raise _born_in_backward(graph, err) from None
    return Gradients(grads, has)


def _born_in_backward(graph: Graph, err: GradError) -> GradError:
    """Name the backward pass and the input toward which the gradient failed (set
    aside by :func:`_reverse` as ``err.node`` and a ``toward`` id)."""
    node, toward = err.node, getattr(err, "toward", None)
    if err.stage == "backward" and node is not None:
        err.stage = None
        name = graph.labels()[toward] if toward is not None else graph.labels()[node]
        err.at(f"backward toward {name}", node)
    return err


def _reverse(graph: Graph, values: Sequence[float], wanted: Sequence[int], grads: array[float]) -> None:
    columns = graph.columns
    ops, args, first = columns.ops, columns.args, columns.first
    isfinite = math.isfinite
    hi = first[graph.size]
    for k in range(graph.size - 1, -1, -1):
        lo = first[k]
        inputs = args[lo:hi] if hi - lo > 2 else None
        count = hi - lo
        hi = lo
        g = grads[k]
        if not g:  # constants, and nodes that pass 0 on
            continue
        if not isfinite(g):  # every contribution was finite, but their sum is not
            from .math_errors import sum_overflow

            raise sum_overflow(graph, k).at("backward", k)
        op = ops[k]
        if op is None:  # leaves
            continue
        rules = op.grads
        out = values[k]
        if count == 1:
            i = args[lo]
            if not wanted[i]:
                continue
            try:
                local = rules[0](values[i], out)
            except (Undefined, ZeroDivisionError, OverflowError, ValueError) as exc:
                raise _gradient_error(graph, values, k, 0, exc) from None
            contribution = g * local
            if not isfinite(contribution):
                raise _gradient_error(graph, values, k, 0, None, g, local)
            grads[i] += contribution
            continue
        if count == 2:
            i = args[lo]
            j = args[lo + 1]
            a = values[i]
            b = values[j]
            if wanted[i]:
                try:
                    local = rules[0](a, b, out)
                except (Undefined, ZeroDivisionError, OverflowError, ValueError) as exc:
                    raise _gradient_error(graph, values, k, 0, exc) from None
                contribution = g * local
                if not isfinite(contribution):
                    raise _gradient_error(graph, values, k, 0, None, g, local)
                grads[i] += contribution
            if wanted[j]:
                try:
                    local = rules[1](a, b, out)
                except (Undefined, ZeroDivisionError, OverflowError, ValueError) as exc:
                    raise _gradient_error(graph, values, k, 1, exc) from None
                contribution = g * local
                if not isfinite(contribution):
                    raise _gradient_error(graph, values, k, 1, None, g, local)
                grads[j] += contribution
            continue
        if inputs is None:  # no inputs
            continue
        argv = [values[i] for i in inputs]
        for position, i in enumerate(inputs):
            if not wanted[i]:
                continue
            try:
                local = rules[position](*argv, out)
            except (Undefined, ZeroDivisionError, OverflowError, ValueError) as exc:
                raise _gradient_error(graph, values, k, position, exc) from None
            contribution = g * local
            if not isfinite(contribution):
                raise _gradient_error(graph, values, k, position, None, g, local)
            grads[i] += contribution


def _gradient_error(
    graph: Graph,
    values: Sequence[float],
    k: int,
    position: int,
    exc: Exception | None,
    g: float = 0.0,
    local: float = 0.0,
) -> GradError:
    """What failed in the reverse loop at node ``k`` toward its input at ``position``:
    its local gradient raised ``exc``, or (``exc`` None) the local gradient ``local``
    times the gradient ``g`` flowing in is not finite."""
    from .math_errors import chain_overflow, describe_call, local_gradient_error

    node = graph.node(k)
    args = operands(graph, values, k)
    source = graph.source
    if isinstance(exc, Undefined):
        err = GradError(
            "gradient",
            f"undefined gradient of {describe_call(node, args)}: {exc}",
            node.span,
            source,
        )
    elif isinstance(exc, (ZeroDivisionError, OverflowError)):
        err = local_gradient_error(node, args, position, math.inf, source)
    elif exc is not None:  # ValueError
        err = local_gradient_error(node, args, position, None, source)
    elif not math.isfinite(local):
        err = local_gradient_error(node, args, position, None if math.isnan(local) else local, source)
    else:
        err = chain_overflow(node, args, position, g, local, source)
    return _toward_input(err, node, node.inputs[position])


def _toward_input(err: GradError, node: Node, i: int) -> GradError:
    """Mark ``err`` as born in the backward pass at ``node``, toward its input ``i``."""
    err.at("backward", node.id)
    err.toward = i  # type: ignore[attr-defined]
    return err


def local_gradients(
    graph: Graph, values: Sequence[float], wanted: Sequence[int]
) -> list[list[float | None]]:
    """∂node/∂input for every edge, None toward constants or where undefined."""
    out: list[list[float | None]] = []
    for node in graph.nodes:
        op = node.op
        if op is None:
            out.append([])
            continue
        if values[node.id] != values[node.id]:  # not evaluated: a branch not taken
            out.append([None] * len(node.inputs))
            continue
        args = [values[i] for i in node.inputs]
        row: list[float | None] = []
        for k, i in enumerate(node.inputs):
            if not wanted[i]:
                row.append(None)
                continue
            try:
                local = op.grads[k](*args, values[node.id])
            except (Undefined, ValueError, ZeroDivisionError, OverflowError):
                local = None
            row.append(local if local is None or math.isfinite(local) else None)
        out.append(row)
    return out


def _node_results(result: Result) -> list[NodeResult]:
    graph = result.graph
    wanted = [g is not None for g in result.grads]
    locals_ = local_gradients(graph, result.values, wanted)
    labels = graph.labels()
    values: list[float | None] = list(result.values)
    evaluated: list[bool | None] = [None] * len(values)
    if graph.branches:  # NaN marks a node in a branch not taken
        evaluated = [v == v for v in result.values]
        values = [v if e else None for v, e in zip(result.values, evaluated, strict=True)]
    return [
        NodeResult(
            node.id,
            node.op_name,
            labels[node.id],
            node.inputs,
            values[node.id],
            locals_[node.id],
            result.grads[node.id],
            node.span,
            evaluated[node.id],
        )
        for node in graph.nodes
    ]


def value_and_grad(graph: Graph, point: Mapping[str, float], names: list[str]) -> Result:
    """The value at ``point`` (a float for every input) and the gradient toward
    ``names`` (inputs or named intermediates of the graph, already checked)."""

    def node_of(name: str) -> int | None:
        return graph.inputs[name] if name in graph.inputs else graph.names[name]

    extra = [i for i in (node_of(n) for n in names) if i is not None]
    values = forward(graph, point)
    grads = gradients(graph, values, wanted_nodes(graph, extra))
    gradient: dict[str, float] = {}
    for name in names:
        i = node_of(name)
        g = grads[i] if i is not None else 0.0
        gradient[name] = g if g is not None else 0.0
    return Result(
        source=graph.source,
        output=graph.output_name,
        value=values[-1],
        inputs=dict(point),
        gradient=gradient,
        graph=graph,
        values=values,
        grads=grads,
    )
