"""A derivative program as LaTeX: an ``align*`` block, derivatives as ∂ fractions.

``gradcli diff --format latex``: the statements that
:func:`gradcli.derivative_text.layout` chose, spelled in LaTeX (``\\frac``,
``\\cdot``, ``\\sqrt``, ...), each derivative named by its fraction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .derivative_text import ATOM, PRECEDENCE, layout, no_gc, op_text, statements
from .graph import Node, format_literal

if TYPE_CHECKING:
    from .derivatives import DerivativeProgram


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
            return (tex_name(node.name) if node.name != "e" else "e"), ATOM
        text = format_literal(node.value)
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
        return text, (PRECEDENCE["neg"] if text.startswith("-") else ATOM)

    def statement(self, name: str, text: str) -> str:
        return rf"{self.name(name)} &= {text} \\"

    def op(self, node: Node, texts: list[str], precs: list[int]) -> tuple[str, int]:
        op = node.op
        assert op is not None
        name = op.name
        args = [texts[i] for i in node.inputs]
        if name == "div":
            return rf"\frac{{{args[0]}}}{{{args[1]}}}", ATOM
        if name == "pow":
            base = args[0] if precs[node.inputs[0]] > PRECEDENCE["pow"] else rf"\left({args[0]}\right)"
            return f"{{{base}}}^{{{args[1]}}}", PRECEDENCE["pow"]
        if name in ("add", "sub", "mul", "neg"):
            text, prec = op_text(node, texts, precs)
            return text.replace(" * ", r" \cdot "), prec
        if name in _TEX_CMP:
            return rf"\left[{args[0]} {_TEX_CMP[name]} {args[1]}\right]", ATOM
        if name == "sqrt":
            return rf"\sqrt{{{args[0]}}}", ATOM
        if name == "cbrt":
            return rf"\sqrt[3]{{{args[0]}}}", ATOM
        if name == "abs":
            return rf"\left|{args[0]}\right|", ATOM
        command = _TEX_FUNCTIONS.get(name) or rf"\operatorname{{{name}}}"
        return rf"{command}\left({', '.join(args)}\right)", ATOM


def program_latex(dp: DerivativeProgram) -> str:
    """The derivative program as an ``align*`` block (a fragment for a document whose
    preamble loads amsmath), each statement a line, derivatives as ∂ fractions."""
    from .latex import name as tex_name

    with no_gc():
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
        # a statement the layout named for an adjoint (df_dq) is written as its fraction;
        # never one of the source's own names: ∂f/∂r is the node q in f = r*q, and q
        # was written ∂f/∂r everywhere, its own definition included
        source = dp.source_graph
        for name, i in dp.adjoints.items():
            label = lay.labels[i] if i < len(lay.labels) else None
            if (label is not None and label not in names and label != name
                    and label not in source.names and label not in source.inputs):
                names[label] = rf"\frac{{\partial {out}}}{{\partial {tex_name(name)}}}"
        lines = statements(dp, lay, _Latex(names))
    if lines:
        lines[-1] = lines[-1].removesuffix(r" \\")
    return "\\begin{align*}\n" + "\n".join(lines) + "\n\\end{align*}\n"
