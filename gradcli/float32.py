"""``check --float32``: the same graph in single precision, beside double.

The forward and reverse loops again, with each operation's array rule from
:mod:`gradcli.ops` applied to one-element float32 arrays and every result rounded
to float32, as a float32 framework would compute it. Nothing is raised: where
float32 overflows (``exp(100)``) or loses everything to cancellation
(``1 - cos(x)`` at 1e-4), the table shows inf, NaN or 0 beside the float64 number,
which is the point. NumPy is imported only here.
"""

from __future__ import annotations

import math
from typing import IO, Any

from .evaluate import Result


class Float32Row:
    """One node in both precisions; ``rel`` is |f32 − f64| / |f64| (None where
    undefined: a NaN or inf, or 0 beside 0)."""

    __slots__ = ("grad32", "grad64", "id", "label", "value32", "value64")

    def __init__(self, id: int, label: str, value64: float | None, value32: float | None,
                 grad64: float | None, grad32: float | None) -> None:
        self.id = id
        self.label = label
        self.value64 = value64
        self.value32 = value32
        self.grad64 = grad64
        self.grad32 = grad32

    @property
    def value_rel(self) -> float | None:
        return relative_difference(self.value32, self.value64)

    @property
    def grad_rel(self) -> float | None:
        return relative_difference(self.grad32, self.grad64)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "value64": self.value64,
            "value32": _json_number(self.value32),
            "value_rel": _json_number(self.value_rel),
            "grad64": self.grad64,
            "grad32": _json_number(self.grad32),
            "grad_rel": _json_number(self.grad_rel),
        }


def _json_number(value: float | None) -> float | str | None:
    """Strict JSON has no inf or NaN: they are written as the strings "inf", "-inf", "nan"."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def relative_difference(low: float | None, high: float | None) -> float | None:
    if low is None or high is None:
        return None
    if not math.isfinite(low):
        return low if math.isnan(low) else math.inf
    if high == 0:
        return 0.0 if low == 0 else math.inf
    return abs(low - high) / abs(high)


def float32_rows(result: Result) -> list[Float32Row]:
    """Every node of ``result``'s graph evaluated in float32, beside its float64."""
    import numpy as np

    graph = result.graph
    nodes = graph.nodes
    f32 = np.float32
    taken = [v == v for v in result.values]  # NaN: a branch of if not taken in float64
    values: list[Any] = [None] * len(nodes)
    missing = np.array([np.nan], dtype=f32)  # an operand in a branch not taken
    with np.errstate(all="ignore"):
        for node in nodes:
            if not taken[node.id]:
                continue
            op = node.op
            if op is None:
                source = node.value if node.kind == "const" else result.inputs[node.name]  # type: ignore[index]
                values[node.id] = np.array([source], dtype=f32)
                continue
            args = [values[i] if values[i] is not None else missing for i in node.inputs]
            values[node.id] = np.asarray(op.vforward(np, *args), dtype=f32).reshape(1)  # type: ignore[misc]
        grads: list[Any] = [None if g is None else np.zeros(1, dtype=f32) for g in result.grads]
        grads[-1] = np.ones(1, dtype=f32)
        for node in reversed(nodes):
            g = grads[node.id]
            op = node.op
            if op is None or g is None or not taken[node.id]:
                continue
            args = [values[i] if values[i] is not None else missing for i in node.inputs]
            for k, i in enumerate(node.inputs):
                if grads[i] is None or not taken[i] or result.grads[i] is None:
                    continue
                local = np.asarray(op.vgrads[k](np, *args, values[node.id]), dtype=f32).reshape(1)
                grads[i] = (grads[i] + g * local).astype(f32)
    labels = graph.labels()
    rows = []
    for node in nodes:
        i = node.id
        if not taken[i]:
            continue
        rows.append(Float32Row(
            i, labels[i], result.values[i], float(values[i][0]),
            result.grads[i], None if grads[i] is None else float(grads[i][0]),
        ))
    return rows


def _cell(value: float | None, precision: int | None) -> str:
    from .render import format_number

    if value is not None and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return format_number(value, precision)


def _rel(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf"
    return "0" if value == 0 else f"{value:.1e}"


def print_float32(result: Result, rows: list[Float32Row], precision: int | None,
                  file: IO[str] | None = None) -> None:
    """The float32 table: each node's value and gradient in both precisions."""
    from .render import Column, output_label, print_rows

    f = output_label(result)
    columns = [
        Column("id", "right", whole=True), Column("label"),
        Column("value float64", "right", "green", whole=True),
        Column("value float32", "right", "green", whole=True),
        Column("rel. diff", "right", whole=True),
        Column(f"∂{f}/∂node float64", "right", "red", whole=True),
        Column(f"∂{f}/∂node float32", "right", "red", whole=True),
        Column("rel. diff", "right", whole=True),
    ]
    table = [
        [str(r.id), r.label, _cell(r.value64, precision), _cell(r.value32, precision), _rel(r.value_rel),
         _cell(r.grad64, precision), _cell(r.grad32, precision), _rel(r.grad_rel)]
        for r in rows
    ]
    print_rows("float32 beside float64", columns, table, file)
