"""The Hessian's fast path: the tangent pass of :mod:`gradcli.hessian`, level by level.

:class:`~gradcli.hessian.SecondOrder` carries, for every node of the first-derivative
program that depends on a ``wrt`` input, its derivative toward each of them (a
vector of n numbers). Done node by node, that is one or two small NumPy operations
per node, and their dispatch is nearly all the time. A :class:`TangentPlan`, made
once per program, lays the same pass out for whole arrays:

- the forward values: one tight loop over prepared ``(function, node, operands)``
  steps, the operations' own scalar functions (so every value is the one
  :func:`gradcli.evaluate.forward` gives, bit for bit), errors and checks left for
  the end;
- the local derivatives: one call per operation and argument position over every
  node of that operation at once. An operation whose array rule is plain IEEE
  arithmetic (``mul``'s ``y``, ``div``'s ``1/y``, ``exp``'s ``out``, a constant)
  uses that array rule, whose results are the scalar rule's; any other (``sin``'s
  ``cos``: NumPy's transcendental functions may differ from the C library's in the
  last place) calls its scalar rule in a list comprehension;
- the tangents: a matrix, a row per moving node and a column per input, filled by
  topological level (the nodes of a level depend only on earlier levels): each
  level is a gather of its operands' rows, a product with their local derivatives
  and a sum, a handful of NumPy calls for hundreds of nodes.

The sums are taken in the node-by-node order, so the results are the same numbers.
This path says nothing itself: where anything is out of the ordinary (a forward
value or a local derivative that is not finite or raised, a tangent that is not
finite), :meth:`TangentPlan.values` or :meth:`TangentPlan.hessian` returns None and
the caller runs the node-by-node pass, which finds and words the error, or gets the
right answer where this one cannot (a term the node-by-node pass skips because its
tangent is 0, where here 0·inf would be NaN). A program with a lazy ``if`` keeps the
demand-driven forward pass (:mod:`gradcli.branches`); its tangents are taken here,
a node that was not evaluated contributing 0, as the node-by-node pass skips it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

from .graph import Graph
from .ops import OPERATORS, Op

#: Forward functions that are the C operator itself (the rows' lambdas compute
#: exactly these on floats; calling the operator saves a Python frame per node).
_C_FORWARD: dict[Op, Any] = {
    OPERATORS["add"]: operator.add,
    OPERATORS["sub"]: operator.sub,
    OPERATORS["mul"]: operator.mul,
    OPERATORS["div"]: operator.truediv,  # ZeroDivisionError at y = 0, as numerics.div
    OPERATORS["neg"]: operator.neg,
}

#: Operations whose array rules (``vgrads``) are IEEE arithmetic on the operands and
#: the result, or a constant, exactly as their scalar rules: their local derivatives
#: are taken over arrays. Every other operation's come from its scalar rules.
#: (tests/test_hessian_plan.py holds each to its scalar rule, bit for bit.)
EXACT_ARRAY_RULES = frozenset({
    "add", "sub", "mul", "div", "neg", "exp", "log", "ln", "log2", "log10",
    "lt", "le", "gt", "ge", "eq", "ne", "if", "sum", "mean", "sign", "relu", "tan", "atan",
})

#: What a scalar forward function or local derivative may raise here: the ops' math
#: errors (ArithmeticError, ValueError), or anything a function meets past a value
#: that the node-by-node pass stops at (this pass checks for finite values at the
#: end). Whatever it is, that pass runs instead and says what it says.
_DECLINE = (Exception,)


#: The moving argument positions of a node with one or two arguments.
_FIRST, _SECOND, _BOTH = (0,), (1,), (0, 1)


class _Locals:
    """The local derivatives of one operation toward some argument positions, over
    every moving node of it whose moving arguments are those positions."""

    __slots__ = ("args", "array", "constant", "nodes", "op", "rows", "slots", "triples")

    def __init__(self, np: Any, op: Op, nodes: list[Any], slots: tuple[int, ...]) -> None:
        self.op = op
        self.nodes = np.array([node.id for node in nodes], dtype=np.intp)
        self.slots = slots
        self.array = op.name in EXACT_ARRAY_RULES and len(op.vgrads) > 0
        self.constant: dict[int, float] = {}
        self.rows: dict[int, Any] = {}  # slot -> positions in the coefficient array (set by the plan)
        arity = len(nodes[0].inputs)
        self.args = [np.array([node.inputs[k] for node in nodes], dtype=np.intp) for k in range(arity)]
        self.triples = [(*node.inputs, node.id) for node in nodes]
        if self.array:  # a rule that ignores its operands is a constant: computed here, once
            probe = [np.ones(1) for _ in range(arity)]
            with np.errstate(all="ignore"):
                for k in slots:
                    got = op.vgrads[k](np, *probe, np.ones(1))
                    if not isinstance(got, np.ndarray):
                        self.constant[k] = float(got)

    def compute(self, np: Any, values: list[float], array: Any, branches: bool) -> list[tuple[int, Any]]:
        """(slot, local derivatives in node order) for each slot not constant; raises
        what a scalar rule raises."""
        out: list[tuple[int, Any]] = []
        wanted = [k for k in self.slots if k not in self.constant]
        if not wanted:
            return out
        if self.array:
            args = [array[idx] for idx in self.args]
            result = array[self.nodes]
            for k in wanted:
                out.append((k, self.op.vgrads[k](np, *args, result)))
            return out
        v = values
        for k in wanted:
            g = self.op.grads[k]
            triples = self.triples
            if branches:  # a node not evaluated (NaN) has no derivative: 0, masked later
                got = [g(*[v[j] for j in t[:-1]], v[t[-1]]) if v[t[-1]] == v[t[-1]] else 0.0 for t in triples]
            elif len(triples[0]) == 2:
                got = [g(v[a], v[i]) for a, i in triples]
            elif len(triples[0]) == 3:
                got = [g(v[a], v[b], v[i]) for a, b, i in triples]
            else:
                got = [g(*[v[j] for j in t[:-1]], v[t[-1]]) for t in triples]
            out.append((k, np.array(got, dtype=np.float64)))
        return out


class TangentPlan:
    """The tangent pass of a first-derivative program ``graph`` toward ``n`` inputs,
    whose nodes ``seeds`` (None: not used) carry the unit vectors; ``moving`` marks
    the nodes that depend on one of them."""

    def __init__(self, np: Any, graph: Graph, seeds: Sequence[int | None], moving: bytearray) -> None:
        self.np = np
        self.branches = bool(graph.branches)
        nodes = graph.nodes
        self.n = n = len(seeds)
        # --- the forward loop: constants in a template, inputs by name, op steps
        template = [0.0] * len(nodes)
        self.inputs: list[tuple[int, str]] = []
        steps: list[tuple[Any, int, Any, int]] = []
        for node in nodes:
            op = node.op
            if op is None:
                if node.kind == "const":
                    template[node.id] = node.value
                else:
                    self.inputs.append((node.id, node.name))
                continue
            ins = node.inputs
            f = _C_FORWARD.get(op, op.forward)
            if len(ins) == 2:
                steps.append((f, node.id, ins[0], ins[1]))
            elif len(ins) == 1:
                steps.append((f, node.id, ins[0], -1))
            else:
                steps.append((f, node.id, ins, -2))
        self.template = template
        self.steps = steps
        # --- the moving op nodes, in one pass: their moving argument positions, their
        # topological level (1 + their moving arguments' highest; the seeds are at 0),
        # their group for the local derivatives, and their edges (node order)
        count = len(nodes)
        level = [0] * count
        mv_nodes: list[int] = []
        mv_level: list[int] = []
        mv_width: list[int] = []
        edge_src: list[int] = []
        groups: dict[tuple[Op, int, tuple[int, ...]], list[int]] = {}
        for node in nodes:
            i = node.id
            op = node.op
            if op is None or not moving[i]:
                continue
            ins = node.inputs
            if len(ins) == 2:
                a, b = ins
                if moving[a] and moving[b]:
                    slots, lv = _BOTH, max(level[a], level[b])
                elif moving[a]:
                    slots, lv = _FIRST, level[a]
                else:
                    slots, lv = _SECOND, level[b]
            elif len(ins) == 1:
                slots, lv = _FIRST, level[ins[0]]
            else:
                slots = tuple(k for k, j in enumerate(ins) if moving[j])
                lv = max([level[ins[k]] for k in slots])
            level[i] = lv + 1
            key = (op, len(ins), slots)
            members = groups.get(key)
            if members is None:
                members = groups[key] = []
            members.append(len(mv_nodes))
            mv_nodes.append(i)
            mv_level.append(lv + 1)
            mv_width.append(len(slots))
            for k in slots:
                edge_src.append(ins[k])
        # --- the rows of the tangent matrix: the seeds, then the moving op nodes by
        # level; within a level, nodes with more moving arguments first, so that the
        # p-th moving argument of the level's nodes is a prefix of its rows
        seed_nodes = [i for i in seeds if i is not None]
        self.seed_rows = np.zeros((len(seed_nodes), n))
        for k, i in enumerate(seeds):
            if i is not None:
                self.seed_rows[seed_nodes.index(i), k] = 1.0
        intp = np.intp
        mv = np.array(mv_nodes, dtype=intp)
        lv_of = np.array(mv_level, dtype=intp)
        width = np.array(mv_width, dtype=intp)
        order = np.lexsort((-width, lv_of))
        mv_row = np.empty(len(mv), dtype=intp)
        mv_row[order] = np.arange(len(seed_nodes), len(seed_nodes) + len(mv))
        row_of = np.full(count + 1, -1, dtype=intp)  # -1: the row of 0s (past the last)
        row_of[np.array(seed_nodes, dtype=intp)] = np.arange(len(seed_nodes))
        row_of[mv] = mv_row
        self.rows = len(seed_nodes) + len(mv)
        self.row_of = row_of
        # --- the edges, in the order the levels read them: level, position p, row
        first_edge = np.zeros(len(mv), dtype=intp)
        np.cumsum(width[:-1], out=first_edge[1:])
        dst = np.repeat(np.arange(len(mv)), width)  # the moving node of each edge
        position = np.arange(len(dst)) - first_edge[dst]
        edge_order = np.lexsort((mv_row[dst], position, lv_of[dst]))
        where = np.empty(len(dst), dtype=intp)  # edge (node order) -> coefficient index
        where[edge_order] = np.arange(len(dst))
        self.edge_dst = mv[dst][edge_order]
        self.edge_src = np.array(edge_src, dtype=intp)[edge_order]
        src_rows = row_of[self.edge_src]
        # blocks of one (level, p): where the pair changes along the sorted edges
        lv_sorted, p_sorted = lv_of[dst][edge_order], position[edge_order]
        cuts = np.flatnonzero((np.diff(lv_sorted) != 0) | (np.diff(p_sorted) != 0)) + 1
        bounds = [0, *cuts.tolist(), len(dst)]
        level_lo = np.searchsorted(lv_of[order], np.arange(1, int(lv_of.max(initial=0)) + 2))
        lows = (level_lo + len(seed_nodes)).tolist()
        self.levels: list[tuple[int, int, list[tuple[Any, int, int]]]] = []
        blocks_lv = lv_sorted[bounds[:-1]].tolist() if len(dst) else []
        for b, lv in enumerate(blocks_lv):
            start, end = bounds[b], bounds[b + 1]
            part = (src_rows[start:end], start, end)
            if self.levels and self.levels[-1][0] == lows[lv - 1]:
                self.levels[-1][2].append(part)
            else:
                self.levels.append((lows[lv - 1], lows[lv], [part]))
        # --- the local derivatives: by operation, arity and moving positions
        self.base = np.zeros(len(dst))
        self.locals: list[_Locals] = []
        for (op, _, slots), indices in groups.items():
            loc = _Locals(np, op, [nodes[i] for i in mv[indices].tolist()], slots)
            first = first_edge[indices]
            for p, k in enumerate(slots):
                positions = where[first + p]
                if k in loc.constant:
                    self.base[positions] = loc.constant[k]
                else:
                    loc.rows[k] = positions
            if len(loc.constant) < len(slots):
                self.locals.append(loc)

    def values(self, point: Mapping[str, float]) -> tuple[list[float], Any] | None:
        """Every node's value at ``point`` (a program without ``if``), as a list and as
        an array, or None where something fails or is not finite:
        :func:`gradcli.evaluate.forward` then says what."""
        v = self.template.copy()
        for i, name in self.inputs:
            v[i] = point[name]
        try:
            for f, i, a, b in self.steps:
                if b >= 0:
                    v[i] = f(v[a], v[b])
                elif b == -1:
                    v[i] = f(v[a])
                else:
                    v[i] = f(*[v[j] for j in a])
        except _DECLINE:
            return None
        array = self.np.array(v, dtype=self.np.float64)
        if not self.np.isfinite(array).all():
            return None
        return v, array

    def hessian(self, values: list[float], array: Any, first: Sequence[int]) -> list[list[float]] | None:
        """The symmetric Hessian (rows: the nodes ``first``, ∂f/∂wrt[a]) from the
        forward ``values`` (and the same as an array, or None), every entry finite;
        None where the node-by-node pass must decide (a local derivative or a
        tangent that is not finite)."""
        np = self.np
        n = self.n
        with np.errstate(all="ignore"):
            if array is None:
                array = np.array(values, dtype=np.float64)
            coef = self.base.copy()
            try:
                for loc in self.locals:
                    for k, local in loc.compute(np, values, array, self.branches):
                        coef[loc.rows[k]] = local
            except _DECLINE:
                return None
            if self.branches:  # no derivative at or toward a node not evaluated
                dead = np.isnan(array[self.edge_dst]) | np.isnan(array[self.edge_src])
                coef[dead] = 0.0
            if not np.isfinite(coef).all():
                return None
            coef = coef[:, None]
            t = np.empty((self.rows + 1, n))  # the last row (-1): the 0 of a node that carries none
            t[-1] = 0.0
            t[: len(self.seed_rows)] = self.seed_rows
            take, multiply = np.take, np.multiply
            for lo, hi, parts in self.levels:
                src, start, end = parts[0]
                block = t[lo:hi]
                multiply(take(t, src, axis=0), coef[start:end], out=block)
                for src, start, end in parts[1:]:
                    block[: end - start] += take(t, src, axis=0) * coef[start:end]
            rows = self.row_of[list(first)]  # -1: not moving, the row of 0s
            h = t[rows]
            if not np.isfinite(h).all():
                return None
            # the upper triangle (row a, column b ≥ a) mirrored; + 0.0: no -0.0
            sym = np.triu(h) + np.triu(h, 1).T
        return sym.tolist()
