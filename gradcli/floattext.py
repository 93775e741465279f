"""Floats as text, as ``repr`` writes them, a block at a time at C speed.

Batch output writes every number as Python's ``repr`` does (shortest round-trip
digits, ``1.0`` for an integral value, ``1e-05`` and ``1e+16`` outside [1e-4,
1e16)), whichever path writes it. orjson writes the same digits in C, and repr's
form too except in two ranges: 1e-5 ≤ |x| < 1e-4 as ``0.0000ddd`` (repr:
``d.dde-05``) and exponents -6 to -9 with one digit (``1e-7``; repr: ``1e-07``).
These functions take orjson's text and put those few numbers in repr's form:
:func:`orjson_as_repr` as one ``[[a,b],[c,d]]`` text, :func:`repr_cells` as an
Arrow array of cells (pyarrow, for CSV written by Arrow).
"""

from __future__ import annotations

from typing import Any


def _odd(np: Any, values: Any) -> Any:
    """Where orjson's text differs from repr's: 1e-10 ≤ |x| < 1e-4 (from 1e-4 up, and
    from the exponent -10 down, orjson writes repr's text)."""
    size = np.abs(values)
    return (size >= 1e-10) & (size < 1e-4)


def orjson_as_repr(np: Any, orjson: Any, block: Any) -> bytes:
    """orjson's text of a block of finite floats (``[[a,b],[c,d]]`` for a 2-D block),
    each number as ``repr`` writes it. ``block`` is changed (a scratch copy).

    The numbers in the odd ranges are written apart (the exponents -6 to -9 by orjson
    with the exponent's 0 put back, 1e-5 ≤ |x| < 1e-4 by ``repr``) and put in place of
    the NaNs that stood for them, so the text is the same, byte for byte, as ``str``
    of the block's list with its spaces taken out."""
    option = orjson.OPT_SERIALIZE_NUMPY
    other = _odd(np, block)
    if not other.any():
        return orjson.dumps(block, option=option)
    values = block[other]
    tiny = np.abs(values) < 9e-6  # exponents -10 to -6: orjson's form but for the 0
    texts = np.empty(len(values), dtype=object)
    if tiny.any():
        text = orjson.dumps(values[tiny], option=option)
        for digit in b"6789":
            for end in b",]":
                text = text.replace(b"e-%c%c" % (digit, end), b"e-0%c%c" % (digit, end))
        texts[tiny] = text[1:-1].split(b",")
    if not tiny.all():
        texts[~tiny] = str(values[~tiny].tolist())[1:-1].encode().split(b", ")
    block[other] = np.nan  # written "null": a marker (the block is finite otherwise)
    parts = orjson.dumps(block, option=option).split(b"null")
    pieces = [b""] * (2 * len(values) + 1)
    pieces[0::2] = parts
    pieces[1::2] = texts.tolist()
    return b"".join(pieces)


def repr_cells(np: Any, pa: Any, compute: Any, orjson: Any, columns: list[Any]) -> Any:
    """An Arrow string array of CSV cells, row by row: the numbers of ``columns``
    (float64 arrays of one length, every number finite) as ``repr`` writes them,
    ``-0.0`` as ``0.0``, and a comma after each. The cells lie end to end in one
    buffer, so the cells of a row are a stretch of CSV text. None when the text
    would not fit Arrow's 32-bit offsets. ``compute``: Arrow's compute functions
    (gradcli.columnar.arrow_compute)."""
    rows, width = len(columns[0]), len(columns)
    size = rows * width
    flat = np.empty(size + 1)
    table = flat[:size].reshape(rows, width)
    for j, column in enumerate(columns):
        np.add(column, 0.0, out=table[:, j])  # -0.0 + 0.0 is 0.0
    flat[size] = 0.0  # so that the last cell has its comma too: "[a,b,...,z,0.0]"
    text = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY)
    if len(text) >= 2**31:
        return None
    commas = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == ord(","))
    offsets = np.empty(size + 1, dtype=np.int32)
    offsets[0] = 1  # after the "["
    np.add(commas, 1, out=offsets[1:], casting="unsafe")
    cells = pa.StringArray.from_buffers(size, pa.py_buffer(offsets), pa.py_buffer(text))
    # (A double's shortest digits lie on the same side of a power of ten as the
    # double does of the double nearest that power: the masks compare doubles.)
    magnitude = np.abs(flat[:size])
    odd = np.flatnonzero((magnitude >= 1e-9) & (magnitude < 1e-4))
    if not len(odd):
        return cells
    fixed_form = magnitude[odd] >= 1e-5
    call, rewrite = compute.call_function, compute.ReplaceSubstringOptions
    # 1e-5 ≤ |x| < 1e-4, orjson's fixed form: "-0.0000123," -> "-1.23e-05,".
    texts = call("take", [cells, _indices(np, pa, odd[fixed_form])])
    texts = call("replace_substring_regex", [texts], rewrite(r"^(-?)0\.0000(\d)", r"\1\2."))
    texts = call("replace_substring", [texts], rewrite(".,", ","))  # "1.," -> "1,"
    texts = call("replace_substring", [texts], rewrite(",", "e-05,"))
    # 1e-9 ≤ |x| < 1e-5, the exponents -6 to -9 of one digit: "1e-7," -> "1e-07,".
    short = call("take", [cells, _indices(np, pa, odd[~fixed_form])])
    short = call("replace_substring", [short], rewrite("e-", "e-0"))
    # Every cell's place in [cells, texts, short]: Arrow takes them in order.
    where = np.arange(size, dtype=np.int32)
    where[odd[fixed_form]] = np.arange(size, size + len(texts), dtype=np.int32)
    where[odd[~fixed_form]] = np.arange(size + len(texts), size + len(odd), dtype=np.int32)
    return call("take", [pa.concat_arrays([cells, texts, short]), _indices(np, pa, where)])


def _indices(np: Any, pa: Any, rows: Any) -> Any:
    """An Arrow array of indices from a NumPy one (pyarrow.array imports pandas)."""
    wide = rows.dtype != np.int32
    rows = np.ascontiguousarray(rows, dtype=np.int64 if wide else np.int32)
    return pa.Array.from_buffers(pa.int64() if wide else pa.int32(), len(rows), [None, pa.py_buffer(rows)])
