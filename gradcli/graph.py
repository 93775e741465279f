"""AST -> computational graph: a DAG of nodes in topological order, output last.

Identical subexpressions (the same operation on the same input nodes) become one
node, so ``(x+y)*(x+y)`` has one ``x + y`` node used twice, and every name is one
node however often it appears. Names are resolved here: an assigned name refers to
its statement's node, a constant to a constant node, anything else is an input.
Only the nodes the output depends on are kept. No recursion on depth: statements
are lowered with an explicit stack.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .columns import ID, LONG, POSITION, Columns, Index
from .columns import Node as Node  # where the rest of the package finds it
from .errors import GradError, Span
from .ops import CONSTANTS, FUNCTIONS, IF, OPERATORS, arity_words, function
from .syntax import Assign, Binary, Call, Expr, Name, Num, Program, Statement, Unary

if TYPE_CHECKING:
    from .display import Picture


class Graph:
    """A lowered program: nodes in topological order with ids 0..n-1, the output last.

    The nodes are stored as :class:`~gradcli.columns.Columns` (``columns``), which
    the evaluator reads; ``nodes`` is the same graph as a list of
    :class:`~gradcli.columns.Node` objects, built on first use and kept, for the
    code that walks it node by node (pictures, explanations, derivatives). A graph
    is made from either and never changed afterwards.

    ``inputs`` maps every input name (in order of first appearance in the program) to
    its node id, or None when the output does not depend on it. ``names`` does the
    same for assigned names.
    """

    __slots__ = ("_columns", "_labels", "_nodes", "branches", "inputs", "names", "output_name", "size",
                 "source")

    def __init__(
        self,
        nodes: list[Node] | None,
        inputs: dict[str, int | None],
        names: dict[str, int | None],
        output_name: str | None,
        source: str,
        *,
        columns: Columns | None = None,
    ) -> None:
        if nodes is None and columns is None:  # pragma: no cover - a programming error
            raise TypeError("a graph is made of nodes or of columns")
        self._nodes = nodes
        self._columns = columns
        self.size = len(nodes) if nodes is not None else len(columns)  # type: ignore[arg-type]
        self.inputs = inputs
        self.names = names
        self.output_name = output_name
        self.source = source
        # Whether an `if` may be among the nodes: the evaluators then take only the
        # branch each condition picks (gradcli.branches). False is certain; True
        # may be left over from an `if` that pruning dropped (still correct).
        self.branches = False
        self._labels: list[str] | None = None

    @property
    def nodes(self) -> list[Node]:
        """Every node as an object, in order (built from the columns once)."""
        if self._nodes is None:
            self._nodes = self._columns.nodes(self.names)  # type: ignore[union-attr]
        return self._nodes

    @property
    def columns(self) -> Columns:
        """The nodes as columns (made from the node objects once, for a graph built
        as objects)."""
        if self._columns is None:
            self._columns = Columns.of_nodes(self._nodes)  # type: ignore[arg-type]
        return self._columns

    def node(self, k: int) -> Node:
        """Node ``k`` as an object; made alone when the node list was never built (an
        error message needs one node of a large graph, not all of them)."""
        if self._nodes is not None:
            return self._nodes[k]
        return self._columns.node(k, self.names)  # type: ignore[union-attr]

    @property
    def output(self) -> int:
        return self.size - 1

    def __repr__(self) -> str:
        return f"<Graph of {self.size} nodes, inputs {list(self.inputs)}>"

    def picture(self) -> Picture:
        """The structure, without numbers (SVG in Jupyter, where a graph shows itself so)."""
        from .display import Picture

        return Picture(self)

    def _repr_svg_(self) -> str | None:
        from .display import graph_picture

        return graph_picture(self)._repr_svg_()

    def _repr_html_(self) -> str | None:  # only without Graphviz: the tree
        from .display import graph_picture

        return graph_picture(self)._repr_html_()

    def evaluate_frame(self, df: Any, /, *, wrt: Iterable[str] | None = None, **defaults: Any) -> Any:
        """Value and gradient at every row of a pandas (or polars) DataFrame: its own
        columns, then ``value``, ``grad_NAME`` and ``error`` (:mod:`gradcli.frames`);
        keyword arguments are defaults for every row."""
        from .frames import evaluate_frame

        return evaluate_frame(self, df, defaults, wrt=wrt)

    def unused(self) -> list[str]:
        """The inputs the output does not depend on (possible with ``--output``), in
        order of first appearance: their gradient is 0."""
        return [name for name, node_id in self.inputs.items() if node_id is None]

    def output_label(self) -> str:
        """The output's name as every human output shows it: its statement name, or for
        a bare expression ``f``, unless the program uses ``f``; then ``out``, ``out_1``,
        ``out_2``, ...: never a name of the program."""
        if self.output_name is not None:
            return self.output_name
        taken = self.inputs.keys() | self.names.keys()
        if "f" not in taken:
            return "f"
        label, n = "out", 0
        while label in taken:
            n += 1
            label = f"out_{n}"
        return label

    def labels(self) -> list[str]:
        """A label per node: the statement name for a named node, the variable or
        constant name, or a short rendering of the subexpression (computed once,
        in one loop)."""
        if self._labels is None:
            self._labels = _render_labels(self.nodes)
        return self._labels

    def consumers(self) -> list[list[int]]:
        """For every node, the ids of the nodes that use it (once per use)."""
        users: list[list[int]] = [[] for _ in range(self.size)]
        columns = self.columns
        args, first = columns.args, columns.first
        for k in range(self.size):
            for i in args[first[k] : first[k + 1]]:
                users[i].append(k)
        return users


def suggest(name: str, choices: Iterable[str]) -> str:
    import difflib  # only on the way to an error message: not at every start-up

    options = list(choices)
    # A different case first (Sin -> sin); else the closest spellings. Short names
    # need a closer match, or `a` would suggest tan, max and abs.
    close = [c for c in options if c.lower() == name.lower() and c != name] or difflib.get_close_matches(
        name, options, n=3, cutoff=0.5 if len(name) > 1 else 0.6
    )
    if not close:
        return ""
    if len(close) > 1:
        return f" (did you mean {', '.join(close[:-1])} or {close[-1]}?)"
    return f" (did you mean {close[0]}?)"


def _arity_hint(name: str) -> str:
    """A word on what the arguments of ``name`` are, where a count alone does not say."""
    if name == "if":
        return ": if(condition, value where it holds, value where it does not), as in if(x > 0, log(x), 0)"
    if name == "clip":
        return ": clip(x, lo, hi)"
    return ""


def _function_list() -> str:
    return ", ".join(sorted(FUNCTIONS))


class Lowering:
    """Builds the interned nodes of a whole program, as columns."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.columns = Columns(POSITION if len(source) < 1 << 32 else LONG)
        # The nodes by what they are, for sharing: the operations in an index over
        # the columns (a node every 8 characters fits without growing it), the leaves
        # in tables "const" (by value or name) and "var" (by name). Dropped with the
        # Lowering, before evaluation.
        self.index = Index(self.columns, len(source) // 8)
        self.interned: defaultdict[str, dict[object, int]] = defaultdict(dict)
        self.branches = False  # an `if` was made
        self.assigned: dict[str, int] = {}  # name -> node id, once its statement is lowered
        self.variables: dict[str, int] = {}  # input name -> var node id, in order of first use

    def error(self, kind: str, message: str, span: Span) -> GradError:
        return GradError(kind, message, span, self.source)

    def leaf(self, table: str, key: object, start: int, end: int, name: str | None = None,
             value: float | None = None) -> int:
        """The leaf ``key`` of ``table`` ("const" or "var"), made at ``start:end`` if it
        is new: a constant has a ``value`` (and a ``name`` for ``pi``), a variable a
        ``name``."""
        interned = self.interned[table]
        found = interned.get(key)
        if found is not None:
            return found
        columns = self.columns
        node_id = columns.append(None, (), start, end)
        if value is not None:
            columns.consts[node_id] = value
        if name is not None:
            columns.leaf_names[node_id] = name
        interned[key] = node_id
        return node_id

    def name(self, expr: Name, pending: set[str]) -> int:
        ident = expr.id
        if ident in self.assigned:
            return self.assigned[ident]
        if ident in pending:
            raise self.error(
                "name", f"{ident} is used before the statement that assigns it", expr.span
            )
        start, end = expr.span
        if ident in CONSTANTS:
            return self.leaf("const", ident, start, end, name=ident, value=CONSTANTS[ident])
        if ident in FUNCTIONS:
            raise self.error(
                "name", f"{ident} is a function: call it as {ident}(...)", expr.span
            )
        node_id = self.leaf("var", ident, start, end, name=ident)
        self.variables.setdefault(ident, node_id)
        return node_id

    def call(self, expr: Call, args: tuple[int, ...]) -> int:
        variants = FUNCTIONS.get(expr.name)
        if variants is None:
            if expr.name in self.assigned or expr.name in self.variables:
                raise self.error(
                    "name",
                    f"{expr.name} is not a function; for a product write {expr.name}*(...)",
                    expr.name_span,
                )
            raise self.error(
                "name",
                f"unknown function {expr.name}{suggest(expr.name, FUNCTIONS)};"
                f" the functions are {_function_list()}",
                expr.name_span,
            )
        # The row of exactly this arity, else an n-ary row that takes this many.
        op = variants.get(len(args)) or function(expr.name, len(args))
        if op is None:
            raise self.error(
                "arity",
                f"{expr.name} takes {arity_words(expr.name)}, not {len(args)}{_arity_hint(expr.name)}",
                expr.span,
            )
        if op is IF:
            self.branches = True
        return self.index.node(op, args, *expr.span)

    def statement(self, stmt: Statement, pending: set[str]) -> tuple[int, str | None]:
        """Lower one statement: its node, and the name it assigns (None for a bare
        expression)."""
        if not isinstance(stmt, Assign):
            return self.expression(stmt, pending), None
        # The inputs of this statement come before its name is known.
        node_id = self.expression(stmt.expr, pending)
        pending.discard(stmt.name)
        self.assigned[stmt.name] = node_id  # a node's names are these, in this order
        return node_id, stmt.name

    def graph(self, output_id: int, output_name: str | None, also: list[int]) -> tuple[Graph, list[int]]:
        """The graph of the output ``output_id`` and what it and the nodes ``also``
        depend on, and the new ids of ``also``."""
        graph, ids = _prune(
            self.columns, output_id, output_name, self.variables, self.assigned, self.source, also
        )
        graph.branches = self.branches
        return graph, ids

    def expression(self, root: Expr, pending: set[str]) -> int:
        """Lower one expression, children before parents, with a stack of node ids.

        It walks the AST with its own stack rather than ``postorder``'s generator and
        tuples: a node waiting for its children sits under ``_FINISH`` on the stack,
        and is built when ``_FINISH`` comes back to the top.
        """
        node = self.index.node
        # A name means the same node throughout one expression (``assigned`` and
        # ``pending`` only change between statements): resolve each once.
        names: dict[str, int] = {}
        results: list[int] = []
        stack: list[Any] = [root]  # AST nodes, and _FINISH markers
        while stack:
            expr = stack.pop()
            if expr is _FINISH:
                expr = stack.pop()
                kind = type(expr)
                if kind is Binary:
                    right = results.pop()
                    results[-1] = node(OPERATORS[expr.op], (results[-1], right), *expr.span)
                elif kind is Unary:
                    results[-1] = node(OPERATORS[expr.op], (results[-1],), *expr.span)
                else:  # Call: its arguments are the last len(args) results
                    count = len(expr.args)
                    inputs = tuple(results[len(results) - count :]) if count else ()
                    del results[len(results) - count :]
                    results.append(self.call(expr, inputs))
                continue
            kind = type(expr)
            if kind is Name:
                node_id = names.get(expr.id)
                if node_id is None:
                    node_id = names[expr.id] = self.name(expr, pending)
                results.append(node_id)
            elif kind is Num:
                start, end = expr.span
                results.append(self.leaf("const", expr.value, start, end, value=expr.value))
            elif kind is Binary:
                stack += (expr, _FINISH, expr.right, expr.left)
            elif kind is Unary:
                stack += (expr, _FINISH, expr.operand)
            elif kind is Call:
                stack += (expr, _FINISH)
                stack.extend(reversed(expr.args))
            else:  # pragma: no cover - the parser makes no other nodes
                raise TypeError(f"not an expression: {expr!r}")
        (node_id,) = results
        return node_id


#: The stack marker in :meth:`Lowering.expression`: "the node below is ready to build".
_FINISH = object()


def lower(program: Program, output: str | None = None) -> Graph:
    """Lower a parsed program to its graph. ``output`` names the statement whose
    value is the output; by default it is the last statement."""
    graph, _ = lower_outputs(program, None if output is None else [output])
    return graph


def lower_outputs(program: Program, outputs: list[str] | None = None) -> tuple[Graph, list[int]]:
    """Lower a program for several outputs at once (the rows of a Jacobian): one graph
    that keeps what any of ``outputs`` (statement names) depends on, and each output's
    node id in it. The graph's own output, its last node, is the output lowered last;
    ``outputs`` None is the last statement alone, as :func:`lower` does."""
    source = program.source
    low = Lowering(source)
    statements = program.statements

    # Every assigned name, checked before anything is lowered: a name used before
    # its statement is then an error, not an input.
    pending: set[str] = set()
    first: dict[str, Assign] = {}
    for stmt in statements:
        if isinstance(stmt, Assign):
            mistake = _assignment_mistake(stmt.name, first)
            if mistake is not None:
                raise low.error("name", mistake, stmt.name_span)
            first[stmt.name] = stmt
            pending.add(stmt.name)

    for output in outputs or ():
        if "," in output:
            raise GradError(
                "usage",
                f"--output {output}: give one statement name here"
                " (several, as in a,b, are for eval and trace)",
            )
        if output not in first:
            names = ", ".join(first) if first else "none"
            raise GradError(
                "usage",
                f"--output {output}: no statement assigns {output}{suggest(output, first)};"
                f" the named statements are {names}",
            )

    found: dict[str, int] = {}
    output_id = -1
    output_name: str | None = None
    last = len(statements) - 1
    for index, stmt in enumerate(statements):
        node_id, name = low.statement(stmt, pending)
        if outputs is None:
            if index == last:
                output_id, output_name = node_id, name
        elif name in outputs:
            found[name] = node_id
            if node_id >= output_id:
                output_id, output_name = node_id, name
    ids = [found[name] for name in outputs] if outputs is not None else [output_id]
    graph, new_ids = low.graph(output_id, output_name, ids)
    return graph, new_ids


def _assignment_mistake(name: str, assigned: Mapping[str, object]) -> str | None:
    """What is wrong with assigning ``name`` after the names in ``assigned``, if anything."""
    if name in CONSTANTS:
        return f"{name} is a constant and cannot be assigned"
    if name in FUNCTIONS:
        return f"{name} is a function and cannot be assigned"
    if name in assigned:
        return f"{name} is assigned twice"
    return None


def _prune(
    columns: Columns,
    output_id: int,
    output_name: str | None,
    variables: dict[str, int],
    assigned: dict[str, int],
    source: str,
    also: list[int],
) -> tuple[Graph, list[int]]:
    """Keep the output and what it and the nodes ``also`` (none after the output)
    depend on, renumbered 0..n-1; the output is last because every node is created
    after its inputs. Returns the graph and the new ids of ``also``."""
    args, first = columns.args, columns.first
    needed = bytearray(output_id + 1)
    needed[output_id] = 1
    for i in also:
        needed[i] = 1
    for i in range(output_id, -1, -1):
        if needed[i]:
            for j in args[first[i] : first[i + 1]]:
                needed[j] = 1
    if output_id == len(columns) - 1 and needed.count(0) == 0:  # nothing to drop: ids stay
        graph = Graph(None, variables, assigned, output_name, source, columns=columns)
        return graph, list(also)
    new_id = array(ID, (0,)) * (output_id + 1)  # read only where needed
    kept = Columns(columns.starts.typecode)
    operations, new_args, new_first = kept.ops, kept.args, kept.first
    for i in range(output_id + 1):
        if needed[i]:
            k = new_id[i] = len(operations)
            operations.append(columns.ops[i])
            new_args.extend([new_id[j] for j in args[first[i] : first[i + 1]]])
            new_first.append(len(new_args))
            kept.starts.append(columns.starts[i])
            kept.ends.append(columns.ends[i])
            if i in columns.consts:
                kept.consts[k] = columns.consts[i]
            if i in columns.leaf_names:
                kept.leaf_names[k] = columns.leaf_names[i]

    def renumber(old: int) -> int | None:
        return new_id[old] if old <= output_id and needed[old] else None

    inputs = {name: renumber(i) for name, i in variables.items()}
    names = {name: renumber(old) for name, old in assigned.items()}
    return Graph(None, inputs, names, output_name, source, columns=kept), [new_id[i] for i in also]


# --- labels ---------------------------------------------------------------------

_PRECEDENCE = {
    "lt": 0, "le": 0, "gt": 0, "ge": 0, "eq": 0, "ne": 0,
    "add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4,
}
_ATOM = 5
_MAX_LABEL = 40


def format_literal(value: float) -> str:
    """A float as a reader writes it: ``2`` not ``2.0``, else the shortest repr."""
    if value == int(value) and abs(value) < 1e16:
        return str(int(value)) if value != 0 else "0"
    return repr(value)


def _render_labels(nodes: list[Node]) -> list[str]:
    """One loop over the nodes: each label is built from its inputs' texts, and every
    text is cut to a few dozen characters, so the work is linear in the graph."""
    texts: list[str] = []
    precs: list[int] = []
    labels: list[str] = []
    for node in nodes:
        if node.kind == "var" or (node.kind == "const" and node.name is not None):
            text, prec = node.name or "", _ATOM
        elif node.kind == "const":
            text, prec = format_literal(node.value), _ATOM
        else:
            op = node.op
            assert op is not None
            parts = [texts[i] for i in node.inputs]
            if op.symbol is None:
                text, prec = f"{op.name}({', '.join(parts)})", _ATOM
            elif op.arity == 1:
                prec = _PRECEDENCE[op.name]
                inner = parts[0] if precs[node.inputs[0]] >= prec else f"({parts[0]})"
                text = f"-{inner}"
            else:
                prec = _PRECEDENCE[op.name]
                left, right = node.inputs
                lt, rt = parts
                # ^ is right-associative; - and / are not associative on the right.
                if precs[left] < prec or (op.name == "pow" and precs[left] <= prec) or (
                    prec == 0 and precs[left] == 0
                ):
                    lt = f"({lt})"
                # comparisons do not chain: either side of one in parentheses if it is one
                if precs[right] < prec or (op.name in ("sub", "div") and precs[right] <= prec) or (
                    prec == 0 and precs[right] == 0
                ):
                    rt = f"({rt})"
                sep = "" if op.name == "pow" else " "
                text = f"{lt}{sep}{op.symbol}{sep}{rt}"
        if len(text) > _MAX_LABEL:
            text = text[: _MAX_LABEL - 1] + "…"
        labels.append(node.names[0] if node.names and node.kind != "var" else text)
        if node.names and node.kind != "var":
            text, prec = node.names[0], _ATOM  # consumers refer to a named node by name
        texts.append(text)
        precs.append(prec)
    return labels
