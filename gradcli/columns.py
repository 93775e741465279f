"""How a graph is stored: columns of numbers, and a :class:`Node` per node on demand.

A lowered program keeps its nodes as :class:`Columns`: the operation of every
node in one list, the inputs of every node one after the other in one array of
ids, the spans in two arrays, and the leaves' values and names in two small
dicts. A graph of 10^6 nodes then holds no Python object per node (a node object,
its tuple of inputs, its id and its span were about 250 bytes of it), so
``eval`` of a large program peaks at a fraction of the memory, and the forward
and reverse loops read the columns directly.

:class:`Node` is the same node as one object, for the code that walks a graph
node by node to draw, explain or differentiate it: ``Graph.nodes`` builds the
list once, on first use (:class:`gradcli.graph.Graph`).
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import Span

if TYPE_CHECKING:
    from .ops import Op

#: A node's span is packed as ``start << 32 | end`` when its end is below this.
_SPAN_LIMIT = 1 << 32
_SPAN_MASK = _SPAN_LIMIT - 1

#: The typecode of the id arrays: a C int. A graph of 2^31 nodes would need far
#: more memory than any machine this runs on has, so 4 bytes an id are enough.
ID = "i"
#: The typecode of the span arrays: a position in a source shorter than 4 GiB, or
#: (``LONG``) any position.
POSITION = "I"
LONG = "q"


class Node:
    """One node of the graph. ``kind`` is ``"var"``, ``"const"`` or ``"op"``; an op
    node has ``op`` and ``inputs`` (node ids); a const node has ``value``. ``names``
    are the statements that name this node, in order."""

    __slots__ = ("_span", "id", "inputs", "kind", "name", "names", "op", "value")

    def __init__(
        self,
        id: int,
        kind: str,
        op: Op | None,
        inputs: tuple[int, ...],
        span: Span | tuple[int, int],
        name: str | None = None,
        value: float = 0.0,
    ) -> None:
        self.id = id
        self.kind = kind
        self.op = op
        self.inputs = inputs
        # The span's two ends packed in one int (``start`` and ``end`` read them): a
        # tuple per node is 64 bytes, two ints 64 with their slots, this one 40.
        start, end = span
        self._span = start << 32 | end if 0 <= end < _SPAN_LIMIT and start >= 0 else (start, end)
        self.name = name  # the variable or constant name; None for numbers and ops
        self.value = value  # a const node's value
        self.names: list[str] | None = None

    @property
    def span(self) -> Span:
        """Where the node's expression is in the source (its first occurrence)."""
        return Span(self.start, self.end)

    @property
    def start(self) -> int:
        span = self._span
        return span >> 32 if type(span) is int else span[0]

    @start.setter
    def start(self, start: int) -> None:
        self.__init_span(start, self.end)

    @property
    def end(self) -> int:
        span = self._span
        return span & _SPAN_MASK if type(span) is int else span[1]

    @end.setter
    def end(self, end: int) -> None:
        self.__init_span(self.start, end)

    def __init_span(self, start: int, end: int) -> None:
        self._span = start << 32 | end if 0 <= end < _SPAN_LIMIT and start >= 0 else (start, end)

    @property
    def op_name(self) -> str:
        """What JSON's ``op`` says: ``var``, ``const``, ``add``, ... or a function's name."""
        return self.op.name if self.op is not None else self.kind

    def __repr__(self) -> str:
        return f"<Node {self.id} {self.op_name} {self.inputs}>"


class Columns:
    """A graph's nodes as columns, node ``k`` at position ``k`` of each.

    ``ops[k]`` is node k's operation (None for a leaf); its inputs are
    ``args[first[k]:first[k + 1]]`` (``first`` has one entry more than there are
    nodes); its span is ``starts[k]``, ``ends[k]``. A leaf is a constant when
    ``consts`` has its value, else a variable; ``leaf_names`` names every variable
    and the named constants (``pi``). Statement names are the graph's (``names``)."""

    __slots__ = ("args", "consts", "ends", "first", "leaf_names", "ops", "starts")

    def __init__(self, positions: str = LONG) -> None:
        self.ops: list[Op | None] = []
        self.args = array(ID)
        self.first = array(ID, (0,))
        self.starts = array(positions)  # typecode POSITION for a source < 4 GiB
        self.ends = array(positions)
        self.consts: dict[int, float] = {}
        self.leaf_names: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.ops)

    def inputs(self, k: int) -> tuple[int, ...]:
        """Node ``k``'s inputs."""
        first = self.first
        return tuple(self.args[first[k] : first[k + 1]])

    def variables(self) -> dict[int, str]:
        """Every variable node's id and name."""
        consts = self.consts
        return {k: name for k, name in self.leaf_names.items() if k not in consts}

    def append(self, op: Op | None, inputs: tuple[int, ...], start: int, end: int) -> int:
        """Add a node; its id. (Lowering's hot loops append to the columns inline.)"""
        operations = self.ops
        node_id = len(operations)
        operations.append(op)
        self.args.extend(inputs)
        self.first.append(len(self.args))
        self.starts.append(start)
        self.ends.append(end)
        return node_id

    def node(self, k: int, names: Mapping[str, int | None] | None = None) -> Node:
        """Node ``k`` as an object of its own; ``names`` are the graph's statement names."""
        node = self._make(k)
        if names is not None:
            named = [name for name, i in names.items() if i == k]
            node.names = named or None
        return node

    def _make(self, k: int) -> Node:
        op = self.ops[k]
        span = (self.starts[k], self.ends[k])
        if op is not None:
            return Node(k, "op", op, self.inputs(k), span)
        value = self.consts.get(k)
        if value is not None:
            return Node(k, "const", None, (), span, self.leaf_names.get(k), value)
        return Node(k, "var", None, (), span, self.leaf_names[k])

    def nodes(self, names: Mapping[str, int | None]) -> list[Node]:
        """Every node as an object, in order; ``names`` are the graph's statement names."""
        ops, args, first, starts, ends = self.ops, self.args, self.first, self.starts, self.ends
        out: list[Node] = []
        append = out.append
        hi = 0
        for k, op in enumerate(ops):
            lo, hi = hi, first[k + 1]
            if op is not None:
                append(Node(k, "op", op, tuple(args[lo:hi]), (starts[k], ends[k])))
            else:
                append(self._make(k))
        for name, k in names.items():
            if k is not None:
                node = out[k]
                if node.names is None:
                    node.names = []
                node.names.append(name)
        return out

    @classmethod
    def of_nodes(cls, nodes: list[Node]) -> Columns:
        """The columns of a list of nodes (a graph that was built as objects: a
        derivative program, one output's part of a graph)."""
        columns = cls()
        operations, args, first = columns.ops, columns.args, columns.first
        starts, ends = columns.starts, columns.ends
        consts, leaf_names = columns.consts, columns.leaf_names
        for node in nodes:
            k = node.id
            operations.append(node.op)
            args.extend(node.inputs)
            first.append(len(args))
            starts.append(node.start)
            ends.append(node.end)
            if node.op is None:
                if node.kind == "const":
                    consts[k] = node.value
                if node.name is not None:
                    leaf_names[k] = node.name
        return columns


class Index:
    """Which node is ``op(*inputs)``: lowering's sharing table, a hash index over
    the columns themselves.

    Open addressing with linear probing: a slot holds a node id (-1 when empty), and
    the key of that slot is the node's operation and inputs, read back from the
    columns, so the table costs 4 bytes a slot and no object per node (a dict keyed
    by the inputs cost about 150 bytes a node, keys and ids included). The hash of
    a node is ``hash((op, *inputs))``; the table doubles when half full.
    ``fastlower`` probes it inline for operators; everything else calls
    :meth:`node`."""

    __slots__ = ("columns", "count", "limit", "mask", "slots")

    def __init__(self, columns: Columns, expected: int) -> None:
        self.columns = columns
        size = 16
        while size < 2 * expected:
            size <<= 1
        self.slots = array(ID, (-1,)) * size
        self.mask = size - 1
        self.limit = size // 2  # the table grows past this many nodes
        self.count = 0

    def node(self, op: Op, inputs: tuple[int, ...], start: int, end: int) -> int:
        """The node ``op(*inputs)``: the one made before, or a new one at ``start:end``."""
        columns = self.columns
        ops, args, first = columns.ops, columns.args, columns.first
        slots, mask = self.slots, self.mask
        count = len(inputs)
        h = hash((op, *inputs)) & mask
        while True:
            k = slots[h]
            if k < 0:
                break
            if ops[k] is op:
                lo = first[k]
                if first[k + 1] - lo == count and tuple(args[lo : lo + count]) == inputs:
                    return k
            h = (h + 1) & mask
        k = slots[h] = columns.append(op, inputs, start, end)
        self.added()
        return k

    def added(self) -> None:
        """Count a node just put in an empty slot; grow when half full."""
        self.count += 1
        if self.count > self.limit:
            self.grow()

    def grow(self) -> None:
        """Twice the slots, every operation node put back in."""
        columns = self.columns
        ops, args, first = columns.ops, columns.args, columns.first
        size = 2 * len(self.slots)
        slots = array(ID, (-1,)) * size
        mask = size - 1
        hi = 0
        for k, op in enumerate(ops):
            lo = hi
            hi = first[k + 1]
            if op is None:
                continue
            h = hash((op, *args[lo:hi])) & mask
            while slots[h] >= 0:
                h = (h + 1) & mask
            slots[h] = k
        self.slots, self.mask, self.limit = slots, mask, size // 2
