"""Second derivatives: the Hessian of a program's output at a point.

The first derivatives come from the derivative engine (:mod:`gradcli.derive`): the
gradient as a graph of the same operations, built once per program. The Hessian is
that graph differentiated once more, in forward mode: one pass over its nodes in
topological order carries, for every node, its derivative toward each of the ``wrt``
inputs at once (a NumPy vector of length n), each step ``ṫ = Σ ∂node/∂input · ṫ_input``
with the local derivatives of the operation table (:mod:`gradcli.ops`), the rules
the evaluator's reverse loop uses. Row a of the Hessian is the vector of the node
∂f/∂a. A lazy ``if`` in the derivative graph (the engine's guards, the program's own
branches) is followed down the branch taken only, so a derivative that is undefined
only where nothing flows through it is never computed.

One forward pass and one tangent pass per point: an n-input Hessian costs about one
evaluation of the first-derivative program (≤ 5× the source's nodes) with vectors of
n numbers, not n reverse passes. :class:`SecondOrder` runs both passes through a
plan made once per program (:mod:`gradcli.hessian_plan`: level by level over whole
arrays, the same numbers); the node-by-node passes here are the reference it is held
to, and run wherever it declines (a value or derivative that is not finite), so
every error is worded here. The upper triangle (row a, column b ≥ a) is
computed and mirrored, so the matrix is exactly symmetric, as
``derivative_program(order=2)`` gives it.

NumPy is imported when a Hessian is computed, never by ``import gradcli`` or ``eval``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import GradError
from .graph import Graph


class HessianResult:
    """The value, gradient and Hessian of a program's output at a point.

    ``wrt`` are the names of the rows and columns, in order; ``hessian[i][j]`` is
    ∂²f/∂wrt[i]∂wrt[j] (a list of lists of floats, symmetric); ``gradient`` maps
    every name of ``wrt`` to ∂f/∂name; ``inputs`` is the point."""

    __slots__ = ("gradient", "graph", "hessian", "inputs", "output", "source", "value", "wrt")

    def __init__(
        self,
        graph: Graph,
        value: float,
        inputs: dict[str, float],
        wrt: list[str],
        gradient: dict[str, float],
        hessian: list[list[float]],
    ) -> None:
        self.graph = graph
        self.source = graph.source
        self.output = graph.output_name
        self.value = value
        self.inputs = inputs
        self.wrt = wrt
        self.gradient = gradient
        self.hessian = hessian

    def __repr__(self) -> str:
        return f"HessianResult(value={self.value!r}, gradient={self.gradient!r}, hessian={self.hessian!r})"

    @property
    def unused(self) -> list[str]:
        return self.graph.unused()

    def value_of(self, name: str) -> float | None:
        """The value of a name the gradient reports (an input: a Hessian is toward inputs)."""
        return self.inputs.get(name)

    def to_json(self, *, source: bool = True) -> dict[str, Any]:
        """``eval --json``'s object, plus ``wrt`` and ``hessian`` (what ``hessian --json`` prints)."""
        out: dict[str, Any] = {}
        if source:
            out["source"] = self.source
        out["output"] = self.output
        out["value"] = self.value
        out["inputs"] = dict(self.inputs)
        out["gradient"] = dict(self.gradient)
        unused = self.graph.unused()
        if unused:
            out["unused"] = unused
        out["wrt"] = list(self.wrt)
        out["hessian"] = [list(row) for row in self.hessian]
        return out


class SecondOrder:
    """A program made ready for Hessians at many points (``descend --method newton``
    evaluates one at every step): the first-derivative program is built once."""

    def __init__(self, graph: Graph, wrt: Iterable[str] | None = None) -> None:
        from .bindings import chosen_inputs
        from .derive import derivative_program

        self.graph = graph
        self.wrt = chosen_inputs(graph, wrt)  # inputs only: a named statement is computed
        self.program = derivative_program(graph, self.wrt, order=1)
        dgraph = self.program.graph
        self.first = [self.program.first[name] for name in self.wrt]
        # the wrt inputs' nodes (None: the output does not use it; its row is 0)
        self.seeds = [graph.inputs[name] for name in self.wrt]
        self.outputs = [self.program.value, *self.first]
        # Which nodes of the derivative graph depend on a wrt input: only those carry
        # a tangent. One loop, inputs before consumers.
        moving = bytearray(len(dgraph.nodes))
        for i in self.seeds:
            if i is not None:
                moving[i] = 1
        for node in dgraph.nodes:
            if not moving[node.id] and any(moving[j] for j in node.inputs):
                moving[node.id] = 1
        self.moving = moving
        from .hessian_native import native_plan

        # the same passes in C, where gradcli was built with its kernel and the kernel
        # knows every operation (the plan, then the node-by-node passes, decide
        # wherever it declines)
        self.native = native_plan(dgraph, self.seeds, moving, self.first, self.program.value)
        self._plan: Any = None

    @property
    def plan(self) -> Any:
        """The same passes over whole levels of nodes (:mod:`gradcli.hessian_plan`),
        made on first use: with the kernel, only where it declines a point."""
        if self._plan is None:
            from .hessian_plan import TangentPlan
            from .vectorised import load_numpy

            self._plan = TangentPlan(load_numpy(), self.program.graph, self.seeds, self.moving)
        return self._plan

    def at(self, bindings: Mapping[str, Any]) -> HessianResult:
        """Value, gradient and Hessian at a point (bindings as :func:`gradcli.run` takes them)."""
        from .bindings import resolve_point

        point = resolve_point(self.graph, bindings)
        if self.native is not None:
            got = self.native.run(point)
            if got is not None:
                return self._result(point, *got)
        values, array = self._values(point)
        hessian = self.plan.hessian(values, array, self.first)
        if hessian is None:
            hessian = self._exact_hessian(values)
        return self._result(point, values, hessian)

    def reference_at(self, bindings: Mapping[str, Any]) -> HessianResult:
        """:meth:`at` node by node, without the plan: the reference the plan is held
        to (the same numbers, bit for bit, or the same error)."""
        from .bindings import resolve_point
        from .evaluate import forward

        point = resolve_point(self.graph, bindings)
        try:
            values = forward(self.program.graph, point, self.outputs)
        except GradError as err:
            raise self._undefined(err, point) from None
        return self._result(point, values, self._exact_hessian(values))

    def _result(
        self, point: dict[str, float], values: Sequence[float], hessian: list[list[float]]
    ) -> HessianResult:
        gradient = {name: values[i] + 0.0 for name, i in zip(self.wrt, self.first, strict=True)}
        return HessianResult(self.graph, values[self.program.value], point, self.wrt, gradient, hessian)

    def _values(self, point: Mapping[str, float]) -> tuple[list[float], Any]:
        """The derivative program's values at ``point`` (NaN: a branch not taken), and
        the same as an array when the plan made one."""
        from .evaluate import forward

        dgraph = self.program.graph
        if not dgraph.branches:
            got = self.plan.values(point)
            if got is not None:
                return got
        try:
            return forward(dgraph, point, self.outputs), None
        except GradError as err:
            raise self._undefined(err, point) from None

    def _exact_hessian(self, values: list[float]) -> list[list[float]]:
        """The Hessian node by node: the reference the plan is held to, and the pass
        that words every error (an undefined second derivative, an overflow)."""
        tangents = self._tangents(values)
        n = len(self.wrt)
        hessian = [[0.0] * n for _ in range(n)]
        for a, node in enumerate(self.first):
            row = tangents[node]
            if row is None:
                continue
            entries = row.tolist()
            for b in range(a, n):
                hessian[a][b] = hessian[b][a] = entries[b] + 0.0  # + 0.0: no -0.0 from a product
        for a, row_values in enumerate(hessian):
            for b, v in enumerate(row_values):
                if not math.isfinite(v):
                    raise GradError(
                        "overflow",
                        f"overflow: ∂²f/∂{self.wrt[a]}∂{self.wrt[b]} is too large for a float",
                    )
        return hessian

    def mean_at(self, bindings: Mapping[str, Any], columns: Mapping[str, Any]) -> HessianResult:
        """Value, gradient and Hessian of the output's mean over rows of data (a loss
        averaged over a data set, for Newton's method in a training loop).

        ``columns`` binds the data inputs, each to a sequence of row values (all of
        one length, at least one row); ``bindings`` binds the others (the parameters,
        usually ``wrt``) to one value each. The derivative program runs over NumPy
        arrays, one pass for every row at once; a row whose value or derivatives are
        not finite is evaluated alone, so its error is the one :meth:`at` gives, with
        the row's number (from 1)."""
        from .bindings import resolve_point
        from .vectorised import load_numpy

        np = load_numpy()
        scalars = {name: value for name, value in bindings.items() if name not in columns}
        data = {name: np.ascontiguousarray(columns[name], dtype=np.float64).reshape(-1) for name in columns}
        rows = {len(col) for col in data.values()}
        if len(rows) != 1 or 0 in rows:
            raise GradError("usage", "the data columns must have one length, at least one row")
        (count,) = rows
        # the bindings checked as at one point: a missing or unknown name, a bad value
        point = resolve_point(self.graph, {**scalars, **{name: float(col[0]) for name, col in data.items()}})
        values, tangents = self._array_pass(np, {**point, **data}, count)
        n = len(self.wrt)
        value = np.broadcast_to(values[self.program.value], (count,))
        grads = [np.broadcast_to(values[i], (count,)) for i in self.first]
        rows_h = [
            np.zeros((count, n)) if tangents[i] is None else np.broadcast_to(tangents[i], (count, n))
            for i in self.first
        ]
        bad = ~np.isfinite(value)
        for g, h in zip(grads, rows_h, strict=True):
            bad |= ~np.isfinite(g) | ~np.all(np.isfinite(h), axis=1)
        for r in np.flatnonzero(bad).tolist()[:1]:  # the first row that fails says why
            try:
                self.at({**scalars, **{name: float(col[r]) for name, col in data.items()}})
            except GradError as err:
                err.message = f"row {r + 1}: {err.message}"
                raise
        mean_h = [[0.0] * n for _ in range(n)]
        for a, h in enumerate(rows_h):
            col_means = h.mean(axis=0).tolist()
            for b in range(a, n):
                mean_h[a][b] = mean_h[b][a] = col_means[b] + 0.0
        gradient = {name: float(g.mean()) + 0.0 for name, g in zip(self.wrt, grads, strict=True)}
        inputs = {name: point[name] for name in self.graph.inputs if name not in data}
        return HessianResult(self.graph, float(value.mean()), inputs, self.wrt, gradient, mean_h)

    def _array_pass(self, np: Any, columns: Mapping[str, Any], count: int) -> tuple[list[Any], list[Any]]:
        """The derivative program's values and tangents over arrays of rows: tangents
        are (rows, n) arrays. Both sides of an ``if`` are computed (NaN where a side
        fails) and the condition picks, values and tangents alike."""
        from .ops import IF

        nodes = self.program.graph.nodes
        moving = self.moving
        n = len(self.wrt)
        values: list[Any] = [None] * len(nodes)
        tangents: list[Any] = [None] * len(nodes)
        eye = np.eye(n)
        for k, i in enumerate(self.seeds):
            if i is not None:
                tangents[i] = np.broadcast_to(eye[k], (count, n))
        with np.errstate(all="ignore"):
            for node in nodes:
                op = node.op
                i = node.id
                if op is None:
                    values[i] = columns[node.name] if node.kind == "var" else np.float64(node.value)
                    continue
                args = [values[j] for j in node.inputs]
                out = values[i] = op.vforward(np, *args)  # type: ignore[misc]
                if not moving[i]:
                    continue
                inputs = node.inputs
                if op is IF:
                    ta, tb = tangents[inputs[1]], tangents[inputs[2]]
                    if ta is not None or tb is not None:
                        pick = np.asarray(args[0] != 0)[..., None]
                        tangents[i] = np.where(pick, 0.0 if ta is None else ta, 0.0 if tb is None else tb)
                    continue
                acc = None
                for k, j in enumerate(inputs):
                    t = tangents[j]
                    if t is None:
                        continue
                    local = np.asarray(op.vgrads[k](np, *args, out), dtype=np.float64)  # type: ignore[index]
                    term = local[..., None] * t if local.ndim else float(local) * t
                    acc = term if acc is None else acc + term
                tangents[i] = acc
        return values, tangents

    def _tangents(self, values: list[float]) -> list[Any]:
        """Forward mode over the derivative graph: each moving node's derivative toward
        every wrt input, a vector (None: 0 toward all of them)."""
        from .vectorised import load_numpy

        np = load_numpy()
        tangents: list[Any] = [None] * len(self.program.graph.nodes)
        eye = np.eye(len(self.wrt))
        for k, i in enumerate(self.seeds):
            if i is not None:
                tangents[i] = eye[k]
        with np.errstate(all="ignore"):  # an overflow is found and said by the caller
            self._forward_tangents(values, tangents)
        return tangents

    def _forward_tangents(self, values: list[float], tangents: list[Any]) -> None:
        """Fill ``tangents`` in topological order: each node's, the sum of its inputs'
        times its local derivatives (the ops' numeric rules)."""
        from .math_errors import describe_call
        from .ops import Undefined

        moving = self.moving
        for node in self.program.graph.nodes:
            op = node.op
            i = node.id
            if op is None or not moving[i]:
                continue
            out = values[i]
            if out != out:  # not evaluated: a branch not taken
                continue
            inputs = node.inputs
            args = [values[j] for j in inputs]
            acc = None
            for k, j in enumerate(inputs):
                t = tangents[j]
                if t is None or args[k] != args[k]:
                    continue
                try:
                    local = op.grads[k](*args, out)
                except (Undefined, ValueError, ZeroDivisionError, OverflowError) as exc:
                    raise self._second(node, describe_call(node, args), exc) from None
                if local == 0:
                    continue
                if not math.isfinite(local):
                    raise self._second(node, describe_call(node, args), None)
                term = t if local == 1 else local * t
                acc = term if acc is None else acc + term
            tangents[i] = acc

    def _second(self, node: Any, call: str, exc: BaseException | None) -> GradError:
        """A local derivative that fails in the derivative graph: the second derivative
        is undefined at this point (``sqrt''(0)``), at the source operation it belongs to."""
        why = f": {exc}" if exc is not None and str(exc) else ""
        return GradError(
            "gradient",
            f"undefined second derivative: the derivative of {call} cannot be computed here{why}",
            node.span,
            self.graph.source,
        )

    def _undefined(self, err: GradError, point: Mapping[str, float]) -> GradError:
        """An error in the derivative program's forward pass: in the source's own nodes
        it is the error eval gives; in a derivative node (a first derivative), eval's
        error for that gradient (``sqrt'(0)``: the same words, the source's node), or,
        where eval has none, an undefined derivative at no node of the derivative
        program (its ids are not the source's, and would send a reader to the wrong row
        of ``trace``)."""
        if err.node is None or err.node < self.program.base:
            return err
        from .api import run

        try:
            run(self.graph, point, self.wrt)
        except GradError as eval_err:
            return eval_err
        return GradError(
            "gradient" if err.kind == "division_by_zero" else err.kind,
            f"undefined derivative: {err.message}",
            err.span,
            err.source,
        )


def hessian(
    source: str | Graph,
    bindings: Mapping[str, Any] | None = None,
    /,
    *,
    output: str | None = None,
    wrt: Iterable[str] | None = None,
    **kw_bindings: Any,
) -> HessianResult:
    """Value, gradient and Hessian of ``source`` at a point::

        >>> h = hessian("x^2*y", x=2, y=3)
        >>> h.value, h.gradient, h.hessian
        (12.0, {'x': 12.0, 'y': 4.0}, [[6.0, 4.0], [4.0, 0.0]])

    ``wrt`` picks the inputs (rows and columns, in that order; default every input).
    ``source`` is a program or a compiled :class:`~gradcli.graph.Graph`. Raises
    :class:`~gradcli.errors.GradError` for anything wrong, a second derivative that
    is undefined at the point included."""
    from .api import compile

    point = dict(bindings or {})
    point.update(kw_bindings)
    graph = source if isinstance(source, Graph) else compile(source, output)
    return SecondOrder(graph, wrt).at(point)


#: A Hessian whose condition number is past this is singular for Newton's step: the
#: solution would keep no correct digit (about 1/ε of float64).
SINGULAR_CONDITION = 1e15


def newton_step(hess: list[list[float]], g: list[float], names: list[str]) -> list[float]:
    """H⁻¹g, Newton's step (the point moves by −lr times it). A singular Hessian
    (``x^4`` at 0, a linear program, a flat direction) or a step that is not finite is
    a math error of kind ``singular``."""
    from .vectorised import load_numpy

    np = load_numpy()
    h = np.array(hess, dtype=np.float64)
    condition = float(np.linalg.cond(h)) if h.size else math.inf
    if not condition < SINGULAR_CONDITION:  # NaN and inf included
        shown = "infinite" if not math.isfinite(condition) else f"{condition:.3g}"
        raise GradError(
            "singular",
            f"the Hessian toward {', '.join(names)} is singular here (condition number {shown}):"
            " Newton's step H⁻¹g is undefined; --method gd or another starting point may help",
        )
    step = np.linalg.solve(h, np.array(g, dtype=np.float64))
    if not np.all(np.isfinite(step)):
        raise GradError("singular", "Newton's step H⁻¹g is not a finite number here")
    return [float(v) for v in step]
