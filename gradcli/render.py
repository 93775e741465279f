"""Results -> text: strict JSON, rich tables, numbers for people.

JSON output never imports rich. Tables are rich tables; when standard output is
not a terminal they are plain ASCII with no colour and no wrapping, so a pipe
gets exactly one table; on a terminal they are coloured (``NO_COLOR`` is
honoured) and fold long numbers rather than cut them in a narrow window.
"""

from __future__ import annotations

import json
import math
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .evaluate import Result

DEFAULT_PRECISION = 6


def dumps(obj: Any) -> str:
    """Strict RFC 8259 JSON: never NaN or Infinity; floats in shortest round-trip form;
    ``-0.0`` written as ``0.0`` (a zero's sign means nothing to a script, and jq
    would print it as ``-0``)."""
    text = json.dumps(obj, allow_nan=False, ensure_ascii=False)
    if "-0.0" in text:  # rare: only then walk the object (a string may hold it too)
        text = json.dumps(_unsigned_zeros(obj), allow_nan=False, ensure_ascii=False)
    for char in _LINE_BREAKS:  # valid JSON raw, but they split "lines" for many readers
        if char in text:
            text = text.replace(char, f"\\u{ord(char):04x}")
    return text


#: Line breaks that JSON allows raw inside strings (json.dumps escapes those below U+0020).
_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _unsigned_zeros(obj: Any) -> Any:
    """``obj`` with every ``-0.0`` made ``0.0`` (JSON objects nest a few levels only)."""
    if isinstance(obj, float):
        return obj + 0.0  # -0.0 + 0.0 == +0.0; every other float is unchanged
    if isinstance(obj, dict):
        return {key: _unsigned_zeros(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_unsigned_zeros(value) for value in obj]
    return obj


def format_number(value: float | None, precision: int | None = DEFAULT_PRECISION) -> str:
    """A number for people: ``precision`` significant digits (None: shortest
    round-trip), no ``-0``, and ``—`` for a value that was not computed."""
    if value is None:
        return "—"
    if value == 0:
        return "0"  # also turns -0.0 into 0
    if not math.isfinite(value):  # pragma: no cover - the evaluator never returns these
        return repr(value)
    if precision is None:
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.{precision}g}"


def make_console(file: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console for ``file``: rich on a terminal, plain and unwrapped elsewhere."""
    from rich.console import Console

    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    if is_tty:
        return Console(file=stream, highlight=False, emoji=False)
    return Console(
        file=stream,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
        width=100_000,  # never wrap a pipe's table
        legacy_windows=False,
    )


def _table(console: Console, title: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    plain = not console.is_terminal
    return Table(
        title=title,
        box=box.ASCII if plain else box.ROUNDED,
        title_justify="left",
        show_edge=True,
        header_style="" if plain else "bold",
        title_style="" if plain else "bold",
    )


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def output_label(result: Result) -> str:
    return result.output if result.output is not None else "f"


def eval_table(result: Result, console: Console, precision: int | None = DEFAULT_PRECISION) -> Table:
    """``eval``'s table: the output's value, then each reported name with its value
    and ∂f/∂name."""
    f = output_label(result)
    table = _table(console, title=_short(result.source))
    value_style = None if not console.is_terminal else "green"
    grad_style = None if not console.is_terminal else "red"
    table.add_column("name", overflow="fold")
    table.add_column("value", justify="right", overflow="fold", style=value_style)
    table.add_column(f"∂{f}/∂name", justify="right", overflow="fold", style=grad_style)
    out_name = result.output if result.output is not None else "f (output)"
    if result.output is not None:
        out_name = f"{result.output} (output)"
    table.add_row(out_name, format_number(result.value, precision), "")
    graph = result.graph
    for name, grad in result.gradient.items():
        if name in result.inputs:
            value: float | None = result.inputs[name]
        else:
            node_id = graph.names.get(name)
            value = result.values[node_id] if node_id is not None else None
        table.add_row(name, format_number(value, precision), format_number(grad, precision))
    return table


def trace_table(result: Result, console: Console, precision: int | None = DEFAULT_PRECISION) -> Table:
    """``trace``'s table: one row per graph node, inputs before consumers, output last."""
    f = output_label(result)
    table = _table(console, title=_short(result.source))
    value_style = None if not console.is_terminal else "green"
    grad_style = None if not console.is_terminal else "red"
    table.add_column("id", justify="right")
    table.add_column("label", overflow="fold")
    table.add_column("op")
    table.add_column("inputs")
    table.add_column("value", justify="right", overflow="fold", style=value_style)
    # — marks what was not computed: gradients toward constants (SPEC §2).
    table.add_column("∂node/∂input", justify="right", overflow="fold")
    table.add_column(f"∂{f}/∂node", justify="right", overflow="fold", style=grad_style)
    for node in result.nodes:
        table.add_row(
            str(node.id),
            node.label,
            node.op,
            ", ".join(str(i) for i in node.inputs),
            format_number(node.value, precision),
            ", ".join(format_number(g, precision) for g in node.local_grads),
            format_number(node.grad, precision),
        )
    return table


def print_table(table: Table, console: Console) -> None:
    console.print(table)
