"""The node builder of the derivative graphs: nodes shared and simplified as they are made.

A :class:`Builder` starts from a graph's own nodes and adds the nodes that the
derivative rules of :mod:`gradcli.ops` ask for (``G.mul``, ``G("cos", x)``, ...). An
operation on the same inputs is one node, the source's own nodes included, and each
new node is simplified locally: constants folded (with the op's own forward
function, so the folded value is the one evaluation would give), ``a*1``, ``a+0``,
``a^1``, ``--a`` dropped, a negation moved outwards so that two of them meet and
cancel. Nothing is expanded, so the derivative of a program of n nodes has O(n)
nodes. :mod:`gradcli.derive` runs the reverse pass on top of it.
"""

from __future__ import annotations

import math
from itertools import pairwise

from .columns import Columns
from .graph import Graph
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
_STEP_OPS = frozenset(OPERATORS[name] for name in _COMPARISONS)


def _const_key(value: float) -> tuple[float, float]:
    return (value, math.copysign(1.0, value))  # 0.0 and -0.0 stay apart


_ZERO_KEY = _const_key(0.0)


def columns_inputs(columns: Columns) -> list[tuple[int, ...]]:
    """Every node's inputs, as a tuple per node, from a graph's columns."""
    args, bounds = columns.args.tolist(), columns.first.tolist()
    return [tuple(args[lo:hi]) for lo, hi in pairwise(bounds)]


class Builder:
    """Nodes on top of a graph's own, shared and simplified as they are made.

    The nodes are kept as columns: ``operations[i]`` (None for a leaf) and ``ins[i]`` (its
    inputs) for every node, the graph's own first (ids ``0 .. base − 1``), then the
    nodes made here, whose spans are ``spans[i − base]`` and, for a constant, whose
    value is ``const_values[i]``: a derivative program of 10^5 nodes then holds no
    object per node until one is asked for (:class:`gradcli.derivatives.DerivativeNodes`).
    Every method takes and returns node ids. ``span`` is given to the nodes made next:
    the place of the source operation whose rule makes them, where an error in them
    points. The derivative rules in :mod:`gradcli.ops` call ``G.add``, ``G.sub``,
    ``G.mul``, ``G.div``, ``G.neg``, ``G.pow``, ``G.num``, ``G.value`` and
    ``G("name", *args)`` for any other operation or function (``G("cos", x)``,
    ``G("lt", a, b)``, ``G("if", c, a, b)``); ``G.zero`` and ``G.one`` are constants.
    A constant is a node when something uses it (:meth:`real`).
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        # the source's nodes read from its columns: no node object is made for them
        columns = graph.columns
        self.base = len(columns)  # ids from here on are made by derivative rules
        self.operations: list[Op | None] = list(columns.ops)
        self.ins: list[tuple[int, ...]] = columns_inputs(columns)
        self.starts, self.ends = columns.starts, columns.ends  # the source's spans
        self.spans: list[tuple[int, int]] = []  # of the nodes made here, from base on
        self.tables: dict[Op, dict[tuple[int, ...], int]] = {}
        # A constant's key is its value, but 0.0 and -0.0 are told apart by their sign
        # (see _const_key); every other value is its own key.
        self.consts: dict[object, int] = {}
        self.const_values: dict[int, float] = {}  # const node id -> its value
        self.negated: dict[int, int] = {}  # id of a node -a -> id of a
        self.steps: set[int] = set()  # nodes whose value is 1 or 0
        self.span: tuple[int, int] = (0, 0)
        self.has_if = graph.branches
        self.calls: dict[tuple[str, int], Op] = {}
        # A constant a rule asks for is pending (a negative id, in const_values, consts
        # and steps like any constant) until a node that uses it is made or it is a
        # result (real): a constant made and never used would be pruned, and every
        # node after it renumbered. ``materialized`` maps a pending id to its node.
        self.pending_spans: dict[int, tuple[int, int]] = {}
        self.materialized: dict[int, int] = {}
        tables = self.tables
        for k, (op, inputs) in enumerate(zip(self.operations, self.ins, strict=True)):
            if op is not None:
                table = tables.get(op)
                if table is None:
                    table = tables[op] = {}
                if inputs not in table:
                    table[inputs] = k
                if op is _NEG:
                    self.negated[k] = inputs[0]
                elif op in _STEP_OPS:
                    self.steps.add(k)
        for k, value in sorted(columns.consts.items()):
            self.consts.setdefault(value if value else _const_key(value), k)
            self.const_values[k] = value
        # the two tables nearly every rule uses, looked up once
        self.mul_table = tables.setdefault(_MUL, {})
        self.add_table = tables.setdefault(_ADD, {})
        self.zero = self.num(0.0)
        self.one = self.num(1.0)
        self.steps.update((self.zero, self.one))

    # --- leaves -------------------------------------------------------------------------

    def num(self, value: float) -> int:
        """The constant ``value``, one node per value (pending until used: see real)."""
        key = value if value else _const_key(value)
        found = self.consts.get(key)
        if found is None:
            found = -1 - len(self.pending_spans)
            self.pending_spans[found] = self.span
            self.consts[key] = found
            self.const_values[found] = value
        return found

    def real(self, i: int) -> int:
        """The node of id ``i``: for a pending constant, its node (made now if it was
        not); any other id as it is. Every node made has real inputs, and the
        results of a reverse pass are made real before they are used as nodes."""
        if i >= 0:
            return i
        found = self.materialized.get(i)
        if found is None:
            value = self.const_values[i]
            found = len(self.operations)
            self.operations.append(None)
            self.ins.append(())
            self.spans.append(self.pending_spans[i])
            self.materialized[i] = found
            self.const_values[found] = value
            self.consts[value if value else _const_key(value)] = found
            if i in self.steps:
                self.steps.add(found)
            if i == self.zero:
                self.zero = found
            elif i == self.one:
                self.one = found
        return found

    def _canonical(self, inputs: tuple[int, ...]) -> tuple[int, ...]:
        """``inputs`` with every pending constant that was made since replaced by its
        node (so that equal inputs have equal ids)."""
        materialized = self.materialized
        return tuple([materialized.get(i, i) for i in inputs])

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
            if a < 0:
                a = self.materialized.get(a, a)
            if b < 0:
                b = self.materialized.get(b, b)
            simpler = self._simplify_add(a, b)
            if simpler is not None:
                return simpler
            if a < 0:
                a = self.real(a)
            if b < 0:
                b = self.real(b)
        # nothing to simplify: the common case, inline
        key = (a, b)
        found = self.add_table.get(key)
        if found is None:
            found = len(self.operations)
            self.operations.append(_ADD)
            self.ins.append(key)
            self.spans.append(self.span)
            self.add_table[key] = found
        return found

    def sub(self, a: int, b: int) -> int:
        return self.make(_SUB, (a, b))

    def mul(self, a: int, b: int) -> int:
        cv, negated = self.const_values, self.negated
        if a == b or a in cv or b in cv or a in negated or b in negated:
            if a < 0:
                a = self.materialized.get(a, a)
            if b < 0:
                b = self.materialized.get(b, b)
            simpler = self._simplify_mul(a, b)
            if simpler is not None:
                return simpler
            if a < 0:
                a = self.real(a)
            if b < 0:
                b = self.real(b)
        # nothing to simplify: the common case, inline
        key = (a, b)
        found = self.mul_table.get(key)
        if found is None:
            found = len(self.operations)
            self.operations.append(_MUL)
            self.ins.append(key)
            self.spans.append(self.span)
            self.mul_table[key] = found
            steps = self.steps
            if a in steps and b in steps:
                steps.add(found)
        return found

    def div(self, a: int, b: int) -> int:
        return self.make(_DIV, (a, b))

    def neg(self, a: int) -> int:
        if a < 0:
            a = self.materialized.get(a, a)
        value = self.const_values.get(a)
        if value is None:
            inner = self.negated.get(a)
            if inner is not None:
                return inner  # --a
        else:
            folded = self._fold(_NEG, (value,))
            if folded is not None:
                return folded
        return self._intern(_NEG, (a,))

    def pow(self, a: int, b: int) -> int:
        return self.make(_POW, (a, b))

    def is_step(self, i: int) -> bool:
        """Whether node ``i`` is known to be 1 or 0 (a comparison, a product or max of
        such, the constants 0 and 1)."""
        return i in self.steps

    def make(self, op: Op, inputs: tuple[int, ...]) -> int:
        """The node ``op(*inputs)``, simplified, shared with an equal one if it exists."""
        if op is _MUL:
            return self.mul(*inputs)
        if op is _ADD:
            return self.add(*inputs)
        if min(inputs) < 0:
            inputs = self._canonical(inputs)
        if len(inputs) == 1:  # a function of one argument: folded, or as it is (neg: its own)
            if op is _NEG:
                return self.neg(inputs[0])
            value = self.const_values.get(inputs[0])
            if value is not None:
                folded = self._fold(op, (value,))
                if folded is not None:
                    return folded
            return self._intern(op, inputs)
        simpler = self._simplify(op, inputs)
        if simpler is not None:
            return simpler
        return self._intern(op, inputs)

    def _intern(self, op: Op, inputs: tuple[int, ...]) -> int:
        """The node ``op(*inputs)`` as it is: the existing one, or a new one."""
        table = self.tables.get(op)
        if table is None:
            table = self.tables[op] = {}
        if min(inputs) < 0:
            inputs = tuple([self.real(i) for i in inputs])
        found = table.get(inputs)
        if found is None:
            found = len(self.operations)
            self.operations.append(op)
            self.ins.append(inputs)
            self.spans.append(self.span)
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
            elif op in _STEP_OPS or (op.name in ("max", "min") and all(i in self.steps for i in inputs)):
                self.steps.add(found)
        return found

    def _simplify_mul(self, a: int, b: int) -> int | None:
        cv = self.const_values
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
            return self._fold(_MUL, (va, vb))
        return None

    def _simplify_add(self, a: int, b: int) -> int | None:
        cv = self.const_values
        va, vb = cv.get(a), cv.get(b)
        if va is not None and vb is not None:
            return self._fold(_ADD, (va, vb))
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

    def _simplify(self, op: Op, inputs: tuple[int, ...]) -> int | None:
        """A simpler node for an op of two or more inputs (not mul or add), or None."""
        cv = self.const_values
        values = [cv.get(i) for i in inputs]
        if op is IF:
            c, a, b = inputs
            if values[0] is not None:  # a constant condition: the branch it takes
                return a if values[0] != 0 else b
            if a == b:
                return a
            ops, ins = self.operations, self.ins
            if ops[c] is _NE and values[2] == 0 and ins[c] == (a, self.zero):
                return a  # if(a != 0, a, 0) is a
            inner = ops[a] if a >= 0 else None  # (a pending constant: a leaf)
            if inner is IF and ins[a][0] == c:  # if(c, if(c, x, y), z) is if(c, x, z)
                return self.make(IF, (c, ins[a][1], b))
            if c in self.steps:  # c is 1 in the first branch
                if a == c and values[2] == 0:
                    return c  # if(c, c, 0)
                if inner is _MUL and c in ins[a]:  # if(c, c·x, z) is if(c, x, z)
                    x, y = ins[a]
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
        elif name == "pow":
            if values[1] == 1:
                return inputs[0]
            if values[1] == 0:
                return self.one
        elif name in ("ne", "eq") and values[1] == 0 and inputs[0] in self.steps:
            if name == "ne":
                return inputs[0]  # already 1 or 0
            inner = self.operations[inputs[0]]
            if inner is not None and inner.name in _COMPARISONS:
                return self.make(OPERATORS[_OPPOSITE[inner.name]], self.ins[inputs[0]])
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
