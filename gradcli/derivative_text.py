"""A derivative program as text: gradcli's own language, LaTeX, Python, NumPy, JSON.

:func:`layout` decides once which nodes of a :class:`~gradcli.derive.DerivativeProgram`
become statements and under which names; each format then writes those statements
with its own spelling of the operations. The program's statements come first (in
the language: as the source wrote them, so the printed program takes the same
bindings), then the shared intermediate statements, then one statement per
derivative: ``d<out>_d<name>``, and ``d2<out>_d<a>_d<b>`` at second order.

This module holds the layout, the walk that writes its statements in a format's
spelling (:func:`statements`), gradcli's own language and JSON; LaTeX is in
:mod:`gradcli.derivative_latex`, Python and NumPy in :mod:`gradcli.derivative_python`.

A node gets a statement of its own when it is used more than once (unless its text is
a few characters, ``cos(x)``) or when its text would grow past a line's worth;
otherwise it is written inline where it is used. So every text is bounded and the
output is linear in the size of the graph. Introduced names never collide with a
name of the program, a function or a constant.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .graph import Node, format_literal
from .ops import CONSTANTS, FUNCTIONS, Op

if TYPE_CHECKING:
    from .derivatives import DerivativeProgram

#: Texts up to this long are written inline even where shared; single uses up to
#: INLINE_MAX. Past that a node gets a name.
SHARED_INLINE = 12
INLINE_MAX = 60

PRECEDENCE = {
    "lt": 0, "le": 0, "gt": 0, "ge": 0, "eq": 0, "ne": 0,
    "add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4,
}
ATOM = 5


class Layout:
    """Which nodes are statements, and in what order.

    ``labels[i]`` is the name by which node ``i`` is referred to (None: written
    inline). ``body`` lists the statements after the source's own, in order, as
    ``(name, node id)``; ``derivatives`` lists ``(name, node id)`` per derivative
    (wrt order, first order then second), with ``defined`` the names among them whose
    statement is already in ``body`` (a derivative that others use). ``given`` marks
    the nodes defined by the source's statements when they are written as the source
    wrote them."""

    def __init__(self) -> None:
        self.labels: list[str | None] = []
        self.body: list[tuple[str, int]] = []
        self.derivatives: list[tuple[str, int]] = []
        self.defined: set[str] = set()
        self.names: dict[Any, str] = {}  # "x" or ("x", "y") -> derivative statement name
        self.output_label = ""
        self.source_lines: list[str] = []  # the source statements, as written (text only)
        self.lines: list[str] = []  # the body and derivative statements, in the language


def fresh_name(wanted: str, taken: set[str]) -> str:
    name, n = wanted, 0
    while name in taken:
        n += 1
        name = f"{wanted}_{n}"
    taken.add(name)
    return name


def _program_names(dp: DerivativeProgram) -> set[str]:
    graph = dp.source_graph
    return {*graph.inputs, *graph.names, *FUNCTIONS, *CONSTANTS}


def layout(dp: DerivativeProgram | list[DerivativeProgram], *, as_written: bool = True) -> Layout:
    """Name the statements of ``dp`` (or of several programs of one graph: one per
    output). ``as_written``: the source's statements are printed from its text
    (``dp.program`` is needed), so the nodes they name are known by those names;
    otherwise every statement is written from the graph."""
    dps = dp if isinstance(dp, list) else [dp]
    dp = dps[0]
    # the nodes as columns: the source's, then the builder's (or the graph's nodes)
    source_graph = dp.source_graph
    source = source_graph.columns
    leaf_names, consts = source.leaf_names, source.consts
    base = dp.base
    columns = dp.columns
    if columns is not None:
        ops, ins, values = columns.operations, columns.ins, columns.values
    else:
        nodes = dp.graph.nodes
        ops, ins = [node.op for node in nodes], [node.inputs for node in nodes]
        values = {node.id: node.value for node in nodes[base:] if node.op is None}
    size = len(ops)
    out = Layout()
    taken = _program_names(dp)
    label = dp.output_label
    out.output_label = label
    as_written = as_written and (dp.program is not None or complete(dp))
    # the source's statements
    if as_written:
        _source_lines(dp, out, taken)
    # the derivative statements' names
    roots: dict[int, str] = {}
    hints: dict[int, str] = {}
    for each in dps:
        mine = each.output_label
        keys: dict = out.names if len(dps) == 1 else out.names.setdefault(mine, {})
        for name, i in each.first.items():
            stmt = fresh_name(f"d{mine}_d{name}", taken)
            keys[name] = stmt
            out.derivatives.append((stmt, i))
            roots.setdefault(i, stmt)
        for (a, b), i in each.second.items():
            stmt = fresh_name(f"d2{mine}_d{a}_d{b}", taken)
            keys[(a, b)] = stmt
            out.derivatives.append((stmt, i))
            roots.setdefault(i, stmt)
        for name, i in each.adjoints.items():
            if i not in roots:
                hints.setdefault(i, f"d{mine}_d{name}")

    labels: list[str | None] = [None] * size
    for k, name in leaf_names.items():  # (a derivative's leaves are constants, with no name)
        labels[k] = name
    given = bytearray(size)
    for name, k in source_graph.names.items():  # a statement's node, by its first name
        if k is not None and ops[k] is not None and not given[k] and labels[k] is None:
            labels[k] = name
            given[k] = as_written
    for each in dps:
        labels[each.value] = labels[each.value] or each.output_label
        given[each.value] = as_written

    # which nodes the printed statements need, and how often each is used (0: not
    # needed). Every derivative node is needed (pruning kept only those a derivative
    # uses) and its uses were counted then: only the source's nodes are walked here.
    refs = dp.refs
    if refs is not None and all(each.refs is refs for each in dps):
        uses, walk = list(refs), base
    else:
        uses, walk = [0] * size, size
    starts = list(roots) if as_written else [*(each.value for each in dps), *roots]
    for i in starts:
        uses[i] += 1
    for i in range(walk - 1, -1, -1):
        if uses[i] and not given[i]:
            for j in ins[i]:
                uses[j] += 1

    # Each needed node's text from its inputs' (a name, or inline), written here rather
    # than by op_text: a derivative program has some 10^5 of them.
    texts: list[str] = [""] * size
    precs = [ATOM] * size
    forms = _FORMS
    body, lines = out.body, out.lines
    t = 0
    for i in range(size):
        u = uses[i]
        if not u:
            continue
        op = ops[i]
        if op is None:
            if i >= base:
                texts[i], precs[i] = literal_text(values[i])
            elif i in leaf_names:
                texts[i] = leaf_names[i]
            else:
                texts[i], precs[i] = literal_text(consts[i])
            continue
        if given[i]:
            texts[i] = labels[i]  # type: ignore[assignment]
            continue
        form = forms.get(op) or _form(op)
        kind, prec = form[0], form[1]
        inputs = ins[i]
        if kind == _INFIX:
            left, right = inputs
            lt, rt = texts[left], texts[right]
            if precs[left] < form[2]:
                lt = f"({lt})"
            if precs[right] < form[3]:
                rt = f"({rt})"
            text = lt + form[4] + rt
        elif kind == _CALL:
            text = f"{form[4]}({', '.join([texts[j] for j in inputs])})"
        else:  # the unary minus: -(a + b), -(-a), -(-2)
            inner = inputs[0]
            text = f"-({texts[inner]})" if precs[inner] <= prec else "-" + texts[inner]
        label = labels[i]
        if label is None and (len(text) > INLINE_MAX or (u > 1 and len(text) > SHARED_INLINE)):
            root = roots.get(i)
            if root is not None and u == 1:
                pass  # a derivative no other statement uses: its own line
            elif root is not None and root not in out.defined:
                label = root
                out.defined.add(root)
            elif i in hints:
                label = fresh_name(hints[i], taken)
            else:
                t += 1
                while f"t{t}" in taken:
                    t += 1
                label = fresh_name(f"t{t}", taken)
            labels[i] = label
        if label is not None:  # a statement of the source written from the graph, or a new one
            body.append((label, i))
            lines.append(f"{label} = {text}")
            texts[i] = label
        else:
            texts[i], precs[i] = text, prec
    out.labels = labels
    for name, i in out.derivatives:
        if not (name in out.defined and labels[i] == name):
            out.lines.append(f"{name} = {texts[i]}")
    return out


def complete(dp: DerivativeProgram) -> bool:
    """Whether every statement and input of the source is in the graph (nothing was
    left out for --output), so that its statements can be read back from its nodes."""
    graph = dp.source_graph
    return None not in graph.names.values() and None not in graph.inputs.values()


def _source_lines(dp: DerivativeProgram, out: Layout, taken: set[str]) -> None:
    """The source's statements as written; a bare expression gets the output's
    display name (or, when another statement is the output, a fresh one)."""
    from .syntax import Assign

    program = dp.program
    if program is None:  # no syntax tree (a long program): each statement from its node's span
        graph = dp.source_graph
        source = graph.source
        starts, ends = graph.columns.starts, graph.columns.ends
        named: dict[int, list[str]] = {}
        for name, k in graph.names.items():
            if k is not None:
                named.setdefault(k, []).append(name)
        for k in sorted(named):  # in the order of their nodes
            first, *more = named[k]
            out.source_lines.append(f"{first} = {source[starts[k]:ends[k]]}")
            out.source_lines += [f"{name} = {first}" for name in more]
        if graph.output_name is None:
            k = dp.value
            out.source_lines.append(f"{out.output_label} = {source[starts[k]:ends[k]]}")
        return
    source = program.source
    last = len(program.statements) - 1
    for index, stmt in enumerate(program.statements):
        written = source[stmt.span.start : stmt.span.end]
        if isinstance(stmt, Assign):
            out.source_lines.append(written)
            continue
        if index == last and dp.source_graph.output_name is None:
            name = out.output_label
        else:
            name = fresh_name("f" if "f" not in taken else "out", taken)
        out.source_lines.append(f"{name} = {written}")


def leaf_text(node: Node) -> tuple[str, int]:
    if node.name is not None:
        return node.name, ATOM
    return literal_text(node.value)


def literal_text(value: float) -> tuple[str, int]:
    """A number as the language writes it, and its precedence (a negative one is a
    negation)."""
    text = format_literal(value)
    return text, (PRECEDENCE["neg"] if text.startswith("-") else ATOM)


_INFIX, _CALL, _MINUS = 0, 1, 2

#: Per operation, how layout writes it: (_INFIX, precedence, the left operand's
#: precedence below which it is parenthesised, the right's, " op "), (_CALL,
#: ATOM, 0, 0, name) or (_MINUS, precedence, ...). Filled as operations are met.
_FORMS: dict[Op, tuple[int, int, int, int, str]] = {}


def _form(op: Op) -> tuple[int, int, int, int, str]:
    """How op_text writes ``op`` (see _FORMS), for the layout's own loop."""
    if op.symbol is None:
        form = (_CALL, ATOM, 0, 0, op.name)
    elif op.arity == 1:
        form = (_MINUS, PRECEDENCE[op.name], 0, 0, "-")
    else:
        prec = PRECEDENCE[op.name]
        power = op.name == "pow"
        # as op_text: floats do not associate, so a + (b + c) keeps its parentheses; a
        # power's left operand and a comparison's are parenthesised at equal precedence
        left = prec + 1 if power or prec == 0 else prec
        right = prec if power else prec + 1
        form = (_INFIX, prec, left, right, "^" if power else f" {op.symbol} ")
    _FORMS[op] = form
    return form


def op_text(node: Node, texts: list[str], precs: list[int]) -> tuple[str, int]:
    """The node written in the language from its inputs' texts (a name, or inline)."""
    op = node.op
    assert op is not None
    parts = [texts[i] for i in node.inputs]
    if op.symbol is None:
        return f"{op.name}({', '.join(parts)})", ATOM
    prec = PRECEDENCE[op.name]
    if op.arity == 1:
        inner = parts[0]
        if precs[node.inputs[0]] <= prec:  # -(a + b), -(-a), -(-2)
            inner = f"({inner})"
        return f"-{inner}", prec
    left, right = node.inputs
    lt, rt = parts
    if precs[left] < prec or (op.name == "pow" and precs[left] <= prec) or (prec == 0 and precs[left] == 0):
        lt = f"({lt})"
    # floats do not associate: a + (b + c) and a * (b / c) keep their parentheses
    if precs[right] < prec or (op.name != "pow" and precs[right] <= prec):
        rt = f"({rt})"
    if op.name == "pow":
        return f"{lt}^{rt}", prec
    return f"{lt} {op.symbol} {rt}", prec


# --- the formats ---------------------------------------------------------------------------


def program_text(dp: DerivativeProgram | list[DerivativeProgram], lay: Layout | None = None) -> str:
    """The derivative program in gradcli's language, one statement a line."""
    with no_gc():
        lay = lay or layout(dp)
        return "\n".join([*map(safe_text, lay.source_lines), *lay.lines]) + "\n"


def safe_text(written: str) -> str:
    """A statement as written, safe to print: its line ends as ``\\n`` (``\\r\\n`` and a
    lone ``\\r`` end a line alike), its tabs kept, and every other control or invisible
    character, which only a comment can hold, as U+FFFD: a terminal escape in a comment
    must not reach the terminal. The program means the same."""
    if written.isascii() and written.isprintable():
        return written
    from .errors import printable

    lines = written.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(printable(line, tab="\t") for line in lines)


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic GC off while a large text is built: strings make no cycles, and the
    collector would rescan the graph's nodes again and again; what was made is moved
    to the oldest generation at the end (freeze, unfreeze: no visit), or the first
    collection after would visit it all to find nothing."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
        gc.unfreeze()
    finally:
        if collecting:
            gc.enable()


class _Language:
    """Spelling of the language itself (the layout's texts)."""

    def leaf(self, node: Node) -> tuple[str, int]:
        return leaf_text(node)

    def op(self, node: Node, texts: list[str], precs: list[int]) -> tuple[str, int]:
        return op_text(node, texts, precs)

    def name(self, name: str) -> str:
        return name

    def statement(self, name: str, text: str) -> str:
        return f"{name} = {text}"


def statements(dp: DerivativeProgram, lay: Layout, fmt: Any) -> list[str]:
    """The body and the derivative statements in ``fmt``'s spelling."""
    nodes = dp.graph.nodes
    texts: list[str] = [""] * len(nodes)
    precs = [ATOM] * len(nodes)
    lines: list[str] = []
    targets = [i for _, i in lay.body] + [i for _, i in lay.derivatives]
    # everything the statements use, in topological order (ids ascend)
    body = {i: name for name, i in lay.body}
    need = bytearray(len(nodes))
    for i in targets:
        need[i] = 1
    for i in range(len(nodes) - 1, -1, -1):
        if need[i] and (lay.labels[i] is None or i in body):
            for j in nodes[i].inputs:
                need[j] = 1
    for node in nodes:
        i = node.id
        if not need[i]:
            continue
        if node.op is None:
            texts[i], precs[i] = fmt.leaf(node)
        elif lay.labels[i] is not None and i not in body:
            texts[i], precs[i] = fmt.name(lay.labels[i]), ATOM  # a statement of the source
        else:
            texts[i], precs[i] = fmt.op(node, texts, precs)
        if i in body:
            lines.append(fmt.statement(body[i], texts[i]))
            texts[i], precs[i] = fmt.name(body[i]), ATOM
    for name, i in lay.derivatives:
        if name in lay.defined and body.get(i) == name:
            continue  # its statement is in the body: others use it
        lines.append(fmt.statement(name, texts[i]))
    return lines




def program_json(dp: DerivativeProgram) -> str:
    """One JSON object on a line of its own (ended by a newline, as every other format
    ends): the source, the output, ``wrt``, the order, the program's text, each
    derivative's statement name, and the node counts of the source and of the
    derivative program."""
    from .render import dumps

    lay = layout(dp)
    text = program_text(dp, lay)
    derivatives = {key if isinstance(key, str) else ",".join(key): stmt for key, stmt in lay.names.items()}
    obj = {
        "source": dp.source,
        "output": lay.output_label,
        "wrt": list(dp.wrt),
        "order": dp.order,
        "program": text,
        "derivatives": derivatives,
        "nodes": dp.base,
        "derivative_nodes": dp.size,
    }
    return dumps(obj) + "\n"
