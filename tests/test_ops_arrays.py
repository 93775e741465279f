"""The array rules (``vforward``/``vgrads``, what ``--batch`` and ``--grid`` run) against
the scalar rules (what ``eval`` runs), for every row of the operation table: values
and local gradients, at every edge and at generated points over the whole float range.

Where the scalar rule fails (a domain error, an undefined gradient, an overflow), the
array rule must give NaN or ±inf, so that the batch asks the scalar rule for the error;
where both give a number, it is the same number, to the last bit and sign of zero,
except for the functions in :data:`NUMPY_ULPS`, where NumPy computes with its own
vectorised code instead of the C library's and the two may differ in the last few
bits (the manual says so, with the bound checked here)."""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from op_points import case_id, cases, points

from gradcli.ops import ALL_OPS, Op

#: Functions (by name) whose NumPy function is not the C library's: the most units in
#: the last place their array and scalar results may differ by, values and gradients.
#: Every other function agrees to the last bit. Machines whose NumPy calls the C library
#: for these agree to the last bit too; the bound is what a vectorised NumPy allows.
NUMPY_ULPS: dict[str, int] = {
    # measured with a vectorised NumPy (AVX-512), plus one for other machines
    "exp": 2, "log": 3, "ln": 2, "log2": 2, "log10": 2, "pow": 4,
    "sin": 1, "cos": 1, "tan": 4, "asin": 2, "acos": 2, "atan": 2, "atan2": 4,
    "sinh": 2, "cosh": 2, "tanh": 3, "asinh": 3, "acosh": 2, "atanh": 2,
    "sigmoid": 3, "softplus": 3, "erf": 3, "hypot": 3, "logsumexp": 2,
}

#: The bound the manual states for every function in NUMPY_ULPS.
DOCUMENTED_ULPS = 4


def _ordered(v: float) -> int:
    """The float's position on the number line of all floats (adjacent floats differ by 1)."""
    (bits,) = struct.unpack("<q", struct.pack("<d", v))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def ulps_apart(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    if a == b and math.copysign(1.0, a) != math.copysign(1.0, b):
        return 0.5  # 0.0 and -0.0: not the same bits
    return abs(_ordered(a) - _ordered(b))


def _scalar(f, *args: float) -> float | None:
    """The scalar rule's number, or None where it fails (as the evaluator sees it)."""
    try:
        value = f(*args)
    except ArithmeticError:  # Undefined, ZeroDivisionError, OverflowError
        return None
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _column(result: object, n: int) -> list[float]:
    return np.broadcast_to(np.asarray(result, dtype=np.float64), (n,)).tolist()


def disagreements(op: Op, pts: list[tuple[float, ...]]) -> list[str]:
    """Every point where the array rules and the scalar rules of ``op`` disagree."""
    n = len(pts)
    arity = len(pts[0])
    cols = [np.array([p[k] for p in pts], dtype=np.float64) for k in range(arity)]
    bound = NUMPY_ULPS.get(op.name, 0)
    found: list[str] = []
    with np.errstate(all="ignore"):
        assert op.vforward is not None, f"{op.name} has no array rule"
        vout = np.broadcast_to(np.asarray(op.vforward(np, *cols), dtype=np.float64), (n,))
        vgrads = [_column(op.vgrads[k](np, *cols, vout), n) for k in range(arity)]
    values = vout.tolist()

    def compare(what: str, scalar: float | None, array: float, p: tuple[float, ...]) -> None:
        if scalar is None:
            if math.isfinite(array):
                found.append(f"{what}{p}: the scalar rule fails, the array rule gives {array!r}")
        elif math.isfinite(array) and ulps_apart(scalar, array) > bound:
            found.append(f"{what}{p}: scalar {scalar!r}, array {array!r}")
        # (array not finite where the scalar rule gives a number: the batch asks the scalar rule)

    for i, p in enumerate(pts):
        out = _scalar(op.forward, *p)
        compare(op.name, out, values[i], p)
        if out is None or not math.isfinite(values[i]):
            continue
        for k in range(arity):
            # each rule at its own path's forward value, as the evaluators call them
            scalar = _scalar(op.grads[k], *p, out)
            with np.errstate(all="ignore"):
                one = op.vgrads[k](np, *(np.array([v]) for v in p), np.array([values[i]]))
            compare(f"∂{op.name}/∂#{k}", scalar, _column(one, 1)[0], p)
            assert _column(one, 1)[0] == vgrads[k][i] or (
                math.isnan(vgrads[k][i]) and math.isnan(_column(one, 1)[0])
            ), "an array rule gives another number in a longer array"
    return found


@pytest.mark.parametrize("case", cases(ALL_OPS), ids=case_id)
def test_array_rules_give_the_scalar_rules_numbers(case: tuple[Op, int]) -> None:
    op, n = case
    assert len(op.vgrads) == op.arity == len(op.grads)
    found = disagreements(op, points(op, 400, n=n))
    assert not found, f"{len(found)} disagreements, the first: " + "; ".join(found[:5])


def test_the_agreement_test_catches_a_wrong_array_rule() -> None:
    """A rule off by a factor (cosh's derivative times 1.5) is caught, in either path."""
    cosh = next(op for op in ALL_OPS if op.name == "cosh")
    wrong_array = Op(cosh.name, 1, cosh.forward, cosh.grads, rule=cosh.rule, vforward=cosh.vforward,
                     vgrads=(lambda np, x, out: 1.5 * np.sinh(x),))
    wrong_scalar = Op(cosh.name, 1, cosh.forward, (lambda x, out: 1.5 * math.sinh(x),), rule=cosh.rule,
                      vforward=cosh.vforward, vgrads=cosh.vgrads)
    assert disagreements(wrong_array, points(cosh, 50))
    assert disagreements(wrong_scalar, points(cosh, 50))


def test_the_bound_in_the_manual_covers_every_listed_function() -> None:
    batch = (Path(__file__).resolve().parent.parent / "docs" / "batch.md").read_text(encoding="utf-8")
    said = re.search(r"by at most (\d+)\s+units in the last place", batch)
    assert said and int(said.group(1)) == DOCUMENTED_ULPS
    assert all(bound <= DOCUMENTED_ULPS for bound in NUMPY_ULPS.values())
