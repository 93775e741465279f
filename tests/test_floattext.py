"""Floats formatted a block at a time (gradcli.floattext) are ``repr``'s text, cell
for cell: orjson's text with its two odd ranges put right, as one text or as Arrow
cells, over every class of finite double."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcli.columnar import arrow_compute
from gradcli.floattext import orjson_as_repr, repr_cells


def _borders() -> np.ndarray:
    """Each power of ten from the subnormals to the largest and its neighbours (the
    forms change at 1e-4 and 1e16, orjson's at 1e-5 and at the exponent -10),
    integral values near 2^53 and past it, subnormals, and the extremes."""
    values = []
    for exponent in range(-324, 309):
        ten = float(f"1e{exponent}")
        values += [ten, np.nextafter(ten, 0.0), np.nextafter(ten, np.inf)]
        values += [float(f"{digit}e{exponent}") for digit in (2, 5, 9.5, 9.999999999999999)]
    for power in range(40, 70):
        two = 2.0**power
        values += [two, two - 1, two + 2, np.nextafter(two, 0.0), np.nextafter(two, np.inf), 3 * two]
    values += [5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308]
    values += [0.0, 1.0, 123.0, 1e15, 1e16 - 2, 0.1, 0.2, 0.30000000000000004, 1 / 3]
    values = np.array([v for v in values if np.isfinite(v)])
    return np.concatenate([values, -values])


def _random_bits(count: int, seed: int) -> np.ndarray:
    """Finite doubles from uniformly random bit patterns (every exponent alike)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64, count, dtype=np.uint64, endpoint=False).view(np.float64)
    return values[np.isfinite(values)]


def _reprs(values: np.ndarray) -> list[str]:
    return [repr(v) for v in (values + 0.0).tolist()]  # -0.0 is written 0.0


def _cells(values: np.ndarray, width: int = 1) -> list[str]:
    pa = pytest.importorskip("pyarrow")
    rows = len(values) // width
    table = values[: rows * width].reshape(rows, width)
    cells = repr_cells(np, pa, arrow_compute(), orjson, [table[:, j] for j in range(width)])
    return [cell[:-1] for cell in cells.to_pylist()]


@pytest.mark.parametrize("values", [_borders(), _random_bits(300_000, 1)], ids=["borders", "random bits"])
def test_every_class_of_double_is_written_as_repr_writes_it(values: np.ndarray) -> None:
    expected = _reprs(values)
    assert _cells(values) == expected
    text = orjson_as_repr(np, orjson, values + 0.0)
    assert text == ("[" + ",".join(expected) + "]").encode()


def test_cells_come_row_by_row_and_each_ends_in_a_comma() -> None:
    pa = pytest.importorskip("pyarrow")
    columns = [np.array([1.0, -0.0, 1e-5]), np.array([2.5e-7, 3e16, 0.0001])]
    cells = repr_cells(np, pa, arrow_compute(), orjson, columns)
    assert cells.to_pylist() == ["1.0,", "2.5e-07,", "0.0,", "3e+16,", "1e-05,", "0.0001,"]
    data = cells.buffers()[2].to_pybytes()
    start, end = np.frombuffer(cells.buffers()[1], dtype=np.int32)[[cells.offset, cells.offset + 6]]
    assert data[start:end] == b"1.0,2.5e-07,0.0,3e+16,1e-05,0.0001,"  # end to end: a stretch of CSV


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=60), st.integers(1, 4))
def test_random_bit_patterns_are_written_as_repr_writes_them(patterns: list[int], width: int) -> None:
    values = np.array([struct.unpack("<d", struct.pack("<Q", bits))[0] for bits in patterns])
    values = values[np.isfinite(values)]
    if len(values) < width:
        return
    values = values[: len(values) // width * width]
    assert _cells(values, width) == _reprs(values)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60))
def test_random_floats_are_written_as_repr_writes_them(floats: list[float]) -> None:
    values = np.array(floats)
    assert _cells(values) == _reprs(values)
    assert orjson_as_repr(np, orjson, values + 0.0) == ("[" + ",".join(_reprs(values)) + "]").encode()
