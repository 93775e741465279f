"""``--explain``: the forward pass and the chain rule written out with the numbers.

The forward pass is listed one node per line, inputs first, each node defined in
terms of its operands' names (``q = x + y = 5``); an unnamed node is called ``n`` and
its id, the id ``trace`` shows. The backward pass then goes from the output back to
the inputs, one line per node that has a gradient, summing over every use of the node::

    ∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)·(1) = -4
    ∂f/∂x = ∂f/∂a · ∂a/∂x + ∂f/∂b · ∂b/∂x = (2)·(3) + (1)·(3) = 9

The total on the right is the evaluator's own accumulated gradient, so the text
explains exactly the numbers the table reports. Two loops, no recursion, no rich.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .evaluate import Result
from .graph import Graph, format_literal
from .ops import Op
from .render import DEFAULT_PRECISION, format_number

if TYPE_CHECKING:
    from .exact import Exact

_TEMP = re.compile(r"([^\W\d]\w*?)(\d+)")


@dataclass(eq=False)
class Term:
    """One use of a node: ``consumer`` uses it as its input number ``position``."""

    consumer: int
    position: int
    upstream: float | None  # ∂f/∂consumer
    local: float | None  # ∂consumer/∂node; None where not computed (the upstream is 0)
    rule: str = ""  # the local rule used: ∂exp(u)/∂u = exp(u)


_OPERANDS = "uvw"


def local_rule(op: Op, position: int, count: int) -> str:
    """The rule of ``op``'s local gradient toward its operand ``position``, written
    over operands u, v, w: ``∂exp(u)/∂u = exp(u)``, ``∂(u * v)/∂v = u``."""
    params = op.params
    rule = op.rule
    if count > len(params) or len(params) > len(_OPERANDS):  # max(a, b, c), sum(...)
        return f"∂{op.name}(...)/∂(argument {position + 1}): {rule}"
    names = dict(zip(params, _OPERANDS, strict=False))
    toward = params[position]
    part = re.search(rf"∂/∂{re.escape(toward)} = (.*?)(?=, ∂/∂|; |$)", rule)
    text = part.group(1) if part else rule
    pattern = "|".join(re.escape(p) for p in sorted(params, key=len, reverse=True))
    text = re.sub(rf"(?<![A-Za-z_])({pattern})(?![A-Za-z_])", lambda m: names[m.group(1)], text)
    operands = [names[p] for p in params]
    if op.symbol is None:
        head = f"{op.name}({', '.join(operands)})"
    elif op.arity == 1:
        head = f"({op.symbol}{operands[0]})"
    else:
        head = f"({operands[0]} {op.symbol} {operands[1]})"
    return f"∂{head}/∂{names[toward]} = {text}"


@dataclass(eq=False)
class Step:
    """∂f/∂node as the sum of its terms."""

    node: int
    name: str
    grad: float
    terms: list[Term]


@dataclass(eq=False)
class Explanation:
    names: list[str]  # what the text calls each node
    output: str  # the output's name (f for a bare expression)
    forward: list[tuple[int, str]]  # (node id, definition without numbers: "q = x + y")
    steps: list[Step]  # from the output back to the inputs, the output's own step first


def _temp_prefix(graph: Graph) -> str:
    """``n`` for unnamed nodes, unless the program already has names like ``n3``."""
    taken = {*graph.inputs, *graph.names}
    for prefix in ("n", "t", "node", "tmp"):
        if not any((m := _TEMP.fullmatch(name)) and m.group(1) == prefix for name in taken):
            return prefix
    return "_n"


def node_names(graph: Graph) -> list[str]:
    """What the explanation calls each node: the output ``f`` (or its statement name),
    a variable or constant by its name, a named statement by its name, any other
    node ``n`` and its id."""
    f = graph.output_label()
    prefix = _temp_prefix(graph)
    names: list[str] = []
    for node in graph.nodes:
        if node.id == graph.output:
            names.append(f)
        elif node.kind == "var":
            names.append(node.name or "")
        elif node.kind == "const":
            names.append(node.name if node.name is not None else format_literal(node.value))
        elif node.names:
            names.append(node.names[0])
        else:
            names.append(f"{prefix}{node.id}")
    return names


def definitions(graph: Graph, names: list[str]) -> list[tuple[int, str]]:
    """Each input and operation in topological order with its definition in terms of
    its operands' names, without numbers: ``(2, "q = x + y")``; an input is its name."""
    forward: list[tuple[int, str]] = []
    f = names[graph.output]
    for node in graph.nodes:
        if node.op is None:
            if node.id == graph.output:  # a program that is one name or number: f = x
                forward.append((node.id, f"{f} = {node.name or format_literal(node.value)}"))
            elif node.kind == "var":
                forward.append((node.id, names[node.id]))
            continue
        op = node.op
        args = [names[i] for i in node.inputs]
        if op.symbol is None:
            rhs = f"{op.name}({', '.join(args)})"
        elif op.arity == 1:
            rhs = f"-{args[0]}"
        else:
            sep = "" if op.name == "pow" else " "
            rhs = f"{args[0]}{sep}{op.symbol}{sep}{args[1]}"
        forward.append((node.id, f"{names[node.id]} = {rhs}"))
    return forward


def explain(result: Result) -> Explanation:
    """The explanation of ``result``: names, forward definitions and chain-rule steps
    (of its own output, for one of several: pass the result :func:`own_output` gives,
    to index its values by the explanation's node ids)."""
    from .jacobian import own_output

    result = own_output(result)
    graph = result.graph
    nodes = graph.nodes
    names = node_names(graph)
    f = names[graph.output]
    forward = definitions(graph, names)
    uses: list[list[tuple[int, int]]] = [[] for _ in nodes]
    for node in nodes:
        for k, i in enumerate(node.inputs):
            uses[i].append((node.id, k))

    local = [n.local_grads for n in result.nodes]
    steps: list[Step] = []
    for node in reversed(nodes):
        g = result.grads[node.id]
        if g is None:
            continue  # constants, and what depends on no variable
        # A consumer in a branch not taken has no gradient and passes none on.
        terms = [
            Term(c, k, result.grads[c], local[c][k], _rule_of(nodes[c].op, k, len(nodes[c].inputs)))
            for c, k in uses[node.id]
            if not (graph.branches and result.grads[c] is None)
        ]
        steps.append(Step(node.id, names[node.id], g, terms))
    return Explanation(names, f, forward, steps)


def _rule_of(op: Op | None, position: int, count: int) -> str:
    return local_rule(op, position, count) if op is not None else ""


class Numbers:
    """How the explanation writes its numbers: floats to ``precision`` digits, or, with
    ``exact`` (``--exact``), the exact fractions where there are some (``≈`` marking a
    float elsewhere), as the table above it writes them."""

    def __init__(self, precision: int | None, exact: Exact | None = None) -> None:
        self.precision = precision
        self.exact = exact

    def _cell(self, q: Any, value: float | None) -> str:
        if self.exact is None:
            return format_number(value, self.precision)
        from .worksheet import exact_cell

        return exact_cell(q, value, self.precision)

    def value(self, node: int, value: float) -> str:
        return self._cell(self.exact and self.exact.values[node], value)

    def grad(self, node: int, grad: float | None) -> str:
        return self._cell(self.exact and self.exact.grads[node], grad)

    def local(self, consumer: int, position: int, local: float | None) -> str:
        return self._cell(self.exact and self.exact.local_grads[consumer][position], local)


def _factor(text: str) -> str:
    return f"({text})"


def step_text(
    ex: Explanation, step: Step, precision: int | None = DEFAULT_PRECISION, numbers: Numbers | None = None
) -> str:
    """``∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)·(1) = -4``."""
    f = ex.output
    numbers = numbers or Numbers(precision)
    total = numbers.grad(step.node, step.grad)
    if not step.terms:
        return f"∂{f}/∂{f} = {total}"
    output = ex.steps[0].node if ex.steps else -1
    uses: dict[int, int] = {}
    for t in step.terms:
        uses[t.consumer] = uses.get(t.consumer, 0) + 1
    symbols: list[str] = []
    factors: list[str] = []
    for t in step.terms:
        c = ex.names[t.consumer]
        # A node used twice by one consumer gives two terms: each says which operand it is.
        which = f" (as {_OPERANDS[t.position]})" if uses[t.consumer] > 1 and t.position < 3 else ""
        if uses[t.consumer] > 1 and t.position >= 3:
            which = f" (as argument {t.position + 1})"
        if t.consumer == output:  # ∂f/∂f = 1 goes without saying
            if not which and len(step.terms) > 1:
                which = " (direct)"  # beside terms through other nodes
            symbols.append(f"∂{c}/∂{step.name}{which}")
            factors.append(_factor(numbers.local(t.consumer, t.position, t.local)))
        else:
            symbols.append(f"∂{f}/∂{c} · ∂{c}/∂{step.name}{which}")
            upstream = _factor(numbers.grad(t.consumer, t.upstream))
            factors.append(f"{upstream}·{_factor(numbers.local(t.consumer, t.position, t.local))}")
    rules = "; ".join(dict.fromkeys(t.rule for t in step.terms if t.rule))
    lhs = f"∂{f}/∂{step.name}"
    symbolic = " + ".join(symbols)
    middle = "" if symbolic == lhs else f" = {symbolic}"
    line = f"{lhs}{middle} = {' + '.join(factors)} = {total}"
    return f"{line}   using {rules}" if rules else line


def explanation_lines(
    result: Result, precision: int | None = DEFAULT_PRECISION, ex: Explanation | None = None,
    exact: Exact | None = None,
) -> list[str]:
    """The explanation as plain text lines (no colour, no box drawing); with ``exact``
    (of ``result``), its numbers as the exact fractions the table shows."""
    from .jacobian import own_output

    result = own_output(result)  # one of several outputs: the chain rule from its own
    if ex is None:
        ex = explain(result)
    numbers = Numbers(precision, exact)
    values = result.values
    lines = ["forward pass, inputs first:"]
    lines.extend(
        f"  {text} = {numbers.value(i, values[i])}" if values[i] == values[i]
        else f"  {text}: not evaluated (a branch of if not taken)"  # NaN marks it
        for i, text in ex.forward
    )
    lines.append(f"backward pass, the chain rule from {ex.output} back to the inputs:")
    lines.extend(f"  {step_text(ex, step, precision, numbers)}" for step in ex.steps)
    return lines


def explanation_json(result: Result, precision: int | None = DEFAULT_PRECISION) -> dict[str, Any]:
    """The ``explain`` key of ``--json --explain``: the text, and each backward step
    with exact numbers (``local`` is null where it was not computed)."""
    from .jacobian import own_output

    result = own_output(result)
    ex = explain(result)
    return {
        "text": "\n".join(explanation_lines(result, precision, ex)),
        "steps": [
            {
                "node": step.node,
                "name": step.name,
                "grad": step.grad,
                "terms": [
                    {"consumer": t.consumer, "position": t.position, "upstream": t.upstream,
                     "local": t.local, "rule": t.rule}
                    for t in step.terms
                ],
            }
            for step in ex.steps
        ],
    }
