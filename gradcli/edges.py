"""Edges: what each use of a node adds to its gradient.

An edge is one (consumer, input position) pair of the graph. Its contribution is
``upstream · local``: the consumer's accumulated gradient ∂f/∂consumer times the
local gradient ∂consumer/∂input, exactly the term the reverse loop adds into the
input's gradient. So for every node with a gradient, the contributions on the
edges into it add up to that gradient: ``x*x`` at 3 has two edges from x, each
contributing 3, and x's gradient is 6.

This is bookkeeping over a finished :class:`~gradcli.evaluate.Result`, not a
second evaluator: the upstream values are the result's own gradients and the
local gradients are the ones ``trace`` shows. A contribution is None (JSON
``null``) where its local gradient or its upstream was not computed.

The edges of a result are the wires on a path to its own output: for one of several
outputs sharing a graph (``--output a,b``), the wires only the others use are left
out (they carry nothing toward it), as a program of that output alone would have;
the node ids stay the shared graph's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluate import Result
    from .graph import Graph


class Edge:
    """One use of ``input`` by ``consumer``, as its operand number ``position``."""

    __slots__ = ("consumer", "contribution", "input", "local", "position", "upstream")

    def __init__(
        self,
        consumer: int,
        input: int,
        position: int,
        upstream: float | None,
        local: float | None,
        contribution: float | None,
    ) -> None:
        self.consumer = consumer
        self.input = input
        self.position = position
        self.upstream = upstream
        self.local = local
        self.contribution = contribution

    def __repr__(self) -> str:
        return f"Edge({self.consumer} <- {self.input}[{self.position}], contribution={self.contribution!r})"

    def to_json(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "input": self.input,
            "position": self.position,
            "upstream": self.upstream,
            "local": self.local,
            "contribution": self.contribution,
        }


def contribution(upstream: float | None, local: float | None) -> float | None:
    """``upstream · local``, None where either was not computed (or the product is
    not finite: the evaluator would have stopped with an error there)."""
    if upstream is None or local is None:
        return None
    product = upstream * local
    return product if math.isfinite(product) else None


def on_paths(graph: Graph, root: int) -> list[bool]:
    """For every node of ``graph``, whether it lies on a path to the node ``root``
    (``root`` included): one loop back from it, inputs coming before consumers."""
    nodes = graph.nodes
    needed = [False] * len(nodes)
    needed[root] = True
    for i in range(root, -1, -1):
        if needed[i]:
            for j in nodes[i].inputs:
                needed[j] = True
    return needed


def _wired(result: Result) -> list[bool]:
    """The consumers whose wires reach the result's own output (its statement's node
    when it is one of several outputs sharing the graph, else the graph's last)."""
    graph = result.graph
    named = graph.names.get(result.output) if result.output is not None else None
    return on_paths(graph, graph.output if named is None else named)


def edges(result: Result) -> list[Edge]:
    """Every edge on a path to the result's output: consumers in topological order,
    each consumer's inputs by position."""
    grads = result.grads
    wired = _wired(result)
    out: list[Edge] = []
    append = out.append
    for node in result.nodes:
        if not wired[node.id]:
            continue
        upstream = grads[node.id]
        for k, (i, local) in enumerate(zip(node.inputs, node.local_grads, strict=True)):
            append(Edge(node.id, i, k, upstream, local, contribution(upstream, local)))
    return out


def edges_json(result: Result) -> list[dict[str, Any]]:
    """The ``edges`` of ``trace --json`` (built as dicts directly: a 10^5-node trace
    has twice as many edges)."""
    grads = result.grads
    wired = _wired(result)
    out: list[dict[str, Any]] = []
    append = out.append
    isfinite = math.isfinite
    for node in result.nodes:
        consumer = node.id
        if not wired[consumer]:
            continue
        upstream = grads[consumer]
        k = 0
        for i, local in zip(node.inputs, node.local_grads, strict=True):
            if upstream is None or local is None:
                product = None
            else:
                product = upstream * local
                if not isfinite(product):
                    product = None
            append({
                "consumer": consumer, "input": i, "position": k,
                "upstream": upstream, "local": local, "contribution": product,
            })
            k += 1
    return out


def incoming(result: Result) -> list[list[Edge]]:
    """For every node, the edges into it (its uses), in the order of :func:`edges`."""
    into: list[list[Edge]] = [[] for _ in result.graph.nodes]
    for edge in edges(result):
        into[edge.input].append(edge)
    return into


def contribution_sum(uses: list[Edge]) -> float | None:
    """The sum of the computed contributions of a node's uses (None if there are none)."""
    values = [e.contribution for e in uses if e.contribution is not None]
    return math.fsum(values) if values else None
