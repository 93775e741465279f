"""Reverse mode over the graph: a forward loop, then a reverse loop. No recursion.

The forward loop computes every node's value in topological order. The reverse
loop seeds the output with 1 and walks back, adding each consumer's contribution
``grad[consumer] · ∂consumer/∂input`` into the input's accumulated gradient (the
chain rule, summed over every consumer). A local gradient is computed only toward
a node that depends on a variable (or on a name asked for with ``wrt``), and a
node whose accumulated gradient is 0 passes 0 on without computing any.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import GradError, Span
from .graph import Graph, Node, _suggest, format_number, lower
from .ops import CONSTANTS, Undefined

Number = float | int


# --- results ----------------------------------------------------------------------


@dataclass(eq=False)
class NodeResult:
    """One node of an evaluated graph, as ``trace`` shows it."""

    id: int
    op: str
    label: str
    inputs: tuple[int, ...]
    value: float
    local_grads: list[float | None]  # ∂node/∂inputs[i]; None where not computed
    grad: float | None  # ∂output/∂node; None where the output does not depend on a variable through it
    span: Span

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "label": self.label,
            "inputs": list(self.inputs),
            "value": self.value,
            "local_grads": self.local_grads,
            "grad": self.grad,
        }


@dataclass(eq=False)
class Result:
    """The value of a program at a point and its gradient.

    ``inputs`` and ``gradient`` keep the order of first appearance (``gradient``
    follows ``wrt`` when given). ``values`` and ``grads`` are per node id;
    ``nodes`` builds the per-node view (with local gradients) on first use.
    """

    source: str
    output: str | None
    value: float
    inputs: dict[str, float]
    gradient: dict[str, float]
    graph: Graph
    values: list[float]
    grads: list[float | None]
    _nodes: list[NodeResult] | None = None

    @property
    def nodes(self) -> list[NodeResult]:
        if self._nodes is None:
            self._nodes = _node_results(self)
        return self._nodes

    def to_json(self, *, nodes: bool = False, source: bool = True) -> dict[str, Any]:
        """The SPEC §3 JSON object (``nodes`` for ``trace --json``)."""
        out: dict[str, Any] = {}
        if source:
            out["source"] = self.source
        out["output"] = self.output
        out["value"] = self.value
        out["inputs"] = dict(self.inputs)
        out["gradient"] = dict(self.gradient)
        if nodes:
            out["nodes"] = [n.to_json() for n in self.nodes]
        return out


# --- messages -----------------------------------------------------------------------


def _operand(value: float) -> str:
    text = format_number(value)
    return f"({text})" if value < 0 else text


def describe_call(node: Node, args: Iterable[float]) -> str:
    """``log(-1)``, ``1 / 0``, ``(-8) ^ 0.333``: an operation with its operand values."""
    op = node.op
    assert op is not None
    values = list(args)
    if op.symbol is None:
        return f"{op.name}({', '.join(format_number(v) for v in values)})"
    if op.arity == 1:
        return f"{op.symbol}{_operand(values[0])}"
    return f" {op.symbol} ".join(_operand(v) for v in values)


def _math_error(node: Node, args: list[float], exc: Exception, source: str) -> GradError:
    assert node.op is not None
    call = describe_call(node, args)
    if isinstance(exc, ZeroDivisionError):
        return GradError("division_by_zero", f"division by zero: {call}", node.span, source)
    if isinstance(exc, OverflowError):
        return GradError("overflow", f"overflow: {call} is too large for a float", node.span, source)
    return GradError(
        "domain",
        f"{call} is outside the domain of {node.op.signature} ({node.op.domain})",
        node.span,
        source,
    )


def _non_finite(node: Node, args: list[float], value: float, source: str) -> GradError:
    call = describe_call(node, args)
    if math.isnan(value):
        return GradError("domain", f"{call} is not a number", node.span, source)
    return GradError("overflow", f"overflow: {call} is too large for a float", node.span, source)


# --- the two loops ---------------------------------------------------------------------


def forward(graph: Graph, point: Mapping[str, float]) -> list[float]:
    """Every node's value, in topological order. ``point`` binds every input."""
    source = graph.source
    values: list[float] = [0.0] * len(graph.nodes)
    for node in graph.nodes:
        op = node.op
        if op is None:
            values[node.id] = node.value if node.kind == "const" else point[node.name]  # type: ignore[index]
            continue
        args = [values[i] for i in node.inputs]
        try:
            value = op.forward(*args)
        except (ValueError, ZeroDivisionError, OverflowError) as exc:
            raise _math_error(node, args, exc, source) from None
        if not math.isfinite(value):
            raise _non_finite(node, args, value, source)
        values[node.id] = value
    return values


def wanted_nodes(graph: Graph, extra: Iterable[int] = ()) -> list[bool]:
    """Which nodes need a gradient: those that depend on a variable or on ``extra``."""
    wanted = [False] * len(graph.nodes)
    for i in extra:
        wanted[i] = True
    for node in graph.nodes:
        if node.kind == "var":
            wanted[node.id] = True
        elif not wanted[node.id]:
            for i in node.inputs:
                if wanted[i]:
                    wanted[node.id] = True
                    break
    return wanted


def backward(graph: Graph, values: list[float], wanted: list[bool]) -> list[float | None]:
    """Accumulated gradients ∂output/∂node (None for nodes not wanted)."""
    source = graph.source
    nodes = graph.nodes
    grads: list[float | None] = [0.0 if w else None for w in wanted]
    grads[-1] = 1.0
    for node in reversed(nodes):
        op = node.op
        g = grads[node.id]
        if op is None or not g:  # leaves, constants, and nodes that pass 0 on
            continue
        args = [values[i] for i in node.inputs]
        out = values[node.id]
        for k, i in enumerate(node.inputs):
            if not wanted[i]:
                continue
            try:
                local = op.grads[k](*args, out)
            except Undefined as exc:
                raise GradError(
                    "gradient",
                    f"undefined gradient of {describe_call(node, args)}: {exc}",
                    node.span,
                    source,
                ) from None
            except (ValueError, ZeroDivisionError, OverflowError):
                local = math.inf
            contribution = g * local
            if not math.isfinite(contribution):
                raise GradError(
                    "gradient",
                    f"the gradient through {describe_call(node, args)} is not a finite number",
                    node.span,
                    source,
                )
            grads[i] += contribution  # type: ignore[operator]
    return grads


def local_gradients(graph: Graph, values: list[float], wanted: list[bool]) -> list[list[float | None]]:
    """∂node/∂input for every edge, None toward constants or where undefined."""
    out: list[list[float | None]] = []
    for node in graph.nodes:
        op = node.op
        if op is None:
            out.append([])
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
    return [
        NodeResult(
            node.id,
            node.op_name,
            labels[node.id],
            node.inputs,
            result.values[node.id],
            locals_[node.id],
            result.grads[node.id],
            node.span,
        )
        for node in graph.nodes
    ]


# --- bindings ----------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def constant_value(text: str, name: str = "value") -> float:
    """A binding's value: a number or a constant expression (``pi/4``, ``2^0.5``)."""
    text = text.strip()
    if _PLAIN_NUMBER.fullmatch(text):
        value = float(text)
    else:
        from .parse import parse

        try:
            graph = lower(parse(text))
        except GradError as err:
            raise GradError(
                "binding",
                f"the value of {name} is not a number: {err.message}",
                err.span,
                err.source,
            ) from None
        if graph.inputs:
            unknown = ", ".join(graph.inputs)
            hint = ""
            if any(n.lower() in ("inf", "infinity", "nan") for n in graph.inputs):
                hint = "; values must be finite numbers"
            raise GradError(
                "binding",
                f"the value of {name} is not a number: {text!r} uses {unknown}{hint}",
            )
        try:
            value = forward(graph, {})[-1]
        except GradError as err:
            raise GradError(
                "binding", f"the value of {name} is not a number: {err.message}", err.span, err.source
            ) from None
    if not math.isfinite(value):
        raise GradError("binding", f"the value of {name} is not a finite number: {text}")
    return value


def resolve_point(graph: Graph, bindings: Mapping[str, Any]) -> dict[str, float]:
    """Check ``bindings`` against the program's inputs and turn every value into a float."""
    for name in bindings:
        if name not in graph.inputs:
            raise GradError("binding", _unknown_binding(graph, name))
    missing = [name for name in graph.inputs if name not in bindings]
    if missing:
        listed = ", ".join(missing)
        example = " ".join(f"-{n} VALUE" if len(n) == 1 else f"--{n} VALUE" for n in missing)
        raise GradError(
            "binding",
            f"missing a value for {listed}: bind {'it' if len(missing) == 1 else 'them'}"
            f" as {example}",
        )
    point: dict[str, float] = {}
    for name in graph.inputs:
        raw = bindings[name]
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise GradError("binding", f"the value of {name} is not a number: {raw!r}")
        if isinstance(raw, str):
            point[name] = constant_value(raw, name)
        else:
            value = float(raw)
            if not math.isfinite(value):
                raise GradError("binding", f"the value of {name} is not a finite number: {raw!r}")
            point[name] = value
    return point


def _unknown_binding(graph: Graph, name: str) -> str:
    if name in CONSTANTS:
        return f"{name} is a constant and cannot be bound"
    if name in graph.names:
        return f"{name} is computed by the program and cannot be bound"
    inputs = ", ".join(graph.inputs) if graph.inputs else "none"
    return (
        f"a value for {name}, which the program does not use{_suggest(name, graph.inputs)};"
        f" its inputs are {inputs}"
    )


def resolve_wrt(graph: Graph, wrt: Iterable[str] | None) -> list[str]:
    """The names whose gradient is reported: inputs and named intermediates."""
    if wrt is None:
        return list(graph.inputs)
    names = list(wrt)
    for name in names:
        if name not in graph.inputs and name not in graph.names:
            known = [*graph.inputs, *graph.names]
            raise GradError(
                "usage",
                f"--wrt {name}: the program has no input or named value {name}"
                f"{_suggest(name, known)}; it has {', '.join(known) or 'none'}",
            )
    return names


# --- the API -------------------------------------------------------------------------


def run(
    graph: Graph,
    bindings: Mapping[str, Any],
    wrt: Iterable[str] | None = None,
) -> Result:
    """Evaluate a lowered graph at a point: value, gradient, per-node values and grads."""
    point = resolve_point(graph, bindings)
    names = resolve_wrt(graph, wrt)

    def node_of(name: str) -> int | None:
        return graph.inputs[name] if name in graph.inputs else graph.names[name]

    extra = [i for i in (node_of(n) for n in names) if i is not None]
    values = forward(graph, point)
    grads = backward(graph, values, wanted_nodes(graph, extra))
    gradient: dict[str, float] = {}
    for name in names:
        i = node_of(name)
        g = grads[i] if i is not None else 0.0
        gradient[name] = g if g is not None else 0.0
    return Result(
        source=graph.source,
        output=graph.output_name,
        value=values[-1],
        inputs=point,
        gradient=gradient,
        graph=graph,
        values=values,
        grads=grads,
    )


def compile(source: str, output: str | None = None) -> Graph:
    """Parse and lower ``source`` once; evaluate it at many points with :func:`run`."""
    from .parse import parse

    return lower(parse(source), output)


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
