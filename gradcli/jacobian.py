"""Several outputs at once: the rows of the Jacobian, one forward pass for all.

``--output a,b`` lowers one graph that keeps what any output depends on
(:func:`gradcli.graph.lower_outputs`), runs the forward pass once, then one reverse
pass per output, seeded at that output's node. Each output gets a
:class:`~gradcli.evaluate.Result` of its own that shares the forward values; the
first output's is what ``value`` and ``gradient`` report, as with one output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .bindings import resolve_point, resolve_wrt
from .errors import GradError
from .evaluate import Result, forward, gradients, wanted_nodes
from .graph import Graph


class Jacobian:
    """The values and gradients of several outputs at one point.

    ``outputs`` are the output names in the order asked for; ``results`` one
    :class:`Result` per output (the same forward values, each with its own reverse
    pass); ``values`` maps an output to its value, ``jacobian`` an output to its
    gradient (a row of the Jacobian)."""

    __slots__ = ("graph", "outputs", "results")

    def __init__(self, graph: Graph, outputs: list[str], results: list[Result]) -> None:
        self.graph = graph
        self.outputs = outputs
        self.results = results

    def __repr__(self) -> str:
        return f"Jacobian(outputs={self.outputs!r}, values={self.values!r})"

    def _repr_html_(self) -> str | None:  # Jupyter: a row per output, a column per name
        try:
            from .display import jacobian_html

            return jacobian_html(self)
        except Exception:  # a repr never raises: the plain repr stays
            return None

    @property
    def first(self) -> Result:
        """The first output's result: what ``value`` and ``gradient`` report."""
        return self.results[0]

    @property
    def values(self) -> dict[str, float]:
        return {name: r.value for name, r in zip(self.outputs, self.results, strict=True)}

    @property
    def jacobian(self) -> dict[str, dict[str, float]]:
        return {name: dict(r.gradient) for name, r in zip(self.outputs, self.results, strict=True)}

    def to_json(self, *, nodes: bool = False, source: bool = True) -> dict[str, Any]:
        """The first output's ``eval --json`` object (``trace --json`` with ``nodes``),
        plus ``values`` and ``jacobian``; with ``nodes`` each node also has ``grads``:
        its gradient toward every output (``grad`` stays the first output's)."""
        out = self.first.to_json(nodes=nodes, source=source)
        out["values"] = self.values
        out["jacobian"] = self.jacobian
        if nodes:
            for k, node in enumerate(out["nodes"]):
                node["grads"] = {name: r.grads[k] for name, r in zip(self.outputs, self.results, strict=True)}
        return out


def output_list(outputs: str | Iterable[str]) -> list[str]:
    """Output names from ``"a,b"`` or a list: at least one, none empty, none twice."""
    given = outputs.split(",") if isinstance(outputs, str) else list(outputs)
    names = [str(name).strip() for name in given]
    shown = ",".join(names)
    if not names or not all(names):
        raise GradError(
            "usage", f"--output {shown}: give statement names separated by commas, as in --output a,b"
        )
    twice = next((name for k, name in enumerate(names) if name in names[:k]), None)
    if twice is not None:
        raise GradError("usage", f"--output {shown}: {twice} is given twice")
    return names


def compile_outputs(source: str, outputs: str | Iterable[str]) -> tuple[Graph, list[str], list[int]]:
    """Parse and lower ``source`` once for several outputs: the graph, the output
    names, and each output's node id."""
    from .api import compile_program

    names = output_list(outputs)
    graph, ids = compile_program(source, names)
    return graph, names, ids


def run_outputs(
    graph: Graph,
    names: list[str],
    ids: list[int],
    bindings: Mapping[str, Any],
    wrt: Iterable[str] | None = None,
) -> Jacobian:
    """One forward pass, then one reverse pass per output."""
    point = resolve_point(graph, bindings)
    reported = resolve_wrt(graph, wrt)

    def node_of(name: str) -> int | None:
        return graph.inputs[name] if name in graph.inputs else graph.names[name]

    extra = [i for i in (node_of(n) for n in reported) if i is not None]
    values = forward(graph, point, ids)
    wanted = wanted_nodes(graph, extra)
    results = []
    for name, out in zip(names, ids, strict=True):
        grads = gradients(graph, values, wanted, out)
        gradient: dict[str, float] = {}
        for shown in reported:
            i = node_of(shown)
            g = grads[i] if i is not None else None
            gradient[shown] = g if g is not None else 0.0
        results.append(Result(
            source=graph.source, output=name, value=values[out], inputs=dict(point),
            gradient=gradient, graph=graph, values=values, grads=grads,
        ))
    return Jacobian(graph, names, results)


def jacobian(
    source: str,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    outputs: str | Iterable[str],
    wrt: Iterable[str] | None = None,
    **kw_bindings: Any,
) -> Jacobian:
    """Values and gradients of several outputs (statement names) at a point::

        >>> j = jacobian("a = x*y; b = x + y", outputs=["a", "b"], x=2, y=3)
        >>> j.values, j.jacobian
        ({'a': 6.0, 'b': 5.0}, {'a': {'x': 3.0, 'y': 2.0}, 'b': {'x': 1.0, 'y': 1.0}})

    One forward pass and one reverse pass per output. ``outputs`` is a list or
    ``"a,b"``. Raises :class:`~gradcli.errors.GradError` for anything wrong."""
    point = dict(bindings or {})
    point.update(kw_bindings)
    graph, names, ids = compile_outputs(source, outputs)
    return run_outputs(graph, names, ids, point, wrt)


def own_output(result: Result) -> Result:
    """``result`` with the graph of what its own output depends on, that output last.

    The results of several outputs share one graph whose last node is the output
    lowered last; a picture or a walk through the passes of the first output starts
    from that output instead, and leaves out what only the others use. A result whose
    graph is its output's alone comes back as it is."""
    graph = result.graph
    root = graph.names.get(result.output) if result.output is not None else None
    if root is None:
        return result
    from .edges import on_paths

    needed = on_paths(graph, root)
    if root == graph.output and all(needed):
        return result
    import copy

    from .graph import Graph

    new_id = [-1] * (root + 1)
    kept = []
    for i in range(root + 1):
        if needed[i]:
            node = copy.copy(graph.nodes[i])  # the shared graph's nodes stay as they are
            new_id[i] = len(kept)
            node.id = len(kept)
            node.inputs = tuple([new_id[j] for j in node.inputs])
            kept.append(node)

    def renumber(old: int | None) -> int | None:
        return new_id[old] if old is not None and old <= root and needed[old] else None

    own = Graph(
        kept,
        {name: renumber(i) for name, i in graph.inputs.items()},
        {name: renumber(i) for name, i in graph.names.items()},
        result.output,
        graph.source,
    )
    own.branches = graph.branches
    old = [i for i in range(root + 1) if needed[i]]
    return Result(
        source=result.source, output=result.output, value=result.value, inputs=result.inputs,
        gradient=result.gradient, graph=own, values=[result.values[i] for i in old],
        grads=[result.grads[i] for i in old],
    )
