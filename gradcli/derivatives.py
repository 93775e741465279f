"""The derivative program: a graph whose named results are a program's value and derivatives.

:class:`DerivativeProgram` is what :func:`gradcli.derive.derivative_program` builds:
the source's nodes followed by the derivative nodes, with the node of each first
(and, at order 2, second) derivative. It evaluates itself at a point (one forward
loop, a :class:`DerivativeValues`) or over NumPy arrays, words a math error in a
derivative node as an undefined derivative, and writes itself in the formats of
``gradcli diff`` (:mod:`gradcli.derivative_text`, :mod:`gradcli.derivative_latex`,
:mod:`gradcli.derivative_python`, each loaded only when asked for).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import GradError
from .graph import Graph, Node

#: The formats :meth:`DerivativeProgram.format` writes.
FORMATS = ("text", "latex", "python", "numpy", "json")


class DerivativeValues:
    """A derivative program evaluated at one point: ``value``; ``gradient`` (name ->
    float, in ``wrt`` order) per output; ``hessian`` (rows and columns in ``wrt``
    order, symmetric) at order 2, else None."""

    __slots__ = ("gradient", "hessian", "value")

    def __init__(self, value: float, gradient: dict[str, float], hessian: list[list[float]] | None) -> None:
        self.value = value
        self.gradient = gradient
        self.hessian = hessian

    def __repr__(self) -> str:
        return f"DerivativeValues(value={self.value!r}, gradient={self.gradient!r}, hessian={self.hessian!r})"


class DerivativeNodes:
    """A derivative program's nodes as the builder keeps them, as columns:
    ``operations[i]`` (None for a leaf) and ``ins[i]`` for every node, the source graph's first (ids
    ``0 .. base − 1``, the same nodes as ``source.nodes``); for the nodes after them,
    ``spans[i − base]`` and, for a constant, ``values[i]``. Printing reads these; the
    node objects of :meth:`graph` are made only when something asks for them."""

    __slots__ = ("_graph", "branches", "ins", "operations", "source", "spans", "values")

    def __init__(
        self,
        source: Graph,
        operations: list[Any],
        ins: list[tuple[int, ...]],
        spans: list[tuple[int, int]],
        values: dict[int, float],
        branches: bool,
    ) -> None:
        self.source = source
        self.operations = operations
        self.ins = ins
        self.spans = spans
        self.values = values
        self.branches = branches
        self._graph: Graph | None = None

    def graph(self) -> Graph:
        """The nodes as a :class:`~gradcli.graph.Graph` (made once, shared by the
        programs of several outputs): the source's own node objects, then one for
        each derivative node."""
        if self._graph is None:
            self._graph = self._make_graph()
        return self._graph

    def _make_graph(self) -> Graph:
        source = self.source
        nodes = list(source.nodes)
        base = len(nodes)
        ops, ins, spans, values = self.operations, self.ins, self.spans, self.values
        append = nodes.append
        for i in range(base, len(ops)):
            op = ops[i]
            if op is None:
                append(Node(i, "const", None, (), spans[i - base], None, values[i]))
            else:
                append(Node(i, "op", op, ins[i], spans[i - base]))
        out = Graph(nodes, source.inputs, source.names, source.output_name, source.source)
        out.branches = self.branches
        return out


class DerivativeProgram:
    """A program that computes a graph's output and its derivatives.

    ``graph`` holds the source's nodes (ids ``0 .. base − 1``, unchanged, the output
    ``value`` among them) followed by the derivative nodes. ``first[name]`` is the
    node of ∂out/∂name for each name of ``wrt``; at order 2, ``second[(a, b)]`` is the
    node of ∂²out/∂a∂b for each pair with ``a`` not after ``b`` in ``wrt``. A node
    may serve several derivatives (``(x+y)*z``: ∂/∂x and ∂/∂y are both ``z``).
    ``adjoints`` maps a named statement of the source to the node of ∂out/∂name, where
    the reverse pass made one (the printer names it ``d<out>_d<name>``).
    """

    def __init__(
        self,
        graph: Graph | DerivativeNodes,
        base: int,
        value: int,
        wrt: list[str],
        order: int,
        first: dict[str, int],
        second: dict[tuple[str, str], int],
        adjoints: dict[str, int],
        program: Any = None,
        label: str | None = None,
        refs: list[int] | None = None,
    ) -> None:
        # a graph, or the builder's columns to make one from when first asked for
        self._graph = graph if isinstance(graph, Graph) else None
        self.columns = graph if isinstance(graph, DerivativeNodes) else None
        self.source_graph: Graph = graph if isinstance(graph, Graph) else graph.source
        self.size = len(graph.nodes) if isinstance(graph, Graph) else len(graph.operations)
        self.base = base
        self.value = value
        self.wrt = wrt
        self.order = order
        self.first = first
        self.second = second
        self.adjoints = adjoints
        self.program = program  # the parsed source (its statements), when known
        self.label = label  # the output's display name, when not the graph's own output
        # per node, how many derivative nodes use it (the layout's counts, known from
        # pruning); None when not known
        self.refs = refs

    def __repr__(self) -> str:
        return (f"<DerivativeProgram of order {self.order} toward {self.wrt}:"
                f" {self.base} source nodes, {self.size} in all>")

    @property
    def graph(self) -> Graph:
        """The program as a graph: the source's nodes (ids ``0 .. base − 1``), then the
        derivative nodes (``size`` in all)."""
        if self._graph is None:
            self._graph = self.columns.graph()  # type: ignore[union-attr]
        return self._graph

    @property
    def source(self) -> str:
        return self.source_graph.source

    @property
    def output_label(self) -> str:
        """The output's display name: its statement name, or ``f`` (``out``, ...)."""
        return self.label or self.source_graph.output_label()

    @property
    def text(self) -> str:
        """The program in gradcli's language (what ``gradcli diff`` prints)."""
        return self.format("text")

    def format(self, fmt: str = "text") -> str:
        """The program as ``text`` (gradcli's language), ``latex`` (an ``align*``
        block), ``python`` (a module that imports only math), ``numpy`` or ``json``."""
        if fmt not in FORMATS:
            raise GradError("usage", f"--format {fmt}: the formats are {', '.join(FORMATS)}")
        if fmt == "latex":
            from .derivative_latex import program_latex

            return program_latex(self)
        if fmt in ("python", "numpy"):
            from .derivative_python import program_python

            return program_python(self, numpy=fmt == "numpy")
        from .derivative_text import program_json, program_text

        return program_text(self) if fmt == "text" else program_json(self)

    def outputs(self) -> list[int]:
        """Every node the program reports: the value, then each derivative."""
        return [self.value, *self.first.values(), *self.second.values()]

    def evaluate(self, point: Mapping[str, Any]) -> DerivativeValues:
        """The value and every derivative at ``point`` (a value for every input: a
        number, or a constant expression as a binding may be).

        A math error in a derivative node (``sqrt''(0)``, a division by zero that only
        the derivative makes) is a :class:`GradError` saying the derivative is
        undefined there, with the span of the source operation it belongs to."""
        from .bindings import resolve_point

        values = self._forward(resolve_point(self.graph, point))
        gradient = {name: values[i] for name, i in self.first.items()}
        hessian = None
        if self.order == 2:
            n = len(self.wrt)
            hessian = [[0.0] * n for _ in range(n)]
            for a in range(n):
                for b in range(a, n):
                    v = values[self.second[(self.wrt[a], self.wrt[b])]]
                    hessian[a][b] = hessian[b][a] = v
        return DerivativeValues(values[self.value], gradient, hessian)

    def _forward(self, point: Mapping[str, float]) -> list[float]:
        from .evaluate import forward

        try:
            if self.graph.branches:
                from .branches import forward_taken

                return forward_taken(self.graph, point, self.outputs())
            return forward(self.graph, point)
        except GradError as err:
            raise self._in_derivative(err) from None

    def _in_derivative(self, err: GradError) -> GradError:
        if err.node is None or err.node < self.base:
            return err  # the value itself fails: the error eval gives
        order = "second " if self.order == 2 and err.node > self._last_first() else ""
        err.message = f"undefined {order}derivative: {err.message}"
        err.kind = "gradient" if err.kind == "division_by_zero" else err.kind
        return err

    def _last_first(self) -> int:
        return max(self.first.values(), default=-1)

    def evaluate_arrays(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        """The value and every derivative at many points: ``columns`` maps every input
        to an array (all of one length). Returns ``{"value": array, "gradient": {name:
        array}, "hessian": [[array]] or None, "errors": {row: GradError}}``; a row
        that fails is NaN everywhere and its error is the one :meth:`evaluate` gives."""
        import math

        from .rows import Columns, array_floats
        from .vectorised import load_numpy

        np = load_numpy()
        unread: dict[int, GradError] = {}  # a cell that is no number (a bool, "1_000"): its row's error
        cols = {name: array_floats(np, columns[name], Columns(np, name, math.nan), unread, as_they_are=True)
                for name in self.graph.inputs}
        n = len(next(iter(cols.values()))) if cols else 1
        values: list[Any] = [None] * len(self.graph.nodes)
        with np.errstate(all="ignore"):
            for node in self.graph.nodes:
                if node.op is None:
                    values[node.id] = cols[node.name] if node.kind == "var" else np.float64(node.value)
                    continue
                args = [values[i] for i in node.inputs]
                values[node.id] = node.op.vforward(np, *args)  # type: ignore[misc]
        wanted = self.outputs()
        arrays = {i: np.broadcast_to(np.asarray(values[i], dtype=np.float64), (n,)).copy()
                  for i in set(wanted)}
        bad = np.zeros(n, dtype=bool)
        for i in set(wanted):
            bad |= ~np.isfinite(arrays[i])
        bad[list(unread)] = True
        errors: dict[int, GradError] = {}
        for r in np.flatnonzero(bad).tolist():  # the scalar pass: the value, or the error
            row: list[float] | None = None
            if r in unread:
                errors[r] = unread[r]
            else:
                try:
                    row = self._forward({name: float(col[r]) for name, col in cols.items()})
                except GradError as err:
                    errors[r] = err.kept()
            for i in arrays:
                arrays[i][r] = np.nan if row is None else row[i]
        gradient = {name: arrays[i] for name, i in self.first.items()}
        hessian = None
        if self.order == 2:
            hessian = [[arrays[self.second[tuple(sorted((a, b), key=self.wrt.index))]]  # type: ignore[index]
                        for b in self.wrt] for a in self.wrt]
        return {"value": arrays[self.value], "gradient": gradient, "hessian": hessian, "errors": errors}
