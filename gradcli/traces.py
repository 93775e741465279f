"""A trace: every node of an evaluated graph, as ``gradcli trace`` shows it.

:func:`trace` is the Python side of the ``trace`` command, as
:func:`gradcli.evaluate` is ``eval``'s: the same result, seen node by node. In
Jupyter a :class:`Trace` shows itself as the trace table (value, local gradients
and gradient per node, :mod:`gradcli.display`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .render import DEFAULT_PRECISION

if TYPE_CHECKING:
    from .display import Picture
    from .edges import Edge
    from .evaluate import NodeResult, Result
    from .graph import Graph


class Trace:
    """An evaluated program node by node: ``nodes`` (a :class:`NodeResult` each, inputs
    before their consumers, the output last), ``edges`` (what each use of a node adds
    to its gradient), and the :class:`Result` they come from as ``result``."""

    __slots__ = ("precision", "result")

    def __init__(self, result: Result, precision: int | None = DEFAULT_PRECISION) -> None:
        from .display import check_precision

        self.result = result
        self.precision = check_precision(precision)  # significant digits in the notebook's table

    @property
    def nodes(self) -> list[NodeResult]:
        return self.result.nodes

    @property
    def edges(self) -> list[Edge]:
        """One per (consumer, input position), in the order of ``trace --json``."""
        from .edges import edges

        return edges(self.result)

    @property
    def value(self) -> float:
        return self.result.value

    @property
    def gradient(self) -> dict[str, float]:
        return self.result.gradient

    @property
    def graph(self) -> Graph:
        return self.result.graph

    def to_json(self) -> dict[str, Any]:
        """The object ``trace --json`` prints."""
        return self.result.to_json(nodes=True)

    def explanation(self, precision: int | None = None) -> str:
        """The chain rule, node by node, with the numbers (what ``--explain`` prints)."""
        from .display import check_precision
        from .explain import explanation_lines

        digits = self.precision if precision is None else check_precision(precision)
        return "\n".join(explanation_lines(self.result, digits)) + "\n"

    def picture(self, precision: int | None = None) -> Picture:
        """The circuit with every wire's value and gradient (SVG in a notebook)."""
        from .display import Picture

        return Picture(self.result, self.precision if precision is None else precision)

    def __len__(self) -> int:
        return len(self.result.graph.nodes)

    def __repr__(self) -> str:  # shallow: a trace may hold a million nodes
        return f"<Trace of {len(self):,} nodes: value={self.value!r}, gradient={self.gradient!r}>"

    def _repr_html_(self) -> str | None:
        try:
            from .display import trace_html

            return trace_html(self.result, self.precision)
        except Exception:  # a repr never raises: the plain repr stays
            return None


def trace(
    source: str | Graph,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    output: str | None = None,
    wrt: Iterable[str] | None = None,
    **kw_bindings: Any,
) -> Trace:
    """Every node of ``source`` at a point (``gradcli trace``)::

        >>> t = trace("(x+y)*z", x=2, y=3, z=-4)
        >>> [(n.label, n.grad) for n in t.nodes]
        [('x', -4.0), ('y', -4.0), ('x + y', -4.0), ('z', 5.0), ('(x + y) * z', 1.0)]

    Takes what :func:`gradcli.evaluate` takes, or a compiled graph. Raises
    :class:`~gradcli.errors.GradError` for anything wrong.
    """
    from .api import evaluate, run
    from .graph import Graph

    if isinstance(source, Graph):
        if output is not None:
            from .errors import GradError

            raise GradError("usage", "output= is for a program's text: compile it with that output instead")
        point = dict(bindings or {})
        point.update(kw_bindings)
        return Trace(run(source, point, wrt))
    return Trace(evaluate(source, bindings, output=output, wrt=wrt, **kw_bindings))
