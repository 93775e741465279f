"""Derivatives as graphs: the reverse pass built from the operations themselves.

The evaluator's reverse loop (:mod:`gradcli.evaluate`) walks a graph backwards with
numbers. This module walks it the same way with *nodes*: every operation's
``dgraph`` rule (beside its forward function in :mod:`gradcli.ops`) gives its local
gradients as nodes of the same operations (``d sin(x) = cos(x)``, ``d abs(x) =
sign(x)``), each contribution ``∂f/∂consumer · ∂consumer/∂input`` becomes a ``mul``
node and a node's contributions an ``add`` chain, summed in the order the reverse
loop sums them. The result is a graph again: it can be printed as a program
(``gradcli diff``), evaluated at a point or over arrays, and differentiated once
more for second derivatives.

Nodes are built by a :class:`Builder` that shares what is shared (an operation on
the same inputs is one node, the source's own nodes included) and simplifies
locally as it goes: constants folded (with the op's own forward function, so the
folded value is the one evaluation would give), ``a*1``, ``a+0``, ``a^1``, ``--a``
dropped, a negation moved outwards so that two of them meet and cancel, and a
contribution whose local gradient is a literal 0 left out. Nothing is expanded, so
the derivative of a program of n nodes has O(n) nodes.

The semantics are the evaluator's, kinks included: a local gradient is computed only
where the gradient flowing in is not 0 (a ``guard``: ``if(g != 0, g·local, 0)``, for
rules that can be undefined where the forward value is not, and for nodes inside a
branch of ``if`` that may not be taken), so ``relu(sqrt(x))`` at 0 has derivative 0
as ``eval`` says, and a branch not taken is never differentiated.

No recursion anywhere: one loop over the nodes per reverse pass.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import GradError
from .graph import Graph, Node
from .ops import IF, OPERATORS, Op, function

_NEG = OPERATORS["neg"]
_ADD = OPERATORS["add"]
_SUB = OPERATORS["sub"]
_MUL = OPERATORS["mul"]
_DIV = OPERATORS["div"]
_POW = OPERATORS["pow"]
_NE = OPERATORS["ne"]
_COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")
#: a comparison that is 0 exactly where the other is 1
_OPPOSITE = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}


def _const_key(value: float) -> tuple[float, float]:
    return (value, math.copysign(1.0, value))  # 0.0 and -0.0 stay apart


class Builder:
    """Nodes on top of a graph's own, shared and simplified as they are made.

    ``nodes`` starts as the graph's nodes (the same objects, never changed) and grows.
    Every method takes and returns node ids. ``span`` is given to the nodes made next:
    the place of the source operation whose rule makes them, where an error in them
    points. The derivative rules in :mod:`gradcli.ops` call ``G.add``, ``G.sub``,
    ``G.mul``, ``G.div``, ``G.neg``, ``G.pow``, ``G.num``, ``G.value`` and
    ``G("name", *args)`` for any other operation or function (``G("cos", x)``,
    ``G("lt", a, b)``, ``G("if", c, a, b)``); ``G.zero`` and ``G.one`` are constants.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes: list[Node] = list(graph.nodes)
        self.base = len(self.nodes)  # ids from here on are made by derivative rules
        self.tables: dict[Op, dict[tuple[int, ...], int]] = {}
        self.consts: dict[tuple[float, float], int] = {}
        self.const_values: dict[int, float] = {}  # const node id -> its value
        self.negated: dict[int, int] = {}  # id of a node -a -> id of a
        self.steps: set[int] = set()  # nodes whose value is 1 or 0
        self.span: tuple[int, int] = (0, 0)
        self.has_if = graph.branches
        self.calls: dict[tuple[str, int], Op] = {}
        for node in self.nodes:
            op = node.op
            if op is not None:
                self.tables.setdefault(op, {}).setdefault(node.inputs, node.id)
                if op is _NEG:
                    self.negated[node.id] = node.inputs[0]
                elif op.name in _COMPARISONS:
                    self.steps.add(node.id)
            elif node.kind == "const":
                self.consts.setdefault(_const_key(node.value), node.id)
                self.const_values[node.id] = node.value
        self.zero = self.num(0.0)
        self.one = self.num(1.0)
        self.steps.update((self.zero, self.one))

    # --- leaves -------------------------------------------------------------------------

    def num(self, value: float) -> int:
        """The constant ``value``, one node per value."""
        key = _const_key(value)
        found = self.consts.get(key)
        if found is None:
            found = len(self.nodes)
            self.nodes.append(Node(found, "const", None, (), self.span, None, value))  # type: ignore[arg-type]
            self.consts[key] = found
            self.const_values[found] = value
        return found

    def value(self, i: int) -> float | None:
        """The value of node ``i`` if it is a constant, else None."""
        return self.const_values.get(i)

    # --- operations -----------------------------------------------------------------------

    def __call__(self, name: str, *args: int) -> int:
        op = self.calls.get((name, len(args)))
        if op is None:
            op = OPERATORS.get(name) if name in OPERATORS else function(name, len(args))
            if op is None:  # pragma: no cover - a rule names an op that does not exist
                raise KeyError(f"no operation {name}/{len(args)}")
            self.calls[(name, len(args))] = op
        return self.make(op, args)

    def add(self, a: int, b: int) -> int:
        cv, negated = self.const_values, self.negated
        if a in cv or b in cv or a in negated or b in negated:
            return self.make(_ADD, (a, b))
        return self._intern(_ADD, (a, b))  # nothing to simplify: the common case, fast

    def sub(self, a: int, b: int) -> int:
        return self.make(_SUB, (a, b))

    def mul(self, a: int, b: int) -> int:
        cv, negated = self.const_values, self.negated
        if a == b or a in cv or b in cv or a in negated or b in negated:
            return self.make(_MUL, (a, b))
        return self._intern(_MUL, (a, b))  # nothing to simplify: the common case, fast

    def div(self, a: int, b: int) -> int:
        return self.make(_DIV, (a, b))

    def neg(self, a: int) -> int:
        return self.make(_NEG, (a,))

    def pow(self, a: int, b: int) -> int:
        return self.make(_POW, (a, b))

    def is_step(self, i: int) -> bool:
        """Whether node ``i`` is known to be 1 or 0 (a comparison, a product or max of
        such, the constants 0 and 1)."""
        return i in self.steps

    def make(self, op: Op, inputs: tuple[int, ...]) -> int:
        """The node ``op(*inputs)``, simplified, shared with an equal one if it exists."""
        simpler = self._simplify(op, inputs)
        if simpler is not None:
            return simpler
        return self._intern(op, inputs)

    def _intern(self, op: Op, inputs: tuple[int, ...]) -> int:
        """The node ``op(*inputs)`` as it is: the existing one, or a new one."""
        table = self.tables.get(op)
        if table is None:
            table = self.tables[op] = {}
        found = table.get(inputs)
        if found is None:
            found = len(self.nodes)
            self.nodes.append(Node(found, "op", op, inputs, self.span))  # type: ignore[arg-type]
            table[inputs] = found
            if op is _NEG:
                self.negated[found] = inputs[0]
            elif op is _MUL:
                if inputs[0] in self.steps and inputs[1] in self.steps:
                    self.steps.add(found)
            elif op is IF:
                self.has_if = True
                if inputs[1] in self.steps and inputs[2] in self.steps:
                    self.steps.add(found)
            else:
                name = op.name
                if name in _COMPARISONS or (name in ("max", "min") and all(i in self.steps for i in inputs)):
                    self.steps.add(found)
        return found

    def _simplify(self, op: Op, inputs: tuple[int, ...]) -> int | None:
        cv = self.const_values
        if op is _MUL:
            a, b = inputs
            va, vb = cv.get(a), cv.get(b)
            if va is None and vb is None:
                if a == b and a in self.steps:
                    return a  # 1·1 or 0·0
                negated = self.negated
                na, nb = negated.get(a), negated.get(b)
                if na is None and nb is None:
                    return None
                if na is not None and nb is not None:
                    return self.mul(na, nb)
                if na is not None:
                    return self.neg(self.mul(na, b))
                return self.neg(self.mul(a, nb))  # type: ignore[arg-type]
            if va == 0 or vb == 0:
                return self.zero
            if va == 1:
                return b
            if vb == 1:
                return a
            if va == -1:
                return self.neg(b)
            if vb == -1:
                return self.neg(a)
            if va is not None and vb is not None:
                return self._fold(op, (va, vb))
            return None
        if op is _ADD:
            a, b = inputs
            va, vb = cv.get(a), cv.get(b)
            if va is not None and vb is not None:
                return self._fold(op, (va, vb))
            if vb == 0:
                return a
            if va == 0:
                return b
            nb = self.negated.get(b)
            if nb is not None:
                return self.sub(a, nb)
            na = self.negated.get(a)
            if na is not None:
                return self.sub(b, na)
            return None
        values = [cv.get(i) for i in inputs]
        if op is IF:
            c, a, b = inputs
            if values[0] is not None:  # a constant condition: the branch it takes
                return a if values[0] != 0 else b
            if a == b:
                return a
            nodes = self.nodes
            cond = nodes[c]
            if cond.op is _NE and values[2] == 0 and cond.inputs == (a, self.zero):
                return a  # if(a != 0, a, 0) is a
            inner = nodes[a]
            if inner.op is IF and inner.inputs[0] == c:  # if(c, if(c, x, y), z) is if(c, x, z)
                return self.make(IF, (c, inner.inputs[1], b))
            if c in self.steps:  # c is 1 in the first branch
                if a == c and values[2] == 0:
                    return c  # if(c, c, 0)
                if inner.op is _MUL and c in inner.inputs:  # if(c, c·x, z) is if(c, x, z)
                    x, y = inner.inputs
                    return self.make(IF, (c, y if x == c else x, b))
            return None
        if None not in values:  # fold, with the op's own forward function
            return self._fold(op, values)  # type: ignore[arg-type]
        name = op.name
        if name == "sub":
            a, b = inputs
            if values[1] == 0:
                return a
            if values[0] == 0:
                return self.neg(b)
            nb = self.negated.get(b)
            if nb is not None:
                return self.add(a, nb)
        elif name == "div":
            a, b = inputs
            if values[0] == 0:
                return self.zero
            if values[1] == 1:
                return a
            if values[1] == -1:
                return self.neg(a)
            na, nb = self.negated.get(a), self.negated.get(b)
            if na is not None and nb is not None:
                return self.div(na, nb)
            if na is not None:
                return self.neg(self.div(na, b))
            if nb is not None:
                return self.neg(self.div(a, nb))
        elif name == "neg":
            inner = self.negated.get(inputs[0])
            if inner is not None:
                return inner
        elif name == "pow":
            if values[1] == 1:
                return inputs[0]
            if values[1] == 0:
                return self.one
        elif name in ("ne", "eq") and values[1] == 0 and inputs[0] in self.steps:
            if name == "ne":
                return inputs[0]  # already 1 or 0
            node = self.nodes[inputs[0]]
            if node.op is not None and node.op.name in _COMPARISONS:
                return self.make(OPERATORS[_OPPOSITE[node.op.name]], node.inputs)
        elif name in ("max", "min") and len(set(inputs)) < len(inputs):
            unique = tuple(dict.fromkeys(inputs))
            if len(unique) == 1:
                return unique[0]
            if len(unique) >= 2:
                return self.make(op, unique)
        return None

    def _fold(self, op: Op, values: tuple[float, ...] | list[float]) -> int | None:
        """A constant operation folded with the op's own forward function (the value
        evaluation would give); left alone where that fails, for evaluation to report."""
        try:
            result = op.forward(*values)
        except (ValueError, ArithmeticError):
            return None
        return self.num(result) if math.isfinite(result) else None


def _evaluated_when(G: Builder, root: int) -> dict[int, int | None] | None:
    """Where each node up to ``root`` is evaluated, as a node that is 1 there and 0
    elsewhere (None: always), or None for a program without ``if``.

    A node is evaluated where some consumer is and asks for it: always for an ordinary
    input or an ``if``'s condition, where the condition holds for its first branch and
    where it does not for its second. "And" is a lazy ``if(a, b, 0)`` (a condition
    inside a branch not taken is never computed), "or" is ``max``."""
    nodes = G.nodes
    if not any(node.op is IF for node in nodes[: root + 1]):
        return None
    when: dict[int, int | None] = {root: None}
    for i in range(root, -1, -1):
        if i not in when:
            continue
        mine = when[i]
        node = nodes[i]
        for k, j in enumerate(node.inputs):
            demand = mine
            if node.op is IF and k > 0:
                test = G("ne" if k == 1 else "eq", node.inputs[0], G.zero)
                demand = test if mine is None else G("if", mine, test, G.zero)
            if j not in when:
                when[j] = demand
            elif when[j] is not None:
                when[j] = None if demand is None else G("max", when[j], demand)  # type: ignore[arg-type]
    return when


def reverse(
    G: Builder, root: int, targets: Iterable[int], report: Iterable[int] = ()
) -> dict[int, int | None]:
    """∂root/∂target as a node, for every target node id (absent: a literal 0), and for
    the nodes of ``report`` that lie between a target and ``root``.

    One reverse pass over ``G.nodes[:root + 1]``, as :func:`gradcli.evaluate.backward`
    makes it with numbers: a node's gradient is the sum of its consumers'
    contributions in the order that loop adds them, each contribution
    ``g · local`` with ``local`` from the consumer's ``dgraph`` rule. Only nodes on a
    path from a target to ``root`` are visited.

    Two guards keep the evaluator's semantics. A local gradient that may be undefined
    (the op's ``defined``) is computed outside its domain only where ``g`` is not 0:
    ``if(max(defined, g != 0), g·local, 0)`` (an error there, as in eval, unless g is
    0); inside its domain the term is ``g·local`` whatever g is, so a second derivative
    at a critical point (g = 0) keeps every term. And the contribution of a node that
    is evaluated only in some branch of an ``if`` is ``if(evaluated, g·local, 0)``, so
    that a branch not taken is never differentiated."""
    nodes = G.nodes
    wanted = bytearray(root + 1)
    target_list = [t for t in targets if t is not None and t <= root]
    for t in target_list:
        wanted[t] = 1
    for i in range(root + 1):
        if not wanted[i]:
            for j in nodes[i].inputs:
                if wanted[j]:
                    wanted[i] = 1
                    break
    when = _evaluated_when(G, root)
    targets_set = {*target_list, *report}
    found: dict[int, int | None] = {}
    parts: dict[int, list[int]] = {root: [G.one]}
    for i in range(root, -1, -1):
        mine = parts.pop(i, None)
        if mine is None or not wanted[i]:
            continue
        node = nodes[i]
        G.span = (node.start, node.end)
        g = mine[0]
        for term in mine[1:]:
            g = G.add(g, term)
        if i in targets_set:
            found[i] = g
        op = node.op
        if op is None:
            continue
        inputs = node.inputs
        if not any(wanted[j] for j in inputs):
            continue
        local = op.dgraph(G, i, *inputs)  # type: ignore[misc]
        varying = G.value(g) is None  # a constant g is not 0: nothing to skip
        defined = op.defined(G, i, *inputs) if op.defined is not None and varying else None
        evaluated = when.get(i) if when is not None else None
        for k, j in enumerate(inputs):
            if not wanted[j] or local[k] is None:
                continue
            term = G.mul(g, local[k])
            if G.value(term) == 0:
                continue  # a literal 0: left out
            if defined is not None and defined[k] is not None:
                nonzero = g if G.is_step(g) else G("ne", g, G.zero)
                term = G("if", G("max", defined[k], nonzero), term, G.zero)
            if evaluated is not None:
                term = G("if", evaluated, term, G.zero)
            parts.setdefault(j, []).append(term)
    return found


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
        graph: Graph,
        base: int,
        value: int,
        wrt: list[str],
        order: int,
        first: dict[str, int],
        second: dict[tuple[str, str], int],
        adjoints: dict[str, int],
        program: Any = None,
        label: str | None = None,
    ) -> None:
        self.graph = graph
        self.base = base
        self.value = value
        self.wrt = wrt
        self.order = order
        self.first = first
        self.second = second
        self.adjoints = adjoints
        self.program = program  # the parsed source (its statements), when known
        self.label = label  # the output's display name, when not the graph's own output

    def __repr__(self) -> str:
        return (f"<DerivativeProgram of order {self.order} toward {self.wrt}:"
                f" {self.base} source nodes, {len(self.graph.nodes)} in all>")

    @property
    def source(self) -> str:
        return self.graph.source

    @property
    def output_label(self) -> str:
        """The output's display name: its statement name, or ``f`` (``out``, ...)."""
        return self.label or self.graph.output_label()

    @property
    def text(self) -> str:
        """The program in gradcli's language (what ``gradcli diff`` prints)."""
        return self.format("text")

    def format(self, fmt: str = "text") -> str:
        """The program as ``text`` (gradcli's language), ``latex`` (an ``align*``
        block), ``python`` (a module that imports only math), ``numpy`` or ``json``."""
        from .derivative_text import FORMATS

        if fmt not in FORMATS:
            raise GradError("usage", f"--format {fmt}: the formats are {', '.join(FORMATS)}")
        return FORMATS[fmt](self)

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
        from .vectorised import load_numpy

        np = load_numpy()
        cols = {name: np.ascontiguousarray(columns[name], dtype=np.float64) for name in self.graph.inputs}
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
        errors: dict[int, GradError] = {}
        for r in np.flatnonzero(bad).tolist():  # the scalar pass: the value, or the error
            try:
                row = self._forward({name: float(col[r]) for name, col in cols.items()})
            except GradError as err:
                errors[r] = err
                for i in arrays:
                    arrays[i][r] = np.nan
                continue
            for i in arrays:
                arrays[i][r] = row[i]
        gradient = {name: arrays[i] for name, i in self.first.items()}
        hessian = None
        if self.order == 2:
            hessian = [[arrays[self.second[tuple(sorted((a, b), key=self.wrt.index))]]  # type: ignore[index]
                        for b in self.wrt] for a in self.wrt]
        return {"value": arrays[self.value], "gradient": gradient, "hessian": hessian, "errors": errors}


def derivative_program(
    graph: Graph,
    wrt: Sequence[str] | None = None,
    order: int = 1,
    *,
    program: Any = None,
) -> DerivativeProgram:
    """The derivatives of ``graph``'s output as a program (a graph with named results).

    ``graph`` is a lowered program (:func:`gradcli.compile`); ``wrt`` names inputs or
    named intermediates (default: every input, in order of first appearance), each
    checked as ``eval --wrt`` checks it; ``order`` is 1 (the gradient) or 2 (the
    gradient and the Hessian: ∂²out/∂a∂b for each pair, ``a`` not after ``b`` in
    ``wrt``). ``program`` is the parsed source, for printing its statements as written.

    Use the result to evaluate (:meth:`DerivativeProgram.evaluate` at a point,
    :meth:`~DerivativeProgram.evaluate_arrays` over arrays) or to print it
    (:func:`gradcli.derivative_text.program_text` and the other formats). The first
    derivative of an n-node program has O(n) nodes (at most about 5n); each second
    derivative row is one more reverse pass over the first derivative's graph."""
    from .bindings import resolve_wrt

    if order not in (1, 2):
        raise GradError("usage", f"--order {order}: the order is 1 (the gradient) or 2 (with the Hessian)")
    if not graph.inputs:
        raise GradError("usage", "the program has no inputs: there is nothing to differentiate toward")
    names = resolve_wrt(graph, wrt)
    # As compile does: building makes no reference cycles for the cyclic GC to find,
    # and left on it would rescan the growing graph again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _derivative_program(graph, names, order, program)[0]
    finally:
        if collecting:
            gc.enable()


def derivative_programs(
    graph: Graph,
    outputs: list[tuple[int, str]],
    wrt: Sequence[str] | None = None,
    order: int = 1,
    *,
    program: Any = None,
) -> list[DerivativeProgram]:
    """:func:`derivative_program` for several outputs of one graph (``--output a,b``):
    ``outputs`` lists each output's node id and statement name; the programs share
    one graph, so their common nodes are one."""
    from .bindings import resolve_wrt

    if order not in (1, 2):
        raise GradError("usage", f"--order {order}: the order is 1 (the gradient) or 2 (with the Hessian)")
    if not graph.inputs:
        raise GradError("usage", "the program has no inputs: there is nothing to differentiate toward")
    names = resolve_wrt(graph, wrt)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _derivative_program(graph, names, order, program, list(outputs))
    finally:
        if collecting:
            gc.enable()


def _derivative_program(
    graph: Graph,
    names: list[str],
    order: int,
    program: Any,
    roots: list[tuple[int, str | None]] | None = None,
) -> list[DerivativeProgram]:
    G = Builder(graph)
    roots = roots or [(graph.output, None)]

    def node_of(name: str) -> int | None:
        return graph.inputs[name] if name in graph.inputs else graph.names[name]

    targets = {name: node_of(name) for name in names}
    wanted = [i for i in targets.values() if i is not None]
    parts = []
    for root, label in roots:
        named = {name: i for name, i in graph.names.items() if i is not None and i != root}
        found = reverse(G, root, wanted, named.values())
        first: dict[str, int] = {}
        for name, i in targets.items():
            d = found.get(i) if i is not None else None
            first[name] = G.zero if d is None else d
        adjoints = {name: d for name, i in named.items() if (d := found.get(i)) is not None}
        second: dict[tuple[str, str], int] = {}
        if order == 2:
            for a_index, a in enumerate(names):
                later = names[a_index:]
                row = reverse(G, first[a], [targets[b] for b in later if targets[b] is not None])  # type: ignore[misc]
                for b in later:
                    i = targets[b]
                    d = row.get(i) if i is not None else None
                    second[(a, b)] = G.zero if d is None else d
        parts.append((root, label, first, second, adjoints))
    return _pruned(G, graph, names, order, parts, program)


def _pruned(
    G: Builder,
    graph: Graph,
    names: list[str],
    order: int,
    parts: list[tuple[int, str | None, dict[str, int], dict[tuple[str, str], int], dict[str, int]]],
    program: Any,
) -> list[DerivativeProgram]:
    """The program of what the outputs need: the source nodes, then the derivative
    nodes that some output uses (rules make some nodes that none does), renumbered."""
    nodes = G.nodes
    base = G.base
    keep = bytearray(len(nodes))
    for _, _, first, second, _ in parts:
        for i in (*first.values(), *second.values()):
            keep[i] = 1
    for i in range(len(nodes) - 1, base - 1, -1):
        if keep[i]:
            for j in nodes[i].inputs:
                keep[j] = 1
    new_id = list(range(base)) + [-1] * (len(nodes) - base)
    kept = nodes[:base]
    for i in range(base, len(nodes)):
        if keep[i]:
            node = nodes[i]  # made by the builder: its own, to renumber in place
            new_id[i] = node.id = len(kept)
            node.inputs = tuple([new_id[j] for j in node.inputs])
            kept.append(node)
    out = Graph(kept, graph.inputs, graph.names, graph.output_name, graph.source)
    # (an if that a rule made toward an input no one wanted was dropped with it)
    out.branches = graph.branches or (G.has_if and any(node.op is IF for node in kept[base:]))
    return [
        DerivativeProgram(
            out,
            base,
            root,
            names,
            order,
            {name: new_id[i] for name, i in first.items()},
            {pair: new_id[i] for pair, i in second.items()},
            {name: new_id[i] for name, i in adjoints.items() if keep[i] or i < base},
            program,
            label,
        )
        for root, label, first, second, adjoints in parts
    ]
