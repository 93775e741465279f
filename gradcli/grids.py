"""Grids: ``--grid x=a:b:n`` sweeps, and every row times every grid point.

Nothing the size of a grid is ever made: a chunk's points come from its own range
of indices, taken apart into one index per grid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .bindings import constant_value, option_flag, unknown_binding
from .errors import GradError, shorten
from .graph import Graph
from .rows import Chunk, slice_chunk

#: Points of one grid at most: every index is then exact as a float (and a product of
#: grids, taken apart into indices chunk by chunk, never needs more than 64 bits).
MAX_GRID_POINTS = 2**53


@dataclass(frozen=True)
class Grid:
    """``--grid NAME=START:STOP:COUNT``: COUNT evenly spaced points, both ends included."""

    name: str
    start: float
    stop: float
    count: int

    def points(self, np: Any, index: Any) -> Any:
        """The points at ``index`` (an integer array), as ``numpy.linspace`` gives them
        (a + i·(b − a)/(n − 1), both ends exact). Where b − a overflows, the same at a
        quarter of the scale, kept between the ends and scaled back (exact): finite."""
        a, b, n = self.start, self.stop, self.count
        lo, hi = min(a, b), max(a, b)
        if n == 1:
            return np.full(len(index), a)
        delta = b - a
        with np.errstate(all="ignore"):  # i·step may round past the float limit: clipped
            if math.isinf(delta):
                x = np.clip(index * ((b / 4 - a / 4) / (n - 1)) + a / 4, lo / 4, hi / 4) * 4
            elif delta / (n - 1) == 0:  # a step that underflows, as numpy.linspace does it
                x = index / (n - 1) * delta + a
            else:
                x = index * (delta / (n - 1)) + a
            x = np.clip(x, lo, hi)
        x[index == 0] = a
        x[index == n - 1] = b
        return x


def parse_grid(graph: Graph, text: str) -> tuple[str, float, float, int]:
    """``x=a:b:n`` -> (x, a, b, n): n evenly spaced values from a to b, both included."""
    name, eq, spec = text.partition("=")
    name = name.strip().lstrip("-")
    parts = spec.split(":")
    if not eq or len(parts) != 3 or not name:
        raise GradError(
            "usage", f"--grid {text}: write NAME=START:STOP:COUNT, as in --grid x=-2:2:101"
        )
    if name not in graph.inputs:
        raise GradError("usage", f"--grid {text}: {unknown_binding(graph, name)}")
    start = constant_value(parts[0], name)
    stop = constant_value(parts[1], name)
    digits = parts[2].strip().removeprefix("+")
    # Only the digits 0-9, as bindings read numbers: int() would also take "1_000" and "１０".
    plain = digits.isascii() and digits.isdecimal()
    count = (int(digits) if len(digits) <= 20 else MAX_GRID_POINTS + 1) if plain else 0
    if count < 1:
        hint = ""
        if "_" in digits and digits.replace("_", "").isascii() and digits.replace("_", "").isdecimal():
            hint = f" (write {digits.replace('_', '')}, without '_')"
        elif digits.isdecimal() and not digits.isascii() and len(digits) <= 20:
            hint = f" (write {int(digits)}, in the digits 0-9)"
        raise GradError(
            "usage",
            f"--grid {text}: the number of points must be a whole number ≥ 1 written with the"
            f" digits 0-9, not {shorten(parts[2])!r}{hint}",
        )
    if count > MAX_GRID_POINTS:
        raise GradError(
            "usage", f"--grid {text}: the number of points may be at most 2^53, not {shorten(digits)}"
        )
    return name, start, stop, count


def single_row(
    np: Any, graph: Graph, defaults: dict[str, float], grid_names: Sequence[str]
) -> Iterator[Chunk]:
    """No --batch: one row made of the defaults (the grids do the rest)."""
    missing = [name for name in graph.inputs if name not in defaults and name not in grid_names]
    if missing:
        name = missing[0]
        flag = option_flag(name)
        raise GradError(
            "binding",
            f"missing a value for {', '.join(missing)}: bind {flag} VALUE or sweep it with"
            f" --grid {name}=START:STOP:COUNT",
        )
    columns = {name: np.full(1, defaults[name]) for name in graph.inputs if name not in grid_names}
    yield Chunk(1, columns, {})


def with_grid(np: Any, chunks: Iterable[Chunk], grid: list[Grid], step: int) -> Iterator[Chunk]:
    """Every row times every grid point (the first --grid varies slowest), in chunks.

    Nothing the size of the grid is ever made: a chunk's points come from its own
    range of indices, taken apart into one index per grid (:func:`digits`)."""
    if not grid:
        for chunk in chunks:
            for start in range(0, chunk.size, step):  # keep chunks within the row budget
                yield slice_chunk(np, chunk, np.arange(start, min(chunk.size, start + step)))
        return
    shape = [g.count for g in grid]
    points = math.prod(shape)
    # A grid that fits in a chunk is computed once; a longer one, chunk by chunk.
    tables = [g.points(np, np.arange(g.count)) if g.count <= step else None for g in grid]
    for chunk in chunks:
        total = chunk.size * points
        for start in range(0, total, step):
            rows, *indices = digits(np, start, min(step, total - start), [chunk.size, *shape])
            part = slice_chunk(np, chunk, rows)
            for g, table, index in zip(grid, tables, indices, strict=True):
                part.columns[g.name] = g.points(np, index) if table is None else table[index]
            yield part


def digits(np: Any, start: int, size: int, radices: Sequence[int]) -> list[Any]:
    """The numbers start, ..., start + size - 1 in mixed radix (the last digit varies
    fastest): one integer array per radix. The digits of ``start`` come from Python's
    exact divmod and the rest from a carry, so no array entry exceeds a radix plus
    ``size``, however large the product of the radices."""
    first: list[int] = []
    rest = start
    for radix in reversed(radices):
        rest, digit = divmod(rest, radix)
        first.append(digit)
    first.reverse()
    carry = np.arange(size, dtype=np.int64)
    digits: list[Any] = [None] * len(radices)
    for k in range(len(radices) - 1, -1, -1):
        carry, digits[k] = np.divmod(carry + first[k], radices[k])
    return digits
