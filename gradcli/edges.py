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
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluate import Result


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


def edges(result: Result) -> list[Edge]:
    """Every edge of the result's graph: consumers in topological order, each
    consumer's inputs by position."""
    grads = result.grads
    out: list[Edge] = []
    append = out.append
    for node in result.nodes:
        upstream = grads[node.id]
        for k, (i, local) in enumerate(zip(node.inputs, node.local_grads, strict=True)):
            append(Edge(node.id, i, k, upstream, local, contribution(upstream, local)))
    return out


def edges_json(result: Result) -> list[dict[str, Any]]:
    """The ``edges`` of ``trace --json`` (built as dicts directly: a 10^5-node trace
    has twice as many edges)."""
    grads = result.grads
    out: list[dict[str, Any]] = []
    append = out.append
    isfinite = math.isfinite
    for node in result.nodes:
        consumer = node.id
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
