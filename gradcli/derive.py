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

Nodes are built by a :class:`gradcli.builder.Builder` that shares what is shared (an operation on
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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .builder import Builder
from .derivatives import DerivativeNodes, DerivativeProgram
from .errors import GradError
from .graph import Graph
from .ops import IF


def _evaluated_when(G: Builder, root: int) -> dict[int, int | None] | None:
    """Where each node up to ``root`` is evaluated, as a node that is 1 there and 0
    elsewhere (None: always), or None for a program without ``if``.

    A node is evaluated where some consumer is and asks for it: always for an ordinary
    input or an ``if``'s condition, where the condition holds for its first branch and
    where it does not for its second. "And" is a lazy ``if(a, b, 0)`` (a condition
    inside a branch not taken is never computed), "or" is ``max``."""
    ops, ins = G.operations, G.ins
    if not G.has_if or IF not in ops[: root + 1]:
        return None
    when: dict[int, int | None] = {root: None}
    for i in range(root, -1, -1):
        if i not in when:
            continue
        mine = when[i]
        inputs = ins[i]
        for k, j in enumerate(inputs):
            demand = mine
            if ops[i] is IF and k > 0:
                test = G("ne" if k == 1 else "eq", inputs[0], G.zero)
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

    One reverse pass over the nodes up to ``root``, as :func:`gradcli.evaluate.backward`
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
    ops, ins, base = G.operations, G.ins, G.base
    starts, ends = G.starts, G.ends
    wanted = bytearray(root + 1)  # on a path from a target to root
    through = bytearray(root + 1)  # some input is wanted: the node passes a gradient on
    target_list = [t for t in targets if t is not None and t <= root]
    for t in target_list:
        wanted[t] = 1
    for i in range(root + 1):
        for j in ins[i]:
            if wanted[j]:
                wanted[i] = through[i] = 1
                break
    when = _evaluated_when(G, root)
    targets_set = {*target_list, *report}
    found: dict[int, int | None] = {}
    parts: dict[int, list[int]] = {root: [G.one]}
    pop = parts.pop
    add, mul, cv = G.add, G.mul, G.const_values
    for i in range(root, -1, -1):
        mine = pop(i, None)
        if mine is None or not wanted[i]:
            continue
        if i < base:
            G.span = (starts[i], ends[i])
        else:  # (second order: a node of the first derivative)
            G.span = G.spans[i - base]
        g = mine[0]
        if len(mine) > 1:
            for k in range(1, len(mine)):
                g = add(g, mine[k])
        if i in targets_set:
            found[i] = G.real(g)
        if not through[i]:
            continue
        op = ops[i]
        inputs = ins[i]
        local = op.dgraph(G, i, *inputs)  # type: ignore[union-attr]
        defined = None
        if op.defined is not None and g not in cv:  # a constant g is not 0: nothing to skip  # type: ignore[union-attr]
            defined = op.defined(G, i, *inputs)  # type: ignore[union-attr]
        evaluated = when.get(i) if when is not None else None
        for k, j in enumerate(inputs):
            lk = local[k]
            if lk is None or not wanted[j]:
                continue
            term = mul(g, lk)
            if cv.get(term) == 0:
                continue  # a literal 0: left out
            if defined is not None and defined[k] is not None:
                nonzero = g if G.is_step(g) else G("ne", g, G.zero)
                term = G("if", G("max", defined[k], nonzero), term, G.zero)
            if evaluated is not None:
                term = G("if", evaluated, term, G.zero)
            mine = parts.get(j)
            if mine is None:
                parts[j] = [term]
            else:
                mine.append(term)
    return found



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
    with _building():
        return _derivative_program(graph, names, order, program)[0]


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
    with _building():
        return _derivative_program(graph, names, order, program, list(outputs))


@contextmanager
def _building() -> Iterator[None]:
    """As compile does: building makes no reference cycles for the cyclic GC to find,
    and left on it would rescan the growing graph again and again; and the nodes built
    are moved to the oldest generation at the end (freeze, unfreeze: no visit), or the
    first collection after would visit every one of them to find nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
        gc.unfreeze()
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
            first[name] = G.real(G.zero if d is None else d)
        adjoints = {name: d for name, i in named.items() if (d := found.get(i)) is not None}
        second: dict[tuple[str, str], int] = {}
        if order == 2:
            for a_index, a in enumerate(names):
                later = names[a_index:]
                row = reverse(G, first[a], [targets[b] for b in later if targets[b] is not None])  # type: ignore[misc]
                for b in later:
                    i = targets[b]
                    d = row.get(i) if i is not None else None
                    second[(a, b)] = G.real(G.zero if d is None else d)
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
    operations, ins, spans = G.operations, G.ins, G.spans
    base, size = G.base, len(G.operations)
    keep = bytearray(size)
    refs = [0] * size  # how many kept derivative nodes use each node (for layout)
    for _, _, first, second, _ in parts:
        for i in (*first.values(), *second.values()):
            keep[i] = 1
    for i in range(size - 1, base - 1, -1):
        if keep[i]:
            for j in ins[i]:
                keep[j] = 1
                refs[j] += 1
    new_id = list(range(size))
    drop = keep.find(0, base)  # the first node left out: the ids up to it stay
    if drop >= 0:  # the kept nodes, renumbered, into new columns
        made = (operations, ins, spans, refs)
        operations, ins, spans, refs = operations[:drop], ins[:drop], spans[: drop - base], refs[:drop]
        add_op, add_inputs, add_span, add_refs = operations.append, ins.append, spans.append, refs.append
        for i in range(drop, size):
            if not keep[i]:
                new_id[i] = -1
                continue
            new_id[i] = len(operations)
            add_op(made[0][i])
            add_span(made[2][i - base])
            add_refs(made[3][i])
            inputs = made[1][i]
            if len(inputs) == 2:
                a, b = inputs
                add_inputs((new_id[a], new_id[b]))
            else:
                add_inputs(tuple([new_id[j] for j in inputs]))
    values = {new_id[i]: v for i, v in G.const_values.items() if i >= base and keep[i]}
    # (an if that a rule made toward an input no one wanted was dropped with it)
    branches = graph.branches or (G.has_if and IF in operations[base:])
    out = DerivativeNodes(graph, operations, ins, spans, values, branches)
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
            refs,
        )
        for root, label, first, second, adjoints in parts
    ]
