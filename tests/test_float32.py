"""check --float32: the graph in single precision beside double."""

from __future__ import annotations

import json

import pytest

import gradcli
from gradcli.float32 import float32_rows, relative_difference


def _rows(source: str, **point: float):
    return float32_rows(gradcli.evaluate(source, **point))


def test_a_smooth_program_agrees_to_float32_precision() -> None:
    rows = _rows("1/(1+exp(-(w0*x0 + w1*x1 + w2)))", w0=2, x0=-1, w1=-3, x1=-2, w2=-3)
    for row in rows:
        assert row.value_rel is not None and row.value_rel < 1e-6
        if row.grad64 is not None:
            assert row.grad_rel is not None and row.grad_rel < 1e-6


def test_an_overflow_float64_survives_shows_in_float32() -> None:
    rows = _rows("exp(x)/(1+exp(x))", x=100)
    assert rows[1].value32 == float("inf") and rows[1].value64 == pytest.approx(2.68811714181614e43)
    assert rows[-1].value64 == 1.0 and rows[-1].value32 != rows[-1].value32  # NaN


def test_catastrophic_cancellation_shows_in_float32() -> None:
    rows = _rows("1 - cos(x)", x=1e-4)
    assert rows[-1].value32 == 0.0
    assert rows[-1].value64 == pytest.approx(5e-9, rel=1e-6)
    assert rows[-1].value_rel == 1.0


def test_values_are_rounded_to_float32_at_every_node() -> None:
    rows = _rows("x + 0", x=0.1)
    assert rows[0].value32 == float(__import__("numpy").float32(0.1))
    assert rows[0].value_rel == pytest.approx(1.49e-8, rel=0.01)


def test_a_branch_not_taken_is_left_out() -> None:
    rows = _rows("if(x > 0, log(x), 0)", x=-1)
    assert all("log" not in row.label or "if" in row.label for row in rows)
    assert rows[-1].value32 == 0.0


def test_relative_difference() -> None:
    assert relative_difference(0.0, 0.0) == 0.0
    assert relative_difference(1.0, 0.0) == float("inf")
    assert relative_difference(None, 1.0) is None


def test_check_float32_table_and_json(run_cli) -> None:
    code, out, _ = run_cli("check", "1 - cos(x)", "-x", "1e-4", "--float32")
    assert code == 0
    assert "float32 beside float64" in out and "1.0e+00" in out
    code, out, _ = run_cli("check", "exp(x)/(1+exp(x))", "-x", "100", "--float32", "--json")
    assert code == 0
    rows = json.loads(out)["float32"]  # strict JSON: inf and NaN as strings
    assert rows[1]["value32"] == "inf" and rows[-1]["value32"] == "nan"


def test_float32_and_answers_do_not_mix(run_cli, tmp_path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"x": 1}')
    code, _, err = run_cli("check", "x", "-x", "1", "--float32", "--answers", str(path))
    assert code == 2 and "--float32" in err
