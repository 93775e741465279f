"""A derivative program as Python: a module that imports only math (or NumPy too).

``gradcli diff --format python`` and ``--format numpy``: the statements that
:func:`gradcli.derivative_text.layout` chose, spelled in Python (helpers such as
``sigmoid`` defined in the module where the program uses them), inside
``value_and_grad`` and, at second order, ``value_grad_hessian``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .derivative_text import ATOM, PRECEDENCE, Layout, fresh_name, layout, no_gc, op_text, statements
from .graph import Node

if TYPE_CHECKING:
    from .derivatives import DerivativeProgram

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
#: Every name the written module itself refers to inside its functions (modules,
#: builtins, the exceptions a branch of if catches, NumPy's ``shape``, its own
#: functions): a program name among them is renamed, or it would shadow it.
MODULE_NAMES = frozenset({"math", "np", "float", "abs", "max", "min", "ValueError", "ArithmeticError",
                          "shape", "value_and_grad", "value_grad_hessian"})
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
                return _CONSTANTS_PY[node.name], ATOM
            text = repr(float(node.value))
            return text, (PRECEDENCE["neg"] if text.startswith("-") else ATOM)
        return self.name(node.name or ""), ATOM

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
            return (f"np.where({test}, 1.0, 0.0)" if np else f"float({test})"), ATOM
        if name == "if":
            if np:
                return f"np.where({args[0]} != 0, {args[1]}, {args[2]})", ATOM
            return f"({args[1]} if {args[0]} != 0 else {args[2]})", ATOM
        if name == "pow":
            return (f"np.power({args[0]}, {args[1]})" if np else f"math.pow({args[0]}, {args[1]})"), ATOM
        if name == "log" and len(args) == 2:
            log = "np.log" if np else "math.log"
            return f"({log}({args[0]}) / {log}({args[1]}))", ATOM
        return self.call(name, args), ATOM


def _python_names(dp: DerivativeProgram, lay: Layout, numpy: bool) -> dict[str, str]:
    """Program names that Python would read otherwise (a keyword, a name the module
    uses, a name Python's NFKC normalisation would merge with another) renamed."""
    import keyword
    import unicodedata

    used = {*dp.graph.inputs, *(name for name, _ in lay.body), *(name for name, _ in lay.derivatives)}
    reserved = {*keyword.kwlist, *keyword.softkwlist, *MODULE_NAMES, *_PY_HELPERS, *_NP_HELPERS}
    out: dict[str, str] = {}
    taken = set(used)
    for k, name in enumerate(sorted(used)):
        normal = unicodedata.normalize("NFKC", name)
        if name in reserved or not name.isidentifier() or normal != name:
            out[name] = fresh_name(f"v{k}_", taken)
    return out


def _in_branches(dp: DerivativeProgram, lay: Layout) -> list[bool]:
    """For each statement :func:`statements` writes, in its order: whether its node is
    used only through a branch of ``if`` (so that it may not be evaluated at all),
    rather than on some path from a reported value that passes through no branch."""
    from .ops import IF

    nodes = dp.graph.nodes
    always = bytearray(len(nodes))
    for i in dp.outputs():
        always[i] = 1
    for i in range(len(nodes) - 1, -1, -1):
        if always[i]:
            node = nodes[i]
            for k, j in enumerate(node.inputs):
                if not (node.op is IF and k > 0):
                    always[j] = 1
    body = {i: name for name, i in lay.body}
    ids = sorted(body)  # statements() writes the body in node order, then the derivatives
    ids += [i for name, i in lay.derivatives if not (name in lay.defined and body.get(i) == name)]
    return [not always[i] for i in ids]


def program_python(dp: DerivativeProgram, *, numpy: bool = False) -> str:
    """A Python module that imports only math (and NumPy for ``numpy``) and defines
    ``value_and_grad(<inputs in order>)`` returning ``(value, (d_1, ..., d_n))``; at
    order 2 also ``value_grad_hessian``, returning the Hessian's rows too."""
    with no_gc():
        lay = layout(dp, as_written=False)
        fmt = _Python(_python_names(dp, lay, numpy))
        fmt.numpy = numpy
        body = statements(dp, lay, fmt)
    if numpy:  # np.where computes both branches of an if: no warnings from the other
        body = ['    with np.errstate(all="ignore"):', *("    " + line for line in body)]
    elif dp.graph.branches:
        # a statement of a node that only a branch of if uses may be one not taken, where
        # its value is not defined (Python computes every statement): NaN there. Any
        # other statement raises as math does, as eval fails there.
        maybe = _in_branches(dp, lay)
        body = [part for line, guard in zip(body, maybe, strict=True) for part in ((
            "    try:", "    " + line, "    except (ValueError, ArithmeticError):",
            f"        {line.split(' = ', 1)[0].strip()} = math.nan") if guard else (line,))]
    params = ", ".join(fmt.name(n) for n in dp.graph.inputs)

    def out(name: str) -> str:  # NumPy: a constant derivative is an array too
        return f"np.zeros(shape) + {name}" if numpy else name

    first = [out(fmt.name(lay.names[n])) for n in dp.wrt]
    grads = f"({', '.join(first)}{',' if len(first) == 1 else ''})"
    value = out(fmt.name(lay.labels[dp.value] or lay.output_label))
    if numpy:
        # broadcast_shapes, not np.broadcast: that one takes at most 32 (64) arrays
        one = "," if len(dp.graph.inputs) == 1 else ""
        body = [*body, f"    shape = np.broadcast_shapes(*map(np.shape, ({params}{one})))"]
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
