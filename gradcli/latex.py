"""LaTeX for hand-outs: ``trace --format latex`` (a ``tabular``) and ``eval --explain
--format latex`` (the chain rule as ``align*``).

The output is a fragment to ``\\input`` into a document whose preamble loads
``amsmath`` (for ``align*``); nothing else is needed, and it compiles with
``pdflatex``. User text is escaped: LaTeX's special characters (``_ # $ % & ~ ^ \\
{ }``), Greek letters as their math commands (``θ`` -> ``\\theta``), accented Latin
letters as accents (``é`` -> ``\\'{e}``); any other character is written as its code
point (``⟨U+4E2D⟩``), so every name compiles.
"""

from __future__ import annotations

import math
import unicodedata

from .evaluate import Result
from .render import format_number, output_label

_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
    "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
}

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi",
    "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "varsigma", "τ": "tau", "υ": "upsilon", "φ": "phi",
    "χ": "chi", "ψ": "psi", "ω": "omega", "ϑ": "vartheta", "ϕ": "phi", "ϵ": "epsilon",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Σ": "Sigma",
    "Υ": "Upsilon", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
    "∂": "partial",
}
_SYMBOL_TEXT = {
    "−": "-", "—": "---", "…": r"\ldots{}", "·": r"\ensuremath{\cdot}", "≈": r"\ensuremath{\approx}",
}

_ACCENTS = {"\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0308": '"', "\u0304": "=",
            "\u0307": ".", "\u030c": "v", "\u0327": "c", "\u030a": "r", "\u0306": "u", "\u030b": "H"}


def text(s: str) -> str:
    """``s`` as LaTeX text (outside math)."""
    out = []
    for ch in s:
        if ch.isascii():
            out.append(_SPECIAL.get(ch, ch))
        elif ch in _SYMBOL_TEXT:
            out.append(_SYMBOL_TEXT[ch])
        elif ch in _GREEK:
            out.append(rf"\ensuremath{{\{_GREEK[ch]}}}")
        else:
            out.append(_other(ch))
    return "".join(out)


def _other(ch: str) -> str:
    """An accented Latin letter as an accent command; anything else by its code point."""
    base, *marks = unicodedata.normalize("NFD", ch)
    if base.isascii() and base.isalpha() and len(marks) == 1 and marks[0] in _ACCENTS:
        return rf"\{_ACCENTS[marks[0]]}{{{base}}}"
    return rf"\ensuremath{{\langle}}U+{ord(ch):04X}\ensuremath{{\rangle}}"


def name(s: str) -> str:
    """A name in math mode: ``w0`` -> ``\\textit{w0}``; a Greek letter alone is its symbol."""
    if len(s) == 1 and s in _GREEK:
        return f"\\{_GREEK[s]}"
    if s in ("pi", "tau"):
        return f"\\{s}"
    if len(s) == 1 and s.isascii() and s.isalpha():
        return s
    return rf"\textit{{{text(s)}}}"


def number(value: float | None, precision: int | None) -> str:
    """A number in math mode: ``-0.196612``, ``2.7\\times10^{43}``; ``\\text{---}`` for none."""
    if value is None:
        return r"\text{---}"
    if not math.isfinite(value):
        return r"\text{NaN}" if math.isnan(value) else ("-\\infty" if value < 0 else "\\infty")
    shown = format_number(value, precision)
    if "e" in shown:
        mantissa, exponent = shown.split("e")
        return rf"{mantissa}\times10^{{{int(exponent)}}}"
    return shown


def _math(s: str) -> str:
    return f"${s}$" if s else ""


def trace_tabular(result: Result, precision: int | None, *, blank: bool = False) -> str:
    """``trace`` as a ``tabular``: one row per node (gradients empty when ``blank``)."""
    f = name(output_label(result))
    # A worksheet's gradient columns are wide enough to write in.
    spec = "|r|l|l|l|r|p{2.4cm}|p{2.4cm}|" if blank else "|r|l|l|l|r|r|r|"
    lines = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\hline",
        r"id & label & op & inputs & value & $\partial \text{node}/\partial \text{input}$"
        rf" & $\partial {f}/\partial \text{{node}}$ \\",
        r"\hline",
    ]
    for node in result.nodes:
        if node.evaluated is False:
            value = r"not taken"
        else:
            value = _math(number(node.value, precision))
        if blank:
            local = grad = ""
        else:
            local = _math(", ".join(number(g, precision) for g in node.local_grads))
            grad = _math(number(node.grad, precision))
        strut = r"\rule[-1.2ex]{0pt}{4ex}" if blank else ""  # room to write in
        cells = [strut + str(node.id), rf"\texttt{{{text(node.label)}}}", text(node.op),
                 ", ".join(str(i) for i in node.inputs), value, local, grad]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def eval_tabular(result: Result, precision: int | None) -> str:
    """``eval``'s table as a ``tabular``."""
    f = name(output_label(result))
    lines = [r"\begin{tabular}{|l|r|r|}", r"\hline",
             rf"name & value & $\partial {f}/\partial \text{{name}}$ \\", r"\hline",
             rf"${f}$ (output) & ${number(result.value, precision)}$ & \\"]
    for key, grad in result.gradient.items():
        value = result.value_of(key)
        lines.append(rf"${name(key)}$ & ${number(value, precision)}$ & ${number(grad, precision)}$ \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def explain_align(result: Result, precision: int | None) -> str:
    """The forward pass and the chain rule, one ``align*`` line per node."""
    from .explain import explain
    from .jacobian import own_output

    result = own_output(result)  # one of several outputs: the chain rule from its own
    ex = explain(result)
    names = [name(n) for n in ex.names]
    f = name(ex.output)
    lines = [r"\begin{align*}"]
    graph = result.graph
    values = result.values
    for i, _ in ex.forward:
        node = graph.nodes[i]
        if node.op is None:
            continue  # an input: its value is in the table
        if values[i] != values[i]:
            continue  # a branch not taken
        op = node.op
        args = [names[j] for j in node.inputs]
        if op.symbol is None:
            rhs = rf"\operatorname{{{text(op.name)}}}({', '.join(args)})"
        elif op.arity == 1:
            rhs = f"-{args[0]}"
        elif op.name == "pow":
            rhs = f"{{{args[0]}}}^{{{args[1]}}}"
        elif op.name == "mul":
            rhs = rf"{args[0]} \cdot {args[1]}"
        elif op.name == "div":
            rhs = rf"\frac{{{args[0]}}}{{{args[1]}}}"
        else:
            symbol = {"<=": r"\le", ">=": r"\ge", "!=": r"\ne", "==": "="}.get(op.symbol, op.symbol)
            rhs = f"{args[0]} {symbol} {args[1]}"
        lines.append(rf"{names[i]} &= {rhs} = {number(values[i], precision)} \\")
    for step in ex.steps:
        target = names[step.node]
        total = number(step.grad, precision)
        if not step.terms:
            lines.append(rf"\frac{{\partial {f}}}{{\partial {f}}} &= {total} \\")
            continue
        symbols = " + ".join(
            rf"\frac{{\partial {f}}}{{\partial {names[t.consumer]}}}\cdot"
            rf"\frac{{\partial {names[t.consumer]}}}{{\partial {target}}}"
            for t in step.terms
        )
        numbers = " + ".join(
            rf"({number(t.upstream, precision)})\cdot({number(t.local, precision)})" for t in step.terms
        )
        lines.append(rf"\frac{{\partial {f}}}{{\partial {target}}} &= {symbols} = {numbers} = {total} \\")
    lines[-1] = lines[-1].removesuffix(r" \\")
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


#: A minimal document around the fragments (what the tests compile).
PREAMBLE = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
