"""A derivative program as text: gradcli's own language, LaTeX, Python, NumPy, JSON.

:func:`layout` decides once which nodes of a :class:`~gradcli.derive.DerivativeProgram`
become statements and under which names; each format then writes those statements
with its own spelling of the operations. The program's statements come first (in
the language: as the source wrote them, so the printed program takes the same
bindings), then the shared intermediate statements, then one statement per
derivative: ``d<out>_d<name>``, and ``d2<out>_d<a>_d<b>`` at second order.

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
from typing import Any

from .derive import DerivativeProgram
from .graph import Node, format_literal
from .ops import CONSTANTS, FUNCTIONS

#: Texts up to this long are written inline even where shared; single uses up to
#: INLINE_MAX. Past that a node gets a name.
SHARED_INLINE = 12
INLINE_MAX = 60

_PRECEDENCE = {
    "lt": 0, "le": 0, "gt": 0, "ge": 0, "eq": 0, "ne": 0,
    "add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4,
}
_ATOM = 5


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


def _fresh(wanted: str, taken: set[str]) -> str:
    name, n = wanted, 0
    while name in taken:
        n += 1
        name = f"{wanted}_{n}"
    taken.add(name)
    return name


def _program_names(dp: DerivativeProgram) -> set[str]:
    graph = dp.graph
    return {*graph.inputs, *graph.names, *FUNCTIONS, *CONSTANTS}


def layout(dp: DerivativeProgram | list[DerivativeProgram], *, as_written: bool = True) -> Layout:
    """Name the statements of ``dp`` (or of several programs of one graph: one per
    output). ``as_written``: the source's statements are printed from its text
    (``dp.program`` is needed), so the nodes they name are known by those names;
    otherwise every statement is written from the graph."""
    dps = dp if isinstance(dp, list) else [dp]
    dp = dps[0]
    graph = dp.graph
    nodes = graph.nodes
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
            stmt = _fresh(f"d{mine}_d{name}", taken)
            keys[name] = stmt
            out.derivatives.append((stmt, i))
            roots.setdefault(i, stmt)
        for (a, b), i in each.second.items():
            stmt = _fresh(f"d2{mine}_d{a}_d{b}", taken)
            keys[(a, b)] = stmt
            out.derivatives.append((stmt, i))
            roots.setdefault(i, stmt)
        for name, i in each.adjoints.items():
            if i not in roots:
                hints.setdefault(i, f"d{mine}_d{name}")

    labels: list[str | None] = [None] * len(nodes)
    for node in nodes:
        if node.op is None:
            labels[node.id] = node.name if node.name is not None else None
    given = bytearray(len(nodes))
    for node in nodes[: dp.base]:
        if node.names and node.op is not None:
            labels[node.id] = node.names[0]
            given[node.id] = as_written
    for each in dps:
        labels[each.value] = labels[each.value] or each.output_label
        given[each.value] = as_written

    # which nodes the printed statements need, and how often each is used
    need = bytearray(len(nodes))
    uses = [0] * len(nodes)
    starts = list(roots) if as_written else [*(each.value for each in dps), *roots]
    for i in starts:
        need[i] = 1
        uses[i] += 1
    for i in range(len(nodes) - 1, -1, -1):
        if need[i] and not given[i]:
            for j in nodes[i].inputs:
                need[j] = 1
                uses[j] += 1

    texts: list[str] = [""] * len(nodes)
    precs = [_ATOM] * len(nodes)
    t = 0
    for node in nodes:
        i = node.id
        if not need[i]:
            continue
        if node.op is None:
            texts[i], precs[i] = leaf_text(node)
            continue
        if given[i]:
            texts[i], precs[i] = labels[i], _ATOM  # type: ignore[assignment]
            continue
        text, prec = op_text(node, texts, precs)
        named = labels[i] is not None  # a statement of the source, written from the graph
        alone = i in roots and uses[i] == 1  # a derivative no other statement uses: its own line
        long = len(text) > INLINE_MAX or (uses[i] > 1 and len(text) > SHARED_INLINE)
        if not named and not alone and long:
            if i in roots and roots[i] not in out.defined:
                labels[i] = roots[i]
                out.defined.add(roots[i])
            elif i in hints:
                labels[i] = _fresh(hints[i], taken)
            else:
                t += 1
                while f"t{t}" in taken:
                    t += 1
                labels[i] = _fresh(f"t{t}", taken)
            named = True
        if named:
            out.body.append((labels[i], i))  # type: ignore[arg-type]
            out.lines.append(f"{labels[i]} = {text}")
            texts[i], precs[i] = labels[i], _ATOM  # type: ignore[assignment]
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
    graph = dp.graph
    return None not in graph.names.values() and None not in graph.inputs.values()


def _source_lines(dp: DerivativeProgram, out: Layout, taken: set[str]) -> None:
    """The source's statements as written; a bare expression gets the output's
    display name (or, when another statement is the output, a fresh one)."""
    from .syntax import Assign

    program = dp.program
    if program is None:  # no syntax tree (a long program): each statement from its node's span
        source = dp.graph.source
        for node in dp.graph.nodes[: dp.base]:
            if node.names:
                first, *more = node.names
                out.source_lines.append(f"{first} = {source[node.start:node.end]}")
                out.source_lines += [f"{name} = {first}" for name in more]
        if dp.graph.output_name is None:
            node = dp.graph.nodes[dp.value]
            out.source_lines.append(f"{out.output_label} = {source[node.start:node.end]}")
        return
    source = program.source
    last = len(program.statements) - 1
    for index, stmt in enumerate(program.statements):
        written = source[stmt.span.start : stmt.span.end]
        if isinstance(stmt, Assign):
            out.source_lines.append(written)
            continue
        if index == last and dp.graph.output_name is None:
            name = out.output_label
        else:
            name = _fresh("f" if "f" not in taken else "out", taken)
        out.source_lines.append(f"{name} = {written}")


def leaf_text(node: Node) -> tuple[str, int]:
    if node.name is not None:
        return node.name, _ATOM
    text = format_literal(node.value)
    return text, (_PRECEDENCE["neg"] if text.startswith("-") else _ATOM)


def op_text(node: Node, texts: list[str], precs: list[int]) -> tuple[str, int]:
    """The node written in the language from its inputs' texts (a name, or inline)."""
    op = node.op
    assert op is not None
    parts = [texts[i] for i in node.inputs]
    if op.symbol is None:
        return f"{op.name}({', '.join(parts)})", _ATOM
    prec = _PRECEDENCE[op.name]
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
    with _no_gc():
        lay = lay or layout(dp)
        return "\n".join([*lay.source_lines, *lay.lines]) + "\n"


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic GC off while a large text is built: strings make no cycles, and the
    collector would rescan the graph's nodes again and again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
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


def _statements(dp: DerivativeProgram, lay: Layout, fmt: Any) -> list[str]:
    """The body and the derivative statements in ``fmt``'s spelling."""
    nodes = dp.graph.nodes
    texts: list[str] = [""] * len(nodes)
    precs = [_ATOM] * len(nodes)
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
            texts[i], precs[i] = fmt.name(lay.labels[i]), _ATOM  # a statement of the source
        else:
            texts[i], precs[i] = fmt.op(node, texts, precs)
        if i in body:
            lines.append(fmt.statement(body[i], texts[i]))
            texts[i], precs[i] = fmt.name(body[i]), _ATOM
    for name, i in lay.derivatives:
        if name in lay.defined and body.get(i) == name:
            continue  # its statement is in the body: others use it
        lines.append(fmt.statement(name, texts[i]))
    return lines


#: Every format by name: a function of the derivative program to its text.
FORMATS: dict[str, Any] = {"text": program_text}


# --- Python and NumPy -----------------------------------------------------------------------

_PY_HELPERS = {
    "sign": "def sign(x):\n    return (x > 0) - (x < 0) + 0.0\n",
    "sigmoid": (
        "def sigmoid(x):\n    if x >= 0:\n        return 1.0 / (1.0 + math.exp(-x))\n"
        "    z = math.exp(x)\n    return z / (1.0 + z)\n"
    ),
    "relu": "def relu(x):\n    return x if x > 0 else 0.0\n",
    "softplus": "def softplus(x):\n    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))\n",
    "cbrt": "def cbrt(x):\n    return math.copysign(abs(x) ** (1.0 / 3.0), x)\n",
    "logsumexp": (
        "def logsumexp(*xs):\n    m = max(xs)\n"
        "    return m + math.log(math.fsum(math.exp(x - m) for x in xs))\n"
    ),
    "clip": "def clip(x, lo, hi):\n    return min(max(x, lo), hi)\n",
}
_NP_HELPERS = {
    "sigmoid": (
        "def sigmoid(x):\n    z = np.exp(-np.abs(x))\n"
        "    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))\n"
    ),
    "erf": "def erf(x):\n    return np.vectorize(math.erf, otypes=[float])(x)\n",
    "logsumexp": (
        "def logsumexp(*xs):\n    out = xs[0]\n    for x in xs[1:]:\n"
        "        out = np.logaddexp(out, x)\n    return out\n"
    ),
}
_PY_MATH = {"exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
            "asinh", "acosh", "atanh", "erf", "log2", "log10", "atan2", "hypot"}
_NP_NAMES = {"exp": "exp", "log": "log", "ln": "log", "sqrt": "sqrt", "sin": "sin", "cos": "cos",
             "tan": "tan", "asin": "arcsin", "acos": "arccos", "atan": "arctan", "sinh": "sinh",
             "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh",
             "log2": "log2", "log10": "log10", "atan2": "arctan2", "abs": "abs", "sign": "sign",
             "cbrt": "cbrt"}
_CMP_SYMBOL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_CONSTANTS_PY = {"pi": "math.pi", "e": "math.e", "tau": "math.tau"}


class _Python:
    """Python's spelling: the math module, and a few helpers defined in the module."""

    numpy = False

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # program name -> Python identifier
        self.helpers: set[str] = set()

    def name(self, name: str) -> str:
        return self.names.get(name, name)

    def leaf(self, node: Node) -> tuple[str, int]:
        if node.kind == "const":
            if node.name is not None:
                return _CONSTANTS_PY[node.name], _ATOM
            text = repr(float(node.value))
            return text, (_PRECEDENCE["neg"] if text.startswith("-") else _ATOM)
        return self.name(node.name or ""), _ATOM

    def statement(self, name: str, text: str) -> str:
        return f"    {self.name(name)} = {text}"

    def call(self, name: str, args: list[str]) -> str:
        joined = ", ".join(args)
        if self.numpy:
            if name in _NP_NAMES:
                return f"np.{_NP_NAMES[name]}({joined})"
            if name in _NP_HELPERS:
                self.helpers.add(name)
                return f"{name}({joined})"
            if name == "relu":
                return f"np.maximum({joined}, 0.0)"
            if name == "softplus":
                return f"np.logaddexp(0.0, {joined})"
            if name in ("max", "min"):
                out = args[0]
                for a in args[1:]:
                    out = f"np.{'maximum' if name == 'max' else 'minimum'}({out}, {a})"
                return out
            if name == "hypot":
                if len(args) == 1:
                    return f"np.abs({args[0]})"
                out = args[0]
                for a in args[1:]:
                    out = f"np.hypot({out}, {a})"
                return out
            if name == "sum":
                return f"({' + '.join(args)})"
            if name == "mean":
                return f"(({' + '.join(args)}) / {len(args)})"
            if name == "clip":
                return f"np.minimum(np.maximum({args[0]}, {args[1]}), {args[2]})"
        else:
            if name in _PY_MATH:
                return f"math.{name}({joined})"
            if name == "ln":
                return f"math.log({joined})"
            if name in ("abs", "max", "min"):
                return f"{name}({joined})"
            if name == "sum":
                return f"math.fsum(({joined},))"
            if name == "mean":
                return f"(math.fsum(({joined},)) / {len(args)})"
            self.helpers.add(name)
            return f"{name}({joined})"
        raise AssertionError(f"no spelling for {name}")  # pragma: no cover

    def op(self, node: Node, texts: list[str], precs: list[int]) -> tuple[str, int]:
        op = node.op
        assert op is not None
        name = op.name
        args = [texts[i] for i in node.inputs]
        if name in ("add", "sub", "mul", "div", "neg"):
            return op_text(node, texts, precs)
        np = self.numpy
        if name in _CMP_SYMBOL:
            test = f"{args[0]} {_CMP_SYMBOL[name]} {args[1]}"
            return (f"np.where({test}, 1.0, 0.0)" if np else f"float({test})"), _ATOM
        if name == "if":
            if np:
                return f"np.where({args[0]} != 0, {args[1]}, {args[2]})", _ATOM
            return f"({args[1]} if {args[0]} != 0 else {args[2]})", _ATOM
        if name == "pow":
            return (f"np.power({args[0]}, {args[1]})" if np else f"math.pow({args[0]}, {args[1]})"), _ATOM
        if name == "log" and len(args) == 2:
            log = "np.log" if np else "math.log"
            return f"({log}({args[0]}) / {log}({args[1]}))", _ATOM
        return self.call(name, args), _ATOM


def _python_names(dp: DerivativeProgram, lay: Layout, numpy: bool) -> dict[str, str]:
    """Program names that Python would read otherwise (a keyword, a name the module
    uses, a name Python's NFKC normalisation would merge with another) renamed."""
    import keyword
    import unicodedata

    used = {*dp.graph.inputs, *(name for name, _ in lay.body), *(name for name, _ in lay.derivatives)}
    reserved = {*keyword.kwlist, *keyword.softkwlist, "math", "np", "float", "abs", "max", "min",
                "value_and_grad", "value_grad_hessian", *_PY_HELPERS, *_NP_HELPERS}
    out: dict[str, str] = {}
    taken = set(used)
    for k, name in enumerate(sorted(used)):
        normal = unicodedata.normalize("NFKC", name)
        if name in reserved or not name.isidentifier() or normal != name:
            out[name] = _fresh(f"v{k}_", taken)
    return out


def program_python(dp: DerivativeProgram, *, numpy: bool = False) -> str:
    """A Python module that imports only math (and NumPy for ``numpy``) and defines
    ``value_and_grad(<inputs in order>)`` returning ``(value, (d_1, ..., d_n))``; at
    order 2 also ``value_grad_hessian``, returning the Hessian's rows too."""
    with _no_gc():
        lay = layout(dp, as_written=False)
        fmt = _Python(_python_names(dp, lay, numpy))
        fmt.numpy = numpy
        body = _statements(dp, lay, fmt)
    if numpy:  # np.where computes both branches of an if: no warnings from the other
        body = ['    with np.errstate(all="ignore"):', *("    " + line for line in body)]
    elif dp.graph.branches:
        # a statement here may belong to a branch of if that is not taken, where its
        # value is not defined (Python computes every statement): NaN there
        body = [part for line in body for part in (
            "    try:", "    " + line, "    except (ValueError, ArithmeticError):",
            f"        {line.split(' = ', 1)[0].strip()} = math.nan")]
    params = ", ".join(fmt.name(n) for n in dp.graph.inputs)

    def out(name: str) -> str:  # NumPy: a constant derivative is an array too
        return f"np.zeros(shape) + {name}" if numpy else name

    first = [out(fmt.name(lay.names[n])) for n in dp.wrt]
    grads = f"({', '.join(first)}{',' if len(first) == 1 else ''})"
    value = out(fmt.name(lay.labels[dp.value] or lay.output_label))
    if numpy:
        body = [*body, f"    shape = np.broadcast({params}{',' if len(dp.graph.inputs) == 1 else ''}).shape"]
    what = "NumPy arrays, element-wise" if numpy else "floats"
    lines = [f'"""The derivative program written by gradcli diff, over {what}."""', "", "import math"]
    if numpy:
        lines.append("import numpy as np")
    helpers = _NP_HELPERS if numpy else _PY_HELPERS
    for name in sorted(fmt.helpers):
        lines += ["", "", helpers[name].rstrip("\n")]
    lines += ["", ""]
    if dp.order == 1:
        lines.append(f"def value_and_grad({params}):")
        lines.append(f'    """The value and the gradient toward {", ".join(dp.wrt)}."""')
        lines += body
        lines.append(f"    return {value}, {grads}")
    else:
        rows = []
        for a in dp.wrt:
            row = [out(fmt.name(lay.names[(a, b)] if (a, b) in lay.names else lay.names[(b, a)]))
                   for b in dp.wrt]
            rows.append(f"({', '.join(row)}{',' if len(row) == 1 else ''})")
        hessian = f"({', '.join(rows)}{',' if len(rows) == 1 else ''})"
        lines.append(f"def value_grad_hessian({params}):")
        lines.append(f'    """The value, the gradient and the Hessian toward {", ".join(dp.wrt)}."""')
        lines += body
        lines.append(f"    return {value}, {grads}, {hessian}")
        lines += ["", ""]
        lines.append(f"def value_and_grad({params}):")
        lines.append(f'    """The value and the gradient toward {", ".join(dp.wrt)}."""')
        lines.append(f"    value, grad, _ = value_grad_hessian({params})")
        lines.append("    return value, grad")
    return "\n".join(lines) + "\n"


# --- LaTeX ------------------------------------------------------------------------------------

_TEX_FUNCTIONS = {"exp": r"\exp", "log": r"\log", "ln": r"\ln", "sin": r"\sin", "cos": r"\cos",
                  "tan": r"\tan", "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "max": r"\max",
                  "min": r"\min", "asin": r"\arcsin", "acos": r"\arccos", "atan": r"\arctan",
                  "log2": r"\log_{2}", "log10": r"\log_{10}"}
_TEX_CMP = {"lt": "<", "le": r"\le", "gt": ">", "ge": r"\ge", "eq": "=", "ne": r"\ne"}


class _Latex:
    """LaTeX's spelling: ``\\frac``, ``\\cdot``, ``\\sqrt``, ``\\exp``, ..."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def name(self, name: str) -> str:
        from .latex import name as tex_name

        return self.names.get(name) or tex_name(name)

    def leaf(self, node: Node) -> tuple[str, int]:
        from .latex import name as tex_name

        if node.name is not None:
            return (tex_name(node.name) if node.name != "e" else "e"), _ATOM
        text = format_literal(node.value)
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
        return text, (_PRECEDENCE["neg"] if text.startswith("-") else _ATOM)

    def statement(self, name: str, text: str) -> str:
        return rf"{self.name(name)} &= {text} \\"

    def op(self, node: Node, texts: list[str], precs: list[int]) -> tuple[str, int]:
        op = node.op
        assert op is not None
        name = op.name
        args = [texts[i] for i in node.inputs]
        if name == "div":
            return rf"\frac{{{args[0]}}}{{{args[1]}}}", _ATOM
        if name == "pow":
            base = args[0] if precs[node.inputs[0]] > _PRECEDENCE["pow"] else rf"\left({args[0]}\right)"
            return f"{{{base}}}^{{{args[1]}}}", _PRECEDENCE["pow"]
        if name in ("add", "sub", "mul", "neg"):
            text, prec = op_text(node, texts, precs)
            return text.replace(" * ", r" \cdot "), prec
        if name in _TEX_CMP:
            return rf"\left[{args[0]} {_TEX_CMP[name]} {args[1]}\right]", _ATOM
        if name == "sqrt":
            return rf"\sqrt{{{args[0]}}}", _ATOM
        if name == "cbrt":
            return rf"\sqrt[3]{{{args[0]}}}", _ATOM
        if name == "abs":
            return rf"\left|{args[0]}\right|", _ATOM
        command = _TEX_FUNCTIONS.get(name) or rf"\operatorname{{{name}}}"
        return rf"{command}\left({', '.join(args)}\right)", _ATOM


def program_latex(dp: DerivativeProgram) -> str:
    """The derivative program as an ``align*`` block (a fragment for a document whose
    preamble loads amsmath), each statement a line, derivatives as ∂ fractions."""
    from .latex import name as tex_name

    with _no_gc():
        lay = layout(dp, as_written=False)
        names: dict[str, str] = {}
        out = tex_name(lay.output_label)
        for key, stmt in lay.names.items():
            if isinstance(key, tuple):
                a, b = key
                pa, pb = tex_name(a), tex_name(b)
                below = rf"\partial {pa}^{{2}}" if a == b else rf"\partial {pa}\,\partial {pb}"
                names[stmt] = rf"\frac{{\partial^{{2}} {out}}}{{{below}}}"
            else:
                names[stmt] = rf"\frac{{\partial {out}}}{{\partial {tex_name(key)}}}"
        for stmt, _ in lay.body:
            if stmt not in names and stmt.startswith("t") and stmt[1:].isdigit():
                names[stmt] = f"t_{{{stmt[1:]}}}"
        for name, i in dp.adjoints.items():
            label = lay.labels[i] if i < len(lay.labels) else None
            if label is not None and label not in names and label != name:
                names[label] = rf"\frac{{\partial {out}}}{{\partial {tex_name(name)}}}"
        lines = _statements(dp, lay, _Latex(names))
    if lines:
        lines[-1] = lines[-1].removesuffix(r" \\")
    return "\\begin{align*}\n" + "\n".join(lines) + "\n\\end{align*}\n"


# --- JSON -------------------------------------------------------------------------------------


def program_json(dp: DerivativeProgram) -> str:
    """One JSON object: the source, the output, ``wrt``, the order, the program's text,
    each derivative's statement name, and the node counts of the source and of the
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
        "derivative_nodes": len(dp.graph.nodes),
    }
    return dumps(obj)


FORMATS.update({
    "latex": program_latex,
    "python": program_python,
    "numpy": lambda dp: program_python(dp, numpy=True),
    "json": program_json,
})
