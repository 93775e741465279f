"""The benchmark programs, generated deterministically (a seeded ``random.Random``).

Every generator returns a :class:`Program`: the source text, the bindings it needs
and how many operation nodes the text holds (operators and calls, counted before
identical subexpressions are shared). The same text is fed to gradcli, to Lark's
own parser and to the peers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

#: The wide programs' inputs: x0 … x19, bound to values in [-0.9, 0.9].
WIDE_VARIABLES = tuple(f"x{i}" for i in range(20))


@dataclass(frozen=True)
class Program:
    name: str  # e.g. "wide 10^5"
    source: str
    bindings: dict[str, float]
    ops: int  # operation nodes in the text (before sharing)


def neuron() -> Program:
    """W2: the seed neuron of the backpropagation tutorials."""
    return Program(
        "neuron",
        "1/(1+exp(-(w0*x0+w1*x1+w2)))",
        {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
        10,
    )


# --- W3 wide --------------------------------------------------------------------------
#
# A balanced random tree: each template takes subexpressions a and b with values in
# about [-1, 1] and gives one in the same range, so nothing overflows at any size and
# every operation is on a path to the output. Depth grows with log(size), so the
# peers' Python compiler (which recurses and caps parentheses at 200) can read it.

_TEMPLATES = (
    ("tanh({a} + {b})", 2),
    ("{a} * {b}", 1),
    ("sin({a} - {b})", 2),
    ("{a} / (2 + {b})", 2),
    ("exp({a} - 1) * {b}", 3),
    ("log(2 + {a}) * {b}", 3),
)


def wide(ops: int, seed: int = 3, variables: tuple[str, ...] = WIDE_VARIABLES) -> Program:
    """W3: about ``ops`` operation nodes over ``variables`` (default the 20 of
    WIDE_VARIABLES; exact count in ``.ops``)."""
    rng = random.Random(seed)
    # Bottom-up: a row of leaves, then rows of combinations until one expression is
    # left; the row is sized so that the total comes out near ``ops``.
    leaves = max(2, round(ops / 2.17))
    row: list[tuple[str, int]] = []
    for _ in range(leaves):
        if rng.random() < 0.1:
            row.append((f"{rng.randint(1, 9) / 10}", 0))
        else:
            row.append((rng.choice(variables), 0))
    while len(row) > 1:
        nxt: list[tuple[str, int]] = []
        for k in range(0, len(row) - 1, 2):
            (a, na), (b, nb) = row[k], row[k + 1]
            text, n = rng.choice(_TEMPLATES)
            a = a if na == 0 else f"({a})"
            b = b if nb == 0 else f"({b})"
            nxt.append((text.format(a=a, b=b), na + nb + n))
        if len(row) % 2:
            nxt.append(row[-1])
        row = nxt
    source, count = row[0]
    values = {v: round(rng.uniform(-0.9, 0.9), 3) for v in variables}
    used = {v: values[v] for v in variables if re.search(rf"\b{v}\b", source)}
    return Program(f"wide {ops:.0e}", source, used, count)


# --- W4 deep --------------------------------------------------------------------------


def deep_tanh(levels: int) -> Program:
    """W4: ``tanh(tanh(…x…))``, ``levels`` calls deep."""
    return Program(f"tanh {levels}", "tanh(" * levels + "x" + ")" * levels, {"x": 0.5}, levels)


def deep_affine(levels: int) -> Program:
    """W4: ``((x+1)*1.0001+1)*1.0001 …``, ``levels`` parentheses deep (2 ops a level)."""
    return Program(
        f"affine {levels}", "(" * levels + "x" + "+1)*1.0001" * levels, {"x": 0.5}, 2 * levels
    )


# --- W5 shared ------------------------------------------------------------------------


def shared(statements: int) -> Program:
    """W5: ``q1 = tanh(x*y + x); q2 = tanh(q1*0.5 + q1*x); …``: every statement uses
    the one before twice, so the expanded tree doubles each line; the DAG is linear."""
    lines = ["q1 = tanh(x*y + x)"]
    for i in range(2, statements + 1):
        lines.append(f"q{i} = tanh(q{i - 1}*0.5 + q{i - 1}*x)")
    ops = 3 + 4 * (statements - 1)
    return Program(f"shared {statements}", "\n".join(lines) + "\n", {"x": 0.5, "y": -0.3}, ops)
