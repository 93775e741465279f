"""Source text -> graph in one pass, for large programs: no AST is ever held.

The fast parser (:mod:`gradcli.fastparse`) reads a program with two explicit stacks
and builds each AST node the moment its operator reduces. Here the same parser
appends the graph's node to its columns instead (:class:`gradcli.graph.Lowering`'s
columns and tables, the same sharing), so a program of 10^6 operations never has
its 10^6 AST nodes and their spans in memory beside its graph: they were most of
the peak memory.

The nodes come out in the order lowering the AST would make them (the parser
reduces children before parents, left to right: the post-order lowering walks), with
the same spans, so the graph is the one ``lower(parse(source))`` gives, node for
node; ``tests/test_fastlower.py`` holds the two together. Like the fast parser it
gives up (returns None) at anything out of the ordinary: a syntax error, an
unknown function, a name used before its statement, a bare expression that is not
the last statement, an ``--output`` that names no statement. The reference path
(parse, check, lower) then reads the program again and words the error, so every
message comes from one place.
"""

from __future__ import annotations

from .fastparse import ALL, Declined, Parser
from .graph import Graph, Lowering
from .ops import CONSTANTS, FUNCTIONS, IF, OPERATORS, function
from .parse import only_line_breaks

#: An operand on the parser's stack: the node id, and where this occurrence of it
#: starts and ends in the source.
Operand = tuple[int, int, int]


class GraphParser(Parser):
    """:class:`~gradcli.fastparse.Parser` with graph nodes for operands."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.low = Lowering(source)
        self.operands: list[Operand] = []  # type: ignore[assignment]
        # A name means one node for the whole program: the statement that assigned it
        # (``low.assigned``), a constant or an input (these here; an input assigned
        # later declines, as lowering would refuse it).
        self.resolved: dict[str, int] = {}
        self.last: tuple[int, str | None] = (-1, None)
        self.count = 0  # statements so far
        self.bare = False  # a bare expression was read: it must be the last statement
        self.end = 0  # where the statement before ends

    def graph(self, outputs: list[str] | None) -> tuple[Graph, list[int]]:
        """The graph for the statements ``outputs`` (default: the last), and each
        output's node id in it, as :func:`gradcli.graph.lower_outputs` gives them."""
        for _ in self.statements():
            pass
        low = self.low
        if not self.count:
            raise Declined
        if outputs is None:
            output_id, output_name = self.last
            return low.graph(output_id, output_name, [output_id])
        if any(name not in low.assigned for name in outputs):
            raise Declined
        # The output lowered last is the graph's own: the largest node id, and of
        # names for one node, the one assigned last.
        assigned = low.assigned
        order = {name: k for k, name in enumerate(assigned)}
        last = max(outputs, key=lambda name: (assigned[name], order[name]))
        return low.graph(assigned[last], last, [assigned[name] for name in outputs])

    # --- operands -------------------------------------------------------------------

    def name(self, name: str, start: int, end: int) -> Operand:  # type: ignore[override]
        node_id = self.resolved.get(name)
        if node_id is None:
            node_id = self.low.assigned.get(name)
        if node_id is None:
            low = self.low
            if name in CONSTANTS:
                node_id = low.leaf("const", name, start, end, name=name, value=CONSTANTS[name])
            elif name in FUNCTIONS:
                raise Declined  # a function used as a value
            else:
                node_id = low.leaf("var", name, start, end, name=name)
                low.variables[name] = node_id
            self.resolved[name] = node_id
        return node_id, start, end

    def number(self, value: float, text: str, start: int, end: int) -> Operand:  # type: ignore[override]
        table = self.low.interned["const"]
        node_id = table.get(value)
        if node_id is None:
            columns = self.low.columns
            node_id = table[value] = columns.append(None, (), start, end)
            columns.consts[node_id] = value
        return node_id, start, end

    def widen(self, operand: Operand, start: int, end: int) -> Operand:
        """The operand with the span of its parentheses or sign; its node takes that
        span when it was made right here (its first occurrence, as lowering the AST
        would see it)."""
        node_id, old_start, old_end = operand
        columns = self.low.columns
        starts, ends = columns.starts, columns.ends
        if starts[node_id] == old_start and ends[node_id] == old_end:
            starts[node_id] = start
            ends[node_id] = end
        return node_id, start, end

    # --- reductions -------------------------------------------------------------------

    def reduce(self, strength: int) -> None:
        operators = self.operators
        if not operators or operators[-1][0] < strength:
            return  # nothing to build (most calls): no set-up
        operands = self.operands
        index = self.low.index
        slots, mask = index.slots, index.mask
        columns = self.low.columns
        operations, args, first = columns.ops, columns.args, columns.first
        starts, ends = columns.starts, columns.ends
        while operators and operators[-1][0] >= strength:
            _, name, start = operators.pop()
            right = operands[-1]
            # The node, found in the index or appended to the columns: Index.node,
            # inline (an operator always has the same number of inputs).
            if start is None:  # a binary operator: its left operand sits below
                left = operands[-2]
                del operands[-1]
                a = left[0]
                b = right[0]
                start = left[1]
                op = OPERATORS[name]
                h = hash((op, a, b)) & mask
                while True:
                    k = slots[h]
                    if k < 0:
                        break
                    if operations[k] is op:
                        lo = first[k]
                        if args[lo] == a and args[lo + 1] == b:
                            break
                    h = (h + 1) & mask
            elif name == "neg":
                a = right[0]
                b = -1
                op = OPERATORS[name]
                h = hash((op, a)) & mask
                while True:
                    k = slots[h]
                    if k < 0:
                        break
                    if operations[k] is op and args[first[k]] == a:
                        break
                    h = (h + 1) & mask
            else:  # unary plus: no node, but the span covers the sign
                operands[-1] = self.widen(right, start, right[2])
                continue
            if k < 0:  # a new node
                k = slots[h] = len(operations)
                operations.append(op)
                args.append(a)
                if b >= 0:
                    args.append(b)
                first.append(len(args))
                starts.append(start)
                ends.append(right[2])
                index.count += 1
                if index.count > index.limit:  # Index.added, inline
                    index.grow()
                    slots, mask = index.slots, index.mask
            operands[-1] = (k, start, right[2])

    def close(self, end: int) -> None:
        operators, operands = self.operators, self.operands
        self.reduce(ALL)
        if not operators:
            raise Declined  # a ')' that closes no '('
        frame = operators.pop()
        name = frame[1]
        start = frame[2]
        if name is None:  # ( expr ): the parentheses belong to the node
            operands[-1] = self.widen(operands[-1], start, end)
            return
        base = frame[4]
        args = tuple([operand[0] for operand in operands[base:]])
        del operands[base:]
        variants = FUNCTIONS.get(name)
        if variants is None:
            raise Declined  # not a function
        op = variants.get(len(args)) or function(name, len(args))
        if op is None:
            raise Declined  # a wrong number of arguments
        if op is IF:
            self.low.branches = True
        operands.append((self.low.index.node(op, args, start, end), start, end))

    def statement(self, target: tuple[str, int, int] | None) -> None:  # type: ignore[override]
        self.reduce(ALL)
        node_id, start, end = self.operands.pop()
        if self.bare:
            raise Declined  # a bare expression before this statement: its value is lost
        low = self.low
        if target is None:
            self.bare = True
            source = self.source
            if self.count and source[start] in "+-" and only_line_breaks(source, self.end, start):
                raise Declined  # a line that reads as if it continued the one before
            self.last = (node_id, None)
        else:
            name = target[0]
            if name in CONSTANTS or name in FUNCTIONS or name in low.assigned or name in low.variables:
                raise Declined  # assigned twice, used before, or not a name to assign
            low.assigned[name] = node_id  # a node's names are these, in this order
            self.last = (node_id, name)
        self.count += 1
        self.end = end


def lower_source(source: str, outputs: list[str] | None = None) -> tuple[Graph, list[int]] | None:
    """The graph of ``source`` for the statements ``outputs`` (default: the last) and
    each output's node id in it, or None when the reference path must read it."""
    try:
        return GraphParser(source).graph(outputs)
    except Declined:
        return None
